// Runtime metrics snapshot: per-worker scheduler counters (only with enable_metrics).
#ifndef ZOKIO_METRICS_HPP
#define ZOKIO_METRICS_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zokio {

/// Counters of one worker, read with relaxed loads: each is exact, the set is not a
/// consistent cut.
struct worker_metrics {
  std::uint64_t polls = 0;           ///< tasks polled by this worker
  std::uint64_t steals = 0;          ///< successful steal operations (from deques or LIFO slots)
  std::uint64_t stolen_tasks = 0;    ///< tasks moved by those steals
  std::uint64_t remote_steals = 0;   ///< steals from a worker on another NUMA node
  /// Order of this worker's first steal among all workers' first steals (1 = first; 0 = none).
  std::uint64_t first_steal = 0;
  std::uint64_t parks = 0;           ///< times the worker parked in its io_context
  std::uint64_t injector_pulls = 0;  ///< tasks taken from the global injector
  std::uint64_t lifo_polls = 0;      ///< tasks taken from the LIFO slot
  std::uint64_t inline_runs = 0;     ///< not-started tasks run by their joiner (in polls too)
  std::uint64_t inline_unwinds = 0;  ///< inline slices that ended with work waiting: the tree unwound to the loop
  /// Handlers run from this worker's io_context (I/O completions, timers, posts to it), by
  /// any thread: the I/O load homed on this worker. unpark wake-ups are not counted.
  std::uint64_t io_handlers = 0;
  /// The part of io_handlers that idle siblings ran while this worker was busy.
  std::uint64_t io_handlers_by_siblings = 0;
  std::size_t local_queue_depth = 0; ///< tasks in the local deque at snapshot time
  unsigned numa_node = 0;            ///< id of the NUMA node the worker is placed on
  int cpu = -1;                      ///< cpu it is pinned to, -1 when not pinned
};

/// What `runtime::metrics()` returns. Counters are zero when metrics are compiled out.
struct runtime_metrics {
  bool enabled = false;
  std::vector<worker_metrics> workers;
  std::size_t injector_depth = 0;  ///< approximate tasks in the global injector
  std::size_t live_tasks = 0;      ///< spawned tasks not yet complete
  /// Polls the stall watchdog reported (runtime_config::enable_stall_watchdog; else 0).
  std::uint64_t stalls = 0;
  std::size_t blocking_threads = 0;  ///< blocking-pool threads alive (spawn_blocking)
  std::size_t blocking_idle = 0;     ///< of those, waiting for a job
  std::size_t blocking_queued = 0;   ///< blocking jobs not started yet
  std::string topology;            ///< where the workers were placed ("1 node (libnuma): 0:[0,1]")

  std::uint64_t total_polls() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.polls;
    return n;
  }
  std::uint64_t total_io_handlers() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.io_handlers;
    return n;
  }
  std::uint64_t total_steals() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.steals;
    return n;
  }
};

}  // namespace zokio

#endif
