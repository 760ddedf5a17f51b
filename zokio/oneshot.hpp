// zokio::oneshot: a channel for exactly one value, Tokio's tokio::sync::oneshot: one
// allocation, one lock-free state word.
#ifndef ZOKIO_ONESHOT_HPP
#define ZOKIO_ONESHOT_HPP

#include <atomic>
#include <new>
#include <optional>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/detail/coop.hpp>
#include <zokio/allocator.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/chan_error.hpp>
#include <zokio/poll.hpp>
#include <zokio/waker.hpp>

namespace zokio::detail {

/**
 * The shared state. `state` bits:
 *   COMPLETE     the sender is done (sent, or dropped without sending)
 *   VALUE        ... and it sent a value (written before COMPLETE, release)
 *   RX_WAKER     the receiver's waker slot holds a waker; while set only the sender reads it
 *   CLOSED       the receiver is gone or closed: send() fails
 * plus a count of the two handles (REF units).
 * Waker hand-over (Tokio's): the receiver writes the slot only while RX_WAKER is clear, then
 * sets it; to replace its waker it first clears RX_WAKER and, if COMPLETE was set meanwhile,
 * leaves the slot alone (the sender may be reading it) and takes the value instead.
 */
template <class T>
struct oneshot_state {
  static constexpr unsigned COMPLETE = 1, VALUE = 2, RX_WAKER = 4, CLOSED = 8, REF = 16;

  std::atomic<unsigned> state{2 * REF};
  waker rx_waker;
  std::optional<T> value;

  static oneshot_state* create() {
    void* p = allocate(sizeof(oneshot_state), alloc_category::channel, alignof(oneshot_state));
    return ::new (p) oneshot_state();
  }
  void drop_ref() noexcept {
    // Ordering: acq_rel: the last owner sees the value and the waker slot.
    if (state.fetch_sub(REF, std::memory_order_acq_rel) < 2 * REF) {
      this->~oneshot_state();
      deallocate(this, sizeof(oneshot_state), alloc_category::channel, alignof(oneshot_state));
    }
  }

  // Sender: marks COMPLETE (with VALUE when sending) unless CLOSED; wakes the receiver.
  // Returns false when the receiver had closed (nothing changed then).
  bool complete(bool with_value) noexcept {
    unsigned s = state.load(std::memory_order_relaxed);
    for (;;) {
      if (with_value && (s & CLOSED)) return false;
      // Ordering: release publishes the value; acquire pairs with set_rx_waker's release.
      if (state.compare_exchange_weak(s, s | COMPLETE | (with_value ? VALUE : 0),
                                      std::memory_order_acq_rel, std::memory_order_relaxed))
        break;
    }
    if (s & RX_WAKER) rx_waker.wake_by_ref();
    return true;
  }

  boost::system::result<T> take(unsigned s) {
    if (s & VALUE) {
      T v = std::move(*value);
      value.reset();
      return v;
    }
    return {boost::system::in_place_error, make_error_code(channel_errc::closed)};
  }

