// zokio::broadcast: a bounded multi-producer, multi-consumer channel where every receiver
// sees every message (Tokio's tokio::sync::broadcast); slow receivers lag and skip.
#ifndef ZOKIO_BROADCAST_HPP
#define ZOKIO_BROADCAST_HPP

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/detail/coop.hpp>
#include <zokio/allocator.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/chan_error.hpp>
#include <zokio/detail/rw_spin.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/chan_waiters.hpp>
#include <zokio/poll.hpp>

namespace zokio::detail {

/**
 * A ring of `cap` slots (a power of two). Message number `pos` goes to slot `pos & mask`,
 * which records `seq = pos + 1` (0: never written). `mu` guards the tail position, the
 * receiver count, the closed flag and the waiting receivers; each slot has a reader-writer
 * spin lock so that receivers copy values in parallel while a sender overwrites another slot.
 * A receiver at position `next` finds: seq == next + 1, its message; seq < next + 1, not sent
 * yet (wait); seq > next + 1, overwritten (it lagged: it jumps to the oldest retained).
 */
template <class T>
struct bcast_chan {
  struct slot {
    rw_spin lock;
    std::uint64_t seq = 0;
    std::optional<T> val;
  };

  explicit bcast_chan(std::size_t n) : cap(n), mask(n - 1) {
    void* p = allocate(sizeof(slot) * cap, alloc_category::channel, alignof(slot));
    slots = static_cast<slot*>(p);
    for (std::size_t i = 0; i < cap; ++i) ::new (slots + i) slot();
  }
  ~bcast_chan() {
    for (std::size_t i = 0; i < cap; ++i) slots[i].~slot();
    deallocate(slots, sizeof(slot) * cap, alloc_category::channel, alignof(slot));
  }

  static bcast_chan* create(std::size_t cap) {
    void* p = allocate(sizeof(bcast_chan), alloc_category::channel, alignof(bcast_chan));
    return ::new (p) bcast_chan(cap);
  }
  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void drop_ref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~bcast_chan();
      deallocate(this, sizeof(bcast_chan), alloc_category::channel, alignof(bcast_chan));
    }
  }

  // Wakes every receiver waiting now (not those that queue again meanwhile), outside mu.
  void wake_waiters(std::unique_lock<spin_mutex>& lk) noexcept {
    std::size_t budget = n_waiters;
    while (budget > 0 && !waiters.empty()) {
      chan_wake_batch wakes;
      while (budget > 0 && !waiters.empty() && !wakes.full()) {
        chan_wait_node* n = waiters.pop_front();
        --n_waiters;
        --budget;
        n->notified = 1;
        wakes.push(std::move(n->w));
      }
      lk.unlock();
      wakes.wake_all();
      lk.lock();
    }
  }

  template <class U>
  bool send(U&& v) {
    std::unique_lock lk(mu);
    if (rx_count == 0) return false;
    const std::uint64_t pos = tail++;
    slot& s = slots[pos & mask];
    s.lock.lock();
    s.seq = pos + 1;
    s.val.emplace(std::forward<U>(v));
    s.lock.unlock();
    wake_waiters(lk);
    return true;
  }

  void close() noexcept {
    std::unique_lock lk(mu);
    closed = true;
    wake_waiters(lk);
  }

  void dequeue(chan_wait_node& node) noexcept {
    if (!node.owner_waiting) return;
    node.owner_waiting = false;
    {
      std::lock_guard lk(mu);
      if (node.queued) {
        waiters.remove(&node);
        --n_waiters;
      }
    }
    node.w.reset();
  }

  using result_t = boost::system::result<T, recv_error>;

  // One receive attempt at `next`; registers `node` (if given) when nothing is there yet.
  poll<result_t> poll_recv(std::uint64_t& next, chan_wait_node* node, context* cx) {
    for (;;) {
      slot& s = slots[next & mask];
      s.lock.lock_shared();
      if (s.seq == next + 1) {
        result_t r(boost::system::in_place_value, *s.val);  // copy: every receiver gets one
        s.lock.unlock_shared();
        ++next;
        if (node) dequeue(*node);
        return poll<result_t>(std::move(r));
      }
      const bool lagged = s.seq > next + 1;
      s.lock.unlock_shared();
      std::unique_lock lk(mu);
      if (lagged) {
        const std::uint64_t oldest = tail - cap;
        const std::uint64_t skipped = oldest - next;
        next = oldest;
        lk.unlock();
        if (node) dequeue(*node);
        return poll<result_t>(result_t(boost::system::in_place_error,
                                       recv_error{channel_errc::lagged, skipped}));
      }
      if (tail > next) continue;  // sent between our look at the slot and the lock
      if (closed) {
        lk.unlock();
        if (node) dequeue(*node);
        return poll<result_t>(
            result_t(boost::system::in_place_error, recv_error{channel_errc::closed, 0}));
      }
      if (!node) {
        return poll<result_t>(
            result_t(boost::system::in_place_error, recv_error{channel_errc::empty, 0}));
      }
      node->notified = 0;
      if (node->queued) {
        if (!node->w.will_wake(cx->waker())) node->w = cx->waker();
      } else {
        node->w = cx->waker();
        node->owner_waiting = true;
        waiters.push_back(node);
        ++n_waiters;
      }
      return pending;
    }
  }

  const std::size_t cap, mask;
  slot* slots;
  alignas(64) spin_mutex mu;
  std::uint64_t tail = 0;
  std::size_t rx_count = 0;
  bool closed = false;
  chan_wait_list waiters;
  std::size_t n_waiters = 0;
  std::atomic<std::size_t> tx_count{1};
  std::atomic<std::size_t> refs{1};  // the sender side as one, plus one per receiver
};

}  // namespace zokio::detail

