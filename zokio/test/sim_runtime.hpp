// zokio::test::sim_runtime: a deterministic runtime for tests: one thread, a seed that chooses
// the order of runnable tasks, virtual time that jumps to the next timer.
#ifndef ZOKIO_TEST_SIM_RUNTIME_HPP
#define ZOKIO_TEST_SIM_RUNTIME_HPP

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <zokio/detail/sim_core.hpp>
#include <zokio/detail/sim_hooks.hpp>
#include <zokio/detail/timer_entry.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/waker.hpp>

namespace zokio::test {

/// A simulation stopped: the step limit was reached. what() names the seed to replay.
class sim_error : public std::runtime_error {
 public:
  sim_error(const std::string& what, std::uint64_t seed) : std::runtime_error(what), seed_(seed) {}
  std::uint64_t seed() const noexcept { return seed_; }

 private:
  std::uint64_t seed_;
};

/// Every task of the simulation waits and no timer is armed: nothing can ever run again.
class sim_deadlock : public sim_error {
 public:
  using sim_error::sim_error;
};

/**
 * A single-threaded runtime whose schedule is a function of a seed, for tests that look for
 * ordering bugs (the idea of Tokio's loom-free "turmoil"/paused-clock tests and of
 * FoundationDB's simulation).
 *
 * - Whenever more than one task is runnable, the next one is chosen by a pseudo-random
 *   sequence seeded with `seed` (splitmix64: the same on every platform).
 * - Time is virtual: zokio::sleep, sleep_until, interval and timeout read and wait on the
 *   simulation's clock (zokio::test::sim_runtime::now(), starting at a fixed instant).
 *   When no task is runnable, the clock jumps to the earliest armed timer (Tokio's paused
 *   clock with auto-advance), so an hour of timeouts runs in microseconds.
 * - Same seed, same program: the same schedule and the same output, bit for bit. A failure
 *   can be replayed by running the test with that seed (seed_from_env, find_failing_seed).
 *
 * Inside block_on, zokio::spawn, spawn_detached, spawn_many and join_set spawn onto the
 * simulation; channels, locks, notify, select, join, task-locals and the coop budget work
 * as on a runtime. Asio I/O, zokio::executor and spawn_blocking need a real runtime (they
 * throw no_runtime here). A wake from another thread is accepted but makes the schedule
 * depend on timing.
 *
 * @code
 * zokio::test::sim_runtime sim(seed);
 * int v = sim.block_on(zokio::co_invoke([]() -> zokio::task<int> {
 *   co_await zokio::sleep(std::chrono::hours(1));  // instant, in real time
 *   co_return 42;
 * }));
 * @endcode
 *
 * @par Thread Safety
 * One thread at a time; the object may move between threads between calls.
 */
class sim_runtime {
 public:
  explicit sim_runtime(std::uint64_t seed) : core_(std::make_unique<detail::sim_core>(seed)) {}
  sim_runtime(sim_runtime&&) noexcept = default;
  sim_runtime& operator=(sim_runtime&&) noexcept = default;
  /// Cancels every unfinished task (each future destroyed on this thread; join handles
  /// then report errc::runtime_shutdown) and frees it.
  ~sim_runtime() = default;

  /// Runs `f` and every task it spawns, as the seed orders them, until `f` completes; returns
  /// its output (or rethrows its exception). Spawned tasks still unfinished stay for the
  /// next block_on (or the destructor). Throws sim_deadlock if every task waits with no
  /// timer armed, sim_error past the step limit, and the first exception of a detached task.
  template <future F>
  future_output_t<F> block_on(F f) {
    detail::sim_core::scope in(*core_);
    join_handle<future_output_t<F>> h(detail::sim_spawn(core_.get(), std::move(f)));
    core_->run_until([](void* p) { return static_cast<join_handle<future_output_t<F>>*>(p)->is_finished(); }, &h);
    context cx(noop_waker());
    auto r = h.poll(cx);  // finished: ready, or throws the task's exception / join_error
    if constexpr (!std::is_void_v<future_output_t<F>>) return std::move(r).value();
  }

  /// Queues `f` as a task; it runs during the next block_on.
  template <future F>
  join_handle<future_output_t<F>> spawn(F f) {
    detail::sim_core::scope in(*core_);
    return join_handle<future_output_t<F>>(detail::sim_spawn(core_.get(), std::move(f)));
  }

  /// The seed this simulation was made with.
  std::uint64_t seed() const noexcept { return core_->seed(); }
  /// Virtual now (what zokio::sleep measures against inside the simulation).
  instant now() const noexcept { return core_->now(); }
  /// Virtual time elapsed since the start.
  std::chrono::nanoseconds elapsed() const noexcept { return core_->now() - detail::sim_core::epoch(); }
  /// Task polls so far.
  std::uint64_t steps() const noexcept { return core_->steps(); }
  /// Tasks spawned and not finished.
  std::size_t live_tasks() const noexcept { return core_->live_tasks(); }
  /// block_on throws sim_error after this many polls (default 10^8): a livelock found.
  void set_step_limit(std::uint64_t n) noexcept { core_->set_step_limit(n); }

  /// The seed in the environment variable ZOKIO_SIM_SEED (for replaying a failure), or
  /// `fallback` when it is unset or not a number.
  static std::uint64_t seed_from_env(std::uint64_t fallback) {
    const char* s = std::getenv("ZOKIO_SIM_SEED");
    if (!s || !*s) return fallback;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 0);
    return end && *end == '\0' ? static_cast<std::uint64_t>(v) : fallback;
  }

 private:
  std::unique_ptr<detail::sim_core> core_;
};

/// The outcome of find_failing_seed when a seed failed.
struct sim_failure {
  std::uint64_t seed;
  std::string what;
};

/**
 * Runs `run(seed)` for seeds first, first+1, ... (count of them) until one fails: returns
 * false or throws. That seed is printed to stderr with how to replay it, and returned.
 * With ZOKIO_SIM_SEED set, only that seed runs (the replay).
 *
 * @code
 * auto bad = zokio::test::find_failing_seed(0, 1000, [](std::uint64_t seed) {
 *   zokio::test::sim_runtime sim(seed);
 *   return sim.block_on(program()) == expected;
 * });
 * @endcode
 */
template <class Run>
std::optional<sim_failure> find_failing_seed(std::uint64_t first, std::uint64_t count, Run&& run) {
  if (const char* s = std::getenv("ZOKIO_SIM_SEED"); s && *s) {
    first = sim_runtime::seed_from_env(first);
    count = 1;
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t seed = first + i;
    std::string what;
    try {
      if (run(seed)) continue;
      what = "the check returned false";
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "an exception that is not a std::exception";
    }
    std::fprintf(stderr, "zokio::test: seed %llu fails: %s (replay: ZOKIO_SIM_SEED=%llu)\n",
                 static_cast<unsigned long long>(seed), what.c_str(), static_cast<unsigned long long>(seed));
    return sim_failure{seed, std::move(what)};
  }
  return std::nullopt;
}

}  // namespace zokio::test

#endif
