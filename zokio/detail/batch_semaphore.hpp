// The batch semaphore under zokio::semaphore, mutex and rwlock (Tokio's design): a
// lock-free permit counter, and a FIFO of waiters embedded in the acquire futures.
#ifndef ZOKIO_DETAIL_BATCH_SEMAPHORE_HPP
#define ZOKIO_DETAIL_BATCH_SEMAPHORE_HPP

#include <atomic>
#include <cassert>
#include <cstddef>
#include <limits>
#include <mutex>
#include <utility>

#include <zokio/detail/coop.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/wait_list.hpp>
#include <zokio/waker.hpp>

namespace zokio::detail {

/**
 * Counting semaphore whose waiters may each need several permits.
 *
 * State word `state_`: bit 0 CLOSED, bit 1 WAITERS (the wait list is not empty), the permit
 * count above. Invariant: while WAITERS is set the count is 0, because a release hands its
 * permits to the queued waiters first (oldest first; a waiter that needs more than is
 * released takes what there is and keeps blocking the ones behind it). So:
 *
 * - acquire / try_acquire fast path: one CAS that takes permits when WAITERS and CLOSED are
 *   clear and enough are there; otherwise the acquirer locks the list, takes what there is,
 *   sets WAITERS and queues its node for the rest;
 * - release fast path: one CAS that adds permits when WAITERS is clear; otherwise it locks
 *   and assigns to waiters, clearing WAITERS when the list empties.
 *
 * WAITERS is only set or cleared under the lock, and while it is set only lock holders
 * change the word, so the list and the bit never disagree. Wakers are woken after the lock
 * is released (in batches of 32).
 */
class batch_semaphore {
 public:
  static constexpr std::size_t closed_bit = 1, waiters_bit = 2, shift = 2;
  /// Leaves headroom so that count + release never overflows the word.
  static constexpr std::size_t max_permits = std::numeric_limits<std::size_t>::max() >> 3;

  explicit batch_semaphore(std::size_t permits) noexcept : state_(permits << shift) {
    assert(permits <= max_permits);
  }
  batch_semaphore(const batch_semaphore&) = delete;
  batch_semaphore& operator=(const batch_semaphore&) = delete;

  std::size_t available_permits() const noexcept {
    return state_.load(std::memory_order_acquire) >> shift;
  }
  bool is_closed() const noexcept {
    return state_.load(std::memory_order_acquire) & closed_bit;
  }

  enum class status { pending, acquired, closed };

