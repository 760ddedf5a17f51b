// The multi-worker work-stealing scheduler behind zokio::basic_runtime: the part that does not
// depend on the compile-time features (spawn, schedule's queues, shutdown, launch, the I/O
// driver's parking); basic_scheduler<Features> (basic_scheduler.hpp) adds the worker loop.
#ifndef ZOKIO_DETAIL_SCHEDULER_HPP
#define ZOKIO_DETAIL_SCHEDULER_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zokio/detail/blocking_pool.hpp>
#include <zokio/detail/config.hpp>
#include <zokio/detail/driver_signal.hpp>
#include <zokio/detail/idle.hpp>
#include <zokio/detail/inject_queue.hpp>
#include <zokio/detail/owned_tasks.hpp>
#include <zokio/detail/scheduler_features.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/detail/task_scheduler.hpp>
#include <zokio/detail/topology.hpp>
#include <zokio/detail/wake_gate.hpp>
#include <zokio/metrics.hpp>
#include <zokio/runtime_options.hpp>
#include <zokio/unhandled_exception.hpp>

namespace boost::asio {
class io_context;
}

namespace zokio::detail {

struct worker;

/// The scheduler runs with the runtime's options (zokio/runtime_options.hpp).
using scheduler_options = runtime_options;


class scheduler : public task_scheduler {
 public:
  /// Deleted through destroy() only (the last worker or blocking job may delete it).
  ZOKIO_DECL virtual ~scheduler();

  /// Allocates the task, registers it and schedules its first poll. Never fails silently:
  /// after shutdown the task is completed at once with errc::runtime_shutdown (and
  /// `*refused`, when given, is set). A `join_waker`, when given, is installed before the
  /// task can run, so that its completion wakes it without a first poll of the handle
  /// (join_set); it is dropped when the spawn is refused.
  /// `fork`: a child of the running task (the default), run depth-first when spawned on a
  /// worker; false for work that should keep wake order (Asio handlers posted to an executor).
  /// `level`: a priority level above 0 (checked by the caller, check_priority) queues the
  /// task on that level's shared queue instead. `meta`: its name and spawn location.
  template <future F>
  task_core<future_output_t<F>>* spawn(F&& f, waker* join_waker = nullptr,
                                       bool* refused = nullptr, bool fork = true,
                                       unsigned level = 0, const spawn_meta& meta = {}) {
    using cell = task_cell<std::decay_t<F>>;
    using namespace task_state;
    auto* t = cell::create(NOTIFIED | JOIN_INTEREST | (join_waker ? JOIN_WAKER : 0) | 3 * REF_ONE,
                           this, std::move(f), meta);
    t->priority = static_cast<std::uint8_t>(level);
    if (join_waker) t->join_waker = std::move(*join_waker);  // published by bind and schedule
    wake_gate_guard gate(outside_gate_key());
    const bool bound = bind(t);
    if (refused) *refused = !bound;
    if (!bound) {
      gate.release();  // dropping the future may wake other tasks
      if (join_waker) t->join_waker.reset();
      cell::complete_refused(t);
      return t;
    }
    if (level != 0)
      push_high(t);
    else if (fork)
      schedule_spawned(t);
    else
      schedule(t);
    return t;
  }

  /// spawn() without a join handle: the task starts with no join interest and two references
  /// (queue entry, owned list), so nobody pays the handle's drop (one RMW per spawn). Its
  /// output is dropped at completion; an exception goes to the unhandled-exception policy.
  /// After shutdown the future is dropped here and false returned.
  template <future F>
  bool spawn_detached(F&& f, bool fork = true, unsigned level = 0, const spawn_meta& meta = {}) {
    using cell = task_cell<std::decay_t<F>>;
    using namespace task_state;
    auto* t = cell::create(NOTIFIED | 2 * REF_ONE, this, std::move(f), meta);
    t->priority = static_cast<std::uint8_t>(level);
    wake_gate_guard gate(outside_gate_key());
    if (!bind(t)) {
      gate.release();
      cell::dealloc_fn(t);  // never registered nor queued: the future goes with the cell
      return false;
    }
    if (level != 0)
      push_high(t);
    else if (fork)
      schedule_spawned(t);
    else
      schedule(t);
    return true;
  }

