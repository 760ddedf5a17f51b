// zokio::executor: a standard Asio executor that runs work on a Zokio runtime's workers and
// places I/O objects on one worker's io_context.
#ifndef ZOKIO_EXECUTOR_HPP
#define ZOKIO_EXECUTOR_HPP

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <zokio/allocator.hpp>
#include <zokio/detail/io_turn.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/join_handle.hpp>

namespace zokio {

namespace detail {

/// Runs an Asio function object once as a Zokio task. An exception escaping it has no
/// join_handle to go to: it goes to the runtime's unhandled-exception policy (by default
/// rethrown from block_on, as Asio would throw it out of io_context::run()).
template <class F>
struct handler_future {
  using output = void;
  /// Holds one unit of the runtime's outstanding work until the function has run or been
  /// dropped (a posted function is work, as on io_context).
  struct work_unit {
    scheduler* s;
    explicit work_unit(scheduler* sc) noexcept : s(sc) { s->work_started(); }
    work_unit(work_unit&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
    work_unit& operator=(work_unit&&) = delete;
    ~work_unit() {
      if (s) s->work_finished();
    }
  };
  F f;
  scheduler* sched;
  work_unit work{sched};
  zokio::poll<void> poll(context&) {
    std::exception_ptr error;
    try {
      std::move(f)();
    } catch (...) {
      error = std::current_exception();  // handed over once the catch block has ended
    }
    if (error) sched->report_unhandled(std::move(error), "a function posted to zokio::executor");
    return zokio::ready();
  }
};

}  // namespace detail

/**
 * A standard Asio executor (Asio's execution properties) for a Zokio runtime. It converts to
 * `boost::asio::any_io_executor`, so it can be handed to any Asio I/O object, `co_spawn`,
 * `strand`, timers, sockets, files and channels.
 *
 * Where work runs: `execute` with `blocking.possibly` on one of this runtime's workers runs the
 * function inline (like io_context's executor in its own thread); otherwise the function
 * becomes a Zokio task, queued like any wake (LIFO slot of the current worker, or the
 * injector), and any worker may run or steal it.
 *
 * Where I/O lives: `query(execution::context)` answers the io_context of a worker, and an I/O
 * object built from this executor registers with that worker's reactor. The executor of
 * `runtime::get_executor()` is *unplaced*: each query places the new object on the next worker
 * round-robin, so a program that passes one executor everywhere (acceptor, the sockets it
 * accepts, client sockets, strands) has its connections spread over all workers. A strand
 * made from an unplaced executor joins the worker of the first I/O object built on it, with
 * everything later made from that object's executor (see place() for how it is recognised).
 * `with_home(i)` pins the executor to worker i: everything made from it lives there. See
 * doc/asio_bridge.md for the policy, its measurements and trade-offs. A busy worker does not
 * hold up its I/O: idle siblings poll its io_context too.
 *
 * @par Thread Safety
 * Distinct objects: safe. Shared objects: safe.
 */
class executor {
 public:
  /// home_worker() of an unplaced executor: each I/O object made from it is placed anew.
  static constexpr unsigned unplaced = ~0u;

  /// An executor of `s`; `home` a worker index, or `unplaced`.
  executor(detail::scheduler& s, unsigned home) noexcept : sched_(&s), home_(home) {}

  // A copy of a tracked executor is one more unit of the runtime's outstanding work (as with
  // io_context's executor): runtime::run() returns when none is left. Moving hands it over.
  // Copying or moving from an object ends a placement run through it (place() below).
  executor(const executor& o) noexcept
      : sched_(o.sched_), home_(o.home()), bits_(o.bits_) {
    o.end_placement_run();
    if (bits_ & outstanding_work_tracked) sched_->work_started();
  }
  executor(executor&& o) noexcept : sched_(o.sched_), home_(o.home()), bits_(o.bits_) {
    o.end_placement_run();
    o.bits_ &= ~outstanding_work_tracked;
  }
  executor& operator=(const executor& o) noexcept {
    if (this != &o) {
      if (o.bits_ & outstanding_work_tracked) o.sched_->work_started();
      release();
      take_identity(o);
    }
    return *this;
  }
  executor& operator=(executor&& o) noexcept {
    if (this != &o) {
      release();
      take_identity(o);
      o.bits_ &= ~outstanding_work_tracked;
    }
    return *this;
  }
  ~executor() { release(); }

