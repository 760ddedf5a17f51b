// zokio::basic_runtime: a compile-time configured multi-worker work-stealing runtime.
#ifndef ZOKIO_RUNTIME_HPP
#define ZOKIO_RUNTIME_HPP

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <ranges>
#include <vector>
#include <stdexcept>

#include <boost/asio/strand.hpp>
#include <boost/system/system_error.hpp>

#include <zokio/block_on.hpp>
#include <zokio/blocking.hpp>
#include <zokio/detail/basic_scheduler.hpp>
#include <zokio/detail/drive_current_thread.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/executor.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/metrics.hpp>
#include <zokio/priority.hpp>
#include <zokio/runtime_config.hpp>
#include <zokio/unhandled_exception.hpp>

namespace zokio {

/**
 * N workers, each with a bounded work-stealing deque, a LIFO slot and its own
 * `asio::io_context` (in which it parks), plus a global injector for wakes from outside.
 *
 * @code
 * zokio::runtime rt;                               // one worker per cpu
 * auto h = rt.spawn(compute());                    // zokio::task<int> compute();
 * int v = rt.block_on(std::move(h));
 * @endcode
 *
 * @par Destruction
 * The destructor stops the workers, joins them, then cancels every task that has not
 * finished: each future is destroyed (on the destroying thread), join handles report
 * `errc::runtime_shutdown`, and all task memory is freed. Then it waits for the running
 * blocking jobs (spawn_blocking), without limit: see shutdown_timeout() for a bound.
 *
 * Destroyed on one of its own threads (a task or handler holding the last owner, a blocking
 * job), the destructor cannot wait for itself: it stops the runtime and returns at once; the
 * teardown above then runs on the last worker to leave its loop (or, from a blocking job,
 * on the last job's thread). See doc/reliability.md, "Shutdown".
 *
 * @par Thread Safety
 * spawn, block_on, metrics and stop may be called from any thread, shutdown from any thread
 * but the runtime's own.
 */
template <runtime_config Config = runtime_config{}>
class basic_runtime {
  static_assert(Config.priority_levels >= 1 && Config.priority_levels <= 16,
                "runtime_config::priority_levels: 1 to 16");

 public:
  static constexpr runtime_config config = Config;
  /// What code this runtime's scheduler is built with (Config's compile-time features).
  static constexpr detail::scheduler_features features{.metrics = Config.enable_metrics,
                                                      .lifo_slot = Config.enable_lifo_slot,
                                                      .work_stealing = Config.enable_work_stealing,
                                                      .numa = Config.numa_aware};

