// The task state word: lifecycle bits plus a reference count, updated with one atomic.
#ifndef ZOKIO_DETAIL_TASK_STATE_HPP
#define ZOKIO_DETAIL_TASK_STATE_HPP

#include <cstdint>

namespace zokio::detail::task_state {

// Bit layout of task_header::state (Tokio's design, re-derived):
//
//   RUNNING        a worker (or shutdown) has exclusive access to the future
//   NOTIFIED       a wake arrived; if !RUNNING the task sits in exactly one queue, which owns
//                  one reference; if RUNNING the poller requeues it after the poll
//   COMPLETE       the future is gone and the result (value, exception, cancellation) stored
//   CANCELLED      abort was requested; the next owner of RUNNING drops the future
//   JOIN_INTEREST  the join_handle is alive and wants the result
//   JOIN_WAKER     join_waker holds a waker; while set, only the task side reads it
//   bits 6..63     reference count (REF_ONE units)
//
// References are held by: the join_handle, every waker, the queue entry (or the running
// poller, which inherits it), and the owned-task list.
inline constexpr std::uint64_t RUNNING = 1u << 0;
inline constexpr std::uint64_t NOTIFIED = 1u << 1;
inline constexpr std::uint64_t COMPLETE = 1u << 2;
inline constexpr std::uint64_t CANCELLED = 1u << 3;
inline constexpr std::uint64_t JOIN_INTEREST = 1u << 4;
inline constexpr std::uint64_t JOIN_WAKER = 1u << 5;
inline constexpr std::uint64_t REF_SHIFT = 6;
inline constexpr std::uint64_t REF_ONE = std::uint64_t{1} << REF_SHIFT;
inline constexpr std::uint64_t FLAGS_MASK = REF_ONE - 1;

constexpr std::uint64_t ref_count(std::uint64_t s) noexcept { return s >> REF_SHIFT; }

}  // namespace zokio::detail::task_state

#endif