  /// The runtime's scheduler (for spawning through this executor).
  detail::scheduler& scheduler() const noexcept { return *sched_; }
  /// The worker whose io_context I/O objects made from this executor use, or `unplaced`.
  unsigned home_worker() const noexcept { return home(); }
  /// True when pinned to one worker (with_home, or a strand's placement, see place()), false
  /// when each I/O object is placed anew.
  bool is_placed() const noexcept { return home() != unplaced; }
  /// The same executor pinned to worker `worker % num_workers()`: every I/O object made from
  /// it lives on that worker (for placing by hand, or keeping a group of objects together).
  executor with_home(unsigned worker) const noexcept {
    executor e = *this;
    e.home_.store(worker % static_cast<unsigned>(sched_->num_workers()), std::memory_order_relaxed);
    return e;
  }

  /// Pinned to the calling worker when called on one of this runtime's workers (else this
  /// executor as it is): for I/O objects a task makes and uses itself, such as a file it
  /// reads, whose completions then come back on the worker that runs the task instead of a
  /// round-robin sibling (perf/perf_file_processor: as fast as a thread pool this way,
  /// 0.96-1.00x its time; 10-15 % slower with round-robin placement).
  executor on_calling_worker() const noexcept {
    const int here = sched_->current_worker_index();
    return here >= 0 ? with_home(static_cast<unsigned>(here)) : *this;
  }

  /// True when called from one of this runtime's workers.
  bool running_in_this_thread() const noexcept { return sched_->on_worker_thread(); }

  // --- execution properties ----------------------------------------------------------------

  executor require(boost::asio::execution::blocking_t::possibly_t) const noexcept {
    return with_bits(bits_ & ~blocking_never);
  }
  executor require(boost::asio::execution::blocking_t::never_t) const noexcept {
    return with_bits(bits_ | blocking_never);
  }
  executor require(boost::asio::execution::relationship_t::fork_t) const noexcept {
    return with_bits(bits_ & ~relationship_continuation);
  }
  executor require(boost::asio::execution::relationship_t::continuation_t) const noexcept {
    return with_bits(bits_ | relationship_continuation);
  }
  executor require(boost::asio::execution::outstanding_work_t::tracked_t) const noexcept {
    return with_bits(bits_ | outstanding_work_tracked);
  }
  executor require(boost::asio::execution::outstanding_work_t::untracked_t) const noexcept {
    return with_bits(bits_ & ~outstanding_work_tracked);
  }
  template <class OtherAllocator>
  executor require(boost::asio::execution::allocator_t<OtherAllocator>) const noexcept {
    return *this;  // task memory comes from the runtime's allocator whatever is asked
  }

  static constexpr boost::asio::execution::mapping_t query(
      boost::asio::execution::mapping_t) noexcept {
    return boost::asio::execution::mapping.thread;
  }
  /// The io_context an I/O object made from this executor registers with: the home worker's,
  /// or for an unplaced executor the one the runtime's placement picks for this object (see
  /// place()). Throws system_error(errc::no_io_driver) on a runtime built without the I/O
  /// driver (runtime_config::enable_io_driver): it has no io_context for the object.
  boost::asio::io_context& query(boost::asio::execution::context_t) const {
    unsigned h = home();
    return sched_->worker_io_context(h != unplaced ? h : place());
  }
  constexpr boost::asio::execution::blocking_t query(
      boost::asio::execution::blocking_t) const noexcept {
    return (bits_ & blocking_never) ? boost::asio::execution::blocking_t(
                                          boost::asio::execution::blocking.never)
                                    : boost::asio::execution::blocking_t(
                                          boost::asio::execution::blocking.possibly);
  }
  constexpr boost::asio::execution::relationship_t query(
      boost::asio::execution::relationship_t) const noexcept {
    return (bits_ & relationship_continuation)
               ? boost::asio::execution::relationship_t(
                     boost::asio::execution::relationship.continuation)
               : boost::asio::execution::relationship_t(boost::asio::execution::relationship.fork);
  }
  constexpr boost::asio::execution::outstanding_work_t query(
      boost::asio::execution::outstanding_work_t) const noexcept {
    return (bits_ & outstanding_work_tracked)
               ? boost::asio::execution::outstanding_work_t(
                     boost::asio::execution::outstanding_work.tracked)
               : boost::asio::execution::outstanding_work_t(
                     boost::asio::execution::outstanding_work.untracked);
  }
  /// The allocator tasks made by execute() come from (zokio/allocator.hpp).
  template <class OtherAllocator>
  constexpr zokio::allocator<void> query(
      boost::asio::execution::allocator_t<OtherAllocator>) const noexcept {
    return {};
  }

  // --- execution ---------------------------------------------------------------------------