  /// Run-time overrides of Config (what a command-line flag or a config file decides).
  class builder {
   public:
    builder() : opts_(basic_runtime::default_options()) {}
    /// multi_thread (default: Config.flavour) or current_thread: no threads of its own, the
    /// caller of block_on drives one worker (see runtime_flavour); worker_threads, pinning and
    /// NUMA placement are then ignored.
    builder& flavour(runtime_flavour f) {
      opts_.current_thread = f == runtime_flavour::current_thread;
      return *this;
    }
    /// At least 1 (build() throws on 0); leave unset for one per cpu.
    builder& worker_threads(unsigned n) {
      opts_.worker_threads = n;
      workers_set_ = true;
      return *this;
    }
    /// Pin each worker thread to one cpu of its node.
    builder& pin_workers(bool on) {
      opts_.topology.pin_workers = on;
      return *this;
    }
    builder& workers_per_node(unsigned n) {
      opts_.topology.workers_per_node = n;
      return *this;
    }
    /// The NUMA node ids to use, in this order (default: all).
    builder& numa_nodes(std::vector<unsigned> ids) {
      opts_.topology.nodes = std::move(ids);
      return *this;
    }
    /// A fake topology such as "0:0-1;1:2-3" (node:cpus;...), as ZOKIO_TOPOLOGY, which it
    /// overrides: several nodes on a machine with one, for tests.
    builder& topology(std::string spec) {
      opts_.topology.fake = std::move(spec);
      return *this;
    }
    builder& local_queue_capacity(std::size_t n) {
      opts_.local_queue_capacity = n;
      return *this;
    }
    builder& global_queue_interval(unsigned n) {
      opts_.global_queue_interval = n;
      return *this;
    }
    /// A busy worker polls its io_context every n polls (default: Config.event_interval,
    /// 61 as Tokio; at least 1). Larger: fewer epoll_wait calls between tasks, later I/O and
    /// timers while the worker never runs out of tasks.
    builder& event_interval(unsigned n) {
      opts_.event_interval = n;
      return *this;
    }
    /// LIFO-slot hand-offs in a row before the deque gets a turn (default:
    /// Config.max_lifo_polls, 3; 0: the LIFO slot's task is always run after one deque turn).
    builder& max_lifo_polls(unsigned n) {
      opts_.max_lifo_polls = n;
      return *this;
    }
    builder& enable_io_uring(bool on) {
      opts_.enable_io_uring = on;
      return *this;
    }
    builder& thread_name(std::string name) {
      opts_.thread_name = std::move(name);
      return *this;
    }
    /// How long a worker that ran out of work keeps looking for new work before it parks
    /// (default 0: it parks at once, as Tokio's). A few tens of microseconds turn a wake-up
    /// from another thread (a system call on both sides, 5-15 us) into a memory read, at the
    /// price of that much cpu each time a worker goes idle; for thread-per-core shards
    /// exchanging messages. The worker's own I/O is not polled while it spins.
    builder& park_spin(std::chrono::nanoseconds d) {
      opts_.park_spin = d;
      return *this;
    }
    /// Most threads of the blocking pool (spawn_blocking); default 512, as Tokio. 0 means 1.
    builder& max_blocking_threads(std::size_t n) {
      opts_.max_blocking_threads = n;
      return *this;
    }
    /// How long an idle blocking-pool thread waits for a job before it exits (default 10 s).
    builder& thread_keep_alive(std::chrono::nanoseconds d) {
      opts_.blocking_keep_alive = d;
      return *this;
    }
    /// Where an exception that no join_handle sees goes: a detached task's, a function's
    /// posted through the executor, an Asio completion handler's (default: Config's,
    /// propagate: rethrown by block_on; see zokio/unhandled_exception.hpp).
    builder& unhandled_exception(unhandled_exception_policy p) {
      opts_.unhandled_exception = p;
      return *this;
    }
    /// Throws std::invalid_argument for a configuration that cannot work (0 workers, absent
    /// NUMA nodes or cpus, ...), with a message saying which.
    basic_runtime build() const {
      if (workers_set_ && opts_.worker_threads == 0)
        throw std::invalid_argument(
            "zokio::runtime: worker_threads(0): a runtime needs at least one worker (leave "
            "it unset for one per cpu)");
      if (opts_.event_interval == 0 || opts_.global_queue_interval == 0)
        throw std::invalid_argument(
            "zokio::runtime: event_interval and global_queue_interval must be at least 1");
      return basic_runtime(opts_);
    }

   private:
    detail::scheduler_options opts_;
    bool workers_set_ = false;
  };

  basic_runtime() : basic_runtime(default_options()) {}
  basic_runtime(basic_runtime&&) noexcept = default;
  basic_runtime& operator=(basic_runtime&&) noexcept = default;
  ~basic_runtime() = default;  // scheduler's destructor shuts down

  /// Starts running `f` on the workers. The handle is a future of f's output.
  template <future F>
  join_handle<future_output_t<F>> spawn(F f) {
    return join_handle<future_output_t<F>>(sched_->spawn(std::move(f)));
  }

  /// spawn() at a priority level (zokio/priority.hpp): the task runs before level-0 work on
  /// every worker. Throws std::invalid_argument for a level Config.priority_levels lacks.
  template <future F>
  join_handle<future_output_t<F>> spawn(F f, priority p) {
    sched_->check_priority(p.level);
    return join_handle<future_output_t<F>>(
        sched_->spawn(std::move(f), nullptr, nullptr, true, p.level));
  }

