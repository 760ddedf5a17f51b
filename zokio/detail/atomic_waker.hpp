// zokio::detail::atomic_waker: one waker slot that a single consumer registers into and any
// thread wakes, without a lock (the AtomicWaker protocol of Rust's futures crate).
#ifndef ZOKIO_DETAIL_ATOMIC_WAKER_HPP
#define ZOKIO_DETAIL_ATOMIC_WAKER_HPP

#include <atomic>
#include <utility>

#include <zokio/waker.hpp>

namespace zokio::detail {

/**
 * state: WAITING (slot free), REGISTERING (the consumer writes the slot), WAKING (a waker
 * takes the slot). A wake landing while the consumer holds REGISTERING leaves
 * REGISTERING|WAKING; the consumer sees it when it releases and wakes the task itself, so no
 * wake is lost. One registrant at a time (the channel's single receiver).
 */
class atomic_waker {
 public:
  atomic_waker() = default;
  atomic_waker(const atomic_waker&) = delete;
  atomic_waker& operator=(const atomic_waker&) = delete;

  /// Stores (a clone of) `w` for the next wake(). Skips the clone when it would wake the same.
  void register_waker(const waker& w) noexcept {
    unsigned cur = WAITING;
    // Ordering: acquire pairs with the release in wake()'s fetch_and (slot handed back).
    if (state_.compare_exchange_strong(cur, REGISTERING, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
      if (!slot_.will_wake(w)) slot_ = w;
      unsigned exp = REGISTERING;
      // Ordering: release publishes the slot to wake(); acquire sees the waker's writes.
      if (!state_.compare_exchange_strong(exp, WAITING, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        // A wake() came while we held the slot: it could not take it, so wake here.
        waker taken = std::move(slot_);
        state_.store(WAITING, std::memory_order_release);
        std::move(taken).wake();
      }
    } else {
      // WAKING: a wake() is taking the previous waker; that may not be ours, so wake ourselves
      // (the caller re-polls and re-registers).
      w.wake_by_ref();
    }
  }

  /// Wakes and consumes the registered waker, if any.
  void wake() noexcept {
    if (waker w = take()) std::move(w).wake();
  }

  /// Takes the registered waker out (empty when none or when a registration is in progress,
  /// which then wakes itself).
  waker take() noexcept {
    // Ordering: acq_rel; release makes the caller's writes (a pushed message) visible to a
    // registrant that sees WAKING, acquire pairs with the registrant's release of the slot.
    if (state_.fetch_or(WAKING, std::memory_order_acq_rel) == WAITING) {
      waker w = std::move(slot_);
      state_.fetch_and(~WAKING, std::memory_order_release);
      return w;
    }
    return {};
  }

 private:
  static constexpr unsigned WAITING = 0, REGISTERING = 1, WAKING = 2;
  std::atomic<unsigned> state_{WAITING};
  waker slot_;
};

}  // namespace zokio::detail

#endif