namespace zokio::broadcast {

template <class T>
class sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity);

template <class T>
using recv_result = boost::system::result<T, recv_error>;

/**
 * A receiver: its own cursor into the ring. recv() yields each message sent since it
 * subscribed, in order; if it falls more than `capacity` behind, the next recv() fails with
 * recv_error{lagged, k} (k messages skipped) and the one after resumes at the oldest kept.
 *
 * recv() is **cancel-safe**: the cursor moves only when the future completes, so dropping a
 * pending recv loses nothing. A recv future borrows the receiver and must not be moved once
 * polled (its waiter node is linked into the channel).
 */
template <class T>
class receiver {
 public:
  receiver() noexcept = default;
  receiver(receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)), next_(o.next_) {}
  receiver& operator=(receiver&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
      next_ = o.next_;
    }
    return *this;
  }
  ~receiver() { reset(); }

  class recv_future {
   public:
    using output = recv_result<T>;
    explicit recv_future(receiver& r) noexcept : r_(&r) {}
    recv_future(recv_future&& o) noexcept : r_(o.r_) {}  // before the first poll only
    recv_future(const recv_future&) = delete;
    recv_future& operator=(const recv_future&) = delete;
    ~recv_future() {
      if (node_.owner_waiting) r_->c_->dequeue(node_);
    }
    zokio::poll<output> poll(context& cx) {
      if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
      return r_->c_->poll_recv(r_->next_, &node_, &cx);
    }

   private:
    receiver* r_;
    detail::chan_wait_node node_;
  };

  /// The next message; recv_error{closed} once every sender is gone and all was read.
  recv_future recv() noexcept { return recv_future(*this); }

  /// The next message if there is one: errors lagged, closed, or empty.
  recv_result<T> try_recv() { return c_->poll_recv(next_, nullptr, nullptr).take(); }

  /// A new receiver of the same channel starting at the next message sent (Tokio's
  /// resubscribe).
  receiver resubscribe() const { return receiver(c_); }

  /// Messages this receiver has not read yet (at most the capacity).
  std::size_t len() const {
    std::lock_guard lk(c_->mu);
    std::uint64_t oldest = c_->tail > c_->cap ? c_->tail - c_->cap : 0;
    return static_cast<std::size_t>(c_->tail - std::max(next_, oldest));
  }

  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend class sender<T>;
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  explicit receiver(detail::bcast_chan<T>* c) : c_(c) {
    std::lock_guard lk(c->mu);
    ++c->rx_count;
    next_ = c->tail;
    c->add_ref();
  }
  void reset() noexcept {
    if (auto* c = std::exchange(c_, nullptr)) {
      {
        std::lock_guard lk(c->mu);
        --c->rx_count;
      }
      c->drop_ref();
    }
  }
  detail::bcast_chan<T>* c_ = nullptr;
  std::uint64_t next_ = 0;
};

/**
 * A sender (copyable: every copy sends into the same ring). send() never waits: with no
 * receiver it fails and hands the value back (receiver_count() tells how many will see it).
 * When the last sender is destroyed, receivers read what is left, then get
 * recv_error{closed}.
 */
template <class T>
class sender {
 public:
  sender() noexcept = default;
  sender(const sender& o) noexcept : c_(o.c_) {
    if (c_) c_->tx_count.fetch_add(1, std::memory_order_relaxed);
  }
  sender(sender&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  sender& operator=(sender o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~sender() {
    if (c_ && c_->tx_count.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      c_->close();
      c_->drop_ref();
    }
  }

  send_result<T> send(T v) const {
    if (!c_->send(std::move(v))) return send_result<T>(channel_errc::closed, std::move(v));
    return {};
  }

  /// A new receiver that sees every message sent from now on.
  receiver<T> subscribe() const { return receiver<T>(c_); }

  std::size_t receiver_count() const {
    std::lock_guard lk(c_->mu);
    return c_->rx_count;
  }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>(std::size_t);
  explicit sender(detail::bcast_chan<T>* c) noexcept : c_(c) {}
  detail::bcast_chan<T>* c_ = nullptr;
};

/// `auto [tx, rx] = zokio::broadcast::channel<T>(16);` keeps the last `capacity` messages
/// (rounded up to a power of two; > 0). T must be copyable: each receiver gets a copy.
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
  static_assert(std::is_copy_constructible_v<T>, "broadcast values are copied to each receiver");
  if (capacity == 0) throw std::invalid_argument("zokio::broadcast::channel: capacity must be > 0");
  auto* c = detail::bcast_chan<T>::create(std::bit_ceil(capacity));
  sender<T> tx(c);
  receiver<T> rx(c);
  return {std::move(tx), std::move(rx)};
}

}  // namespace zokio::broadcast

#endif
