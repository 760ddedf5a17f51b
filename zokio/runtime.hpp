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
#include <zokio/runtime_options.hpp>
#include <zokio/task_dump.hpp>
#include <zokio/task_id.hpp>
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
                                                      .numa = Config.numa_aware,
                                                      .hooks = Config.enable_hooks,
                                                      .stall_watch = Config.enable_stall_watchdog,
                                                      .task_dump = Config.enable_task_dump,
                                                      .trace = Config.enable_trace,
                                                      .latency_histograms =
                                                          Config.enable_latency_histograms,
                                                      .io_driver = Config.enable_io_driver};

  /// Config's run-time options (runtime_options::from(Config)): what basic_runtime() uses.
  static runtime_options default_options() { return runtime_options::from(Config); }

  /**
   * Run-time overrides of Config (what a command-line flag or a config file decides): a
   * chainable way to set the fields of one runtime_options (each setter writes the field of
   * the same name, documented there), starting from default_options() or a given struct.
   */
  class builder {
   public:
    builder() : opts_(basic_runtime::default_options()) {}
    explicit builder(runtime_options o) : opts_(std::move(o)) {}
    /// The options built so far.
    const runtime_options& options() const noexcept { return opts_; }

    builder& flavour(runtime_flavour f) { return set(&runtime_options::flavour, f); }
    /// At least 1 (build() throws on 0); leave unset for one per cpu.
    builder& worker_threads(unsigned n) {
      workers_set_ = true;
      return set(&runtime_options::worker_threads, n);
    }
    /// topology.pin_workers: pin each worker thread to one cpu of its node.
    builder& pin_workers(bool on) {
      opts_.topology.pin_workers = on;
      return *this;
    }
    /// topology.workers_per_node.
    builder& workers_per_node(unsigned n) {
      opts_.topology.workers_per_node = n;
      return *this;
    }
    /// topology.nodes: the NUMA node ids to use, in this order (default: all).
    builder& numa_nodes(std::vector<unsigned> ids) {
      opts_.topology.nodes = std::move(ids);
      return *this;
    }
    /// topology.fake: a topology such as "0:0-1;1:2-3" (node:cpus;...), as ZOKIO_TOPOLOGY,
    /// which it overrides: several nodes on a machine with one, for tests.
    builder& topology(std::string spec) {
      opts_.topology.fake = std::move(spec);
      return *this;
    }
    builder& local_queue_capacity(std::size_t n) {
      return set(&runtime_options::local_queue_capacity, n);
    }
    builder& global_queue_interval(unsigned n) {
      return set(&runtime_options::global_queue_interval, n);
    }
    builder& event_interval(unsigned n) { return set(&runtime_options::event_interval, n); }
    builder& max_lifo_polls(unsigned n) { return set(&runtime_options::max_lifo_polls, n); }
    builder& enable_io_uring(bool on) { return set(&runtime_options::enable_io_uring, on); }
    builder& thread_name(std::string name) {
      return set(&runtime_options::thread_name, std::move(name));
    }
    builder& park_spin(std::chrono::nanoseconds d) { return set(&runtime_options::park_spin, d); }
    builder& stall_threshold(std::chrono::nanoseconds d) {
      return set(&runtime_options::stall_threshold, d);
    }
    /// runtime_options::dump_signal (runtime_config::enable_task_dump).
    builder& dump_signal(int signo) { return set(&runtime_options::dump_signal, signo); }
    /// runtime_options::trace_capacity (runtime_config::enable_trace).
    builder& trace_capacity(std::size_t events) {
      return set(&runtime_options::trace_capacity, events);
    }
    /// hooks.on_thread_start, and the other runtime_hooks (runtime_config::enable_hooks).
    builder& on_thread_start(std::function<void()> f) { return hook(&runtime_hooks::on_thread_start, std::move(f)); }
    builder& on_thread_stop(std::function<void()> f) { return hook(&runtime_hooks::on_thread_stop, std::move(f)); }
    builder& on_thread_park(std::function<void()> f) { return hook(&runtime_hooks::on_thread_park, std::move(f)); }
    builder& on_thread_unpark(std::function<void()> f) { return hook(&runtime_hooks::on_thread_unpark, std::move(f)); }
    builder& on_task_spawn(std::function<void(const task_info&)> f) { return hook(&runtime_hooks::on_task_spawn, std::move(f)); }
    builder& on_task_terminate(std::function<void(const task_info&)> f) { return hook(&runtime_hooks::on_task_terminate, std::move(f)); }
    builder& before_poll(std::function<void(const task_info&)> f) { return hook(&runtime_hooks::before_poll, std::move(f)); }
    builder& after_poll(std::function<void(const task_info&)> f) { return hook(&runtime_hooks::after_poll, std::move(f)); }
    builder& max_blocking_threads(std::size_t n) {
      return set(&runtime_options::max_blocking_threads, n);
    }
    /// blocking_keep_alive.
    builder& thread_keep_alive(std::chrono::nanoseconds d) {
      return set(&runtime_options::blocking_keep_alive, d);
    }
    builder& unhandled_exception(unhandled_exception_policy p) {
      return set(&runtime_options::unhandled_exception, p);
    }
    /// Throws std::invalid_argument for a configuration that cannot work (0 workers, absent
    /// NUMA nodes or cpus, ...), with a message saying which.
    basic_runtime build() const {
      if (workers_set_ && opts_.worker_threads == 0)
        throw std::invalid_argument(
            "zokio::runtime: worker_threads(0): a runtime needs at least one worker (leave "
            "it unset for one per cpu)");
      return basic_runtime(opts_);
    }

   private:
    template <class T, class V>
    builder& set(T runtime_options::*field, V&& v) {
      opts_.*field = std::forward<V>(v);
      return *this;
    }
    template <class T>
    builder& hook(T runtime_hooks::*field, T f) {
      opts_.hooks.*field = std::move(f);
      return *this;
    }
    runtime_options opts_;
    bool workers_set_ = false;
  };

  basic_runtime() : basic_runtime(default_options()) {}
  /// A runtime with these options (start from default_options()). Throws
  /// std::invalid_argument for options that cannot work, as builder::build() does.
  explicit basic_runtime(const runtime_options& o)
      : sched_(new detail::basic_scheduler<features>(checked(o))) {}
  basic_runtime(basic_runtime&&) noexcept = default;
  basic_runtime& operator=(basic_runtime&&) noexcept = default;
  ~basic_runtime() = default;  // scheduler's destructor shuts down

  /// Starts running `f` on the workers. The handle is a future of f's output. The task gets
  /// an id (join_handle::id(), zokio::task_id) and remembers where it was spawned.
  template <future F>
  join_handle<future_output_t<F>> spawn(
      F f, source_location where = source_location::current()) {
    return join_handle<future_output_t<F>>(
        sched_->spawn(std::move(f), nullptr, nullptr, true, 0, {{}, where}));
  }

  /// spawn() with options: `rt.spawn(f, zokio::spawn_options{.name = "fetch"})`.
  template <future F>
  join_handle<future_output_t<F>> spawn(
      F f, const spawn_options& o, source_location where = source_location::current()) {
    return join_handle<future_output_t<F>>(
        sched_->spawn(std::move(f), nullptr, nullptr, true, 0, {o.name, where}));
  }

  /// spawn() at a priority level (zokio/priority.hpp): the task runs before level-0 work on
  /// every worker. Throws std::invalid_argument for a level Config.priority_levels lacks.
  template <future F>
  join_handle<future_output_t<F>> spawn(
      F f, priority p, source_location where = source_location::current()) {
    sched_->check_priority(p.level);
    return join_handle<future_output_t<F>>(
        sched_->spawn(std::move(f), nullptr, nullptr, true, p.level, {{}, where}));
  }

  /// Fire and forget: spawn() without a handle, cheaper than `spawn(f).detach()` (no handle
  /// to drop). The output is discarded; an exception goes to the unhandled-exception policy
  /// (builder::unhandled_exception). Returns false, with `f` dropped, after shutdown.
  template <future F>
  bool spawn_detached(F f, source_location where = source_location::current()) {
    return sched_->spawn_detached(std::move(f), true, 0, {{}, where});
  }
  /// spawn_detached() at a priority level (see spawn(f, priority)).
  template <future F>
  bool spawn_detached(F f, priority p,
                      source_location where = source_location::current()) {
    sched_->check_priority(p.level);
    return sched_->spawn_detached(std::move(f), true, p.level, {{}, where});
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

  /**
   * Every live task: id, name, spawn place, status (queued, running, waiting), time since its
   * last poll, and for a waiting zokio::task the co_await point of each frame it is
   * suspended in (see zokio/task_dump.hpp). Exists with runtime_config::enable_task_dump
   * only. Any thread, a task of this runtime included (it is then listed as running); after
   * shutdown began, no tasks. Each waiting task is held still while it is read: a wake
   * meanwhile is delivered when the dump lets it go.
   */
  task_dump dump() const
    requires(Config.enable_task_dump)
  {
    return static_cast<detail::basic_scheduler<features>&>(*sched_).dump();
  }

  /**
   * The flight recorder's events still in its rings (the last trace_capacity per worker) as
   * Chrome Trace Event JSON, which chrome://tracing and https://ui.perfetto.dev open (and
   * `tools/trace_timeline.py` draws as a PNG): a row per worker, a slice per poll and per
   * sleep, instant events for spawns, wakes and steals. Exists with
   * runtime_config::enable_trace only. Any thread, while the runtime runs; recording goes on.
   */
  std::string trace_json() const
    requires(Config.enable_trace)
  {
    return static_cast<detail::basic_scheduler<features>&>(*sched_).trace_json();
  }

  /// Per-worker counters and busy time (all zero unless Config.enable_metrics), the poll-time
  /// and schedule-latency histograms (empty unless Config.enable_latency_histograms), and
  /// queue depths.
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

  /// The io_context worker `i` parks in and drives I/O on. Exists with
  /// runtime_config::enable_io_driver only (the default).
  boost::asio::io_context& worker_io_context(std::size_t i) noexcept
    requires(Config.enable_io_driver)
  {
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

  static const runtime_options& checked(const runtime_options& o) {
    if (o.local_queue_capacity < 2 || o.global_queue_interval == 0 || o.event_interval == 0)
      throw std::invalid_argument(
          "zokio::runtime: local_queue_capacity (>= 2), global_queue_interval and "
          "event_interval must be positive");
    if (!Config.enable_task_dump && o.dump_signal != 0)
      throw std::invalid_argument(
          "zokio::runtime: dump_signal needs runtime_config::enable_task_dump (a compile-time "
          "feature)");
    if (!Config.enable_hooks && o.hooks.any())
      throw std::invalid_argument(
          "zokio::runtime: hooks need runtime_config::enable_hooks (a compile-time feature)");
    if (o.priority_levels != Config.priority_levels)
      throw std::invalid_argument(
          "zokio::runtime: priority_levels is runtime_config's (a compile-time feature)");
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