  /// Fire and forget: spawn() without a handle, cheaper than `spawn(f).detach()` (no handle
  /// to drop). The output is discarded; an exception goes to the unhandled-exception policy
  /// (builder::unhandled_exception). Returns false, with `f` dropped, after shutdown.
  template <future F>
  bool spawn_detached(F f) {
    return sched_->spawn_detached(std::move(f));
  }
  /// spawn_detached() at a priority level (see spawn(f, priority)).
  template <future F>
  bool spawn_detached(F f, priority p) {
    sched_->check_priority(p.level);
    return sched_->spawn_detached(std::move(f), true, p.level);
  }

  /**
   * Spawns every future of `r` (moved out of it) as its own task and returns the handles in
   * the range's order; join them with `zokio::join_all(std::move(handles))` or one by one.
   * From a thread outside the runtime this is the cheap way to start many tasks: they are
   * registered under one lock and handed to the workers in batches, with one wake-up per
   * batch instead of per task. On a worker each is a fork, as with spawn().
   */
  template <std::ranges::input_range R>
    requires future<std::ranges::range_value_t<R>>
  std::vector<join_handle<future_output_t<std::ranges::range_value_t<R>>>> spawn_many(R&& r) {
    return detail::to_handles(
        sched_->template spawn_many<std::ranges::range_value_t<R>>(std::forward<R>(r)));
  }

  /// Runs `f()` on this runtime's blocking pool, off the workers (see zokio/blocking.hpp).
  /// Callable from any thread. After shutdown the handle reports errc::runtime_shutdown.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  auto spawn_blocking(F&& f) {
    return detail::spawn_blocking_on(*sched_, std::forward<F>(f));
  }

  /// Starts `fn()` as a stackful fiber task (defined in zokio/fiber.hpp, which must be
  /// included, with Boost.Context linked). The handle is a join_handle of fn's result.
  template <class Fn, class... Options>
  auto spawn_fiber(Fn fn, Options... opts);

  /// Runs `f` on the calling thread until it is ready, with this runtime entered (so
  /// zokio::spawn inside it spawns here). Throws system_error(errc::nested_block_on) on a
  /// worker thread.
  ///
  /// This is the call that drives the runtime, as io_context::run() is for Asio: with the
  /// default unhandled_exception_policy::propagate, an exception that no join_handle can see
  /// (a detached task's, a posted function's, an Asio completion handler's) is rethrown here,
  /// on this thread, whether it was thrown before or during the call; `f` is then left as it
  /// is (not polled again: call block_on again to go on). The runtime keeps working.
  template <future F>
  future_output_t<F> block_on(F f) {
    refuse_on_a_worker();
    detail::scheduler::enter_guard g(sched_.get());
    detail::scheduler& s = *sched_;
    // current_thread: this thread runs the runtime meanwhile. Touches only `s` and locals:
    // a task may destroy this runtime object (the scheduler then lives until the driver leaves).
    if (s.is_current_thread()) return detail::drive_current_thread(s, f);
    return detail::drive(
        f,
        // Woken by report_unhandled, so that an exception thrown meanwhile leaves this call.
        [&s](const waker& w) { return detail::scheduler::driver_guard(s, w); },
        [&s] {
          if (s.has_unhandled())
            if (std::exception_ptr e = s.take_unhandled()) std::rethrow_exception(e);
        });
  }

  /**
   * io_context::run() for a runtime: blocks the calling thread until no Asio work is left,
   * counted the way io_context counts it: functions posted to get_executor() and not yet run,
   * pending operations of I/O objects made from it (and any operation whose handler runs on
   * it: Asio holds a tracked executor for each), `executor_work_guard`s and other executors
   * with `outstanding_work.tracked`, and `co_spawn`ed coroutines until they finish. Zokio tasks
   * from spawn() are not work here: join them through their handles (or block_on).
   *
   * So Asio client programs that end when their work does run unchanged, and a program that
   * owns I/O objects can call run() before destroying them: once it returns, no handler of
   * theirs is running or pending. Returns at once when there is no work, and early on
   * shutdown. The workers keep running; run() may be called again. Under the default
   * unhandled_exception_policy::propagate, an exception escaping a handler or posted function
   * leaves run() (like io_context::run()); call run() again to go on. Throws
   * system_error(errc::nested_block_on) on one of the runtime's own threads.
   */
  void run() {
    if (sched_->is_current_thread()) {  // this thread drives the runtime meanwhile
      refuse_on_a_worker();
      detail::scheduler::enter_guard g(sched_.get());
      detail::no_work_left f{sched_.get()};
      detail::drive_current_thread(*sched_, f, true);
      return;
    }
    if (sched_->wait_for_no_work())
      if (std::exception_ptr e = sched_->take_unhandled()) std::rethrow_exception(e);
  }

