// zokio::join: run several futures concurrently in one task; the output is the tuple of their
// outputs. The state machine is composed at compile time: no allocation.
#ifndef ZOKIO_JOIN_HPP
#define ZOKIO_JOIN_HPP

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <zokio/detail/child_slot.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * The future of `zokio::join(f...)` (Tokio's `join!`): polls every child with the parent's
 * context and completes when all have; output `std::tuple<T...>` in argument order, a void
 * output becoming `std::monostate`.
 *
 * The children are stored inline (a std::tuple of slots), so a join costs no allocation.
 * Each child's future is destroyed as soon as it completes; its output waits in the slot.
 * A wake re-polls every child not yet complete (there is one waker for the whole task), so
 * a poll costs O(number of children): right for a handful, use join_all for many.
 *
 * An exception thrown by a child propagates out of poll at once; the other children are
 * destroyed with the join future. Not movable after the first poll.
 *
 * Cancellation safety: destroying the join destroys every child still running; outputs of
 * children that already completed are lost. Safe to drop when every child is.
 */
template <future... F>
class [[nodiscard]] join_future {
 public:
  using output = std::tuple<stored_output_t<future_output_t<F>>...>;

  explicit join_future(F... f) : slots_(std::move(f)...) {}
  join_future(join_future&&) = default;
  join_future& operator=(join_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    // Comma fold: children are polled in argument order, every one of them.
    bool all = true;
    std::apply([&](auto&... s) { ((all = s.poll_join(cx) && all), ...); }, slots_);
    if (!all) return pending;
    return zokio::poll<output>(
        std::apply([](auto&... s) { return output(s.take_output()...); }, slots_));
  }

 private:
  std::tuple<detail::child_slot<F>...> slots_;
};

/// Runs `f...` concurrently within the calling task; see join_future.
template <future... F>
join_future<std::remove_cvref_t<F>...> join(F&&... f) {
  return join_future<std::remove_cvref_t<F>...>(std::forward<F>(f)...);
}

}  // namespace zokio

#endif
