// zokio::notify: wakes one waiting task or all of them, with no data (tokio::sync::Notify).
#ifndef ZOKIO_NOTIFY_HPP
#define ZOKIO_NOTIFY_HPP

#include <atomic>
#include <cassert>
#include <cstdint>
#include <mutex>
#include <utility>

#include <zokio/detail/coop.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/wait_list.hpp>
#include <zokio/poll.hpp>
#include <zokio/waker.hpp>

namespace zokio {

/**
 * Notifies tasks, like `tokio::sync::Notify`.
 *
 * - `notify_one()` wakes the oldest waiter; when nobody waits it stores one permit, which the
 *   next `notified()` consumes at once (at most one permit is stored: two calls with nobody
 *   waiting make one). So a notify_one that comes before the waiter awaits is not lost.
 * - `notify_last()` is the same but wakes the newest waiter.
 * - `notify_waiters()` wakes every waiter, and completes every `notified()` future created
 *   before the call even if it was not polled yet; it stores no permit.
 *
 * @code
 * zokio::notify ready;
 * auto f = ready.notified();   // created before checking the condition: no lost wake-up
 * if (!condition()) co_await std::move(f);
 * @endcode
 *
 * Fast paths (notify with nobody waiting; taking a stored permit) are one compare-and-swap;
 * waiting takes a short spin lock and allocates nothing (the node is in the future).
 *
 * @par Cancellation safety
 * Destroying a notified() future is safe at any point. If it had been picked by notify_one
 * but was destroyed before it completed, the notification is passed on to the next waiter
 * (or stored as the permit), as in Tokio: a notify_one is never lost to a cancelled waiter.
 * A notified() future must not be moved after it was polled.
 *
 * @par Thread Safety
 * All members may be called from any thread. The notify must outlive its futures.
 */
class notify {
  // state_: low 2 bits EMPTY / WAITING / NOTIFIED; above them, the number of notify_waiters
  // calls. WAITING (the list is not empty) is only set or cleared under mu_; EMPTY <->
  // NOTIFIED also changes without it (the fast paths).
  static constexpr std::uint64_t empty_ = 0, waiting_ = 1, notified_ = 2, kind_mask = 3,
                                 call_one = 4;
  static constexpr std::uint64_t kind(std::uint64_t s) noexcept { return s & kind_mask; }
  static constexpr std::uint64_t with_kind(std::uint64_t s, std::uint64_t k) noexcept {
    return (s & ~kind_mask) | k;
  }
  enum : std::uint8_t { none = 0, by_one = 1, by_all = 2 };

  struct node : detail::wait_link {
    std::atomic<std::uint8_t> notification{none};  // set (release) as the notifier's last access
    zokio::waker waker_;                            // guarded by mu_
  };

 public:
  notify() noexcept = default;
  notify(const notify&) = delete;
  notify& operator=(const notify&) = delete;

  /// The future of notified(): ready once this task was notified.
  class [[nodiscard]] notified_future {
   public:
    using output = void;
    notified_future(notified_future&& o) noexcept : n_(o.n_), calls_(o.calls_), st_(o.st_) {
      assert(o.st_ != waiting && "a notified() future must not be moved once it waits");
    }
    notified_future& operator=(notified_future&&) = delete;
    ~notified_future() {
      if (st_ == waiting) n_->cancel(*this);
    }

    zokio::poll<void> poll(context& cx) {
      if (st_ == done) return ready();
      if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)

      if (st_ == init ? n_->poll_first(*this, cx) : n_->poll_waiting(*this, cx)) {
        st_ = done;
        return ready();
      }
      return pending;
    }

   private:
    friend class notify;
    enum state : std::uint8_t { init, waiting, done };
    notified_future(notify* n, std::uint64_t calls) noexcept : n_(n), calls_(calls) {}
    notify* n_;
    std::uint64_t calls_;  // notify_waiters calls seen at creation
    state st_ = init;
    node node_;
  };

  /// A future that completes at the next notification (or at once, taking a stored permit).
  notified_future notified() noexcept {
    // Ordering: acquire pairs with notify_waiters' increment.
    return notified_future(this, state_.load(std::memory_order_acquire) >> 2);
  }

  void notify_one() noexcept { notify_impl(false); }
  void notify_last() noexcept { notify_impl(true); }