  /// The runtime's outstanding Asio work now (see run()); a snapshot, for tests and metrics.
  long outstanding_work() const noexcept { return sched_->outstanding_work(); }

  /// Asks the workers to stop after their current poll; returns at once. Tasks left are
  /// cancelled by shutdown() or the destructor.
  void stop() noexcept { sched_->request_stop(); }

  /// Stops, joins the workers, cancels the remaining tasks, drops the blocking jobs not
  /// started and waits for the running ones. Idempotent (a later call waits for what a
  /// shutdown_timeout left running); a concurrent call returns when the first is over.
  /// On one of this runtime's own threads (a task, a handler, a blocking job) it would wait
  /// for itself: it throws system_error(errc::shutdown_from_inside) and changes nothing; use
  /// stop() there (or destroy the runtime: see the destructor).
  void shutdown() { sched_->shutdown(); }

  /**
   * shutdown(), waiting at most `timeout` (from the call) for everything to stop, as Tokio's
   * Runtime::shutdown_timeout. Returns true when all work finished in time.
   *
   * Workers and tasks stop as in shutdown(). A task is never cut short inside its poll: when
   * a worker is still inside one at the deadline, this returns false at the deadline with
   * nothing torn down yet; a later shutdown() finishes the job, and so does the destructor,
   * without waiting: the last worker to leave its poll then tears the runtime down on its own
   * thread. Throws errc::shutdown_from_inside on the runtime's own threads, as shutdown().
   * Blocking jobs (spawn_blocking) not
   * started are dropped; those still running when the time is up are left to finish on their
   * own threads, and false is returned. Such a job's result goes to its blocking_handle if
   * one is still held (tasks' handles are gone: the tasks were cancelled), else is dropped.
   * Inside the job, zokio::spawn and spawn_blocking still work and report
   * errc::runtime_shutdown.
   *
   * The destructor then does not wait for those jobs: the runtime's internals stay alive
   * until the last of them ends, and are freed on its thread. A job must not use the
   * runtime object itself (`rt.block_on`) once it is destroyed, and one still running when
   * the process exits is cut off like any detached thread. Idempotent; shutdown() after a
   * false result waits for the jobs left.
   */
  bool shutdown_timeout(std::chrono::nanoseconds timeout) {
    return sched_->shutdown(std::max(timeout, std::chrono::nanoseconds::zero()));
  }
  /// Any duration (`2s`, `duration<double>(0.5)`); one too long for nanoseconds waits
  /// without limit.
  template <class Rep, class Period>
  bool shutdown_timeout(std::chrono::duration<Rep, Period> timeout) {
    using ns = std::chrono::nanoseconds;
    const double n = std::chrono::duration<double, std::nano>(timeout).count();
    if (!(n > 0)) return shutdown_timeout(ns::zero());
    if (n >= static_cast<double>(ns::max().count())) return shutdown_timeout(ns::max());
    return shutdown_timeout(std::chrono::ceil<ns>(timeout));
  }

  /// Per-worker counters (all zero unless Config.enable_metrics) and queue depths.
  runtime_metrics metrics() const { return sched_->metrics(); }

  std::size_t num_workers() const noexcept { return sched_->num_workers(); }

  /// multi_thread, or current_thread (builder::flavour, runtime_config::flavour).
  runtime_flavour flavour() const noexcept {
    return sched_->is_current_thread() ? runtime_flavour::current_thread
                                       : runtime_flavour::multi_thread;
  }

