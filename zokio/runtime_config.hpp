// zokio::runtime_config: the compile-time configuration of a basic_runtime.
#ifndef ZOKIO_RUNTIME_CONFIG_HPP
#define ZOKIO_RUNTIME_CONFIG_HPP

#include <cstddef>

#include <zokio/unhandled_exception.hpp>

namespace zokio {

/// How a runtime runs its tasks (Tokio's runtime flavours).
enum class runtime_flavour {
  /// Worker threads of its own, with work stealing (the default).
  multi_thread,
  /// No thread of its own: one worker, driven by the thread that calls block_on (or run())
  /// for as long as the call lasts; tasks spawned meanwhile from other threads wait for the
  /// next call. For programs that are single-threaded by design, tests, and nested event
  /// loops. Several threads may call block_on at once: one drives, the others wait for their
  /// futures and take over when it returns.
  current_thread,
};

/**
 * A structural type, so it can be a template argument:
 * `zokio::basic_runtime<zokio::runtime_config{.worker_threads = 4, .enable_metrics = true}>`.
 *
 * Two kinds of field:
 * - **Features** (`enable_work_stealing`, `enable_metrics`, `numa_aware`, `enable_lifo_slot`,
 *   `enable_io_driver`, `priority_levels` and the observability switches below): decide what code the runtime is built with
 *   (`detail::basic_scheduler<Features>`). A feature that is off generates no code and no
 *   data: no branch at run time, no counters, no stealing loop (test/runtime/features_test.cpp
 *   and perf/footprint.sh show it). The builder cannot change them.
 * - **Defaults** of the run-time options (everything else): `basic_runtime::builder`
 *   overrides them for one runtime (what a command-line flag or a config file decides).
 */
struct runtime_config {
  runtime_flavour flavour = runtime_flavour::multi_thread;  ///< current_thread: one worker,
                                                            ///< worker_threads ignored
  unsigned worker_threads = 0;        ///< 0: one per cpu this process may use (or
                                      ///< workers_per_node x nodes)
  bool enable_work_stealing = true;   ///< feature: idle workers steal half of a busy worker's
                                      ///< queue (off: they serve only the injector)
  bool enable_io_uring = true;        ///< Linux: start Asio's io_uring service on each worker
                                      ///< (files); sockets stay on epoll (doc/asio_bridge.md)
  bool enable_metrics = false;        ///< feature: per-worker counters (off: none kept, none
                                      ///< updated; runtime_metrics has queue depths only)
  bool numa_aware = true;             ///< feature: place workers by NUMA node; steal inside a
                                      ///< node first (off: one node of the allowed cpus)
  bool pin_workers = false;           ///< pin each worker to one cpu of its node
  unsigned workers_per_node = 0;      ///< 0: worker_threads spread evenly over the nodes
  bool enable_lifo_slot = true;       ///< feature: the last task woken by a worker runs next
                                      ///< on it (off: wakes and spawns go to the deque)
  std::size_t local_queue_capacity = 1024;  ///< per-worker deque slots (power of two)
  unsigned global_queue_interval = 61;     ///< busy worker checks the injector every N polls
  unsigned event_interval = 61;            ///< busy worker polls its io_context every N polls
  unsigned max_lifo_polls = 3;             ///< LIFO hand-offs in a row before the deque
  /// Where an exception no join_handle sees goes (default: rethrown by block_on, like
  /// io_context::run(); see zokio/unhandled_exception.hpp).
  unhandled_exception_policy unhandled_exception = unhandled_exception_policy::propagate;
  /// Priority levels for spawn(f, zokio::priority{l}), 0 <= l < priority_levels (1 to 16;
  /// default 1: none). See zokio/priority.hpp.
  unsigned priority_levels = 1;
  /// Feature: runtime_hooks (runtime_options::hooks, the builder's on_* setters). Off: no
  /// hook code in the scheduler, and a runtime built with a hook set throws.
  bool enable_hooks = false;
  /// Feature: the stall watchdog, a thread that reports a poll running longer than
  /// runtime_options::stall_threshold (stderr, runtime_metrics::stalls). Off: no thread, and
  /// nothing per poll.
  bool enable_stall_watchdog = false;
  /// Feature: the task dump (runtime::dump(), runtime_options::dump_signal): every task is
  /// listed from spawn to completion, and each poll notes its start time (a coarse clock
  /// read). Off: runtime::dump() does not exist, nothing is listed or noted.
  bool enable_task_dump = false;
  /// Feature: the flight recorder (runtime::trace_json()): each worker keeps its last
  /// runtime_options::trace_capacity scheduler events (spawn, poll begin/end, wake, park,
  /// unpark, steal) with timestamps. Off: nothing recorded, no trace_json().
  bool enable_trace = false;
  /// Feature: per-worker histograms of poll durations and of schedule latency (from being
  /// queued to the poll's start) in runtime_metrics (worker_metrics::poll_time,
  /// schedule_latency) and the Prometheus export. Costs three tick-clock reads per poll (at
  /// the queueing, the start and the end; rdtsc on x86-64). Off: none read, none kept.
  bool enable_latency_histograms = false;
  /// Feature: the I/O driver, an Asio io_context per worker in which it parks and runs I/O
  /// completions (sockets, files, Asio timers, zokio::sleep / interval / timeout, handlers
  /// posted to an io_context). Off, for compute-only runtimes (Tokio's runtime without
  /// enable_io and enable_time): workers park on a futex, no io_context (nor its epoll,
  /// eventfd and timerfd descriptors) is built and its code is not linked; a timer, I/O
  /// object or strand made on such a runtime throws system_error(errc::no_io_driver), and
  /// worker_io_context() does not exist. Spawning, joins, channels, locks, yield_now, the
  /// executor's post/dispatch and block_on work as usual.
  bool enable_io_driver = true;
};

}  // namespace zokio

#endif