  poll<boost::system::result<T>> poll_recv(context& cx) {
    using out = poll<boost::system::result<T>>;
    if (!coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
    // Ordering: acquire pairs with complete()'s release (the value).
    unsigned s = state.load(std::memory_order_acquire);
    if (s & COMPLETE) return out(take(s));
    if (s & CLOSED) return out(boost::system::result<T>(boost::system::in_place_error, make_error_code(channel_errc::closed)));  // close(): no send
    if (s & RX_WAKER) {
      if (rx_waker.will_wake(cx.waker())) return pending;
      s = state.fetch_and(~RX_WAKER, std::memory_order_acq_rel);
      if (s & COMPLETE) {
        // The sender may be waking the old waker: leave the slot (and the bit) to it.
        state.fetch_or(RX_WAKER, std::memory_order_relaxed);
        return out(take(s));
      }
    }
    rx_waker = cx.waker();
    // Ordering: release publishes the slot to complete(); acquire sees the value.
    s = state.fetch_or(RX_WAKER, std::memory_order_acq_rel);
    if (s & COMPLETE) return out(take(s));
    return pending;
  }
};

}  // namespace zokio::detail

namespace zokio::oneshot {

template <class T>
class sender;
template <class T>
class receiver;
template <class T>
std::pair<sender<T>, receiver<T>> channel();


/**
 * The sending half. send() consumes it; destroying it unsent completes the receiver with
 * channel_errc::closed.
 */
template <class T>
class sender {
 public:
  sender() noexcept = default;
  sender(sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  sender& operator=(sender&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~sender() { reset(); }

  /// Sends the value (never waits). Fails when the receiver was dropped or closed, handing
  /// the value back. The sender is spent either way (precondition: valid()).
  send_result<T> send(T v) {
    auto* s = std::exchange(s_, nullptr);
    s->value.emplace(std::move(v));
    if (!s->complete(true)) {
      send_result<T> r(channel_errc::closed,
                       std::move(*s->value));
      s->value.reset();
      s->complete(false);  // no-op for the receiver (closed), keeps the state consistent
      s->drop_ref();
      return r;
    }
    s->drop_ref();
    return {};
  }

  /// True once the receiver is gone or closed (a send would fail).
  bool is_closed() const noexcept {
    return s_->state.load(std::memory_order_acquire) & detail::oneshot_state<T>::CLOSED;
  }
  bool valid() const noexcept { return s_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>();
  explicit sender(detail::oneshot_state<T>* s) noexcept : s_(s) {}
  void reset() noexcept {
    if (auto* s = std::exchange(s_, nullptr)) {
      s->complete(false);
      s->drop_ref();
    }
  }
  detail::oneshot_state<T>* s_ = nullptr;
};

/**
 * The receiving half, itself a future of `boost::system::result<T>`: the value, or
 * channel_errc::closed when the sender was destroyed without sending.
 *
 * Cancel safety: awaiting it by reference (`co_await rx`) and giving up (a select whose other
 * branch won) loses nothing: the value stays for a later poll, from any task. It holds no
 * waiter node, only a waker in the shared state, so it may be moved between polls.
 * Destroying the receiver itself drops a value that was sent and not received.
 */
template <class T>
class receiver {
 public:
  using output = boost::system::result<T>;

  receiver() noexcept = default;
  receiver(receiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  receiver& operator=(receiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~receiver() { reset(); }

  zokio::poll<output> poll(context& cx) { return s_->poll_recv(cx); }

  /// The value if it was sent; channel_errc::empty while the sender may still send,
  /// channel_errc::closed when it cannot any more. A value is taken only once.
  output try_recv() {
    unsigned s = s_->state.load(std::memory_order_acquire);
    if (!(s & detail::oneshot_state<T>::COMPLETE)) return {boost::system::in_place_error, make_error_code(channel_errc::empty)};
    if ((s & detail::oneshot_state<T>::VALUE) && !s_->value)
      return {boost::system::in_place_error, make_error_code(channel_errc::closed)};  // already taken
    return s_->take(s);
  }

  /// Prevents a later send (it fails and hands the value back); a value already sent can
  /// still be received.
  void close() noexcept { close_on(s_); }

  bool valid() const noexcept { return s_ != nullptr; }

 private:
  friend std::pair<sender<T>, receiver<T>> channel<T>();
  explicit receiver(detail::oneshot_state<T>* s) noexcept : s_(s) {}
  void reset() noexcept {
    if (auto* s = std::exchange(s_, nullptr)) {
      close_on(s);
      s->drop_ref();
    }
  }
  static void close_on(detail::oneshot_state<T>* s) noexcept {
    s->state.fetch_or(detail::oneshot_state<T>::CLOSED, std::memory_order_acq_rel);
  }
  detail::oneshot_state<T>* s_ = nullptr;
};

/// `auto [tx, rx] = zokio::oneshot::channel<T>();` One allocation (channel category).
template <class T>
std::pair<sender<T>, receiver<T>> channel() {
  auto* s = detail::oneshot_state<T>::create();
  return {sender<T>(s), receiver<T>(s)};
}

}  // namespace zokio::oneshot

#endif
