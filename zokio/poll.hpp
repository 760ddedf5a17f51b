// zokio::poll<T>: the result of polling a future, either pending or ready with a value.
#ifndef ZOKIO_POLL_HPP
#define ZOKIO_POLL_HPP

#include <optional>
#include <type_traits>
#include <utility>

namespace zokio {

/// Tag returned by a future that cannot make progress yet: `return zokio::pending;`
struct pending_t {
  explicit constexpr pending_t(int) {}
};
inline constexpr pending_t pending{0};

/// Outcome of one `poll`: pending, or ready with the future's output.
template <class T>
class poll {
 public:
  using value_type = T;

  constexpr poll(pending_t) noexcept {}
  constexpr poll(T value) : value_(std::move(value)) {}

  constexpr bool is_ready() const noexcept { return value_.has_value(); }
  constexpr bool is_pending() const noexcept { return !value_.has_value(); }
  constexpr explicit operator bool() const noexcept { return is_ready(); }

  /// Precondition: is_ready().
  constexpr T& value() & noexcept { return *value_; }
  constexpr T&& value() && noexcept { return std::move(*value_); }
  constexpr T take() { return std::move(*value_); }

 private:
  std::optional<T> value_;
};

template <>
class poll<void> {
 public:
  using value_type = void;
  constexpr poll(pending_t) noexcept {}
  constexpr poll(std::in_place_t) noexcept : ready_(true) {}

  constexpr bool is_ready() const noexcept { return ready_; }
  constexpr bool is_pending() const noexcept { return !ready_; }
  constexpr explicit operator bool() const noexcept { return ready_; }
  constexpr void value() const noexcept {}
  constexpr void take() const noexcept {}

 private:
  bool ready_ = false;
};

/// `return zokio::ready(v);` from a future whose output is `std::decay_t<V>`.
template <class V>
constexpr poll<std::decay_t<V>> ready(V&& v) {
  return poll<std::decay_t<V>>(std::forward<V>(v));
}

/// `return zokio::ready();` from a future whose output is void.
constexpr poll<void> ready() noexcept { return poll<void>(std::in_place); }

}  // namespace zokio

#endif
