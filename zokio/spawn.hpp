// zokio::spawn: spawn onto the runtime the calling thread runs in (a worker or a block_on).
#ifndef ZOKIO_SPAWN_HPP
#define ZOKIO_SPAWN_HPP

#include <ranges>
#include <vector>

#include <boost/system/system_error.hpp>

#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/sim_hooks.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/priority.hpp>
#include <zokio/task_id.hpp>

namespace zokio {

namespace detail {
/// zokio::spawn's body: onto the simulation or the calling thread's runtime.
template <future F>
[[gnu::always_inline]] inline join_handle<future_output_t<F>> spawn_here(F&& f, const priority* p,
                                                                         const spawn_meta& m) {
  if (auto* sim = tl_sim) [[unlikely]]  // the level is ignored: the seed orders the tasks
    return join_handle<future_output_t<F>>(sim_spawn(sim, std::move(f), nullptr, nullptr, m));
  auto* s = scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  if (p) s->check_priority(p->level);
  return join_handle<future_output_t<F>>(
      s->spawn(std::move(f), nullptr, nullptr, true, p ? p->level : 0, m));
}
}  // namespace detail

/// Like tokio::spawn. Throws system_error(errc::no_runtime) outside any runtime. Inside a
/// zokio::test::sim_runtime, onto the simulation. The task gets an id (join_handle::id(),
/// zokio::task_id) and remembers where it was spawned (join_error messages).
template <future F>
join_handle<future_output_t<F>> spawn(F f,
                                      source_location where = source_location::current()) {
  return detail::spawn_here(std::move(f), nullptr, {{}, where});
}

/// spawn() with options: `zokio::spawn(f, zokio::spawn_options{.name = "fetch"})`.
template <future F>
join_handle<future_output_t<F>> spawn(F f, const spawn_options& o,
                                      source_location where = source_location::current()) {
  return detail::spawn_here(std::move(f), nullptr, {o.name, where});
}

/// spawn() at a priority level (zokio/priority.hpp). Throws std::invalid_argument for a level
/// the runtime lacks. Inside a sim_runtime the level is ignored (the seed orders the tasks).
template <future F>
join_handle<future_output_t<F>> spawn(F f, priority p,
                                      source_location where = source_location::current()) {
  return detail::spawn_here(std::move(f), &p, {{}, where});
}

/**
 * Like zokio::spawn, but the task runs on the calling worker only, for its whole life: it is
 * never stolen by another worker and never run inline by a join on another worker; a wake or
 * an abort from any thread queues it back on this worker. For code with thread affinity
 * (thread_local state, objects that must stay on one thread); Tokio's `spawn_local` without
 * the LocalSet. Pinned tasks and the worker's other tasks take turns. Costs over spawn: a
 * spin lock per queueing, and a wake-up of the worker when queued from another thread.
 * Throws system_error(errc::not_on_worker) on a thread that is not a runtime worker (a
 * block_on thread included: it has no worker to keep the task on). Inside a
 * zokio::test::sim_runtime (one thread anyway) it is spawn().
 */
template <future F>
join_handle<future_output_t<F>> spawn_local(
    F f, source_location where = source_location::current()) {
  const detail::spawn_meta m{{}, where};
  if (auto* sim = detail::tl_sim) [[unlikely]]
    return join_handle<future_output_t<F>>(detail::sim_spawn(sim, std::move(f), nullptr, nullptr, m));
  auto* s = detail::scheduler::current();
  if (!s || !s->on_worker_thread()) throw boost::system::system_error(make_error_code(errc::not_on_worker));
  return join_handle<future_output_t<F>>(s->spawn_local(std::move(f), m));
}

/// Fire and forget onto the calling thread's runtime: spawn() without a handle, cheaper than
/// `spawn(f).detach()`. Returns false, with `f` dropped, after the runtime's shutdown. Throws
/// system_error(errc::no_runtime) outside any runtime.
template <future F>
bool spawn_detached(F f, source_location where = source_location::current()) {
  const detail::spawn_meta m{{}, where};
  if (auto* sim = detail::tl_sim) [[unlikely]]
    return detail::sim_spawn_detached(sim, std::move(f), m);
  auto* s = detail::scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  return s->spawn_detached(std::move(f), true, 0, m);
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