  /// spawn() of a task that runs on the calling worker only (zokio::spawn_local): never
  /// stolen, never run inline by a join on another worker; wakes and aborts from anywhere
  /// queue it back on this worker (push_pinned). Precondition: called on one of our workers
  /// (on a worker the registration cannot be refused: teardown joins the workers first).
  template <future F>
  task_core<future_output_t<F>>* spawn_local(F&& f, const spawn_meta& meta = {}) {
    using cell = task_cell<std::decay_t<F>>;
    using namespace task_state;
    worker* w = local_worker();
    auto* t = cell::create(NOTIFIED | JOIN_INTEREST | 3 * REF_ONE, this, std::move(f), meta);
    t->home = worker_home(*w);
    bind(t);
    push_pinned(t);
    return t;
  }

  /// Spawns each future of `r` (moved out) as its own task, in order. On one of our workers
  /// each is a fork, as spawn() makes it. Elsewhere the cheap path for many: the tasks are
  /// registered under one lock and handed to the injector in batches (one push and one
  /// wake-up per batch instead of per task). After shutdown every task is completed at once
  /// with errc::runtime_shutdown, as spawn() does.
  template <future F, class Range>
  std::vector<task_core<future_output_t<F>>*> spawn_many(Range&& r) {
    using cell = task_cell<F>;
    using namespace task_state;
    std::vector<task_core<future_output_t<F>>*> ts;
    if constexpr (requires { std::size(r); }) ts.reserve(std::size(r));
    if (local_worker()) {
      for (auto&& f : r) ts.push_back(spawn(F(std::move(f))));
      return ts;
    }
    try {
      for (auto&& f : r)
        ts.push_back(cell::create(NOTIFIED | JOIN_INTEREST | 3 * REF_ONE, this, F(std::move(f))));
    } catch (...) {
      // Nothing is registered or queued yet: the made tasks are dropped as if never spawned.
      for (auto* t : ts) {
        static_cast<cell*>(t)->drop_future();
        cell::dealloc_fn(t);
      }
      throw;
    }
    std::vector<task_header*> hs(ts.begin(), ts.end());
    wake_gate_guard gate(outside_gate_key());
    if (!owned_.insert_shared_many(hs.data(), hs.size())) {
      gate.release();
      for (auto* t : ts) cell::complete_refused(t);
      return ts;
    }
    note_spawned_many(hs.data(), hs.size());
    inject_many(hs.data(), hs.size());
    return ts;
  }

  /// A spawn from outside the workers may race the runtime's teardown: a task of the
  /// runtime may destroy it (from inside) while this call still registers and queues. The
  /// wake gate (wake_gate.hpp) keeps the scheduler alive from the registration to the end of
  /// the push and the wake-up: teardown closes the owned lists (a later registration is
  /// refused), then waits for every gate held on this scheduler. On a worker of this runtime
  /// no gate is needed (teardown joins the workers first).
  const void* outside_gate_key() const noexcept {
    return on_worker_thread() ? nullptr : static_cast<const void*>(static_cast<const task_scheduler*>(this));
  }

  // schedule() and run_inline() (task_scheduler) are basic_scheduler's: they depend on the
  // LIFO slot and the metrics.
  /// Queues a newly spawned task: on one of our workers, the LIFO slot, the task it displaces
  /// going to the worker's spawn stack (depth-first); elsewhere the injector.
  virtual void schedule_spawned(task_header* t) noexcept = 0;

