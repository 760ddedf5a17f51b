// zokio::stream: the concept of an asynchronous sequence (poll_next), zokio::next to await its
// items one by one, and zokio::iter, a stream over the elements of a range.
#ifndef ZOKIO_STREAM_HPP
#define ZOKIO_STREAM_HPP

#include <concepts>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

#include <zokio/context.hpp>
#include <zokio/future.hpp>
#include <zokio/poll.hpp>

namespace zokio {

/**
 * A stream is any type with `using item = T;` and
 * `zokio::poll<std::optional<T>> poll_next(zokio::context&)`: pending (after arranging for
 * `cx.waker()` to be woken), ready with the next item, or ready with `std::nullopt` at the end
 * (Rust's `Stream::poll_next`). Once it has returned `nullopt`, a stream keeps returning it.
 *
 * Like futures, streams are not moved after their first poll_next.
 */
template <class S>
concept stream = requires(std::remove_cvref_t<S>& s, context& cx) {
  typename std::remove_cvref_t<S>::item;
  {
    s.poll_next(cx)
    } -> std::same_as<zokio::poll<std::optional<typename std::remove_cvref_t<S>::item>>>;
};

/// The item type of a stream.
template <stream S>
using stream_item_t = typename std::remove_cvref_t<S>::item;

/**
 * The future of a stream's next item: `while (auto v = co_await zokio::next(s)) use(*v);`.
 * Borrows the stream, which must outlive it.
 *
 * Cancellation safety: dropping it loses nothing; the stream keeps its state (a generator stays
 * suspended where it was) and the next `next(s)` continues from there.
 */
template <stream S>
class next_future {
 public:
  using output = std::optional<stream_item_t<S>>;
  explicit next_future(S& s) noexcept : s_(&s) {}
  zokio::poll<output> poll(context& cx) { return s_->poll_next(cx); }

 private:
  S* s_;
};

template <stream S>
next_future<S> next(S& s) noexcept {
  return next_future<S>(s);
}

/// A stream that yields the elements of a range (moved out of its own copy), always ready.
template <std::ranges::input_range R>
class iter_stream {
 public:
  using item = std::ranges::range_value_t<R>;
  explicit iter_stream(R r) : r_(std::move(r)) {}
  iter_stream(iter_stream&& o) : r_(std::move(o.r_)) {}  // before the first poll only

  zokio::poll<std::optional<item>> poll_next(context&) {
    if (!started_) {
      it_ = std::ranges::begin(r_);
      started_ = true;
    }
    if (it_ == std::ranges::end(r_)) return std::optional<item>();
    std::optional<item> v(std::move(*it_));
    ++it_;
    return v;
  }

 private:
  R r_;
  std::ranges::iterator_t<R> it_{};
  bool started_ = false;
};

/// `zokio::iter(std::vector{1, 2, 3})`: Tokio's `stream::iter`.
template <std::ranges::input_range R>
iter_stream<std::remove_cvref_t<R>> iter(R&& r) {
  return iter_stream<std::remove_cvref_t<R>>(std::forward<R>(r));
}

}  // namespace zokio

#endif