  /// Takes `n` permits if they are there and nobody queues before us.
  bool try_acquire(std::size_t n) noexcept {
    std::size_t cur = state_.load(std::memory_order_relaxed);
    while (!(cur & (closed_bit | waiters_bit)) && (cur >> shift) >= n) {
      // Ordering: acquire pairs with the release of whoever released these permits (the
      // previous holder's critical section happens-before ours).
      if (state_.compare_exchange_weak(cur, cur - (n << shift), std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  /// Adds `n` permits, handing them to queued waiters first (FIFO).
  void release(std::size_t n) noexcept {
    if (n == 0) return;
    std::size_t cur = state_.load(std::memory_order_relaxed);
    while (!(cur & waiters_bit)) {
      // Ordering: release publishes the holder's writes to the next acquirer.
      if (state_.compare_exchange_weak(cur, cur + (n << shift), std::memory_order_release,
                                       std::memory_order_relaxed))
        return;
    }
    mu_.lock();
    add_permits_locked(n);
  }

  /// Fails every queued and future acquire; permits held stay valid (release still works).
  void close() noexcept {
    mu_.lock();
    std::size_t cur = state_.load(std::memory_order_relaxed);
    while (!state_.compare_exchange_weak(cur, (cur | closed_bit) & ~waiters_bit,
                                         std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
    // Move the waiters aside first: permits released while we wake them in batches then go
    // to the count, not to a waiter that is being told "closed".
    // A node unlinked with permits still missing reads as "closed".
    wait_list<node> closing;
    waiters_.move_all_to(closing);
    wake_all_unlocking(closing, mu_, [](node&) {});
  }

  struct node : wait_link {
    std::atomic<std::size_t> remaining{0};  // permits still missing; 0: granted (release)
    zokio::waker waker_;                    // guarded by mu_
  };

  /**
   * The waiting part of an acquire future. Must not be moved after a poll returned pending
   * (its node is linked into the semaphore's list); destroying it at any point is safe.
   */
  class acquire_op {
   public:
    acquire_op(batch_semaphore& s, std::size_t n) noexcept : sem_(&s), n_(n) {}
    acquire_op(acquire_op&& o) noexcept : sem_(o.sem_), n_(o.n_) {
      assert(!o.queued_ && "an acquire future must not be moved once it waits");
    }
    acquire_op& operator=(acquire_op&&) = delete;
    ~acquire_op() {
      if (queued_) sem_->cancel(*this);
    }

    /// pending (cx's waker will be woken), acquired (the caller now owns n permits), or
    /// closed. Not to be polled again after acquired.
    status poll(context& cx) {
      // Locks and semaphores charge the task's budget (coop.hpp): refused, nothing changed.
      if (!coop::poll_proceed(cx)) return status::pending;
      if (!queued_) return sem_->poll_first(*this, cx);
      // Ordering: acquire pairs with the granting release's final store (its last access).
      if (node_.remaining.load(std::memory_order_acquire) == 0) {
        queued_ = false;
        return status::acquired;
      }
      return sem_->poll_queued(*this, cx);
    }

    std::size_t permits() const noexcept { return n_; }
    batch_semaphore& semaphore() const noexcept { return *sem_; }

   private:
    friend class batch_semaphore;
    batch_semaphore* sem_;
    std::size_t n_;
    bool queued_ = false;  // our node was queued and its permits are not ours yet
    node node_;
  };

 private:
  status poll_first(acquire_op& op, context& cx) {
    const std::size_t n = op.n_;
    std::size_t cur = state_.load(std::memory_order_relaxed);
    if (n == 0) return (cur & closed_bit) ? status::closed : status::acquired;  // never queue
    while (!(cur & (closed_bit | waiters_bit)) && (cur >> shift) >= n) {
      if (state_.compare_exchange_weak(cur, cur - (n << shift), std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return status::acquired;
    }
    if (cur & closed_bit) return status::closed;
    // Slow path: lock before taking a partial count, or a release between our CAS and our
    // queuing would find no WAITERS and no node, and its permits would not come to us.
    std::unique_lock lk(mu_);
    cur = state_.load(std::memory_order_relaxed);
    std::size_t got = 0;
    for (;;) {
      if (cur & closed_bit) return status::closed;  // CLOSED only changes under the lock
      if (cur & waiters_bit) break;                 // count is 0: queue behind them
      const std::size_t avail = cur >> shift;
      if (avail >= n) {
        if (state_.compare_exchange_weak(cur, cur - (n << shift), std::memory_order_acquire,
                                         std::memory_order_relaxed))
          return status::acquired;
        continue;
      }
      if (state_.compare_exchange_weak(cur, (cur & closed_bit) | waiters_bit,
                                       std::memory_order_acquire, std::memory_order_relaxed)) {
        got = avail;
        break;
      }
    }
    op.node_.remaining.store(n - got, std::memory_order_relaxed);
    op.node_.waker_ = cx.waker();
    waiters_.push_front(&op.node_);
    op.queued_ = true;
    return status::pending;
  }

  status poll_queued(acquire_op& op, context& cx) {
    zokio::waker old;  // dropped after unlocking
    std::lock_guard lk(mu_);
    if (op.node_.remaining.load(std::memory_order_relaxed) == 0) {
      op.queued_ = false;
      return status::acquired;
    }
    if (!op.node_.linked()) return status::closed;  // close() unlinked it
    if (!op.node_.waker_.will_wake(cx.waker())) old = std::exchange(op.node_.waker_, cx.waker());
    return status::pending;
  }

  // Destruction of a queued acquire: unlink, and hand on whatever was assigned to it.
  void cancel(acquire_op& op) noexcept {
    mu_.lock();
    if (op.node_.linked()) op.node_.unlink();
    zokio::waker w = std::move(op.node_.waker_);
    const std::size_t assigned = op.n_ - op.node_.remaining.load(std::memory_order_relaxed);
    add_permits_locked(assigned);  // also clears WAITERS if the list is now empty
  }

  // Called with mu_ held; releases it. Assigns `rem` permits to the oldest waiters, wakes the
  // ones fully served (outside the lock), and adds what is left to the count.
  void add_permits_locked(std::size_t rem) noexcept {
    for (;;) {
      wake_batch wakers;
      while (rem > 0 && !wakers.full()) {
        node* w = waiters_.back();
        if (!w) break;
        const std::size_t need = w->remaining.load(std::memory_order_relaxed);
        if (rem < need) {
          w->remaining.store(need - rem, std::memory_order_relaxed);
          rem = 0;
          break;
        }
        rem -= need;
        w->unlink();
        wakers.push(std::move(w->waker_));
        // Ordering: release, and the last access to the node: its owner may see 0 without
        // the lock, return, and destroy the node.
        w->remaining.store(0, std::memory_order_release);
      }
      if (waiters_.empty()) {
        std::size_t cur = state_.load(std::memory_order_relaxed);
        while (!state_.compare_exchange_weak(cur, (cur & ~waiters_bit) + (rem << shift),
                                             std::memory_order_release,
                                             std::memory_order_relaxed)) {
        }
        rem = 0;
      }
      mu_.unlock();
      wakers.wake_all();
      if (rem == 0) return;
      mu_.lock();
    }
  }

  std::atomic<std::size_t> state_;
  spin_mutex mu_;
  wait_list<node> waiters_;
};

}  // namespace zokio::detail

#endif
