// zokio::spawn: spawn onto the runtime the calling thread runs in (a worker or a block_on).
#ifndef ZOKIO_SPAWN_HPP
#define ZOKIO_SPAWN_HPP

#include <ranges>
#include <vector>

#include <boost/system/system_error.hpp>

#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/sim_hooks.hpp>
#include <zokio/join_handle.hpp>

namespace zokio {

/// Like tokio::spawn. Throws system_error(errc::no_runtime) outside any runtime. Inside a
/// zokio::test::sim_runtime, onto the simulation.
template <future F>
join_handle<future_output_t<F>> spawn(F f) {
  if (auto* sim = detail::tl_sim) [[unlikely]]
    return join_handle<future_output_t<F>>(detail::sim_spawn(sim, std::move(f)));
  auto* s = detail::scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  return join_handle<future_output_t<F>>(s->spawn(std::move(f)));
}

/// Fire and forget onto the calling thread's runtime: spawn() without a handle, cheaper than
/// `spawn(f).detach()`. Returns false, with `f` dropped, after the runtime's shutdown. Throws
/// system_error(errc::no_runtime) outside any runtime.
template <future F>
bool spawn_detached(F f) {
  if (auto* sim = detail::tl_sim) [[unlikely]]
    return detail::sim_spawn_detached(sim, std::move(f));
  auto* s = detail::scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  return s->spawn_detached(std::move(f));
}

/// Spawns every future of `r` (moved out) onto the calling thread's runtime; the handles
/// in order (see basic_runtime::spawn_many). Throws system_error(errc::no_runtime) outside
/// any runtime.
template <std::ranges::input_range R>
  requires future<std::ranges::range_value_t<R>>
std::vector<join_handle<future_output_t<std::ranges::range_value_t<R>>>> spawn_many(R&& r) {
  if (auto* sim = detail::tl_sim) [[unlikely]] {
    using F = std::ranges::range_value_t<R>;
    std::vector<join_handle<future_output_t<F>>> hs;
    for (auto&& f : r) hs.emplace_back(detail::sim_spawn(sim, F(std::move(f))));
    return hs;
  }
  auto* s = detail::scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  return detail::to_handles(s->template spawn_many<std::ranges::range_value_t<R>>(std::forward<R>(r)));
}

}  // namespace zokio

#endif
