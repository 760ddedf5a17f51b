// zokio::detail::chan_permits: the capacity of a bounded mpsc channel, a counting semaphore
// with a lock-free fast path and an intrusive FIFO of waiting senders.
#ifndef ZOKIO_DETAIL_CHAN_PERMITS_HPP
#define ZOKIO_DETAIL_CHAN_PERMITS_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include <zokio/context.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/chan_waiters.hpp>

namespace zokio::detail {

/**
 * `state_` = available permits * 2 + CLOSED (signed: a failed try_acquire dips it below 0
 * for a moment). try_acquire is one fetch_sub. A sender that finds no
 * permit queues its node under the lock (re-checking the count there). release() adds
 * permits with one fetch_add and only takes the lock when `waiters_` says someone queued;
 * both sides use seq_cst on (state_, waiters_) so that one of them sees the other (Dekker).
 * Under the lock, released permits go to the queue in FIFO order before anyone else.
 *
 * Node lifetime: a node is unlinked only under the lock; `notified` (GRANTED or CLOSED) is
 * written there too, so its owner decides under the lock whether it holds a permit.
 */
class chan_permits {
 public:
  static constexpr unsigned char GRANTED = 1, CLOSED_NOTE = 2;
  enum class acquire_result { acquired, pending, closed };

  explicit chan_permits(std::size_t n) noexcept : state_(std::int64_t(n) * 2) {}

  /// One permit, or false (none available, or closed: see is_closed()). One fetch_sub, no
  /// CAS loop: under contention a load-then-CAS costs two cache-line transfers. A failed
  /// attempt leaves the count briefly one lower; it puts it back through release(), which
  /// serves any sender that queued because of that dip.
  bool try_acquire() noexcept {
    if (acquire_or_undo()) return true;
    release(1);
    return false;
  }

  /// Whether a sender is queued (seq_cst: pairs with the caller's own seq_cst store, see
  /// mpsc_chan::poll_recv).
  bool has_waiters() const noexcept { return waiters_.load(std::memory_order_seq_cst) != 0; }

  bool is_closed() const noexcept { return state_.load(std::memory_order_acquire) & CLOSED; }
  std::size_t available() const noexcept {
    const std::int64_t n = state_.load(std::memory_order_acquire) >> 1;
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  /// Polls for one permit with `node` (embedded in the caller's future, which must not move
  /// while queued).
  acquire_result poll_acquire(chan_wait_node& node, context& cx) {
    if (!node.owner_waiting) {
      if (try_acquire()) return acquire_result::acquired;
      if (is_closed()) return acquire_result::closed;
    }
    std::lock_guard lk(mu_);
    if (node.notified == GRANTED) {
      node.notified = 0;
      node.owner_waiting = false;
      return acquire_result::acquired;
    }
    if (node.notified == CLOSED_NOTE) {
      node.notified = 0;
      node.owner_waiting = false;
      return acquire_result::closed;
    }
    if (node.queued) {
      if (!node.w.will_wake(cx.waker())) node.w = cx.waker();
      return acquire_result::pending;
    }
    // Announce ourselves, then re-check (pairs with release(): one of us sees the other).
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    if (acquire_locked()) {
      waiters_.fetch_sub(1, std::memory_order_relaxed);
      return acquire_result::acquired;
    }
    if (is_closed()) {
      waiters_.fetch_sub(1, std::memory_order_relaxed);
      return acquire_result::closed;
    }
    node.w = cx.waker();
    node.owner_waiting = true;
    list_.push_back(&node);
    return acquire_result::pending;
  }

  /// The owner of `node` gives up (its future is destroyed). A permit granted meanwhile is
  /// passed on, so a cancelled send never loses one.
  void cancel(chan_wait_node& node) noexcept {
    if (!node.owner_waiting) return;  // never queued: nothing to undo
    node.owner_waiting = false;
    bool give_back = false;
    {
      std::lock_guard lk(mu_);
      if (node.queued) {
        list_.remove(&node);
        waiters_.fetch_sub(1, std::memory_order_relaxed);
      } else if (node.notified == GRANTED) {
        give_back = true;
      }
      node.notified = 0;
    }
    node.w.reset();  // unlinked: nobody else reads it; dropped outside the lock
    if (give_back) release(1);
  }

  /// Returns `n` permits: to queued senders first (FIFO), the rest to the counter.
  void release(std::size_t n) noexcept {
    state_.fetch_add(std::int64_t(n) * 2, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    for (;;) {
      chan_wake_batch wakes;
      {
        std::lock_guard lk(mu_);
        while (!list_.empty() && !wakes.full() && acquire_locked()) {
          chan_wait_node* w = list_.pop_front();
          waiters_.fetch_sub(1, std::memory_order_relaxed);
          w->notified = GRANTED;
          wakes.push(std::move(w->w));
        }
        if (list_.empty() || !wakes.full()) return;  // wakes after the lock (destructor order)
      }
    }
  }

  /// Closes: no more permits for anyone; every queued sender is woken with "closed".
  void close() noexcept {
    state_.fetch_or(CLOSED, std::memory_order_seq_cst);
    for (;;) {
      chan_wake_batch wakes;
      std::unique_lock lk(mu_);
      while (!list_.empty() && !wakes.full()) {
        chan_wait_node* w = list_.pop_front();
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        w->notified = CLOSED_NOTE;
        wakes.push(std::move(w->w));
      }
      const bool more = !list_.empty();
      lk.unlock();
      wakes.wake_all();
      if (!more) return;
    }
  }

 private:
  // Takes one permit, or leaves the count one lower and returns false (the caller undoes).
  bool acquire_or_undo() noexcept {
    const std::int64_t prev = state_.fetch_sub(2, std::memory_order_seq_cst);
    return !(prev & CLOSED) && (prev >> 1) >= 1;
  }
  // Under mu_ (we are the one serving the queue): undo a failure with a plain add. A sender
  // that failed because of our dip undoes through release(), which takes mu_ after us.
  bool acquire_locked() noexcept {
    if (acquire_or_undo()) return true;
    state_.fetch_add(2, std::memory_order_seq_cst);
    return false;
  }

  static constexpr std::int64_t CLOSED = 1;
  std::atomic<std::int64_t> state_;
  std::atomic<std::size_t> waiters_{0};
  spin_mutex mu_;
  chan_wait_list list_;
};

}  // namespace zokio::detail

#endif
