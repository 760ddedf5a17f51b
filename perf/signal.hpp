// Minimal waker-based synchronisation for the benchmarks, until Zokio has channels:
//   perf::atomic_waker  one waker slot, registered by one task, woken from any thread;
//   perf::signal        an auto-reset single-slot signal (notify / co_await wait()).
//
// Both are benchmark helpers, not library code: one waiting task at a time per object.
#ifndef ZOKIO_PERF_SIGNAL_HPP
#define ZOKIO_PERF_SIGNAL_HPP

#include <atomic>
#include <utility>

#include <zokio/context.hpp>
#include <zokio/poll.hpp>
#include <zokio/waker.hpp>

namespace perf {

/**
 * A waker slot with a lock-free hand-off between one registering task and any number of
 * wakers (the AtomicWaker protocol of Rust's futures crate).
 *
 * state: WAITING (slot free to register or to take), REGISTERING (the registrant owns the
 * slot), WAKING (a waker owns the slot). A wake that lands while the registrant holds
 * REGISTERING leaves REGISTERING|WAKING behind; the registrant sees it when it tries to
 * release and wakes the task itself, so no wake is lost.
 */
class atomic_waker {
 public:
  atomic_waker() = default;
  atomic_waker(const atomic_waker&) = delete;
  atomic_waker& operator=(const atomic_waker&) = delete;

  /// Stores (a clone of) `w` to be woken by the next wake(). One registrant at a time.
  void register_waker(const zokio::waker& w) noexcept {
    unsigned cur = WAITING;
    // Ordering: acquire pairs with the release in wake()'s fetch_and, so the slot is free.
    if (state_.compare_exchange_strong(cur, REGISTERING, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
      if (!slot_.will_wake(w)) slot_ = w;
      unsigned exp = REGISTERING;
      // Ordering: release publishes the slot to the next wake(); acquire in case it fails.
      if (!state_.compare_exchange_strong(exp, WAITING, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        // A wake() arrived while we held the slot (state is REGISTERING|WAKING): it could not
        // take the waker, so wake it here, after handing the slot back.
        zokio::waker taken = std::move(slot_);
        state_.store(WAITING, std::memory_order_release);
        std::move(taken).wake();
      }
    } else if (cur & WAKING) {
      // A wake() is taking the old waker right now: it may not be ours, so wake ourselves.
      w.wake_by_ref();
    }
    // cur == REGISTERING: a second concurrent registrant, which this type does not support.
  }

  /// Wakes the registered waker, if any (it is consumed: the task registers again).
  void wake() noexcept {
    // Ordering: acq_rel; acquire pairs with the registrant's release, release makes the
    // caller's earlier writes (the signal flag) visible to a registrant that sees WAKING.
    if (state_.fetch_or(WAKING, std::memory_order_acq_rel) == WAITING) {
      zokio::waker w = std::move(slot_);
      state_.fetch_and(~WAKING, std::memory_order_release);
      std::move(w).wake();
    }
  }

 private:
  static constexpr unsigned WAITING = 0, REGISTERING = 1, WAKING = 2;
  std::atomic<unsigned> state_{WAITING};
  zokio::waker slot_;
};

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