  void notify_waiters() noexcept {
    mu_.lock();
    std::uint64_t cur = state_.load(std::memory_order_relaxed);
    if (kind(cur) != waiting_) {
      // Nobody queued: only futures created earlier and not yet polled can be waiting, and
      // they see the count change.
      state_.fetch_add(call_one, std::memory_order_acq_rel);
      mu_.unlock();
      return;
    }
    // WAITING is stable under the lock, so a plain store is safe.
    state_.store(with_kind(cur + call_one, empty_), std::memory_order_release);
    // Take the current waiters aside (later ones wait for the next call), wake in batches.
    detail::wait_list<node> woken;
    waiters_.move_all_to(woken);
    detail::wake_all_unlocking(woken, mu_, [](node& w) {
      w.notification.store(by_all, std::memory_order_release);  // last access
    });
  }

 private:
  void notify_impl(bool last) noexcept {
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    while (kind(cur) != waiting_) {
      // Ordering: release makes the notifier's writes visible to the task taking the permit.
      if (state_.compare_exchange_weak(cur, with_kind(cur, notified_), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        return;
    }
    mu_.lock();
    zokio::waker w = notify_locked(last);
    mu_.unlock();
    w.wake();
  }

  // With mu_ held: wakes a waiter if there is one (returns its waker), else stores a permit.
  zokio::waker notify_locked(bool last) noexcept {
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    while (kind(cur) != waiting_) {
      if (state_.compare_exchange_weak(cur, with_kind(cur, notified_), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        return {};
    }
    node* n = last ? waiters_.pop_front() : waiters_.pop_back();
    zokio::waker w = std::move(n->waker_);
    if (waiters_.empty()) state_.store(with_kind(cur, empty_), std::memory_order_release);
    n->notification.store(by_one, std::memory_order_release);  // last access
    return w;
  }

  // Takes a stored permit; true if there was one.
  bool take_permit(std::uint64_t& cur) noexcept {
    while (kind(cur) == notified_) {
      if (state_.compare_exchange_weak(cur, with_kind(cur, empty_), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        return true;
    }
    return false;
  }

  bool poll_first(notified_future& f, context& cx) {
    std::uint64_t cur = state_.load(std::memory_order_acquire);
    if ((cur >> 2) != f.calls_) return true;  // a notify_waiters since the future was made
    if (take_permit(cur)) return true;
    std::lock_guard lk(mu_);
    cur = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((cur >> 2) != f.calls_) return true;
      if (take_permit(cur)) return true;
      if (kind(cur) == waiting_) break;
      // EMPTY -> WAITING; fails if a notify_one stored a permit meanwhile: take it then.
      if (state_.compare_exchange_weak(cur, with_kind(cur, waiting_), std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        break;
    }
    f.node_.waker_ = cx.waker();
    waiters_.push_front(&f.node_);
    f.st_ = notified_future::waiting;
    return false;
  }

  bool poll_waiting(notified_future& f, context& cx) {
    // Ordering: acquire pairs with the notifier's final release store.
    if (f.node_.notification.load(std::memory_order_acquire) != none) return true;
    zokio::waker old;  // dropped after unlocking
    std::lock_guard lk(mu_);
    if (f.node_.notification.load(std::memory_order_relaxed) != none) return true;
    if (!f.node_.waker_.will_wake(cx.waker())) old = std::exchange(f.node_.waker_, cx.waker());
    return false;
  }

  void cancel(notified_future& f) noexcept {
    zokio::waker mine, next;
    {
      std::lock_guard lk(mu_);
      if (f.node_.linked()) {
        f.node_.unlink();
        if (waiters_.empty()) {
          std::uint64_t cur = state_.load(std::memory_order_relaxed);
          if (kind(cur) == waiting_)
            state_.store(with_kind(cur, empty_), std::memory_order_release);
        }
      }
      mine = std::move(f.node_.waker_);
      // Picked by notify_one but never completed: pass the notification on.
      if (f.node_.notification.load(std::memory_order_relaxed) == by_one)
        next = notify_locked(false);
    }
    std::move(next).wake();
  }

  std::atomic<std::uint64_t> state_{0};
  detail::spin_mutex mu_;
  detail::wait_list<node> waiters_;
};

}  // namespace zokio

#endif
