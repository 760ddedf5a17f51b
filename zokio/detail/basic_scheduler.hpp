// basic_scheduler<Features>: detail::scheduler with the parts that depend on the compile-time
// features (runtime_config): the worker loop, stealing, parking, schedule and inline joins.
//
// Invariants: a feature that is off is absent, not skipped: its code is never instantiated
// (if constexpr on F) and its data never allocated (worker_counters_storage<false> is empty).
// Everything else (queues, spawn, shutdown, launch, the I/O driver) is the non-template base,
// compiled once in the library. The base starts the workers only from this class's constructor
// (start), once the object is whole, and this class's destructor tears down (teardown) before
// its part is gone: a worker thread or a task dropped at teardown calls the virtual loop and
// schedule() of the complete object only.
#ifndef ZOKIO_DETAIL_BASIC_SCHEDULER_HPP
#define ZOKIO_DETAIL_BASIC_SCHEDULER_HPP

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <zokio/detail/config.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/scheduler_features.hpp>
#include <zokio/detail/stall_watchdog.hpp>
#include <zokio/detail/task_registry.hpp>
#include <zokio/detail/trace_recorder.hpp>

namespace zokio::detail {

template <scheduler_features F>
class basic_scheduler final : public scheduler {
 public:
  static constexpr scheduler_features features = F;

  /// Places the workers (NUMA topology with F.numa, else one node of the allowed cpus) and
  /// starts them. Throws std::invalid_argument for a placement that cannot work.
  explicit basic_scheduler(const scheduler_options& opts);
  ~basic_scheduler() override;

  /// Queues a notified task (holding its queue reference): the LIFO slot (F.lifo_slot) when
  /// called on one of our workers, else its deque; the injector off the workers.
  void schedule(task_header* t) noexcept override;
  void schedule_spawned(task_header* t) noexcept override;
  /// A join found `t` not started: when the calling thread is one of our workers with native
  /// stack to spare and inline time left, polls `t` here, its queue entry taken back from this
  /// worker's LIFO slot or spawn stack, or else `t` claimed (task_claim) and the entry left
  /// stale. Returns not_run, ran, or held (completed: the joiner takes the result and calls
  /// task_finish_joined). See doc/architecture.md, "Joins run children".
  inline_run run_inline(task_header* t) noexcept override;
  /// The base's, plus the spawn and terminate hooks with F.hooks (an override either way:
  /// the calls were virtual already).
  bool bind(task_header* t) noexcept override;
  bool release_owned(task_header* t) noexcept override;
  void note_spawned_many(task_header* const* ts, std::size_t n) noexcept override;
  /// F.task_dump: every live task (task_registry.hpp); without it, none. (runtime::dump()
  /// exists with the feature only; no constraint here, which clang 14 would ignore in the
  /// library's explicit instantiations.)
  task_dump dump() {
    if constexpr (F.task_dump)
      return dump_.registry->dump();
    else
      return {};
  }
  /// F.trace: the recorder's events as Chrome Trace Event JSON; without it, no events.
  std::string trace_json() const {
    if constexpr (F.trace)
      return trace_.recorder->chrome_json();
    else
      return "{\"traceEvents\":[]}";
  }

