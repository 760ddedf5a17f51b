// Stream adapters: map, filter, take, buffered (a stream of futures run n at a time, outputs
// in order), zip, merge, chain, chunks, timeout and throttle. Each takes its streams by value
// and is itself a zokio::stream.
#ifndef ZOKIO_STREAM_EXT_HPP
#define ZOKIO_STREAM_EXT_HPP

#include <chrono>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/system/result.hpp>

#include <zokio/allocator.hpp>
#include <zokio/future.hpp>
#include <zokio/sleep.hpp>
#include <zokio/stream.hpp>
#include <zokio/timeout.hpp>

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

/// `zip(a, b)`: pairs of items, one from each stream; ends when either ends (Rust's
/// `StreamExt::zip`). An item that arrived from one side waits inside for its partner.
template <stream A, stream B>
class zip_stream {
 public:
  using item = std::pair<stream_item_t<A>, stream_item_t<B>>;
  zip_stream(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (done_) return std::optional<item>();
    if (!av_) {
      auto r = a_.poll_next(cx);
      if (r.is_ready()) {
        av_.emplace(std::move(r).take());  // items need not be assignable
        if (!*av_) return end();
      }
    }
    if (!bv_) {
      auto r = b_.poll_next(cx);
      if (r.is_ready()) {
        bv_.emplace(std::move(r).take());  // items need not be assignable
        if (!*bv_) return end();
      }
    }
    if (!av_ || !bv_) return pending;
    std::optional<item> v(std::in_place, std::move(**av_), std::move(**bv_));
    av_.reset();
    bv_.reset();
    return v;
  }

 private:
  zokio::poll<std::optional<item>> end() {
    done_ = true;
    av_.reset();
    bv_.reset();
    return std::optional<item>();
  }
  A a_;
  B b_;
  std::optional<std::optional<stream_item_t<A>>> av_;  // a's item (or end) not paired yet
  std::optional<std::optional<stream_item_t<B>>> bv_;
  bool done_ = false;
};

template <stream A, stream B>
zip_stream<std::remove_cvref_t<A>, std::remove_cvref_t<B>> zip(A&& a, B&& b) {
  return {std::forward<A>(a), std::forward<B>(b)};
}

/// `merge(a, b)`: the items of both streams as they come (same item type); ends when both
/// have ended. The stream polled first alternates, so a stream that is always ready cannot
/// starve the other (Tokio's `StreamExt::merge`).
template <stream A, stream B>
  requires std::same_as<stream_item_t<A>, stream_item_t<B>>
class merge_stream {
 public:
  using item = stream_item_t<A>;
  merge_stream(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    b_first_ = !b_first_;
    for (int i = 0; i < 2; ++i) {
      const bool take_b = (i == 0) == b_first_;
      auto r = take_b ? poll_side(b_, b_done_, cx) : poll_side(a_, a_done_, cx);
      if (r.is_ready()) return r;
    }
    if (a_done_ && b_done_) return std::optional<item>();
    return pending;
  }

 private:
  // Ready with an item, or pending (also for a side that ended: the other may go on).
  template <class S>
  static zokio::poll<std::optional<item>> poll_side(S& s, bool& done, context& cx) {
    if (done) return pending;
    auto r = s.poll_next(cx);
    if (r.is_pending()) return pending;
    auto v = std::move(r).take();
    if (!v) {
      done = true;
      return pending;
    }
    return v;
  }
  A a_;
  B b_;
  bool a_done_ = false, b_done_ = false, b_first_ = true;
};

template <stream A, stream B>
merge_stream<std::remove_cvref_t<A>, std::remove_cvref_t<B>> merge(A&& a, B&& b) {
  return {std::forward<A>(a), std::forward<B>(b)};
}

/// `chain(a, b)`: every item of `a`, then every item of `b` (`b` is not polled before `a`
/// ends).
template <stream A, stream B>
  requires std::same_as<stream_item_t<A>, stream_item_t<B>>
class chain_stream {
 public:
  using item = stream_item_t<A>;
  chain_stream(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (!a_done_) {
      auto r = a_.poll_next(cx);
      if (r.is_pending()) return pending;
      auto v = std::move(r).take();
      if (v) return v;
      a_done_ = true;
    }
    return b_.poll_next(cx);
  }

 private:
  A a_;
  B b_;
  bool a_done_ = false;
};

