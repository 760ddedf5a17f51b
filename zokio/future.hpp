// zokio::future: the concept every pollable computation satisfies, plus helpers on it.
#ifndef ZOKIO_FUTURE_HPP
#define ZOKIO_FUTURE_HPP

#include <concepts>
#include <type_traits>

#include <zokio/context.hpp>
#include <zokio/poll.hpp>

namespace zokio {

/**
 * A future is any type with `using output = T;` and `zokio::poll<T> poll(zokio::context&)`.
 *
 * Contract (as in Rust): once `poll` returns pending, the future has arranged for
 * `cx.waker()` (or a clone) to be woken when progress is possible. A ready future must not be
 * polled again.
 */
template <class F>
concept future = requires(std::remove_cvref_t<F>& f, context& cx) {
  typename std::remove_cvref_t<F>::output;
  { f.poll(cx) } -> std::same_as<zokio::poll<typename std::remove_cvref_t<F>::output>>;
};

/// The output type of a future (references and cv-qualifiers ignored).
template <future F>
using future_output_t = typename std::remove_cvref_t<F>::output;

/// A future that yields once: wakes itself and returns pending, then ready. Lets other tasks
/// run, like `tokio::task::yield_now`.
class yield_now {
 public:
  using output = void;
  zokio::poll<void> poll(context& cx) noexcept {
    if (yielded_) return ready();
    yielded_ = true;
    cx.waker().wake_by_ref();
    return pending;
  }

 private:
  bool yielded_ = false;
};

/// A future that is ready at once with a value.
template <class T>
class ready_future {
 public:
  using output = T;
  explicit ready_future(T v) : v_(std::move(v)) {}
  zokio::poll<T> poll(context&) { return zokio::poll<T>(std::move(v_)); }

 private:
  T v_;
};

}  // namespace zokio

#endif
