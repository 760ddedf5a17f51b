// zokio::runtime_options: the run-time options of a runtime, in one struct.
#ifndef ZOKIO_RUNTIME_OPTIONS_HPP
#define ZOKIO_RUNTIME_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <string>

#include <zokio/runtime_config.hpp>
#include <zokio/runtime_hooks.hpp>
#include <zokio/topology.hpp>
#include <zokio/unhandled_exception.hpp>

namespace zokio {

/**
 * Everything about a runtime that is decided at run time. The one place these options live:
 * `basic_runtime<Config>::default_options()` gives Config's values, `basic_runtime(options)`
 * takes a whole struct, and `basic_runtime<Config>::builder` is a chainable way to set its
 * fields (each setter writes one field here and nothing else). What decides the code the
 * runtime is built with (work stealing, LIFO slot, metrics, NUMA placement, priority
 * levels) is compile-time: runtime_config's features.
 */
struct runtime_options {
  /// multi_thread, or current_thread: no threads of its own, the caller of block_on drives
  /// one worker (see runtime_flavour); worker_threads, pinning and NUMA placement are then
  /// ignored.
  runtime_flavour flavour = runtime_flavour::multi_thread;
  /// Workers; 0: one per cpu this process may use (or workers_per_node x nodes).
  unsigned worker_threads = 0;
  /// Per-worker deque slots (a power of two, at least 2).
  std::size_t local_queue_capacity = 1024;
  /// A busy worker takes from the injector (spawns and wakes from outside) every N polls.
  unsigned global_queue_interval = 61;
  /// A busy worker polls its io_context every N polls (61, as Tokio), and one such turn runs
  /// at most N I/O handlers before the worker's tasks get theirs. Larger: fewer epoll_wait
  /// calls between tasks, later I/O and timers while the worker never runs dry, and longer
  /// stretches of handlers between tasks.
  unsigned event_interval = 61;
  /// LIFO-slot hand-offs in a row before the deque gets a turn (0: the slot's task runs after
  /// one deque turn). With the LIFO slot feature only.
  unsigned max_lifo_polls = 3;
  /// Linux: start Asio's io_uring service on each worker (files; sockets stay on epoll, see
  /// doc/asio_bridge.md).
  bool enable_io_uring = true;
  /// Worker threads are named "<thread_name>-<i>" (15 characters at most in all).
  std::string thread_name = "zokio-worker";
  /// NUMA placement and pinning (pin_workers, workers_per_node, nodes, a fake topology);
  /// the node layout is used with the numa_aware feature only, pinning always.
  topology_options topology;
  /// Most threads of the blocking pool (spawn_blocking); 512, as Tokio. 0 means 1.
  std::size_t max_blocking_threads = 512;
  /// How long an idle blocking-pool thread waits for a job before it exits.
  std::chrono::nanoseconds blocking_keep_alive = std::chrono::seconds(10);
  /// How long a worker out of work keeps looking for new work before it parks (0: parks at
  /// once, as Tokio's). A few tens of microseconds turn a wake-up from another thread (a
  /// system call on both sides) into a memory read, for that much cpu each time a worker
  /// goes idle.
  std::chrono::nanoseconds park_spin{0};
  /// Where an exception that no join_handle sees goes (zokio/unhandled_exception.hpp).
  unhandled_exception_policy unhandled_exception = unhandled_exception_policy::propagate;
  /// Callbacks at thread, park, spawn and poll events: with runtime_config::enable_hooks only
  /// (zokio/runtime_hooks.hpp).
  runtime_hooks hooks;
  /// With runtime_config::enable_stall_watchdog: a poll running this long is reported once
  /// (stderr, runtime_metrics::stalls), seen within a quarter more; 0: no watchdog thread.
  std::chrono::nanoseconds stall_threshold = std::chrono::milliseconds(100);
  /// With runtime_config::enable_task_dump: a signal (SIGUSR1, say) on which a thread of the
  /// runtime prints dump().to_text() to stderr; 0 (the default): none.
  int dump_signal = 0;
  /// With runtime_config::enable_trace: events kept per worker (a power of two; 16 bytes
  /// each), the oldest overwritten first.
  std::size_t trace_capacity = 65536;
  /// Priority levels: set from runtime_config::priority_levels (a feature), not here.
  unsigned priority_levels = 1;

  /// The options a runtime_config gives: its defaults for every field above.
  static runtime_options from(const runtime_config& c) {
    runtime_options o;
    o.flavour = c.flavour;
    o.worker_threads = c.worker_threads;
    o.local_queue_capacity = c.local_queue_capacity;
    o.global_queue_interval = c.global_queue_interval;
    o.event_interval = c.event_interval;
    o.max_lifo_polls = c.max_lifo_polls;
    o.enable_io_uring = c.enable_io_uring;
    o.topology.pin_workers = c.pin_workers;
    o.topology.workers_per_node = c.workers_per_node;
    o.unhandled_exception = c.unhandled_exception;
    o.priority_levels = c.priority_levels;
    return o;
  }
};

}  // namespace zokio

#endif
