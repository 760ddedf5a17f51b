// zokio::timeout: run a future with a deadline; the output carries time_errc::timed_out when
// the deadline wins.
#ifndef ZOKIO_TIMEOUT_HPP
#define ZOKIO_TIMEOUT_HPP

#include <chrono>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/result.hpp>

#include <zokio/detail/timer_entry.hpp>
#include <zokio/future.hpp>

namespace zokio {

/// Errors of the time utilities (category "zokio.time", kept apart from zokio::errc).
/// `timed_out` compares equal to `boost::system::errc::timed_out` (and std::errc::timed_out).
enum class time_errc {
  timed_out = 1,  ///< zokio::timeout: the deadline passed before the future completed
};

namespace detail {
class time_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "zokio.time"; }
  std::string message(int ev) const override {
    return ev == static_cast<int>(time_errc::timed_out) ? "deadline elapsed before the future completed"
                                                        : "unknown zokio.time error";
  }
  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    if (ev == static_cast<int>(time_errc::timed_out))
      return boost::system::errc::make_error_condition(boost::system::errc::timed_out);
    return boost::system::error_condition(ev, *this);
  }
};
}  // namespace detail

inline const boost::system::error_category& time_category() noexcept {
  static const detail::time_category_impl cat;
  return cat;
}
inline boost::system::error_code make_error_code(time_errc e) noexcept {
  return {static_cast<int>(e), time_category()};
}

/**
 * The future of `zokio::timeout(f, d)` / `zokio::timeout_at(f, t)` (Tokio's `Timeout`).
 * Output: `boost::system::result<T>` (T = f's output; `result<void>` for void): f's output
 * if f completes first, else the error `time_errc::timed_out`.
 *
 * Each poll polls f first, so a future that is ready at once completes even with a deadline
 * already past, and then arms the timer only if f is pending (a timeout around a ready
 * future touches no timer). On timeout f is destroyed at once, before the output is returned;
 * when f wins, the timer wait is cancelled at once. Exceptions thrown by f propagate.
 *
 * Not movable after the first poll (it holds f and the Asio timer inline).
 *
 * Cancellation safety: as f's. Dropping the timeout destroys f and cancels the timer wait.
 */
template <future F>
class [[nodiscard]] timeout_future {
 public:
  using inner_output = future_output_t<F>;
  using output = boost::system::result<inner_output>;

  timeout_future(F f, instant deadline) : inner_(std::in_place, std::move(f)), deadline_(deadline) {}
  timeout_future(timeout_future&&) = default;
  timeout_future& operator=(timeout_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    if (inner_) {
      auto r = inner_->poll(cx);
      if (r.is_ready()) {
        inner_.reset();
        entry_.reset();
        if constexpr (std::is_void_v<inner_output>)
          return zokio::poll<output>(output());
        else
          return zokio::poll<output>(output(boost::system::in_place_value, std::move(r).take()));
      }
    }
    if (!entry_.waiting()) {
      if (detail::clock_now() >= deadline_) return timed_out();
      entry_.arm(deadline_);
    }
    if (!entry_.poll_fired(cx)) return pending;
    return timed_out();
  }

  instant deadline() const noexcept { return deadline_; }
  /// The inner future, while it is alive (before completion or timeout).
  F* get() noexcept { return inner_ ? &*inner_ : nullptr; }

 private:
  zokio::poll<output> timed_out() noexcept {
    inner_.reset();  // destroyed before the caller sees the error
    entry_.reset();
    return zokio::poll<output>(
        output(boost::system::in_place_error, make_error_code(time_errc::timed_out)));
  }

  std::optional<F> inner_;
  instant deadline_;
  detail::timer_entry entry_;
};

/// Runs `f` with a deadline `d` from now (the deadline is fixed here, not at the first poll).
template <future F, class Rep, class Period>
timeout_future<std::remove_cvref_t<F>> timeout(F&& f, std::chrono::duration<Rep, Period> d) {
  return timeout_future<std::remove_cvref_t<F>>(std::forward<F>(f), detail::deadline_after(d));
}

/// Runs `f` with the deadline `deadline`.
template <future F>
timeout_future<std::remove_cvref_t<F>> timeout_at(F&& f, instant deadline) {
  return timeout_future<std::remove_cvref_t<F>>(std::forward<F>(f), deadline);
}

}  // namespace zokio

namespace boost::system {
template <>
struct is_error_code_enum<zokio::time_errc> : std::true_type {};
}  // namespace boost::system

#endif
