// detail::blocking_pool: a runtime's bounded, on-demand pool of threads for blocking calls
// (spawn_blocking), separate from the async workers.
#ifndef ZOKIO_DETAIL_BLOCKING_POOL_HPP
#define ZOKIO_DETAIL_BLOCKING_POOL_HPP

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

class scheduler;

/// One queued blocking call. Intrusive (the job lives in its handle's shared state), so
/// queueing allocates nothing. Exactly one of run or drop is called, once.
struct blocking_job {
  void (*run)(blocking_job*) noexcept;   ///< on a pool thread
  void (*drop)(blocking_job*) noexcept;  ///< never started: the pool shut down first
  blocking_job* next = nullptr;
};

struct blocking_pool_options {
  std::size_t max_threads = 512;                             ///< Tokio's default
  std::chrono::nanoseconds keep_alive = std::chrono::seconds(10);  ///< idle thread lifetime
  std::string thread_name = "zokio";  ///< threads are named "<first 11 chars>-blk"
  /// runtime_hooks' thread events, called on each pool thread (exceptions go to the owner's
  /// unhandled-exception policy).
  std::function<void()> on_thread_start, on_thread_stop;
};

/// Counters for tests and metrics.
struct blocking_pool_stats {
  std::size_t threads = 0;       ///< alive now
  std::size_t idle = 0;          ///< alive and waiting for a job
  std::size_t queued = 0;        ///< jobs not started
  std::size_t spawned = 0;       ///< threads ever started
  std::size_t peak_threads = 0;  ///< most threads alive at once
};

/**
 * Threads are started on demand, when a job arrives and no thread is idle, up to
 * max_threads; beyond that jobs wait in a FIFO queue. A thread that has found no job for
 * keep_alive exits. Pool threads count as inside the runtime (scheduler::current() is set),
 * so zokio::spawn and spawn_blocking work from a blocking job.
 *
 * The state lives in a shared block that each thread co-owns, so a thread that outlives a
 * bounded shutdown (timeout) never touches freed memory. Such a thread still has the owner
 * as scheduler::current(), so the owner must outlive it too: see adopt_owner().
 */
class blocking_pool {
 public:
  ZOKIO_DECL blocking_pool(scheduler* owner, blocking_pool_options opts);
  ZOKIO_DECL ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  /// Queues `j`; false (and nothing queued) after shutdown. Starting a thread can throw
  /// std::system_error; the job is then still queued and runs when a thread frees up (or is
  /// dropped at shutdown), unless no thread is alive at all, in which case it is unqueued and
  /// the error is rethrown.
  ZOKIO_DECL bool submit(blocking_job* j);

  /// Refuses new jobs, drops the queued ones (their drop() runs on this thread), then waits
  /// for running jobs to finish, at most `timeout`; threads still busy then are detached.
  /// Idempotent: a later call waits again (at most its own timeout) for the jobs left.
  /// Returns false when the timeout expired with jobs still running.
  ZOKIO_DECL bool shutdown(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());

  /// For the owner's destruction after a shutdown that timed out: when threads are still
  /// running jobs, the last of them to finish deletes the owner (`delete owner`, on that
  /// thread, after it left the runtime) and this returns true; the caller must then not
  /// destroy it. False (nothing running, or not shut down): the caller destroys it as usual.
  ZOKIO_DECL bool adopt_owner() noexcept;

  /// True on one of this pool's threads (inside a blocking job).
  ZOKIO_DECL bool on_pool_thread() const noexcept;

  ZOKIO_DECL blocking_pool_stats stats() const;
  const blocking_pool_options& options() const noexcept { return opts_; }

 private:
  struct shared;
  ZOKIO_DECL static void thread_main(std::shared_ptr<shared> s, std::size_t id);

  blocking_pool_options opts_;
  std::shared_ptr<shared> s_;
};

}  // namespace zokio::detail

#endif
