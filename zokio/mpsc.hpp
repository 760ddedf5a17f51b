// zokio::mpsc: multi-producer, single-consumer channels, bounded (send waits for room) and
// unbounded (send never waits), Tokio's tokio::sync::mpsc.
#ifndef ZOKIO_MPSC_HPP
#define ZOKIO_MPSC_HPP

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/detail/coop.hpp>
#include <zokio/allocator.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/atomic_waker.hpp>
#include <zokio/detail/block_list.hpp>
#include <zokio/detail/chan_error.hpp>
#include <zokio/detail/chan_permits.hpp>
#include <zokio/poll.hpp>

namespace zokio::detail {

// The shared state of one mpsc channel: the queue, the receiver's waker, the capacity, and
// two counts (senders alive; sides alive: the senders as one, the receiver as the other).
template <class T>
struct mpsc_chan {
  explicit mpsc_chan(std::size_t capacity)
      : bound(capacity),
        permits(capacity),
        rx_bound(capacity),
        release_batch(std::clamp<std::size_t>(capacity / 16, 1, 64)) {}

  // Layout: what senders hit on every message (the permit count; the queue's tail, in
  // block_list) sits on lines of its own, apart from what the receiver reads per message.
  block_list<T> list;
  atomic_waker rx_waker;
  // The receiver found the queue empty and registered its waker: a sender must wake it.
  // Senders only read it (no shared RMW per message while the receiver is busy).
  alignas(64) std::atomic<bool> rx_parked{false};
  const std::size_t bound;  // 0: unbounded
  // Bounded: free slots (capacity - queued - being sent), on its own line.
  alignas(64) chan_permits permits;
  // Unbounded: messages ever reserved by senders << 1 | CLOSED (for "closed and idle").
  alignas(64) std::atomic<std::uint64_t> unbounded_state{0};
  std::atomic<std::size_t> tx_count{1};
  std::atomic<int> sides{2};
  // Receiver only.
  alignas(64) const std::size_t rx_bound;  // = bound, on the receiver's own line
  // Bounded: the receiver hands capacity back in batches of this many (and at once when it
  // finds the queue empty while a sender waits): with senders waiting at capacity, one slot per message woke one sender
  // per message; a batch lets the woken senders go on through the lock-free fast path, and
  // the receiver touches the senders' hot permit line once per batch.
  const std::size_t release_batch;
  std::uint64_t rx_taken = 0;      // unbounded: messages received
  std::size_t rx_unreleased = 0;   // bounded: received, capacity not handed back yet
  bool rx_closed = false;

  static mpsc_chan* create(std::size_t bound) {
    void* p = allocate(sizeof(mpsc_chan), alloc_category::channel, alignof(mpsc_chan));
    return ::new (p) mpsc_chan(bound);
  }
  void drop_side() noexcept {
    // Ordering: acq_rel: the last side sees everything the other did before destroying.
    if (sides.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~mpsc_chan();
      deallocate(this, sizeof(mpsc_chan), alloc_category::channel, alignof(mpsc_chan));
    }
  }

  void add_sender() noexcept { tx_count.fetch_add(1, std::memory_order_relaxed); }
  void drop_sender() noexcept {
    if (tx_count.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      list.close();  // the receiver drains what is queued, then sees the end
      rx_waker.wake();
      drop_side();
    }
  }

  bool is_closed() const noexcept {
    return bound ? permits.is_closed()
                 : (unbounded_state.load(std::memory_order_acquire) & 1) != 0;
  }

  // Unbounded: count one more message unless the receiver closed. One fetch_add (no CAS
  // loop under contention); a sender that finds CLOSED takes its count back and wakes the
  // receiver, which may be waiting for the count to settle.
  bool unbounded_reserve() noexcept {
    if (unbounded_state.fetch_add(2, std::memory_order_acq_rel) & 1) {
      unbounded_state.fetch_sub(2, std::memory_order_acq_rel);
      rx_waker.wake();
      return false;
    }
    return true;
  }

  void wake_rx() noexcept {
    // Ordering: seq_cst load after the seq_cst publication of the message (block_list::push)
    // pairs with the receiver's seq_cst store of rx_parked before its re-check (Dekker):
    // either we see it parked, or it sees our message.
    if (rx_parked.load(std::memory_order_seq_cst) &&
        rx_parked.exchange(false, std::memory_order_acq_rel))
      rx_waker.wake();
  }

  template <class... A>
  void push_and_wake(A&&... a) {
    list.push(std::forward<A>(a)...);
    wake_rx();
  }

  // After the receiver took a message: its capacity goes back (batched).
  void release_one() noexcept {
    if (!rx_bound) {
      ++rx_taken;
    } else if (++rx_unreleased >= release_batch) {
      flush_releases();
    }
  }
  void flush_releases() noexcept {
    if (rx_unreleased) permits.release(std::exchange(rx_unreleased, 0));
  }

  // Closed by the receiver and nothing queued or being sent.
  bool closed_and_idle() const noexcept {
    if (!rx_closed) return false;
    return rx_bound ? permits.available() + rx_unreleased == rx_bound
                 : (unbounded_state.load(std::memory_order_acquire) >> 1) == rx_taken;
  }

