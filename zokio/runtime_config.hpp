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
 * Fields a program only knows at run time can be overridden with `basic_runtime::builder`.
 */
struct runtime_config {
  runtime_flavour flavour = runtime_flavour::multi_thread;  ///< current_thread: one worker,
                                                            ///< worker_threads ignored
  unsigned worker_threads = 0;        ///< 0: one per cpu this process may use (or
                                      ///< workers_per_node x nodes)
  bool enable_work_stealing = true;   ///< idle workers steal half of a busy worker's queue
  bool enable_io_uring = true;        ///< Linux: start Asio's io_uring service on each worker
                                      ///< (files); sockets stay on epoll (doc/asio_bridge.md)
  bool enable_metrics = false;        ///< per-worker counters; when false the worker loop
                                      ///< without counter updates runs (chosen at start-up;
                                      ///< the counters' memory remains)
  bool numa_aware = true;             ///< place workers by NUMA node; steal inside a node first
  bool pin_workers = false;           ///< pin each worker to one cpu of its node
  unsigned workers_per_node = 0;      ///< 0: worker_threads spread evenly over the nodes
  bool enable_lifo_slot = true;       ///< the last task woken by a worker runs next on it
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
};

}  // namespace zokio

#endif
