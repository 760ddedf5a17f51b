// zokio::mpmc: multi-producer, multi-consumer channels, bounded (send waits for room) and
// unbounded: senders and receivers are both cloneable, each message goes to one receiver
// (a work queue shared by several consumer tasks; Rust's async-channel / flume).
#ifndef ZOKIO_MPMC_HPP
#define ZOKIO_MPMC_HPP

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/allocator.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/chan_error.hpp>
#include <zokio/detail/chan_waiters.hpp>
#include <zokio/detail/coop.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/poll.hpp>

namespace zokio::detail {

// The wakers one operation hands out (at most a sender's slot and a receiver's turn), woken
// after the lock is released.
using mpmc_wakes = basic_wake_batch<2>;

/**
 * The shared state of one mpmc channel. One lock guards everything: the queue, the two FIFOs
 * of waiting futures (senders waiting for room, receivers waiting for a message) and the
 * counts. A lock, not a lock-free queue, because several receivers must agree on who takes
 * a message and who sleeps, and a waiter must never be lost between the two (what Go's
 * channels and Asio's concurrent_channel do too); the critical sections are a few dozen
 * instructions, and wakes run after the lock is released.
 *
 * Invariants (under `mu`):
 *   - a waiting future's node is on its list (`queued`) or was taken off it by a side that
 *     handed it a turn (`notified` = GRANTED: a message came, or room); closing the channel
 *     takes every node off with CLOSED_NOTE;
 *   - a future that had a turn and is dropped without using it passes the turn on to the
 *     next waiter of its list, so a dropped future never strands a message or a slot
 *     (cancel safety: recv loses no message, send loses no room);
 *   - bounded: queue.size() + reserved <= bound, where `reserved` counts slots granted to
 *     woken senders and not used yet; while senders wait, nobody else may take a slot (no
 *     barging: room goes in FIFO order). Receivers may barge: a woken receiver that finds
 *     the message taken keeps its place at the front;
 *   - while messages are queued and receivers wait, one woken receiver is on its way
 *     (`rx_granted` counts those that have not looked yet): a push wakes one only when none
 *     is, and each pop that leaves messages behind wakes the next;
 *   - `closed` is final: set by close(), by the last sender (receivers drain the queue, then
 *     end) or by the last receiver (the queue is destroyed: nobody can receive it).
 * Lifetime: `handles` counts senders and receivers; the last handle frees the state. Futures
 * borrow their handle, which must outlive them (as with mpsc).
 */
template <class T>
struct mpmc_chan {
  explicit mpmc_chan(std::size_t cap) noexcept : bound(cap) {}

  spin_mutex mu;
  std::deque<T> queue;
  chan_wait_list tx_wait, rx_wait;
  const std::size_t bound;  // 0: unbounded
  std::size_t reserved = 0;  // bounded: slots granted to woken senders, not used yet
  std::size_t rx_granted = 0;  // receivers woken for a message that have not looked yet
  std::size_t senders = 1, receivers = 1;
  bool closed = false;
  std::atomic<std::size_t> handles{2};

  static mpmc_chan* create(std::size_t bound) {
    void* p = allocate(sizeof(mpmc_chan), alloc_category::channel, alignof(mpmc_chan));
    return ::new (p) mpmc_chan(bound);
  }
  void drop_handle() noexcept {
    // acq_rel: the last handle sees every other handle's writes before destroying.
    if (handles.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~mpmc_chan();
      deallocate(this, sizeof(mpmc_chan), alloc_category::channel, alignof(mpmc_chan));
    }
  }

  bool full() const noexcept { return bound != 0 && queue.size() + reserved >= bound; }

