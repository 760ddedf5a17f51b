// Intrusive FIFO lists of waiting channel futures (bounded mpsc senders, broadcast and watch
// receivers); wakes are batched with wait_list.hpp's wake_batch.
#ifndef ZOKIO_DETAIL_CHAN_WAITERS_HPP
#define ZOKIO_DETAIL_CHAN_WAITERS_HPP

#include <utility>

#include <zokio/detail/wait_list.hpp>
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

  /// For a waiter whose turn was taken by another (it keeps its place: mpmc).
  void push_front(chan_wait_node* n) noexcept {
    n->prev = nullptr;
    n->next = head_;
    if (head_)
      head_->prev = n;
    else
      tail_ = n;
    head_ = n;
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

/// Wakers taken out under a lock, woken after it is released: the sync primitives' batch.
/// Whatever is left is woken by the destructor: declare it before the lock guard.
using chan_wake_batch = wake_batch;

}  // namespace zokio::detail

#endif
