// Cooperative scheduling budget: Zokio's own resources charge each poll of a task, and a task
// that keeps finding them ready yields once the budget is spent (Tokio's coop, re-derived).
#ifndef ZOKIO_DETAIL_COOP_HPP
#define ZOKIO_DETAIL_COOP_HPP

#include <cstdint>
#include <utility>

#include <zokio/context.hpp>

namespace zokio::detail::coop {

// Invariants: tl_budget is per thread and only touched by that thread. It is `unconstrained`
// outside task polls (block_on's own future, Asio handlers, plain threads), so a resource
// polled there is never refused. Each task poll (task harness, poll_running) starts with
// `initial_budget` and leaves `unconstrained`; a child run inline by its joiner gets its own
// budget and the parent's is restored after it (nested_poll in scheduler::run_inline).
inline constexpr std::uint32_t initial_budget = 128;  // Tokio's
inline constexpr std::uint32_t unconstrained = ~std::uint32_t{0};
inline thread_local std::uint32_t tl_budget = unconstrained;

/// Around one task poll (the task harness): a fresh budget; none again after the poll. Two
/// plain stores on the hot path: a poll nested in a poll (a child run inline by its joiner)
/// is wrapped in nested_poll, which saves and restores the outer poll's budget.
class task_budget {
 public:
  task_budget() noexcept { tl_budget = initial_budget; }
  ~task_budget() { tl_budget = unconstrained; }
  task_budget(const task_budget&) = delete;
  task_budget& operator=(const task_budget&) = delete;
};

/// Around a task poll made from inside another (scheduler::run_inline): the outer poll's
/// budget is kept for it.
class nested_poll {
 public:
  nested_poll() noexcept : saved_(tl_budget) {}
  ~nested_poll() { tl_budget = saved_; }
  nested_poll(const nested_poll&) = delete;
  nested_poll& operator=(const nested_poll&) = delete;

 private:
  std::uint32_t saved_;
};

/// Called by a resource at the start of its poll, before it looks at (or takes) anything:
/// true to go on (one unit charged); false when the task's budget is spent: the task has been
/// woken and the resource returns pending, having changed nothing (so it stays cancel-safe).
inline bool poll_proceed(context& cx) noexcept {
  std::uint32_t& b = tl_budget;
  if (b == unconstrained) return true;
  if (b == 0) {
    cx.waker().wake_by_ref();
    return false;
  }
  --b;
  return true;
}

/// What is left of the calling task's budget (unconstrained outside task polls).
inline std::uint32_t remaining() noexcept { return tl_budget; }

}  // namespace zokio::detail::coop

#endif