  template <class Function>
  void execute(Function&& f) const {
    if (!(bits_ & blocking_never) && sched_->on_worker_thread()) {
      // Already on a worker: run it here (Asio's dispatch semantics). Exceptions propagate to
      // the caller, as with io_context's executor.
      std::decay_t<Function> tmp(std::forward<Function>(f));
      std::move(tmp)();
      detail::io_turn_handler_ran();  // a worker's I/O turn is bounded (detail/io_turn.hpp)
      return;
    }
    using F = std::decay_t<Function>;
    // Not a fork: posted handlers keep the wake order (LIFO slot, then the deque's FIFO).
    // Detached from the start: no handle to drop (one RMW less per posted handler). A
    // handler posted after shutdown is dropped, as io_context drops it after stop().
    sched_->spawn_detached(detail::handler_future<F>{F(std::forward<Function>(f)), sched_},
                           /*fork=*/false);
  }

  friend bool operator==(const executor& a, const executor& b) noexcept {
    return a.sched_ == b.sched_ && a.home() == b.home() && a.bits_ == b.bits_;
  }
  friend bool operator!=(const executor& a, const executor& b) noexcept { return !(a == b); }

 private:
  enum : unsigned {
    blocking_never = 1,
    relationship_continuation = 2,
    outstanding_work_tracked = 4,
  };
  executor with_bits(unsigned bits) const noexcept {
    executor e(*sched_, home());
    e.bits_ = bits;
    if (bits & outstanding_work_tracked) sched_->work_started();
    return e;
  }
  void release() noexcept {
    if (bits_ & outstanding_work_tracked) sched_->work_finished();
  }

  unsigned home() const noexcept { return home_.load(std::memory_order_relaxed); }
  // Assignment: this object becomes a copy of `o` (a new identity: both placement runs end).
  void take_identity(const executor& o) noexcept {
    end_placement_run();
    o.end_placement_run();
    sched_ = o.sched_, bits_ = o.bits_;
    home_.store(o.home(), std::memory_order_relaxed);
  }

  // Placement of an unplaced executor. Each I/O object built from it goes to the next worker
  // round-robin (scheduler::place_io), except in one pattern: the *same* executor object
  // placing twice in a row on one thread, with no copy of it made in between, keeps the
  // second placement for good. That is a strand made from it (asio::strand's constructor
  // places its implementation through its own inner executor) and then an I/O object built on
  // the strand (Beast's listener: `async_accept(make_strand(ex), ...)`): the socket joins the
  // strand's worker, and so does everything made later from the socket's executor, a copy of
  // the strand (a Beast tcp_stream's timers). An I/O object's constructor places once and then
  // copies its executor, which ends the run: so an acceptor, or one executor variable used for
  // many sockets, keeps spreading. The run is kept in the object (`run_`: the placing thread's
  // token and the worker), so copies and moves only clear a field, with no thread_local.
  static std::uint64_t thread_token() noexcept {
    static std::atomic<std::uint32_t> next{0};
    static thread_local std::uint32_t token = next.fetch_add(1, std::memory_order_relaxed) + 1;
    return token;
  }
  unsigned place() const noexcept {
    const std::uint64_t me = thread_token();
    // Relaxed throughout: run_ and home_ are placement hints, not synchronisation; racing
    // placements or pins through one shared executor leave one of the valid answers.
    const std::uint64_t r = run_.load(std::memory_order_relaxed);
    if ((r >> 32) == me) {
      const auto w = static_cast<unsigned>(r);
      run_.store(0, std::memory_order_relaxed);
      home_.store(w, std::memory_order_relaxed);
      return w;
    }
    const unsigned h = sched_->place_io();
    run_.store((me << 32) | h, std::memory_order_relaxed);
    return h;
  }
  void end_placement_run() const noexcept {
    if (run_.load(std::memory_order_relaxed) != 0) run_.store(0, std::memory_order_relaxed);
  }

  detail::scheduler* sched_;
  mutable std::atomic<unsigned> home_;  // `unplaced`, or a worker (see place())
  unsigned bits_ = 0;
  mutable std::atomic<std::uint64_t> run_{0};  // an open placement run (place()), or 0
};
// Small enough for any_io_executor's in-place buffer (no allocation per copy).
static_assert(sizeof(executor) <= 24);

/// The executor of runtime::get_serial_executor(): Asio's strand over zokio::executor, the
/// implicit strand of a single-threaded io_context (handlers never run concurrently).
using serial_executor = boost::asio::strand<executor>;

}  // namespace zokio

#endif
