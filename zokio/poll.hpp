// zokio::poll<T>: the result of polling a future, either pending or ready with a value.
#ifndef ZOKIO_POLL_HPP
#define ZOKIO_POLL_HPP

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace zokio {

namespace detail {

/// A poll's storage: std::optional<T>, except for small trivially copyable T.
template <class T, bool Word = std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uintptr_t) &&
                               alignof(T) <= alignof(std::uintptr_t)>
class poll_slot {
 public:
  constexpr poll_slot() noexcept = default;
  constexpr explicit poll_slot(T&& v) : v_(std::move(v)) {}
  constexpr bool has_value() const noexcept { return v_.has_value(); }
  constexpr T& get() noexcept { return *v_; }

 private:
  std::optional<T> v_;
};

// Why a word-wide flag: a poll<long> is returned in two registers, and GCC often builds it in
// memory first; std::optional's one-byte flag, stored as a byte and reloaded as the second
// 8-byte register, misses store forwarding (about 12 cycles per return: 5 % of skynet's
// profile in perf_forkjoin, in join_handle::poll). A flag as wide as the reload avoids it.
template <class T>
class poll_slot<T, true> {
 public:
  constexpr poll_slot() noexcept : none_{} {}
  constexpr explicit poll_slot(T v) noexcept : v_(v), ready_(1) {}
  constexpr bool has_value() const noexcept { return ready_ != 0; }
  constexpr T& get() noexcept { return v_; }

 private:
  union {
    char none_;
    T v_;
  };
  std::uintptr_t ready_ = 0;
};

}  // namespace detail

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
  constexpr T& value() & noexcept { return value_.get(); }
  constexpr T&& value() && noexcept { return std::move(value_.get()); }
  constexpr T take() { return std::move(value_.get()); }

 private:
  detail::poll_slot<T> value_;
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
