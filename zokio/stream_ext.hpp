// Stream adapters: map, filter, take, and buffered (a stream of futures run n at a time,
// outputs in order). Each takes the stream by value and is itself a zokio::stream.
#ifndef ZOKIO_STREAM_EXT_HPP
#define ZOKIO_STREAM_EXT_HPP

#include <cstddef>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include <zokio/allocator.hpp>
#include <zokio/future.hpp>
#include <zokio/stream.hpp>

namespace zokio {

/// `map(s, f)`: yields `f(item)` for each item of `s`.
template <stream S, class F>
  requires std::invocable<F&, stream_item_t<S>&&>
class map_stream {
 public:
  using item = std::invoke_result_t<F&, stream_item_t<S>&&>;
  static_assert(!std::is_void_v<item>, "zokio::map: the function must return a value");

  map_stream(S s, F f) : s_(std::move(s)), f_(std::move(f)) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    auto r = s_.poll_next(cx);
    if (r.is_pending()) return pending;
    auto v = std::move(r).take();
    if (!v) return std::optional<item>();
    return std::optional<item>(std::invoke(f_, std::move(*v)));
  }

 private:
  S s_;
  F f_;
};

template <stream S, class F>
map_stream<std::remove_cvref_t<S>, std::decay_t<F>> map(S&& s, F&& f) {
  return {std::forward<S>(s), std::forward<F>(f)};
}

/// `filter(s, pred)`: yields the items for which `pred(const item&)` is true.
///
/// Fairness: after 32 rejected items in one poll_next it wakes itself and returns pending, so
/// an always-ready stream that the predicate keeps rejecting cannot hold a worker forever.
template <stream S, class P>
  requires std::predicate<P&, const stream_item_t<S>&>
class filter_stream {
 public:
  using item = stream_item_t<S>;
  filter_stream(S s, P p) : s_(std::move(s)), p_(std::move(p)) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    for (int budget = 32; budget > 0; --budget) {
      auto r = s_.poll_next(cx);
      if (r.is_pending()) return pending;
      auto v = std::move(r).take();
      if (!v || std::invoke(p_, std::as_const(*v))) return v;
    }
    cx.waker().wake_by_ref();
    return pending;
  }

 private:
  S s_;
  P p_;
};

template <stream S, class P>
filter_stream<std::remove_cvref_t<S>, std::decay_t<P>> filter(S&& s, P&& p) {
  return {std::forward<S>(s), std::forward<P>(p)};
}

/// `take(s, n)`: the first n items; after the n-th it ends without polling `s` again.
template <stream S>
class take_stream {
 public:
  using item = stream_item_t<S>;
  take_stream(S s, std::size_t n) : s_(std::move(s)), left_(n) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (left_ == 0) return std::optional<item>();
    auto r = s_.poll_next(cx);
    if (r.is_pending()) return pending;
    auto v = std::move(r).take();
    left_ = v ? left_ - 1 : 0;
    return v;
  }

 private:
  S s_;
  std::size_t left_;
};

template <stream S>
take_stream<std::remove_cvref_t<S>> take(S&& s, std::size_t n) {
  return {std::forward<S>(s), n};
}

/**
 * `buffered(s, n)`: `s` is a stream of futures; keeps up to `n` of them in flight (pulled from
 * `s` and polled) and yields their outputs in the order `s` produced the futures (futures'
 * `StreamExt::buffered`). A finished future whose output waits for an earlier one still counts
 * towards `n`.
 *
 * Memory: one ring of `n` slots, allocated at construction from the runtime allocator
 * (category other); nothing per item. The futures live in the ring and never move.
 *
 * Cost: each poll_next polls every unfinished future in the ring (they share the task's
 * waker), O(n) per wake. Fine for the small n this is meant for (a handful of requests in
 * flight); for hundreds of concurrent futures use a zokio::join_set.
 *
 * Exceptions: a future that throws has its exception rethrown by poll_next at its turn, in
 * order; the stream then continues with the next one.
 *
 * Cancellation: destroying the stream destroys the futures in flight (cancelling them) and
 * the source stream.
 */
template <stream S>
  requires future<stream_item_t<S>>
class buffered_stream {
 public:
  using fut_type = stream_item_t<S>;
  using item = future_output_t<fut_type>;
  static_assert(!std::is_void_v<item>, "zokio::buffered: futures must produce a value");

  buffered_stream(S s, std::size_t n) : s_(std::move(s)), cap_(n) {
    if (n == 0) throw std::invalid_argument("zokio::buffered: n must be at least 1");
    ring_ = static_cast<slot*>(detail::allocate(n * sizeof(slot), alloc_category::other,
                                                alignof(slot)));
    for (std::size_t i = 0; i < n; ++i) ::new (&ring_[i]) slot();
  }
  buffered_stream(buffered_stream&& o) noexcept  // the ring moves as a pointer: slots stay put
      : s_(std::move(o.s_)),
        ring_(std::exchange(o.ring_, nullptr)),
        cap_(o.cap_),
        head_(o.head_),
        len_(o.len_),
        source_done_(o.source_done_) {}
  buffered_stream& operator=(buffered_stream&&) = delete;
  ~buffered_stream() {
    if (!ring_) return;
    // Futures first (in order, like a queue), then the ring; the source stream after that.
    for (std::size_t i = 0; i < cap_; ++i) ring_[(head_ + i) % cap_].~slot();
    detail::deallocate(ring_, cap_ * sizeof(slot), alloc_category::other, alignof(slot));
  }

  /// Futures (finished or not) currently held, at most n.
  std::size_t in_flight() const noexcept { return len_; }

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    // Refill: pull futures from the source while there is room.
    while (!source_done_ && len_ < cap_) {
      auto r = s_.poll_next(cx);
      if (r.is_pending()) break;
      auto f = std::move(r).take();
      if (!f) {
        source_done_ = true;
        break;
      }
      ring_[(head_ + len_) % cap_].template emplace<1>(std::move(*f));
      ++len_;
    }
    // Poll every future that has not finished; outputs wait in their slot.
    for (std::size_t i = 0; i < len_; ++i) {
      slot& sl = ring_[(head_ + i) % cap_];
      if (sl.index() != 1) continue;
      try {
        auto r = std::get<1>(sl).poll(cx);
        if (r.is_ready()) sl.template emplace<2>(std::move(r).take());
      } catch (...) {
        sl.template emplace<3>(std::current_exception());
      }
    }
    if (len_ == 0) {
      if (source_done_) return std::optional<item>();
      return pending;  // the source is pending and has our waker
    }
    slot& front = ring_[head_];
    if (front.index() == 1) return pending;  // the oldest is not done: its poll has our waker
    slot taken(std::move(front));
    front.template emplace<0>();
    head_ = (head_ + 1) % cap_;
    --len_;
    // The freed slot is refilled by the next poll_next, when the consumer wants more.
    if (taken.index() == 3) std::rethrow_exception(std::get<3>(taken));
    return std::optional<item>(std::move(std::get<2>(taken)));
  }

 private:
  // empty, a future in flight, its output, or its exception
  using slot = std::variant<std::monostate, fut_type, item, std::exception_ptr>;
  S s_;
  slot* ring_ = nullptr;
  std::size_t cap_;
  std::size_t head_ = 0;
  std::size_t len_ = 0;
  bool source_done_ = false;
};

template <stream S>
  requires future<stream_item_t<S>>
buffered_stream<std::remove_cvref_t<S>> buffered(S&& s, std::size_t n) {
  return {std::forward<S>(s), n};
}

}  // namespace zokio

#endif
