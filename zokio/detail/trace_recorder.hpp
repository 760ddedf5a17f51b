// The flight recorder (runtime_config::enable_trace): per-worker rings of timestamped
// scheduler events (spawn, poll begin/end, wake, park/unpark, steal), written out as Chrome
// Trace Event JSON.
//
// Invariants: worker i's ring is written by worker i's thread only (single writer, no lock);
// events from other threads (an outside spawn or wake) go to one more ring under a spin
// lock. Each slot is two relaxed atomics, so a reader never races in the C++ sense; what it
// must know is which slots the writer may have overwritten while it copied them. The writer
// raises `reserved` to n + 1 (relaxed) and issues a release fence before it writes event n's
// slot, then publishes `head` = n + 1 (release). A reader loads `head` (acquire: pairs with
// that store; events below it are whole), copies, issues an acquire fence and reads
// `reserved`: a slot it copied that the writer had overwritten was written after the
// writer's fence, so the reader's fence synchronizes with it and `reserved` shows the
// overwrite. The reader keeps events n >= reserved - capacity only (the seqlock argument).
// Cost per event: a timestamp (rdtsc on x86-64), four relaxed stores and a release store.
#ifndef ZOKIO_DETAIL_TRACE_RECORDER_HPP
#define ZOKIO_DETAIL_TRACE_RECORDER_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/spin_mutex.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace zokio::detail {

enum class trace_kind : std::uint8_t {
  poll_begin,  // a task's poll starts (value: its id)
  poll_end,    // and ends (value: its id)
  park,        // the worker goes to sleep
  unpark,      // and wakes
  spawn,       // a task is spawned (value: its id)
  wake,        // a task is woken and queued (value: its id)
  steal,       // this worker took tasks from a sibling (value: how many)
};

/// The recorder's clock: the TSC where there is one (a few ns), else steady_clock's ns.
inline std::uint64_t trace_ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

class alignas(ZOKIO_CACHE_LINE) trace_ring {
 public:
  /// Before any use: room for `capacity` events (a power of two).
  ZOKIO_DECL void init(std::size_t capacity);

  /// Owner only (or under the outside ring's lock).
  void push(trace_kind k, std::uint64_t value) noexcept {
    const std::uint64_t n = head_.load(std::memory_order_relaxed);
    reserved_.store(n + 1, std::memory_order_relaxed);
    // Release fence: pairs with the reader's acquire fence (see the invariants).
    std::atomic_thread_fence(std::memory_order_release);
    const std::size_t i = static_cast<std::size_t>(n & mask_) * 2;
    slots_[i].store(trace_ticks(), std::memory_order_relaxed);
    slots_[i + 1].store(static_cast<std::uint64_t>(k) << 56 | (value & kValueMask),
                        std::memory_order_relaxed);
    // Release: pairs with the reader's acquire load of head.
    head_.store(n + 1, std::memory_order_release);
  }

  struct event {
    std::uint64_t ticks;
    trace_kind kind;
    std::uint64_t value;
  };
  /// A consistent copy of the events still in the ring, oldest first (any thread).
  ZOKIO_DECL void copy(std::vector<event>& out) const;

 private:
  static constexpr std::uint64_t kValueMask = (std::uint64_t{1} << 56) - 1;
  std::uint64_t mask_ = 0;
  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;  // ticks, kind << 56 | value
  std::atomic<std::uint64_t> head_{0};      // events published
  std::atomic<std::uint64_t> reserved_{0};  // events whose slot may be being written
};

class trace_recorder {
 public:
  /// `capacity`: events kept per worker (rounded up to a power of two).
  ZOKIO_DECL trace_recorder(unsigned workers, std::size_t capacity);

  /// On worker `worker`'s thread, or with worker == -1 from any other thread.
  void record(int worker, trace_kind k, std::uint64_t value) noexcept {
    if (worker >= 0) {
      rings_[static_cast<std::size_t>(worker)].push(k, value);
    } else {
      std::lock_guard lk(outside_mu_);
      rings_[n_].push(k, value);
    }
  }

  /// Everything still in the rings as Chrome Trace Event JSON (chrome://tracing, Perfetto):
  /// one thread row per worker (and one for other threads), a slice per poll ("task <id>")
  /// and per sleep ("parked"), instant events for spawns, wakes and steals. Slices are
  /// balanced: an end whose begin was overwritten is dropped, and a slice still open (a poll
  /// running now) ends at the time of the call, marked "unfinished".
  ZOKIO_DECL std::string chrome_json() const;

 private:
  const unsigned n_;
  std::unique_ptr<trace_ring[]> rings_;  // n_ workers, then the outside ring
  spin_mutex outside_mu_;
  // Clock calibration: ticks and steady ns when the recorder started.
  std::uint64_t ticks0_ = 0;
  std::int64_t ns0_ = 0;
};

/// basic_scheduler's member: the recorder with the feature, nothing without it.
template <bool On>
struct trace_storage {};
template <>
struct trace_storage<true> {
  std::unique_ptr<trace_recorder> recorder;
};

}  // namespace zokio::detail

#endif
