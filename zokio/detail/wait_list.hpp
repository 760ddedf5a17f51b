// An intrusive circular FIFO of waiter nodes for the sync primitives' slow paths, and a
// batch of wakers to wake after a lock is released. Nodes live inside futures, so waiting
// allocates nothing. Not thread-safe: the owner guards every list with one spin_mutex.
#ifndef ZOKIO_DETAIL_WAIT_LIST_HPP
#define ZOKIO_DETAIL_WAIT_LIST_HPP

#include <utility>

#include <zokio/waker.hpp>

namespace zokio::detail {

/// Links of one waiter; a waiter type derives from it. Circular with a sentinel, so a node
/// can unlink itself without knowing which list holds it (a primitive may move its waiters
/// to a list on a waking thread's stack and wake them in batches).
struct wait_link {
  wait_link* prev = nullptr;  // towards the newest
  wait_link* next = nullptr;  // towards the oldest
  bool linked() const noexcept { return next != nullptr; }
  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

/// Oldest at the back: push_front + pop_back is FIFO. Not movable (the sentinel's address
/// is in the nodes).
template <class Node>
class wait_list {
 public:
  wait_list() noexcept { head_.prev = head_.next = &head_; }
  wait_list(const wait_list&) = delete;
  wait_list& operator=(const wait_list&) = delete;

  bool empty() const noexcept { return head_.next == &head_; }

  /// Adds `n` as the newest waiter.
  void push_front(Node* n) noexcept {
    wait_link* l = n;
    l->next = &head_;
    l->prev = head_.prev;
    head_.prev->next = l;
    head_.prev = l;
  }

  /// The oldest waiter, or nullptr.
  Node* back() const noexcept { return empty() ? nullptr : static_cast<Node*>(head_.next); }

  /// Unlinks and returns the oldest waiter, or nullptr.
  Node* pop_back() noexcept {
    if (empty()) return nullptr;
    wait_link* l = head_.next;
    l->unlink();
    return static_cast<Node*>(l);
  }
  /// Unlinks and returns the newest waiter, or nullptr.
  Node* pop_front() noexcept {
    if (empty()) return nullptr;
    wait_link* l = head_.prev;
    l->unlink();
    return static_cast<Node*>(l);
  }

  /// Moves every node of this list to `to`, which must be empty. O(1).
  void move_all_to(wait_list& to) noexcept {
    if (empty()) return;
    to.head_.next = head_.next;
    to.head_.prev = head_.prev;
    to.head_.next->prev = &to.head_;
    to.head_.prev->next = &to.head_;
    head_.prev = head_.next = &head_;
  }

 private:
  wait_link head_;
};

/// Wakers collected under a lock and woken after it is released; at most `Capacity` per
/// batch, so that releasing thousands of waiters needs no allocation. A batch is cleared
/// when made (Capacity wakers): an operation that hands out one or two wakers takes a small
/// one (mpmc: 32 cost a tenth of perf_mpmc's time).
template <int Capacity>
class basic_wake_batch {
 public:
  static constexpr int capacity = Capacity;
  basic_wake_batch() noexcept = default;
  basic_wake_batch(const basic_wake_batch&) = delete;
  basic_wake_batch& operator=(const basic_wake_batch&) = delete;
  ~basic_wake_batch() { wake_all(); }

  bool full() const noexcept { return n_ == capacity; }
  void push(zokio::waker&& w) noexcept {
    if (w) ws_[n_++] = std::move(w);
  }
  void wake_all() noexcept {
    for (int i = 0; i < n_; ++i) std::move(ws_[i]).wake();
    n_ = 0;
  }

 private:
  zokio::waker ws_[capacity];
  int n_ = 0;
};
using wake_batch = basic_wake_batch<32>;

/// Wakes every node of `taken` (waiters already moved out of the shared list, so that later
/// arrivals queue meanwhile) in batches of wake_batch::capacity. Called with `mu` locked,
/// returns with it unlocked: wakes run outside it, and it is retaken between batches.
/// `last_access(node&)` runs under the lock after the node's waker is taken; the node may be
/// freed by its owner right after it.
template <class Node, class Mutex, class LastAccess>
void wake_all_unlocking(wait_list<Node>& taken, Mutex& mu, LastAccess last_access) noexcept {
  for (;;) {
    wake_batch wakers;
    while (!wakers.full()) {
      Node* w = taken.pop_back();
      if (!w) break;
      wakers.push(std::move(w->waker_));
      last_access(*w);
    }
    const bool more = !taken.empty();
    mu.unlock();
    wakers.wake_all();
    if (!more) return;
    mu.lock();
  }
}

}  // namespace zokio::detail

#endif