  /// Whether Asio's io_uring service runs on every worker (false: epoll only, see
  /// runtime_config::enable_io_uring).
  bool io_uring_active() const noexcept { return sched_->io_uring_active(); }

  /// A standard Asio executor for this runtime (see zokio/executor.hpp), the drop-in for an
  /// io_context's. It is unplaced: each I/O object made from it (socket, acceptor, timer,
  /// strand) lives on the next worker round-robin, so one executor passed everywhere spreads a
  /// program's connections over all workers; a strand made from it keeps the objects built on
  /// it together (see zokio/executor.hpp). `get_executor().with_home(i)` pins to worker i.
  zokio::executor get_executor() noexcept {
    return zokio::executor(*sched_, zokio::executor::unplaced);
  }

  /// The calling thread's worker index, or std::nullopt off this runtime's workers.
  std::optional<unsigned> current_worker() const noexcept {
    int i = sched_->current_worker_index();
    return i < 0 ? std::nullopt : std::optional<unsigned>(static_cast<unsigned>(i));
  }

  /// The single-threaded io_context semantics that code written for one `io_context::run()`
  /// thread relies on: everything given to this executor, and every completion of an I/O
  /// object made from it, runs one at a time, in order (an `asio::strand` over an executor
  /// pinned to the next worker round-robin, so its I/O objects live together on one worker).
  /// Plain get_executor() handlers may run on several workers at once. Each call makes a new,
  /// independent strand; copies share theirs. Also the way to keep a connection's objects
  /// (socket, its timers) together: one serial executor per connection.
  serial_executor get_serial_executor() {
    // Pinned, so that its objects share a worker; each new one on the next worker.
    return boost::asio::make_strand(zokio::executor(*sched_, sched_->place_io()));
  }

  /// The io_context worker `i` parks in and drives I/O on.
  boost::asio::io_context& worker_io_context(std::size_t i) noexcept {
    return sched_->worker_io_context(i);
  }

  detail::scheduler& scheduler() noexcept { return *sched_; }

 private:
  // block_on, and run() on current_thread, would block (or re-enter) the worker they run on:
  // refused on any runtime's worker thread.
  static void refuse_on_a_worker() {
    if (detail::scheduler::current() && detail::scheduler::current()->on_worker_thread())
      throw boost::system::system_error(make_error_code(errc::nested_block_on));
  }

  explicit basic_runtime(const detail::scheduler_options& o)
      : sched_(new detail::basic_scheduler<features>(checked(o))) {}

  static detail::scheduler_options default_options() {
    detail::scheduler_options o;
    o.worker_threads = Config.worker_threads;  // 0: decided by the topology (plan_workers)
    o.topology.pin_workers = Config.pin_workers;
    o.topology.workers_per_node = Config.workers_per_node;
    o.local_queue_capacity = Config.local_queue_capacity;
    o.global_queue_interval = Config.global_queue_interval;
    o.event_interval = Config.event_interval;
    o.max_lifo_polls = Config.max_lifo_polls;
    o.enable_io_uring = Config.enable_io_uring;
    o.unhandled_exception = Config.unhandled_exception;
    o.current_thread = Config.flavour == runtime_flavour::current_thread;
    o.priority_levels = Config.priority_levels;
    return o;
  }
  static const detail::scheduler_options& checked(const detail::scheduler_options& o) {
    if (o.local_queue_capacity < 2 || o.global_queue_interval == 0 || o.event_interval == 0)
      throw std::invalid_argument(
          "zokio::runtime: local_queue_capacity (>= 2), global_queue_interval and "
          "event_interval must be positive");
    return o;
  }

  std::unique_ptr<detail::scheduler, detail::scheduler::deleter> sched_;
};

using runtime = basic_runtime<>;
/// A runtime of the current_thread flavour by default (the builder can still choose).
using current_thread_runtime =
    basic_runtime<runtime_config{.flavour = runtime_flavour::current_thread}>;

}  // namespace zokio

#endif