template <stream A, stream B>
chain_stream<std::remove_cvref_t<A>, std::remove_cvref_t<B>> chain(A&& a, B&& b) {
  return {std::forward<A>(a), std::forward<B>(b)};
}

/// `chunks(s, n)`: the items in vectors of `n` (n > 0, else std::invalid_argument); the last
/// chunk holds what is left when `s` ends (never empty). A chunk is yielded when full: items
/// that arrived wait inside while `s` is pending (futures' `StreamExt::chunks`).
template <stream S>
class chunks_stream {
 public:
  using item = std::vector<stream_item_t<S>>;
  chunks_stream(S s, std::size_t n) : s_(std::move(s)), n_(n) {
    if (n == 0) throw std::invalid_argument("zokio::chunks: n must be > 0");
  }

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    while (!done_) {
      auto r = s_.poll_next(cx);
      if (r.is_pending()) return pending;
      auto v = std::move(r).take();
      if (!v) {
        done_ = true;
        break;
      }
      buf_.push_back(std::move(*v));
      if (buf_.size() == n_) return std::optional<item>(std::exchange(buf_, item{}));
    }
    if (buf_.empty()) return std::optional<item>();
    return std::optional<item>(std::exchange(buf_, item{}));
  }

 private:
  S s_;
  std::size_t n_;
  item buf_;
  bool done_ = false;
};

template <stream S>
chunks_stream<std::remove_cvref_t<S>> chunks(S&& s, std::size_t n) {
  return {std::forward<S>(s), n};
}

/// `timeout(s, d)`: each item must come within `d` of the previous one (or of the first
/// poll); when it does not, the stream yields the error `time_errc::timed_out` once and goes
/// on waiting for the item with a new deadline (Tokio's `StreamExt::timeout`). Items are
/// `boost::system::result<item>`. The end of `s` ends it. Needs a runtime (a timer).
template <stream S>
class timeout_stream {
 public:
  using item = boost::system::result<stream_item_t<S>>;
  timeout_stream(S s, std::chrono::nanoseconds d) : s_(std::move(s)), d_(d), timer_(instant{}) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (!armed_) {
      timer_.reset(detail::deadline_after(d_));
      armed_ = true;
    }
    auto r = s_.poll_next(cx);
    if (r.is_ready()) {
      armed_ = false;  // the next item's deadline starts at the next poll
      auto v = std::move(r).take();
      if (!v) return std::optional<item>();
      return std::optional<item>(std::in_place, std::move(*v));
    }
    if (timer_.poll(cx).is_pending()) return pending;
    armed_ = false;
    return std::optional<item>(std::in_place, boost::system::in_place_error,
                               make_error_code(time_errc::timed_out));
  }

 private:
  S s_;
  std::chrono::nanoseconds d_;
  sleep_future timer_;
  bool armed_ = false;
};

template <stream S, class Rep, class Period>
  requires(!future<S>)
timeout_stream<std::remove_cvref_t<S>> timeout(S&& s, std::chrono::duration<Rep, Period> d) {
  return {std::forward<S>(s), std::chrono::duration_cast<std::chrono::nanoseconds>(d)};
}

/// `throttle(s, d)`: at most one item per `d`: after an item, `s` is not polled again until
/// `d` has passed (Tokio's `StreamExt::throttle`). Nothing is dropped: a fast stream is
/// slowed down. Needs a runtime (a timer).
template <stream S>
class throttle_stream {
 public:
  using item = stream_item_t<S>;
  throttle_stream(S s, std::chrono::nanoseconds d) : s_(std::move(s)), d_(d), timer_(instant{}) {}

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (waiting_) {
      if (timer_.poll(cx).is_pending()) return pending;
      waiting_ = false;
    }
    auto r = s_.poll_next(cx);
    if (r.is_pending()) return pending;
    auto v = std::move(r).take();
    if (v && d_.count() > 0) {
      timer_.reset(detail::deadline_after(d_));
      waiting_ = true;
    }
    return v;
  }

 private:
  S s_;
  std::chrono::nanoseconds d_;
  sleep_future timer_;
  bool waiting_ = false;
};

template <stream S, class Rep, class Period>
throttle_stream<std::remove_cvref_t<S>> throttle(S&& s, std::chrono::duration<Rep, Period> d) {
  return {std::forward<S>(s), std::chrono::duration_cast<std::chrono::nanoseconds>(d)};
}

}  // namespace zokio

#endif