  void rx_close() noexcept {
    if (rx_closed) return;
    rx_closed = true;
    if (rx_bound)
      permits.close();
    else
      unbounded_state.fetch_or(1, std::memory_order_acq_rel);
  }

  enum class try_result { value, empty, closed };
  try_result try_pop(std::optional<T>& out,
                     std::memory_order order = std::memory_order_acquire) {
    auto r = list.pop([&](T&& v) { out.emplace(std::move(v)); }, order);
    if (r == block_list<T>::pop_result::value) {
      release_one();
      return try_result::value;
    }
    // The queue is empty: a sender waiting for room must not wait for a full batch.
    if (rx_unreleased && permits.has_waiters()) flush_releases();
    if (r == block_list<T>::pop_result::closed || closed_and_idle()) return try_result::closed;
    return try_result::empty;
  }

  poll<std::optional<T>> poll_recv(context& cx) {
    if (!coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
    std::optional<T> v;
    switch (try_pop(v)) {
      case try_result::value: return poll<std::optional<T>>(std::move(v));
      case try_result::closed: return poll<std::optional<T>>(std::nullopt);
      case try_result::empty: break;
    }
    rx_waker.register_waker(cx.waker());
    rx_parked.store(true, std::memory_order_seq_cst);
    // Re-check after announcing: a message published before that woke nobody, and a sender
    // that queued for room before that did not wake us (send_future wakes a parked receiver
    // after queueing: either it sees rx_parked or we see it in has_waiters(), in try_pop).
    switch (try_pop(v, std::memory_order_seq_cst)) {
      case try_result::value:
        rx_parked.store(false, std::memory_order_relaxed);
        return poll<std::optional<T>>(std::move(v));
      case try_result::closed: return poll<std::optional<T>>(std::nullopt);
      case try_result::empty: break;
    }
    return pending;
  }
};

}  // namespace zokio::detail

namespace zokio::mpsc {

template <class T>
class receiver;
template <class T>
class sender;
template <class T>
class unbounded_sender;

template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity);
template <class T>
std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel();


/**
 * The receiving half (one per channel, move-only), of a bounded or an unbounded channel.
 *
 * recv() is **cancel-safe**: dropping a pending recv future loses no message (nothing is
 * taken from the queue until the future completes). Destroying the receiver closes the
 * channel (senders see closed) and destroys the messages still queued.
 */
template <class T>
class receiver {
 public:
  receiver() noexcept = default;
  receiver(receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  receiver& operator=(receiver&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~receiver() { reset(); }

  /// The future of recv(): the next message, or nullopt once every sender is gone (or the
  /// receiver closed) and the queue is empty. Borrows the receiver.
  class recv_future {
   public:
    using output = std::optional<T>;
    explicit recv_future(receiver& r) noexcept : r_(&r) {}
    zokio::poll<std::optional<T>> poll(context& cx) { return r_->poll_recv(cx); }

   private:
    receiver* r_;
  };

  /// `co_await rx.recv()`: the next message, nullopt at the end.
  recv_future recv() noexcept { return recv_future(*this); }

  /// The next message if one is queued: error channel_errc::empty (open, nothing queued) or
  /// channel_errc::closed (nothing queued and nothing can come any more).
  boost::system::result<T> try_recv() {
    std::optional<T> v;
    switch (c_->try_pop(v)) {
      case detail::mpsc_chan<T>::try_result::value: return std::move(*v);
      case detail::mpsc_chan<T>::try_result::closed: return {boost::system::in_place_error, make_error_code(channel_errc::closed)};
      default: return {boost::system::in_place_error, make_error_code(channel_errc::empty)};
    }
  }

  /// Poll form of recv() for hand-written futures.
  zokio::poll<std::optional<T>> poll_recv(context& cx) { return c_->poll_recv(cx); }

  /// Closes the channel for senders (their sends fail from now on, waiting ones wake) while
  /// the messages already queued can still be received.
  void close() noexcept { c_->rx_close(); }

  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  friend std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel<T>();
  explicit receiver(detail::mpsc_chan<T>* c) noexcept : c_(c) {}

  void reset() noexcept {
    if (auto* c = std::exchange(c_, nullptr)) {
      c->rx_close();
      // Destroy what is queued now (senders cannot add more, bar those mid-send: the last
      // side destroys those).
      std::optional<T> v;
      while (c->try_pop(v) == detail::mpsc_chan<T>::try_result::value) v.reset();
      c->drop_side();
    }
  }
  detail::mpsc_chan<T>* c_ = nullptr;
};

/**
 * A sending half of a bounded channel; copy it for more producers (all copies are one
 * sender side; the channel closes for the receiver when the last is destroyed).
 *
 * send() waits for room. Cancel safety: dropping a pending send future drops its value and
 * gives up its place in the queue of waiting senders without losing capacity (a slot granted
 * to it in the meantime goes to the next waiting sender). A send future borrows the sender
 * (keep the sender alive while it is pending) and must not be moved once polled (its waiter
 * node is linked into the channel).
 *
 * Ordering: messages of one sender are received in the order sent; waiting senders get room
 * in FIFO order. Room comes back in batches from capacity 32 up (see capacity()): a waiting
 * sender resumes after at most max_capacity() / 16 receives, or when the queue runs empty.
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
    send_future(detail::mpsc_chan<T>* c, T v) : c_(c), v_(std::move(v)) {}
    // Only before the first poll (the node is not linked yet).
    send_future(send_future&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
        : c_(std::exchange(o.c_, nullptr)), v_(std::move(o.v_)) {}
    send_future(const send_future&) = delete;
    send_future& operator=(const send_future&) = delete;
    ~send_future() {
      if (c_) c_->permits.cancel(node_);
    }

    zokio::poll<send_result<T>> poll(context& cx) {
      if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
      switch (c_->permits.poll_acquire(node_, cx)) {
        case detail::chan_permits::acquire_result::acquired:
          c_->push_and_wake(std::move(*v_));
          return zokio::poll<send_result<T>>(send_result<T>{});
        case detail::chan_permits::acquire_result::closed:
          c_->rx_waker.wake();  // see try_send
          return zokio::poll<send_result<T>>(
              send_result<T>(channel_errc::closed,
                             std::move(*v_)));
        case detail::chan_permits::acquire_result::pending:
          // Queued: the receiver may be holding returned slots back for a batch; make sure
          // a parked receiver looks at the queue of senders (pairs with poll_recv).
          c_->wake_rx();
          break;
      }
      return pending;
    }

   private:
    detail::mpsc_chan<T>* c_;
    std::optional<T> v_;
    detail::chan_wait_node node_;
  };

  /// Sends `v`, waiting while the channel is full. Fails (value handed back, reason closed)
  /// once the receiver is gone or closed.
  send_future send(T v) const { return send_future(c_, std::move(v)); }

  /// Sends `v` now if there is room: errors channel_errc::full or channel_errc::closed, with
  /// the value handed back.
  send_result<T> try_send(T v) const {
    if (c_->permits.try_acquire()) {
      c_->push_and_wake(std::move(v));
      return {};
    }
    if (!c_->permits.is_closed()) return send_result<T>(channel_errc::full, std::move(v));
    // A failed attempt dips the free count for a moment; a receiver that closed and is
    // waiting for the count to settle ("closed and idle") must look again.
    c_->rx_waker.wake();
    return send_result<T>(channel_errc::closed, std::move(v));
  }

  /// True once the receiver is gone or closed.
  bool is_closed() const noexcept { return c_->is_closed(); }
  /// Free slots right now. The receiver hands slots back in batches of max_capacity() / 16
  /// (1 below 32, at most 64), or at once when it empties the queue while a sender waits, so
  /// this may be up to a batch - 1 below the true free room.
  std::size_t capacity() const noexcept { return c_->permits.available(); }
  std::size_t max_capacity() const noexcept { return c_->bound; }
  bool same_channel(const sender& o) const noexcept { return c_ == o.c_; }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  explicit sender(detail::mpsc_chan<T>* c) noexcept : c_(c) {}
  detail::mpsc_chan<T>* c_ = nullptr;
};

/// A sending half of an unbounded channel: send() never waits (memory is the only limit).
template <class T>
class unbounded_sender {
 public:
  unbounded_sender() noexcept = default;
  unbounded_sender(const unbounded_sender& o) noexcept : c_(o.c_) {
    if (c_) c_->add_sender();
  }
  unbounded_sender(unbounded_sender&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  unbounded_sender& operator=(unbounded_sender o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~unbounded_sender() {
    if (c_) c_->drop_sender();
  }

  /// Sends at once; fails (value handed back, reason closed) once the receiver is gone.
  send_result<T> send(T v) const {
    if (!c_->unbounded_reserve())
      return send_result<T>(channel_errc::closed, std::move(v));
    c_->push_and_wake(std::move(v));
    return {};
  }

  bool is_closed() const noexcept { return c_->is_closed(); }
  bool same_channel(const unbounded_sender& o) const noexcept { return c_ == o.c_; }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel<T>();
  explicit unbounded_sender(detail::mpsc_chan<T>* c) noexcept : c_(c) {}
  detail::mpsc_chan<T>* c_ = nullptr;
};

/// A bounded channel holding at most `capacity` (> 0) messages: `auto [tx, rx] =
/// zokio::mpsc::channel<T>(1024);`
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("zokio::mpsc::channel: capacity must be > 0");
  auto* c = detail::mpsc_chan<T>::create(capacity);
  return {sender<T>(c), receiver<T>(c)};
}

/// An unbounded channel: `auto [tx, rx] = zokio::mpsc::unbounded_channel<T>();`
template <class T>
std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel() {
  auto* c = detail::mpsc_chan<T>::create(0);
  return {unbounded_sender<T>(c), receiver<T>(c)};
}

}  // namespace zokio::mpsc

#endif