  /// Stops the workers, joins them, cancels every task left and frees it, then shuts the
  /// blocking pool down: queued jobs are dropped, running ones waited for. Everything is
  /// bounded by `timeout` from the call: false when the time ran out, with a worker still
  /// inside a poll (the rest of the teardown is then done by a later shutdown, or when the
  /// owner is destroyed, by the last worker to leave) or blocking jobs still running (left to
  /// finish on their own threads). Idempotent; concurrent calls return once the first one's
  /// teardown is over (or their own timeout ran out). On one of this scheduler's own threads
  /// (worker, blocking job) it throws system_error(errc::shutdown_from_inside), changing
  /// nothing: it would wait for itself.
  ZOKIO_DECL bool shutdown(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());
  /// The owner's destruction (deleter), from any thread, never blocking on itself: outside
  /// the runtime, a full shutdown then delete; on a worker (or after a shutdown that left a
  /// worker stuck in a poll), a stop, the teardown and delete then done by the last worker to
  /// leave its loop; on a blocking job, the teardown without waiting for the jobs, and the
  /// delete by the last job to end.
  ZOKIO_DECL void destroy() noexcept;

  /// Hands an exception nobody can join to the unhandled-exception policy (`where` says what
  /// threw it). Never throws (terminate policy: does not return).
  ZOKIO_DECL void report_unhandled(std::exception_ptr e, const char* where) noexcept override;
  /// The oldest exception kept by the propagate policy (nullptr: none), for block_on.
  ZOKIO_DECL std::exception_ptr take_unhandled() noexcept;
  bool has_unhandled() const noexcept {
    // Ordering: acquire, pairs with the release in report_unhandled (a hint; the deque is
    // read under its mutex).
    return unhandled_pending_.load(std::memory_order_acquire);
  }
  // --- priorities (impl/scheduler_queue.ipp) -------------------------------------------------
  /// runtime_config::priority_levels (1: priorities off).
  unsigned priority_levels() const noexcept { return opts_.priority_levels; }
  /// Throws std::invalid_argument for a level this runtime does not have.
  ZOKIO_DECL void check_priority(unsigned level) const;

  // --- the current_thread flavour (impl/current_thread.ipp) --------------------------------
  bool is_current_thread() const noexcept {
    return opts_.flavour == runtime_flavour::current_thread;
  }
  /// The calling thread becomes worker 0 and drives the runtime (block_on on a current_thread
  /// runtime); a wake of `sig` from another thread then unparks it. False when another
  /// thread drives it now, or after shutdown.
  ZOKIO_DECL bool enter_driver(driver_signal& sig) noexcept;
  /// Runs worker 0's loop on the driving thread until `sig` is woken, shutdown, or (with
  /// `until_no_work`) no outstanding Asio work is left (runtime::run()).
  ZOKIO_DECL void run_driver(const driver_signal& sig, bool until_no_work);
  /// The driving thread stops driving and wakes the other block_on callers (one of them
  /// takes over). May delete this scheduler (destroyed from inside): touch nothing after.
  ZOKIO_DECL void leave_driver(driver_signal& sig) noexcept;
  /// A wake of the driving block_on's future: unparks the driver unless it is the caller.
  ZOKIO_DECL void unpark_driver() noexcept;

  /// RAII: registers a block_on's waker, woken when an unhandled exception is reported.
  class driver_guard {
   public:
    ZOKIO_DECL driver_guard(scheduler& s, const waker& w);
    ZOKIO_DECL ~driver_guard();
    driver_guard(const driver_guard&) = delete;
    driver_guard& operator=(const driver_guard&) = delete;

