// zokio::join_all: run a run-time number of futures of one type concurrently in one task; the
// output is the vector of their outputs, in order.
#ifndef ZOKIO_JOIN_ALL_HPP
#define ZOKIO_JOIN_ALL_HPP

#include <cstddef>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include <zokio/detail/child_slot.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * The future of `zokio::join_all(range)` (the futures crate's `join_all`): output
 * `std::vector<T>` (std::monostate for void outputs), in the range's order.
 *
 * Allocations: the slots vector once at construction, the output vector once at completion;
 * nothing per poll. Each wake re-polls every child still running, starting after the prefix
 * already complete, so a poll costs O(children still pending): fine for tens or hundreds;
 * for thousands of long-lived futures spawn them and join the handles instead.
 *
 * An exception thrown by a child propagates at once; the other children are destroyed with
 * the join_all future. Not movable after the first poll (the slots vector may be moved: its
 * elements stay in place, but do not rely on it).
 *
 * Cancellation safety: destroying it destroys every child still running; completed outputs
 * are lost.
 */
template <future F>
class [[nodiscard]] join_all_future {
 public:
  using value_type = stored_output_t<future_output_t<F>>;
  using output = std::vector<value_type>;

  explicit join_all_future(std::vector<detail::child_slot<F>> slots) noexcept
      : slots_(std::move(slots)) {}
  join_all_future(join_all_future&&) noexcept = default;
  join_all_future& operator=(join_all_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    bool all = true;
    for (std::size_t i = first_pending_; i < slots_.size(); ++i) {
      if (slots_[i].poll_join(cx)) {
        if (all) first_pending_ = i + 1;
      } else {
        all = false;
      }
    }
    if (!all) return pending;
    output out;
    out.reserve(slots_.size());
    for (auto& s : slots_) out.push_back(s.take_output());
    slots_.clear();
    return zokio::poll<output>(std::move(out));
  }

  /// Children not yet complete.
  std::size_t pending_count() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = first_pending_; i < slots_.size(); ++i) n += slots_[i].running();
    return n;
  }

 private:
  std::vector<detail::child_slot<F>> slots_;
  std::size_t first_pending_ = 0;  // every slot before it holds its output
};

/// Consumes `r` (its futures are moved out) and runs them concurrently in the calling task.
template <std::ranges::input_range R>
  requires future<std::ranges::range_value_t<R>>
join_all_future<std::ranges::range_value_t<R>> join_all(R&& r) {
  using F = std::ranges::range_value_t<R>;
  std::vector<detail::child_slot<F>> slots;
  if constexpr (std::ranges::sized_range<R>) slots.reserve(std::ranges::size(r));
  for (auto&& f : r) slots.emplace_back(F(std::move(f)));
  return join_all_future<F>(std::move(slots));
}

}  // namespace zokio

#endif
