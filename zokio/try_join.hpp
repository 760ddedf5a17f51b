// zokio::try_join: join futures whose outputs are results; the first error cancels the rest.
// No allocation.
#ifndef ZOKIO_TRY_JOIN_HPP
#define ZOKIO_TRY_JOIN_HPP

#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/detail/child_slot.hpp>
#include <zokio/future.hpp>

namespace zokio {

namespace detail {
template <class R>
struct result_traits;  // boost::system::result<T, E> only (use_future and timeout produce it)
template <class T, class E>
struct result_traits<boost::system::result<T, E>> {
  using value = stored_output_t<T>;
  using error = E;
};
template <class F>
using try_value_t = typename result_traits<future_output_t<F>>::value;
template <class F>
using try_error_t = typename result_traits<future_output_t<F>>::error;
}  // namespace detail

/**
 * The future of `zokio::try_join(f...)` (Tokio's `try_join!`): every child's output is a
 * `boost::system::result<T_i, E_i>` (what use_future, timeout and most Zokio primitives
 * return). Output `boost::system::result<std::tuple<T...>, E>`, E the first child's error
 * type (the others' must convert to it), void values as `std::monostate`.
 *
 * The first child to complete with an error ends the try_join: every other child is
 * destroyed (cancelled) at once and the error is returned. If all succeed, their values in
 * argument order. Polling, allocation (none) and exception rules are join's.
 *
 * Cancellation safety: as join's.
 */
template <future... F>
class [[nodiscard]] try_join_future {
 public:
  using error_type = detail::try_error_t<std::tuple_element_t<0, std::tuple<F...>>>;
  using value_type = std::tuple<detail::try_value_t<F>...>;
  using output = boost::system::result<value_type, error_type>;
  static_assert((std::is_convertible_v<detail::try_error_t<F>, error_type> && ...),
                "zokio::try_join: error types must convert to the first future's");

  explicit try_join_future(F... f)
      : slots_(detail::child_slot<F, detail::try_value_t<F>>(std::move(f))...) {}
  try_join_future(try_join_future&&) = default;
  try_join_future& operator=(try_join_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    std::optional<error_type> err;
    bool all = true;
    std::apply([&](auto&... s) { ((all = poll_one(s, cx, err) && all), ...); }, slots_);
    if (err) {
      std::apply([](auto&... s) { (s.cancel(), ...); }, slots_);  // the rest are cancelled
      return zokio::poll<output>(output(boost::system::in_place_error, std::move(*err)));
    }
    if (!all) return pending;
    return zokio::poll<output>(std::apply(
        [](auto&... s) {
          return output(boost::system::in_place_value, value_type(s.take_output()...));
        },
        slots_));
  }

 private:
  // True when the slot holds a value. Once an error is seen, nothing more is polled.
  template <class Slot>
  static bool poll_one(Slot& s, context& cx, std::optional<error_type>& err) {
    if (err) return false;
    if (!s.running()) return s.has_output();
    auto r = s.future().poll(cx);
    if (r.is_pending()) return false;
    auto res = std::move(r).take();
    if (!res.has_value()) {
      err.emplace(std::move(res).error());
      return false;
    }
    if constexpr (std::is_void_v<typename decltype(res)::value_type>)
      s.set_output();
    else
      s.set_output(std::move(*res));
    return true;
  }

  std::tuple<detail::child_slot<F, detail::try_value_t<F>>...> slots_;
};

/// Joins `f...` (outputs boost::system::result<T, E>); the first error cancels the rest.
template <future... F>
  requires(sizeof...(F) > 0)
try_join_future<std::remove_cvref_t<F>...> try_join(F&&... f) {
  return try_join_future<std::remove_cvref_t<F>...>(std::forward<F>(f)...);
}

}  // namespace zokio

#endif