  // Under mu: hand one waiter of `l` its turn (its waker goes to `wb`, woken after unlock).
  static void grant_one(chan_wait_list& l, mpmc_wakes& wb) noexcept {
    if (chan_wait_node* n = l.pop_front()) {
      n->notified = chan_permits_granted;
      wb.push(std::move(n->w));
    }
  }
  // Under mu: while messages are queued and no woken receiver is on its way, the first
  // waiting receiver is woken. One at a time: a receiver that takes a message and finds
  // more wakes the next (a chain), so a burst of sends does not wake every receiver for
  // messages that the first one woken (or one still running) takes anyway.
  void grant_receiver(mpmc_wakes& wb) noexcept {
    if (rx_granted == 0 && !queue.empty() && !rx_wait.empty()) {
      ++rx_granted;
      grant_one(rx_wait, wb);
    }
  }
  // Under mu: a free slot goes to the first waiting sender, reserved for it (no barging: a
  // sender that did not wait finds the channel full while others wait).
  void grant_sender(mpmc_wakes& wb) noexcept {
    if (!tx_wait.empty() && !full()) {
      ++reserved;
      grant_one(tx_wait, wb);
    }
  }
  // Called with `lk` locked, returns with it unlocked: every waiter of both lists is taken
  // off with CLOSED_NOTE and woken outside the lock, in batches (retaken between them).
  void close_locked(std::unique_lock<spin_mutex>& lk) noexcept {
    closed = true;
    for (;;) {
      chan_wake_batch wb;
      while (!wb.full()) {
        chan_wait_node* n = tx_wait.pop_front();
        if (!n) n = rx_wait.pop_front();
        if (!n) break;
        n->notified = chan_closed_note;
        wb.push(std::move(n->w));
      }
      const bool more = !tx_wait.empty() || !rx_wait.empty();
      lk.unlock();
      wb.wake_all();
      if (!more) return;
      lk.lock();
    }
  }

  void close() noexcept {
    std::unique_lock lk(mu);
    if (!closed) close_locked(lk);
  }

  void add_sender() noexcept {
    std::lock_guard lk(mu);
    ++senders;
    handles.fetch_add(1, std::memory_order_relaxed);
  }
  void add_receiver() noexcept {
    std::lock_guard lk(mu);
    ++receivers;
    handles.fetch_add(1, std::memory_order_relaxed);
  }
  void drop_sender() noexcept {
    {
      std::unique_lock lk(mu);
      // The last sender: receivers take what is queued, then see the end.
      if (--senders == 0 && !closed) close_locked(lk);
    }
    drop_handle();
  }
  void drop_receiver() noexcept {
    std::deque<T> dropped;  // destroyed outside the lock (a destructor may use the channel)
    {
      std::unique_lock lk(mu);
      if (--receivers == 0) {
        dropped.swap(queue);
        if (!closed) close_locked(lk);
      }
    }
    dropped.clear();
    drop_handle();
  }

  // --- receive ---------------------------------------------------------------------------
  enum class try_result { value, empty, closed };

  // Under mu.
  try_result pop_locked(std::optional<T>& out, mpmc_wakes& wb) {
    if (!queue.empty()) {
      out.emplace(std::move(queue.front()));
      queue.pop_front();
      grant_sender(wb);    // a slot came free
      grant_receiver(wb);  // more queued: pass the turn on
      return try_result::value;
    }
    return closed ? try_result::closed : try_result::empty;
  }

  try_result try_pop(std::optional<T>& out) {
    mpmc_wakes wb;
    std::lock_guard lk(mu);
    return pop_locked(out, wb);
  }