   private:
    scheduler& s_;
    const waker* w_;
  };
  // --- outstanding work (runtime::run) ------------------------------------------------------
  // Counted as io_context counts it: tracked executors (executor_work_guard, executors that
  // Asio holds for pending operations, co_spawn's guard) and functions posted through
  // zokio::executor not yet run. Zokio tasks spawned with spawn() are not counted: they are
  // joined through their handles.
  //
  // Invariants. Every unit of work is one increment of a `started` counter and later one
  // increment of a `finished` counter, each made by the thread that starts / ends it on its
  // own shard: a worker's pair (written by that worker only: load + release store, no RMW,
  // no shared cache line on the hot path) or the shared pair for other threads (fetch_add,
  // release). All counters only grow. A hand-over (new work made before the old is released,
  // e.g. an operation completing into a handler that starts the next one) has the new start
  // happen-before the old finish. outstanding_work() reads every `finished` (acquire), then
  // every `started` (acquire): a finish it sees carries the starts that happened before it,
  // so a chain of hand-overs is never read as zero (the last link's start is seen, its
  // finish is not). io_context does it with one atomic that every operation writes; here the
  // workers never share a line for it.

  /// One more unit of outstanding work.
  void work_started() noexcept {
    work_slot& s = tl_work_slot;
    if (s.owner == static_cast<const task_scheduler*>(this))  // release: pairs with outstanding_work()'s acquire loads
      s.started->store(s.started->load(std::memory_order_relaxed) + 1, std::memory_order_release);
    else
      foreign_work_started_.fetch_add(1, std::memory_order_release);  // same pairing
  }
  /// One less.
  void work_finished() noexcept {
    work_slot& s = tl_work_slot;
    if (s.owner == static_cast<const task_scheduler*>(this))  // release: a scan that sees this finish sees the starts before it
      s.finished->store(s.finished->load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
    else
      foreign_work_finished_.fetch_add(1, std::memory_order_release);  // same pairing
  }
  /// The outstanding work now: conservative (never 0 while a hand-over chain is alive).
  ZOKIO_DECL long outstanding_work() const noexcept;
  /// Blocks until no outstanding work is left (or shutdown, or an unhandled exception to
  /// rethrow, which it returns true for). Off the workers only.
  ZOKIO_DECL bool wait_for_no_work();

  /// Asks the workers to stop; does not wait.
  ZOKIO_DECL void request_stop() noexcept;
  bool is_shutdown() const noexcept { return shutdown_.load(std::memory_order_acquire); }

  ZOKIO_DECL runtime_metrics metrics() const;
  /// True when every worker's io_context has a working io_uring service (see
  /// doc/asio_bridge.md); false when disabled, not compiled in, or refused by the kernel.
  bool io_uring_active() const noexcept { return io_uring_active_; }
  std::size_t num_workers() const noexcept { return workers_.size(); }
  /// The io_context of worker i. Throws system_error(errc::no_io_driver) on a runtime built
  /// without the I/O driver (runtime_config::enable_io_driver): there is none.
  ZOKIO_DECL boost::asio::io_context& worker_io_context(std::size_t i);

  /// Home worker for a new executor: the calling worker, else round-robin.
  ZOKIO_DECL unsigned pick_home() noexcept;
  /// The worker a new I/O object made from an unplaced executor lives on (round-robin).
  ZOKIO_DECL unsigned place_io() noexcept;
  /// The calling thread's worker index, or -1 when it is not one of our workers.
  ZOKIO_DECL int current_worker_index() const noexcept;

  /// The pool that runs spawn_blocking jobs (threads started on demand, bounded).
  blocking_pool& blocking() noexcept { return blocking_; }

  /// The topology the workers were placed on (topology::describe()).
  const std::string& topology_description() const noexcept { return topology_; }

  /// The scheduler whose worker or block_on runs on this thread, or nullptr.
  ZOKIO_DECL static scheduler* current() noexcept;

  /// Registers a new task in the owned lists; false after shutdown. Virtual: basic_scheduler
  /// adds the spawn hook (F.hooks); spawn called it out of line already.
  ZOKIO_DECL virtual bool bind(task_header* t) noexcept;
  // The outside spawn_many registered `n` tasks at once (bind's hook, for a batch).
  /// Shutdown: the workers are joined, no task is cancelled yet.
  virtual void on_workers_joined() noexcept {}
  virtual void note_spawned_many(task_header* const* ts, std::size_t n) noexcept {
    (void)ts;
    (void)n;
  }
  // Calls a hook; an exception goes to the unhandled-exception policy (runtime_hooks.hpp).
  template <class Fn, class... A>
  void call_hook(const Fn& f, const A&... a) noexcept {
    try {
      f(a...);
    } catch (...) {
      report_unhandled(std::current_exception(), "a runtime hook");
    }
  }
  /// Completion: unlinks from the owned lists. True: the caller drops the list's reference
  /// (false: handed back to the owning worker, see owned_tasks.hpp).
  ZOKIO_DECL bool release_owned(task_header* t) noexcept override;
  /// The first pending poll of a task spawned on a worker (owned_tasks.hpp, insert).
  ZOKIO_DECL void link_owned(task_header* t) noexcept override;

  /// The owner's deleter (basic_runtime): destroy(). Blocking jobs left running by a timed
  /// shutdown keep the scheduler (their scheduler::current(), which then refuses spawns)
  /// until the last of them ends and deletes it.
  struct deleter {
    void operator()(scheduler* s) const noexcept { s->destroy(); }
  };

  /// RAII: marks the calling (non-worker) thread as inside this runtime, for zokio::spawn.
  class enter_guard {
   public:
    ZOKIO_DECL explicit enter_guard(scheduler* s) noexcept;
    ZOKIO_DECL ~enter_guard();
    enter_guard(const enter_guard&) = delete;
    enter_guard& operator=(const enter_guard&) = delete;

   private:
    scheduler* prev_;
  };

 protected:
  // --- launch (impl/scheduler_launch.ipp): basic_scheduler's constructor places the workers
  // (place_flat, or place_on_nodes with the numa feature), builds the base, then start()s the
  // workers once its own part is built (a worker thread calls its virtual loop at once).
  struct placement {
    topology topo;
    std::vector<worker_placement> plan;
  };
  // One node made of the cpus this process may use (current_thread: one worker, unplaced).
  ZOKIO_DECL static placement place_flat(const scheduler_options& opts);
  // The NUMA topology (topology::resolve) and the workers planned over its nodes.
  ZOKIO_DECL static placement place_on_nodes(const scheduler_options& opts);
  ZOKIO_DECL scheduler(const scheduler_options& opts, placement where);
  // Builds the workers (each by its own thread, with counters[i] when not null) and starts
  // their loops; `bind` (numa feature only) binds an unpinned worker to its node's cpus on a
  // real multi-node machine. Throws what building a worker threw, with nothing left running.
  ZOKIO_DECL void start(worker_counters* counters,
                        void (*bind)(const std::vector<unsigned>&) = nullptr);
  // The destructor's work: shutdown, queues drained, workers freed, and what the propagate
  // policy kept logged. basic_scheduler's destructor calls it while the object is whole (a
  // task dropped here may wake another: schedule() is still its own).
  ZOKIO_DECL void teardown() noexcept;

  // The worker loop of a thread (until shutdown) / of the current_thread driver (until its
  // future is woken, or no work is left with `until_no_work`): basic_scheduler's.
  virtual void run_thread_loop(worker& w) = 0;
  virtual void run_driver_loop(worker& w, const driver_signal& sig, bool until_no_work) = 0;
  // basic_scheduler's, so that the code of a runtime without the I/O driver never names an
  // io_context: builds worker i (with its worker_io when the feature is on); interrupts w's
  // sleep (io_context::stop(), or a raise of w.unpark); starts the I/O driver's services once
  // every worker is built (io_uring); lets w's io_context run out of work at shutdown.
  virtual worker* make_worker(unsigned i, worker_placement p, worker_counters* c) = 0;
  virtual void interrupt_park(worker& w) noexcept = 0;
  virtual void start_io() = 0;
  virtual void release_io_work(worker& w) noexcept = 0;
  // The calling thread becomes worker `w` (its thread_locals; `stack_base`: the frame
  // run_inline's stack bound counts from) / stops being one. Worker threads and the
  // current_thread driver.
  ZOKIO_DECL void enter_worker_thread(worker& w, std::uintptr_t stack_base) noexcept;
  ZOKIO_DECL static void leave_worker_thread() noexcept;
  // The frame address run_inline's stack bound counts from (0: not a worker thread).
  ZOKIO_DECL static std::uintptr_t stack_base() noexcept;
  ZOKIO_DECL void push_local(worker& w, task_header* t, bool notify) noexcept;
  // The owner's deque pop and LIFO-slot take / swap: atomic RMWs against thieves, plain
  // loads and stores on a one-worker runtime (single_worker_). Defined in scheduler_queue.ipp.
  ZOKIO_DECL task_header* pop_local(worker& w) noexcept;
  ZOKIO_DECL task_header* take_lifo(worker& w) noexcept;
  ZOKIO_DECL task_header* swap_lifo(worker& w, task_header* t) noexcept;
  // run_inline's take-back: empties the slot if it holds `t`; true when it did.
  ZOKIO_DECL bool take_lifo_if(worker& w, task_header* t) noexcept;
  // The spawn stack (worker.hpp): push a displaced spawned task; move the oldest half to the
  // deque when the deque is empty (so thieves always find the oldest work).
  ZOKIO_DECL void push_spawned(worker& w, task_header* t) noexcept;
  ZOKIO_DECL void spill_spawned(worker& w, std::uint32_t n, bool notify) noexcept;
  // Pops the top of the spawn stack (never a hole) and trims the holes run_inline left below.
  ZOKIO_DECL static task_header* pop_spawned(worker& w) noexcept;
  ZOKIO_DECL bool spill_wanted(const worker& w) const noexcept;  // deque empty, >1 worker
  // push_local of a woken (or yielding) task: counted, so the deque gets fairness turns
  // against the spawn stack only while woken tasks wait there. A pinned task (spawn_local)
  // goes to its home's pinned queue instead.
  ZOKIO_DECL void push_woken(worker& w, task_header* t, bool notify) noexcept;
  // Pinned tasks (spawn_local): queued on their home worker's pinned queue from any thread;
  // from another thread the home worker is unparked (a stale unpark costs it one more loop).
  ZOKIO_DECL void push_pinned(task_header* t) noexcept;
  // A task with a home (spawn_local) or a priority: its home's pinned queue, or its level's
  // shared queue (push_high). Where schedule() and push_woken send them.
  ZOKIO_DECL void push_routed(task_header* t) noexcept;
  // Priorities: push onto the task's level's shared queue (from any thread) and wake a worker;
  // pop the oldest task of the highest non-empty level (nullptr: none).
  ZOKIO_DECL void push_high(task_header* t) noexcept;
  ZOKIO_DECL task_header* pop_high() noexcept;
  // The starvation guard: after this many tasks in a row from the priority queues, a worker
  // gives one turn to its other work (when it has some).
  static constexpr std::uint32_t priority_fairness = 32;
  // opts_.park_spin: true when work for `w` showed up within the spin (then no park).
  ZOKIO_DECL bool spin_before_park(worker& w) noexcept;
  ZOKIO_DECL static task_header* pop_pinned(worker& w) noexcept;
  ZOKIO_DECL static std::uint32_t worker_home(const worker& w) noexcept;
  // A busy worker's deque gets one turn in this many spawn-stack pops (fairness for woken
  // tasks while a fork-join tree runs depth-first on this worker).
  static constexpr std::uint32_t spawn_fairness = 32;
  // The io_context's turn on a busy worker (every event_interval ticks) is skipped when the
  // last one ran no handler and began less than io_turn_min_gap_ns ago: with tasks of
  // ~100 ns the turn's epoll_wait (about 1 us on a VM) cost 15-20 % of chained_spawn's time,
  // while a turn every 20 us still delivers I/O and timers long before anyone notices. A
  // turn that found completions keeps the every-event_interval cadence (without that, TCP
  // bulk transfers lost 15 %: their reads wait on those turns).
  static constexpr std::int64_t io_turn_min_gap_ns = 20'000;
  // run_inline: native stack an inline run may start at (below the worker loop's frame).
  static constexpr std::uintptr_t inline_stack_limit = 512 * 1024;

  // Fairness of inline runs: a loop task's inline runs may go on for inline_slice_ns
  // (checked every inline_check_every runs) when tasks wait in the injector (outside spawns,
  // wakes from other threads), and for inline_max_slices slices otherwise; then joins wait as
  // usual, the tree unwinds to the worker loop, and the injector, the io_context and woken
  // tasks get their turns first (idle siblings steal this worker's LIFO slot and deque and
  // poll its io_context meanwhile). Not 1 ms always: each unwind restarts the tree from the
  // queues, and unwinding every 1-2 ms made skynet 8 run 10-30 % longer with 60 % more peak
  // memory (perf_forkjoin, inline_unwinds metric).
  static constexpr std::int64_t inline_slice_ns = 1'000'000;
  static constexpr std::uint32_t inline_check_every = 64;
  static constexpr std::uint32_t inline_max_slices = 10;
  // Set by run_inline when the slice ran out: no inline run until the loop's next task.
  static constexpr std::uint32_t inline_closed = ~std::uint32_t{0};
  ZOKIO_DECL void push_inject(task_header* t) noexcept;
  // spawn_many off the workers: the injector in batches of up to half a deque (what a worker
  // moves to its deque at once), one wake-up per batch.
  ZOKIO_DECL void inject_many(task_header* const* ts, std::size_t n) noexcept;
  ZOKIO_DECL task_header* take_injected(worker& w, std::size_t& taken) noexcept;
  ZOKIO_DECL void notify_parked() noexcept;
  ZOKIO_DECL void end_search(worker& w) noexcept;
  ZOKIO_DECL bool has_visible_work() const noexcept;
  // has_visible_work(), this worker's pinned queue, or shutdown: what ends a spin or a park.
  ZOKIO_DECL bool should_wake(const worker& w) const noexcept;
  ZOKIO_DECL void unpark(unsigned i);
  ZOKIO_DECL void wake_untimed_sleepers(const worker& self) noexcept;
  ZOKIO_DECL void restart_io(worker& v) noexcept;
  // Pops every queue entry (LIFO slots, spawn stacks, deques, pinned, priority and injected
  // queues), handing each entry's reference to f.
  template <class F>
  void pop_queued(F f) noexcept;
  ZOKIO_DECL void drain_queues() noexcept;
  ZOKIO_DECL bool shutdown_impl(std::chrono::nanoseconds timeout, bool from_pool) noexcept;
  ZOKIO_DECL void worker_exited() noexcept;
  ZOKIO_DECL void delete_or_adopt() noexcept;
  ZOKIO_DECL std::size_t run_io(worker& v, bool block);
  // Handlers one non-blocking turn of an io_context runs at most (run_io): event_interval,
  // so that a worker alternates between at most that many task polls and that many
  // handlers. Tokio bounds a driver turn too (1,024 events, which only wake tasks there).
  std::size_t io_poll_budget() const noexcept {
    return opts_.event_interval != 0 ? opts_.event_interval : 1;
  }
  /// The calling thread's worker when it is one of ours, else nullptr.
  ZOKIO_DECL worker* local_worker() const noexcept;

  // How long a parked worker sleeps, while a sibling is awake, before it polls that sibling's
  // io_context: the latency bound for I/O owned by a worker stuck in a long poll.
  static constexpr std::chrono::milliseconds io_watch_interval{1};

  // First member, so destroyed last: counts live runtimes for the leak report.
  struct live_token {
    ZOKIO_DECL live_token() noexcept;
    ZOKIO_DECL ~live_token();
  } live_token_;
  scheduler_options opts_;
  std::atomic<std::uint64_t> stalls_{0};  // the stall watchdog's reports (relaxed: a count)
  friend class stall_watchdog;
  std::vector<worker*> workers_;  // each built by its own thread (see the constructor)
  std::vector<std::thread> threads_;
  inject_queue inject_;
  idle idle_;
  owned_tasks owned_;
  std::string topology_;  // topology::describe() of the placement, for metrics
  placement where_;       // the placement, until start() has used it
  bool bind_to_node_ = false;  // a real multi-node topology (start()'s `bind` applies)
  bool metrics_ = false;       // workers have counters (metrics())
  // Worker i's latency histograms at histograms_[i] (basic_scheduler's storage, set before
  // start), or nullptr without runtime_config::enable_latency_histograms.
  worker_histograms* histograms_ = nullptr;
  // Priorities: high_[l - 1] queues level l's tasks (l >= 1); every worker serves them before
  // its own work (next_task). high_pending_ counts their tasks: a hint read on every
  // next_task when priorities are on (relaxed; a miss is caught on the next turn, and parking
  // reads it after the seq_cst fence that push_high's notify_parked pairs with).
  std::vector<std::unique_ptr<inject_queue>> high_;
  const bool has_priorities_;
  // One worker (current_thread, a thread-per-core shard, worker_threads(1)): nobody steals
  // its deque or its LIFO slot, so the owner's pops and slot swaps need no atomic RMW
  // (pop_local, take_lifo, swap_lifo). Set before any worker runs, never changed.
  bool single_worker_ = false;
  alignas(ZOKIO_CACHE_LINE) std::atomic<long> high_pending_{0};
  alignas(ZOKIO_CACHE_LINE) std::atomic<bool> shutdown_{false};
  std::atomic<bool> joined_{false};
  std::atomic<unsigned> next_home_{0};
  alignas(ZOKIO_CACHE_LINE) std::atomic<unsigned> next_io_{0};  // place_io's round-robin
  std::atomic<std::uint64_t> steal_seq_{0};  // metrics: orders the workers' first steals
  bool io_uring_active_ = false;
  // Shutdown (shutdown_impl): one teardown at a time; the workers' exits counted under
  // exit_mu_ (a timed shutdown waits for them with a deadline instead of join()).
  std::mutex shutdown_mu_;
  std::condition_variable shutdown_cv_;
  bool shutdown_busy_ = false;  // a shutdown_impl is under way (shutdown_mu_)
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  unsigned running_workers_ = 0;    // worker loops not yet left (exit_mu_)
  bool workers_abandoned_ = false;  // a timed shutdown gave up waiting for them (exit_mu_)
  bool orphaned_ = false;           // destroyed while they ran: the last one deletes (exit_mu_)
  bool driving_ = false;            // current_thread: a block_on drives worker 0 (exit_mu_)
  // Unhandled exceptions kept for block_on (propagate policy), and the block_on wakers.
  std::mutex unhandled_mu_;
  std::deque<std::exception_ptr> unhandled_;
  std::vector<const waker*> drivers_;
  std::atomic<bool> unhandled_pending_{false};
  // Outstanding work of threads that are not workers (see work_started); the workers' own
  // counters are in their worker struct.
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::uint64_t> foreign_work_started_{0};
  std::atomic<std::uint64_t> foreign_work_finished_{0};
  ZOKIO_DECL void setup_io_uring();
  // Shut down in shutdown() after the tasks are cancelled (see there); threads on demand.
  blocking_pool blocking_;
};

}  // namespace zokio::detail

#endif