 private:
  static placement place(const scheduler_options& opts) {
    if constexpr (F.numa)
      return place_on_nodes(opts);
    else
      return place_flat(opts);
  }
  void run_thread_loop(worker& w) override;
  void on_workers_joined() noexcept override;
  void run_driver_loop(worker& w, const driver_signal& sig, bool until_no_work) override;
  worker* make_worker(unsigned i, worker_placement p, worker_counters* c) override;
  void interrupt_park(worker& w) noexcept override;
  void start_io() override;
  void release_io_work(worker& w) noexcept override;
  template <class Stop>
  void run_loop(worker& w, Stop stop);
  task_header* next_task(worker& w);
  task_header* search(worker& w);
  void park(worker& w);
  // park()'s sleep: in the io_context (running its handlers meanwhile), or, without the I/O
  // driver, on worker::unpark.
  void park_in_io(worker& w);
  void park_on_flag(worker& w);
  void run_task(worker& w, task_header* t);
  // task_run(t) on worker w, told to a poll_watch when the features observe polls.
  bool poll_task(worker& w, task_header* t);
  static constexpr bool observed =
      F.hooks || F.stall_watch || F.task_dump || F.trace || F.latency_histograms;
  // Sees each poll itself (task_harness.hpp) for the hooks, the stall watchdog, the task
  // dump, the histograms and the trace: compiled into the poll path, with the polling worker
  // at hand (no virtual call, no thread-local lookup per event).
  struct poll_watch {
    static constexpr bool enabled = true;
    basic_scheduler& s;
    worker& w;
    void before_poll(task_header* t) noexcept;
    void after_poll(task_header* t, task_header* outer) noexcept;
  };
  // F.latency_histograms: notes that `t` is queued now (task_header::queued_at, in ticks of
  // tick_clock.hpp: a third of steady_clock's cost, and three reads per poll).
  static void stamp_queued(task_header* t) noexcept {
    if constexpr (F.latency_histograms) t->queued_at.store(ticks_now(), std::memory_order_relaxed);
    (void)t;
  }
  // F.latency_histograms: the tick clock's rate (ns per tick), measured once per process.
  struct histogram_clock {
    double ns_per_tick = ticks_ns_rate();
  };
  struct no_histogram_clock {};
  // F.metrics: w's busy period ends (it goes to sleep or leaves its loop) or begins.
  static void end_busy(worker& w) noexcept;
  static void begin_busy(worker& w) noexcept;
  struct busy_period {
    worker& w;
    explicit busy_period(worker& x) noexcept : w(x) { begin_busy(w); }
    ~busy_period() { end_busy(w); }
  };
  // F.trace: records an event on the calling thread's ring.
  void trace(trace_kind k, std::uint64_t value = 0) noexcept {
    trace_on(local_worker(), k, value);
  }
  // F.trace: records an event on w's ring (w: local_worker(), already looked up), or on the
  // ring for other threads when w is null.
  void trace_on(worker* w, trace_kind k, std::uint64_t value = 0) noexcept;
  // F.trace: worker w's loop does something between polls besides taking the next task.
  void trace_gap(worker& w) noexcept;
  // Runs v's ready handlers without blocking, unless another thread runs v's io_context now
  // (0 without the I/O driver).
  std::size_t poll_io(worker& v);
  // No task anywhere: the handlers of busy siblings' io_contexts (true: some ran; false
  // without the I/O driver).
  bool poll_sibling_io(worker& w);
  void count_io(worker& v, std::size_t ran) noexcept;
  void note_first_steal(worker& w) noexcept;
  // Counter c of w += n with F.metrics; nothing without.
  static void bump(std::atomic<std::uint64_t> worker_counters::*c, worker& w,
                   std::uint64_t n = 1) noexcept;

  [[no_unique_address]] worker_counters_storage<F.metrics> counters_;
  [[no_unique_address]] worker_histograms_storage<F.latency_histograms> histograms_storage_;
  [[no_unique_address]] std::conditional_t<F.latency_histograms, histogram_clock,
                                           no_histogram_clock> histogram_clock_;
  // Destroyed after ~basic_scheduler's teardown(): no worker polls any more.
  [[no_unique_address]] stall_watch_storage<F.stall_watch> watch_;
  [[no_unique_address]] task_dump_storage<F.task_dump> dump_;
  [[no_unique_address]] trace_storage<F.trace> trace_;
};

#if !defined(ZOKIO_HEADER_ONLY) && !defined(ZOKIO_NO_EXTERN_SCHEDULER)
// The two feature sets of the default configurations (runtime_config{} and with metrics) are
// compiled once, in the library; other configurations are instantiated where they are used.
// ZOKIO_NO_EXTERN_SCHEDULER instantiates them here too (perf/footprint.sh compares feature
// sets compiled the same way).
extern template class basic_scheduler<scheduler_features{}>;
extern template class basic_scheduler<scheduler_features{.metrics = true}>;
#endif

}  // namespace zokio::detail

#include <zokio/impl/basic_scheduler.hpp>

#endif