  poll<std::optional<T>> poll_recv(chan_wait_node& n, context& cx) {
    if (!coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
    mpmc_wakes wb;
    std::lock_guard lk(mu);
    if (n.notified == chan_permits_granted) --rx_granted;  // looking now
    n.notified = 0;
    std::optional<T> v;
    const try_result r = pop_locked(v, wb);
    if (r != try_result::empty) {
      if (n.queued) rx_wait.remove(&n);
      n.owner_waiting = false;
      if (r == try_result::value) return poll<std::optional<T>>(std::move(v));
      return poll<std::optional<T>>(std::nullopt);
    }
    // Nothing queued: wait (again). A receiver woken for a message that a faster one took
    // keeps its place at the front.
    n.w = cx.waker();
    if (!n.queued) {
      if (n.owner_waiting)
        rx_wait.push_front(&n);
      else
        rx_wait.push_back(&n);
    }
    n.owner_waiting = true;
    return pending;
  }

  // A recv future goes: off the list, or, if it had a turn it did not use, the turn passes
  // to the next receiver while a message is there for it.
  void cancel_recv(chan_wait_node& n) noexcept {
    if (!n.owner_waiting) return;
    mpmc_wakes wb;
    std::lock_guard lk(mu);
    if (n.queued) {
      rx_wait.remove(&n);
    } else if (n.notified == chan_permits_granted) {
      --rx_granted;  // its turn goes to the next waiting receiver
      grant_receiver(wb);
    }
    n.w.reset();
  }

  // --- send ------------------------------------------------------------------------------
  enum class push_result { sent, full, closed };

  // Under mu. `granted`: the caller holds a reserved slot (it uses it up here).
  push_result push_locked(T& v, bool granted, mpmc_wakes& wb) {
    if (granted) --reserved;
    if (closed) return push_result::closed;
    if (!granted && (full() || !tx_wait.empty())) return push_result::full;
    queue.push_back(std::move(v));
    grant_receiver(wb);
    return push_result::sent;
  }

  push_result try_push(T& v) {
    mpmc_wakes wb;
    std::lock_guard lk(mu);
    return push_locked(v, false, wb);
  }

  // Ready(true): sent; Ready(false): closed (the value stays in `v`).
  poll<bool> poll_send(chan_wait_node& n, std::optional<T>& v, context& cx) {
    if (!coop::poll_proceed(cx)) return pending;
    mpmc_wakes wb;
    std::lock_guard lk(mu);
    // A queued node polled again (a spurious wake) has no slot yet: it keeps waiting.
    const bool granted = n.notified == chan_permits_granted;
    if (n.queued) {
      n.w = cx.waker();
      return pending;
    }
    n.notified = 0;
    const push_result r = push_locked(*v, granted, wb);
    if (r != push_result::full) {
      n.owner_waiting = false;
      if (r == push_result::sent) {
        v.reset();
        return poll<bool>(true);
      }
      return poll<bool>(false);
    }
    n.w = cx.waker();
    tx_wait.push_back(&n);
    n.owner_waiting = true;
    return pending;
  }

  void cancel_send(chan_wait_node& n) noexcept {
    if (!n.owner_waiting) return;
    mpmc_wakes wb;
    std::lock_guard lk(mu);
    if (n.queued) {
      tx_wait.remove(&n);
    } else if (n.notified == chan_permits_granted) {
      --reserved;  // the slot it was given goes to the next waiting sender
      grant_sender(wb);
    }
    n.w.reset();
  }

  std::size_t size() {
    std::lock_guard lk(mu);
    return queue.size();
  }
  bool is_closed() {
    std::lock_guard lk(mu);
    return closed;
  }

  static constexpr unsigned char chan_permits_granted = 1, chan_closed_note = 2;
};

}  // namespace zokio::detail

namespace zokio::mpmc {

template <class T>
class sender;
template <class T>
class receiver;

template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity);
template <class T>
std::pair<sender<T>, receiver<T>> unbounded_channel();

/**
 * A sending half; copy it for more producers. The channel closes for receivers when the last
 * sender is destroyed (they first receive what is queued).
 *
 * send() waits for room (bounded channels; never on an unbounded one). Cancel safety:
 * dropping a pending send future drops its value, and room granted to it meanwhile passes to
 * the next waiting sender. A send future borrows the sender and must not be moved once
 * polled. Waiting senders get room in FIFO order.
 */
template <class T>
class sender {
 public:
  sender() noexcept = default;
  sender(const sender& o) noexcept : c_(o.c_) {
    if (c_) c_->add_sender();
  }
  sender(sender&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  sender& operator=(sender o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~sender() {
    if (c_) c_->drop_sender();
  }

  class send_future {
   public:
    using output = send_result<T>;
    send_future(detail::mpmc_chan<T>* c, T v) : c_(c), v_(std::move(v)) {}
    // Only before the first poll (the node is not linked yet).
    send_future(send_future&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
        : c_(std::exchange(o.c_, nullptr)), v_(std::move(o.v_)) {}
    send_future(const send_future&) = delete;
    send_future& operator=(const send_future&) = delete;
    ~send_future() {
      if (c_) c_->cancel_send(node_);
    }

    zokio::poll<send_result<T>> poll(context& cx) {
      auto r = c_->poll_send(node_, v_, cx);
      if (r.is_pending()) return pending;
      if (r.value()) return zokio::poll<send_result<T>>(send_result<T>{});
      return zokio::poll<send_result<T>>(send_result<T>(channel_errc::closed, std::move(*v_)));
    }

   private:
    detail::mpmc_chan<T>* c_;
    std::optional<T> v_;
    detail::chan_wait_node node_;
  };

  /// Sends `v`, waiting while a bounded channel is full. Fails (value handed back, reason
  /// closed) once the channel is closed or every receiver is gone.
  send_future send(T v) const { return send_future(c_, std::move(v)); }

  /// Sends `v` now if there is room: errors channel_errc::full or channel_errc::closed, with
  /// the value handed back.
  send_result<T> try_send(T v) const {
    switch (c_->try_push(v)) {
      case detail::mpmc_chan<T>::push_result::sent: return {};
      case detail::mpmc_chan<T>::push_result::full:
        return send_result<T>(channel_errc::full, std::move(v));
      default: return send_result<T>(channel_errc::closed, std::move(v));
    }
  }

  /// Closes the channel for everyone: sends fail from now on, receivers drain what is queued.
  void close() const noexcept { c_->close(); }
  bool is_closed() const noexcept { return c_->is_closed(); }
  /// Messages queued now.
  std::size_t size() const noexcept { return c_->size(); }
  /// The bound (0: unbounded).
  std::size_t max_capacity() const noexcept { return c_->bound; }
  bool same_channel(const sender& o) const noexcept { return c_ == o.c_; }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  friend std::pair<sender<T>, receiver<T>> unbounded_channel<T>();
  explicit sender(detail::mpmc_chan<T>* c) noexcept : c_(c) {}
  detail::mpmc_chan<T>* c_ = nullptr;
};

/**
 * A receiving half; copy it for more consumers: each message goes to exactly one of them.
 * Receivers waiting on an empty channel are served in FIFO order.
 *
 * recv() is **cancel-safe**: nothing is taken from the queue until the future completes, and
 * a future dropped after a message was announced to it passes the announcement on to the
 * next waiting receiver. A recv future borrows the receiver and must not be moved once
 * polled. The last receiver's destruction closes the channel and destroys what is queued.
 */
template <class T>
class receiver {
 public:
  receiver() noexcept = default;
  receiver(const receiver& o) noexcept : c_(o.c_) {
    if (c_) c_->add_receiver();
  }
  receiver(receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  receiver& operator=(receiver o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~receiver() {
    if (c_) c_->drop_receiver();
  }

  /// The future of recv(): the next message, or nullopt once the channel is closed (or every
  /// sender gone) and the queue is empty.
  class recv_future {
   public:
    using output = std::optional<T>;
    explicit recv_future(detail::mpmc_chan<T>* c) noexcept : c_(c) {}
    recv_future(recv_future&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    recv_future(const recv_future&) = delete;
    recv_future& operator=(const recv_future&) = delete;
    ~recv_future() {
      if (c_) c_->cancel_recv(node_);
    }
    zokio::poll<std::optional<T>> poll(context& cx) { return c_->poll_recv(node_, cx); }

   private:
    detail::mpmc_chan<T>* c_;
    detail::chan_wait_node node_;
  };

  /// `co_await rx.recv()`: the next message, nullopt at the end.
  recv_future recv() const noexcept { return recv_future(c_); }

  /// The next message if one is queued: error channel_errc::empty (open, nothing queued) or
  /// channel_errc::closed (nothing queued and nothing can come any more).
  boost::system::result<T> try_recv() const {
    std::optional<T> v;
    switch (c_->try_pop(v)) {
      case detail::mpmc_chan<T>::try_result::value: return std::move(*v);
      case detail::mpmc_chan<T>::try_result::closed:
        return {boost::system::in_place_error, make_error_code(channel_errc::closed)};
      default: return {boost::system::in_place_error, make_error_code(channel_errc::empty)};
    }
  }

  /// Closes the channel (sends fail from now on) while what is queued can still be received.
  void close() const noexcept { c_->close(); }
  bool is_closed() const noexcept { return c_->is_closed(); }
  std::size_t size() const noexcept { return c_->size(); }
  bool same_channel(const receiver& o) const noexcept { return c_ == o.c_; }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  friend std::pair<sender<T>, receiver<T>> unbounded_channel<T>();
  explicit receiver(detail::mpmc_chan<T>* c) noexcept : c_(c) {}
  detail::mpmc_chan<T>* c_ = nullptr;
};

/// A bounded channel holding at most `capacity` (> 0) messages:
/// `auto [tx, rx] = zokio::mpmc::channel<job>(256);`
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("zokio::mpmc::channel: capacity must be > 0");
  auto* c = detail::mpmc_chan<T>::create(capacity);
  return {sender<T>(c), receiver<T>(c)};
}

/// An unbounded channel (send never waits): `auto [tx, rx] = zokio::mpmc::unbounded_channel<T>();`
template <class T>
std::pair<sender<T>, receiver<T>> unbounded_channel() {
  auto* c = detail::mpmc_chan<T>::create(0);
  return {sender<T>(c), receiver<T>(c)};
}

}  // namespace zokio::mpmc

#endif
