// zokio::select and zokio::race: run several futures in one task until the first completes;
// the others are destroyed (cancelled) at once. No allocation.
#ifndef ZOKIO_SELECT_HPP
#define ZOKIO_SELECT_HPP

#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <zokio/detail/child_slot.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * The future of `zokio::select(f...)` (Tokio's `select!` with `biased;`): polls the children
 * in argument order with the parent's context; the first ready one wins. Output
 * `std::variant<T...>` holding the winner's output at the winner's index (`index()` tells
 * which; a void output is `std::monostate`).
 *
 * The moment a child wins, every other child is destroyed, before poll returns: a loser that
 * waits on an Asio operation (use_future, sleep) has that operation cancelled, and its Asio
 * handler later completes with operation_aborted. Children are stored inline: no allocation.
 * A wake re-polls every child (one waker for the task): O(children) per poll.
 *
 * Ordering is biased: when several children are ready in the same poll, the first listed
 * wins (Tokio picks at random by default; bias is deterministic and cheaper). A child that
 * is always ready starves the ones after it.
 *
 * An exception thrown by a child propagates at once; the remaining children are destroyed
 * with the select future. Not movable after the first poll.
 *
 * Cancellation safety: a select is cancellation safe when every child is (the losers'
 * progress is dropped: e.g. a loser that had read bytes into its own buffer loses them).
 * Each primitive's page lists whether it is; sleep, interval::tick and use_future timer waits
 * are, a socket read is (nothing was consumed when it is cancelled before completion).
 */
template <future... F>
class [[nodiscard]] select_future {
 public:
  using output = std::variant<stored_output_t<future_output_t<F>>...>;

  explicit select_future(F... f) : futs_(std::optional<F>(std::move(f))...) {}
  select_future(select_future&&) = default;
  select_future& operator=(select_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    std::optional<output> won;
    poll_in_order(cx, won, std::index_sequence_for<F...>{});
    if (!won) return pending;
    return zokio::poll<output>(std::move(*won));
  }

  /// Destroys every child (also done when one wins).
  void cancel_all() noexcept { std::apply([](auto&... f) { (f.reset(), ...); }, futs_); }

 private:
  template <std::size_t... I>
  void poll_in_order(context& cx, std::optional<output>& won, std::index_sequence<I...>) {
    (try_one<I>(cx, won) || ...);  // stops at the first winner
    if (won) cancel_all();
  }
  template <std::size_t I>
  bool try_one(context& cx, std::optional<output>& won) {
    auto& f = std::get<I>(futs_);
    if (!f) return false;
    auto r = f->poll(cx);
    if (r.is_pending()) return false;
    f.reset();  // the winner goes first, then the losers (cancel_all)
    if constexpr (std::is_void_v<future_output_t<std::tuple_element_t<I, std::tuple<F...>>>>)
      won.emplace(std::in_place_index<I>);
    else
      won.emplace(std::in_place_index<I>, std::move(r).take());
    return true;
  }

  std::tuple<std::optional<F>...> futs_;
};

/// Runs `f...` in the calling task until the first completes; see select_future.
template <future... F>
  requires(sizeof...(F) > 0)
select_future<std::remove_cvref_t<F>...> select(F&&... f) {
  return select_future<std::remove_cvref_t<F>...>(std::forward<F>(f)...);
}

/**
 * The future of `zokio::race(f...)`: select for children with one output type T; output T
 * (void when T is void). Same ordering, cancellation and allocation rules as select.
 */
template <future... F>
class [[nodiscard]] race_future {
  using first_output = future_output_t<std::tuple_element_t<0, std::tuple<F...>>>;

 public:
  using output = first_output;
  static_assert((std::is_same_v<future_output_t<F>, first_output> && ...),
                "zokio::race: every future must have the same output type (use select)");

  explicit race_future(F... f) : sel_(std::move(f)...) {}
  race_future(race_future&&) = default;
  race_future& operator=(race_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    auto r = sel_.poll(cx);
    if (r.is_pending()) return pending;
    if constexpr (std::is_void_v<output>) {
      return ready();
    } else {
      return zokio::poll<output>(std::visit(
          [](auto&& v) -> output { return std::move(v); }, std::move(r).take()));
    }
  }

 private:
  select_future<F...> sel_;
};

/// The output of whichever of `f...` (one output type) completes first; the rest are
/// destroyed.
template <future... F>
  requires(sizeof...(F) > 0)
race_future<std::remove_cvref_t<F>...> race(F&&... f) {
  return race_future<std::remove_cvref_t<F>...>(std::forward<F>(f)...);
}

}  // namespace zokio

#endif
