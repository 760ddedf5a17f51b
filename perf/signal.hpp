// Minimal waker-based synchronisation for the benchmarks (hand-written, so that they measure
// the scheduler and not a channel implementation):
//   perf::atomic_waker  zokio::detail::atomic_waker: one waker slot, woken from any thread;
//   perf::signal        an auto-reset single-slot signal (notify / co_await wait()).
//
// Both are benchmark helpers, not library code: one waiting task at a time per object.
#ifndef ZOKIO_PERF_SIGNAL_HPP
#define ZOKIO_PERF_SIGNAL_HPP

#include <atomic>
#include <utility>

#include <zokio/context.hpp>
#include <zokio/detail/atomic_waker.hpp>
#include <zokio/poll.hpp>
#include <zokio/waker.hpp>

namespace perf {

/// One waker slot, registered by one task, woken from any thread: the library's own.
using atomic_waker = zokio::detail::atomic_waker;

/**
 * An auto-reset event with one slot: notify() sets it and wakes the waiter; the waiter's
 * wait() future completes once it is set, clearing it. Notifications do not queue: a
 * protocol that strictly alternates (ping-pong) or notifies once per wait (latch) is needed.
 *
 * Keep the object alive until every notifier has returned from notify() (the benchmarks keep
 * them for the whole run): a waiter can see the flag before the notifier left wake().
 */
class signal {
 public:
  /// Sets the flag, then wakes the waiter (flag first: the waiter re-checks it after
  /// registering, see wait_future::poll).
  void notify() noexcept {
    set_.store(true, std::memory_order_release);
    waker_.wake();
  }

  /// Consumes a pending notification without waiting.
  bool try_take() noexcept {
    // Ordering: acquire pairs with notify()'s release store.
    return set_.load(std::memory_order_relaxed) && set_.exchange(false, std::memory_order_acquire);
  }

  void reset() noexcept { set_.store(false, std::memory_order_relaxed); }

  /// Polled by hand-written futures: ready once notified (and consumes the notification).
  zokio::poll<void> poll_wait(zokio::context& cx) noexcept {
    if (try_take()) return zokio::ready();
    // Store the waker *before* re-checking, or a notify() between the check and the store
    // would find no waker and be lost.
    waker_.register_waker(cx.waker());
    if (try_take()) return zokio::ready();
    return zokio::pending;
  }

  struct wait_future {
    using output = void;
    signal* s;
    zokio::poll<void> poll(zokio::context& cx) noexcept { return s->poll_wait(cx); }
  };
  /// `co_await sig.wait();`
  wait_future wait() noexcept { return wait_future{this}; }

 private:
  alignas(64) std::atomic<bool> set_{false};
  atomic_waker waker_;
};

}  // namespace perf

#endif
