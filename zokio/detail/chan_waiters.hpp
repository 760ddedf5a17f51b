// Intrusive FIFO lists of waiting channel futures (bounded mpsc senders, broadcast and watch
// receivers), and chan_wake_batch: wakers collected under a lock and woken after it.
#ifndef ZOKIO_DETAIL_CHAN_WAITERS_HPP
#define ZOKIO_DETAIL_CHAN_WAITERS_HPP

#include <cstddef>
#include <utility>

#include <zokio/waker.hpp>

namespace zokio::detail {

/// A waiter embedded in a future (so waiting allocates nothing). Every field but
/// `owner_waiting` is guarded by the lock of the list it is on; `queued` says it is on it.
struct chan_wait_node {
  chan_wait_node* prev = nullptr;
  chan_wait_node* next = nullptr;
  waker w;
  bool queued = false;
  /// Set by whoever unlinks the node for the waiter's benefit (a granted permit, a close).
  unsigned char notified = 0;
  /// Written and read only by the owning future: it queued once, so it must look under the
  /// lock (and deregister when destroyed).
  bool owner_waiting = false;
};

/// Doubly linked FIFO of nodes. Not thread-safe: the owner's lock guards it.
class chan_wait_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }

  void push_back(chan_wait_node* n) noexcept {
    n->next = nullptr;
    n->prev = tail_;
    if (tail_)
      tail_->next = n;
    else
      head_ = n;
    tail_ = n;
    n->queued = true;
  }

  void remove(chan_wait_node* n) noexcept {
    if (n->prev)
      n->prev->next = n->next;
    else
      head_ = n->next;
    if (n->next)
      n->next->prev = n->prev;
    else
      tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->queued = false;
  }

  chan_wait_node* pop_front() noexcept {
    chan_wait_node* n = head_;
    if (n) remove(n);
    return n;
  }

 private:
  chan_wait_node* head_ = nullptr;
  chan_wait_node* tail_ = nullptr;
};

/// Up to 32 wakers taken out under a lock, woken after it is released (Tokio's WakeList).
/// Whatever is left is woken by the destructor: declare it before the lock guard.
class chan_wake_batch {
 public:
  static constexpr std::size_t capacity = 32;
  chan_wake_batch() = default;
  chan_wake_batch(const chan_wake_batch&) = delete;
  chan_wake_batch& operator=(const chan_wake_batch&) = delete;
  ~chan_wake_batch() { wake_all(); }

  bool full() const noexcept { return n_ == capacity; }
  void push(waker w) noexcept {
    if (w) wakers_[n_++] = std::move(w);
  }
  void wake_all() noexcept {
    for (std::size_t i = 0; i < n_; ++i) std::move(wakers_[i]).wake();
    n_ = 0;
  }

 private:
  waker wakers_[capacity];
  std::size_t n_ = 0;
};

}  // namespace zokio::detail

#endif
