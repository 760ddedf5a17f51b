// zokio::detail::child_slot: one child future of a combinator, stored inline: the future until
// it is ready, then its output (or nothing once cancelled or taken).
#ifndef ZOKIO_DETAIL_CHILD_SLOT_HPP
#define ZOKIO_DETAIL_CHILD_SLOT_HPP

#include <type_traits>
#include <utility>
#include <variant>

#include <zokio/future.hpp>

namespace zokio {

/// What a combinator stores for an output of type T: T, or std::monostate for void.
template <class T>
using stored_output_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

namespace detail {

/**
 * Index 0: the running future F; 1: its output V, once ready; 2: empty (cancelled, or the
 * output was taken). Switching from 0 destroys F at once: a finished child holds no
 * resources while its siblings still run. Lives inside the combinator's future and is polled
 * with the parent's context; never moved after the first poll.
 */
template <class F, class V = stored_output_t<future_output_t<F>>>
class child_slot {
 public:
  explicit child_slot(F f) : v_(std::in_place_index<0>, std::move(f)) {}
  child_slot(child_slot&&) = default;
  child_slot& operator=(child_slot&&) = delete;

  bool running() const noexcept { return v_.index() == 0; }
  bool has_output() const noexcept { return v_.index() == 1; }

  F& future() noexcept { return std::get<0>(v_); }
  /// Stores the output of a ready child, destroying the future.
  template <class... A>
  void set_output(A&&... a) {
    v_.template emplace<1>(std::forward<A>(a)...);
  }
  V take_output() {
    V out = std::move(std::get<1>(v_));
    v_.template emplace<2>();
    return out;
  }
  /// Destroys the future (or the output).
  void cancel() noexcept { v_.template emplace<2>(); }

  /// Polls a running child with cx and keeps its output when it is ready. True when the
  /// slot holds an output (now or before). Exceptions from the child propagate.
  bool poll_join(context& cx) {
    if (!running()) return has_output();
    auto r = future().poll(cx);
    if (r.is_pending()) return false;
    if constexpr (std::is_void_v<future_output_t<F>>)
      set_output();
    else
      set_output(std::move(r).take());
    return true;
  }

 private:
  std::variant<F, V, std::monostate> v_;
};

}  // namespace detail
}  // namespace zokio

#endif
