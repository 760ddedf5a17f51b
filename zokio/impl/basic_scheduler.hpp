// The bodies of basic_scheduler<F> (detail/basic_scheduler.hpp): which task a worker runs
// next (fairness turns, LIFO slot, spawn stack, deque, injector), stealing, running a task,
// joins running a child inline, parking in the io_context and polling busy siblings' I/O.
//
// Invariants: a worker's loop-private fields (countdowns, streaks, spawn stack, inline
// counters) are touched by its own thread only; RUNNING on a task is taken only through
// task_run / task_claim (task_state.hpp), so a task is never polled twice at once; an inline
// run starts only on the child's own runtime's worker, within inline_stack_limit of the loop's
// frame and inside the inline slices (renewed while the injector is empty, inline_max_slices
// at most); a child that completes inline stays RUNNING until its joiner publishes it
// (task_finish_joined). At most one thread runs a worker's io_context at a time
// (worker_io::state: 0 nobody, 1 the owner sleeping, 2 someone polling); the owner takes
// worker::unpark (acquire exchange, pairs with unpark's release raise) before it sleeps, and
// without the I/O driver sleeps on that flag (park_flag.hpp); park's seq_cst fence pairs
// with notify_parked's (idle.hpp). Counters (F.metrics) are written by their worker only, or
// under its worker_io::state (count_io).
#ifndef ZOKIO_IMPL_BASIC_SCHEDULER_HPP
#define ZOKIO_IMPL_BASIC_SCHEDULER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <zokio/detail/basic_scheduler.hpp>
#include <zokio/detail/coop.hpp>
#include <zokio/detail/task_harness.hpp>
#include <zokio/detail/task_state.hpp>
#include <zokio/detail/worker.hpp>
#include <zokio/task_local.hpp>

namespace zokio::detail {

template <scheduler_features F>
basic_scheduler<F>::basic_scheduler(const scheduler_options& opts)
    : scheduler(opts, place(opts)) {
  // The base is whole (and this object's members): the workers may start calling the loop.
  if constexpr (F.trace)
    trace_.recorder = std::make_unique<trace_recorder>(static_cast<unsigned>(opts_.worker_threads),
                                                       opts_.trace_capacity);
  if constexpr (F.task_dump) {
    dump_.registry = std::make_unique<task_registry>(static_cast<unsigned>(opts_.worker_threads));
    if (opts_.dump_signal != 0)
      dump_.on_signal = std::make_unique<dump_on_signal>(opts_.dump_signal, [this] {
        const std::string text = dump_.registry->dump().to_text();
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);  // Windows' C runtime may buffer stderr when it is not a console:
                              // this dump waited there for seconds under Wine
      });
  }
  if constexpr (F.stall_watch)
    if (opts_.stall_threshold.count() > 0)
      watch_.dog = std::make_unique<stall_watchdog>(
          *this, static_cast<unsigned>(opts_.worker_threads), opts_.stall_threshold);
  histograms_ = histograms_storage_.make(static_cast<unsigned>(opts_.worker_threads));
  if constexpr (F.numa)
    start(counters_.make(static_cast<unsigned>(opts_.worker_threads)), &bind_current_thread);
  else
    start(counters_.make(static_cast<unsigned>(opts_.worker_threads)));
}

template <scheduler_features F>
void basic_scheduler<F>::bump(std::atomic<std::uint64_t> worker_counters::*c, worker& w,
                              std::uint64_t n) noexcept {
  if constexpr (F.metrics) worker_counters::bump(w.counters->*c, n);
}

template <scheduler_features F>
basic_scheduler<F>::~basic_scheduler() {
  if constexpr (F.task_dump) dump_.on_signal.reset();  // no dump from that thread from now on
  teardown();  // while schedule() and the loop are still this class's (see the invariants)
}

template <scheduler_features F>
void basic_scheduler<F>::trace_on(worker* w, trace_kind k, std::uint64_t value) noexcept {
  if constexpr (F.trace) trace_.recorder->record(w ? static_cast<int>(w->index) : -1, k, value);
  (void)w;
  (void)k;
  (void)value;
}

template <scheduler_features F>
void basic_scheduler<F>::trace_gap(worker& w) noexcept {
  if constexpr (F.trace) trace_.recorder->gap(w.index);
  (void)w;
}

template <scheduler_features F>
void basic_scheduler<F>::end_busy(worker& w) noexcept {
  if constexpr (F.metrics) w.counters->end_busy(steady_ns());
  (void)w;
}

template <scheduler_features F>
void basic_scheduler<F>::begin_busy(worker& w) noexcept {
  if constexpr (F.metrics) w.counters->begin_busy(steady_ns());
  (void)w;
}

template <scheduler_features F>
void basic_scheduler<F>::schedule(task_header* t) noexcept {
  worker* w = local_worker();
  if constexpr (F.trace) trace_on(w, trace_kind::wake, t->id);
  stamp_queued(t);
  if (t->home != 0 || t->priority != 0) [[unlikely]] {
    push_routed(t);  // spawn_local's home worker, or a priority level's queue
    return;
  }
  if (w && !shutdown_.load(std::memory_order_relaxed)) {
    if constexpr (F.lifo_slot) {
      // The newest wake runs next on this worker (cache-hot, and a ping-pong between two
      // tasks never leaves the core). The task it displaces goes to the deque, or to the
      // spawn stack when it is a spawned child that has not run yet.
      const bool displaced_spawned = std::exchange(w->lifo_spawned, false);
      if (!w->lifo.load(std::memory_order_relaxed)) {
        // Empty: only this worker ever fills the slot (thieves only empty it), so a plain
        // release store cannot overwrite anyone's task.
        w->lifo.store(t, std::memory_order_release);
        return;  // one task waiting: no need to wake a sibling for it
      }
      t = swap_lifo(*w, t);
      if (!t) return;
      if (displaced_spawned) {
        push_spawned(*w, t);
        return;
      }
    }
    push_woken(*w, t, true);
    return;
  }
  push_inject(t);
}

template <scheduler_features F>
bool basic_scheduler<F>::bind(task_header* t) noexcept {
  if (!scheduler::bind(t)) return false;
  stamp_queued(t);  // spawned: queued next (schedule_spawned, push_pinned, push_high)
  if constexpr (F.task_dump) dump_.registry->insert(t);
  if constexpr (F.trace) trace(trace_kind::spawn, t->id);
  if constexpr (F.hooks)
    if (opts_.hooks.on_task_spawn) call_hook(opts_.hooks.on_task_spawn, task_info_of(t));
  return true;
}

template <scheduler_features F>
void basic_scheduler<F>::note_spawned_many(task_header* const* ts, std::size_t n) noexcept {
  // What bind adds to each task, for a batch that skipped bind.
  if constexpr (F.hooks || F.task_dump || F.trace || F.latency_histograms) {
    for (std::size_t i = 0; i < n; ++i) {
      stamp_queued(ts[i]);
      if constexpr (F.task_dump) dump_.registry->insert(ts[i]);
      if constexpr (F.trace) trace(trace_kind::spawn, ts[i]->id);
      if constexpr (F.hooks)
        if (opts_.hooks.on_task_spawn) call_hook(opts_.hooks.on_task_spawn, task_info_of(ts[i]));
    }
  }
  (void)ts;
  (void)n;
}

template <scheduler_features F>
void basic_scheduler<F>::on_workers_joined() noexcept {
  // Before shutdown takes RUNNING of every task: waits for a dump that may hold one.
  if constexpr (F.task_dump) dump_.registry->close();
}

template <scheduler_features F>
bool basic_scheduler<F>::release_owned(task_header* t) noexcept {
  // Called once per task, by complete() (task_header.ipp), on the completing thread.
  if constexpr (F.hooks)
    if (opts_.hooks.on_task_terminate) call_hook(opts_.hooks.on_task_terminate, task_info_of(t));
  if constexpr (F.task_dump) dump_.registry->remove(t);
  return scheduler::release_owned(t);
}

template <scheduler_features F>
bool basic_scheduler<F>::poll_task(worker& w, task_header* t) {
  if constexpr (observed) {
    poll_watch watch{*this, w};
    return task_run_with(t, watch);
  } else {
    return task_run(t);
  }
}

template <scheduler_features F>
void basic_scheduler<F>::poll_watch::before_poll(task_header* t) noexcept {
  if constexpr (F.latency_histograms) {
    // The wait since the task was queued, then the poll's start in the same field (ticks).
    const std::uint64_t now = ticks_now();
    const std::uint64_t queued = t->queued_at.load(std::memory_order_relaxed);
    if (queued != 0)
      s.histograms_[w.index].schedule_latency.record(
          ticks_elapsed_ns(now, queued, s.histogram_clock_.ns_per_tick));
    t->queued_at.store(now, std::memory_order_relaxed);
  }
  if constexpr (F.task_dump) t->polled_at.store(task_registry::now_ms(), std::memory_order_relaxed);
  if constexpr (F.trace)
    s.trace_.recorder->record(static_cast<int>(w.index), trace_kind::poll_begin, t->id);
  if constexpr (F.hooks)
    if (s.opts_.hooks.before_poll) s.call_hook(s.opts_.hooks.before_poll, task_info_of(t));
  if constexpr (F.stall_watch) s.watch_.begin(w.index, t);
}

template <scheduler_features F>
void basic_scheduler<F>::poll_watch::after_poll(task_header* t, task_header* outer) noexcept {
  if constexpr (F.trace)
    s.trace_.recorder->record(static_cast<int>(w.index), trace_kind::poll_end, t->id);
  if constexpr (F.latency_histograms) {
    const std::uint64_t now = ticks_now();
    s.histograms_[w.index].poll_time.record(ticks_elapsed_ns(
        now, t->queued_at.load(std::memory_order_relaxed), s.histogram_clock_.ns_per_tick));
    t->queued_at.store(0, std::memory_order_relaxed);  // queued again only through a stamp
  }
  if constexpr (F.hooks)
    if (s.opts_.hooks.after_poll) s.call_hook(s.opts_.hooks.after_poll, task_info_of(t));
  // Last: once the watchdog's slot has moved on, `t` may be freed (stall_watchdog.hpp).
  if constexpr (F.stall_watch) s.watch_.end(w.index, outer);
  (void)outer;
}

template <scheduler_features F>
void basic_scheduler<F>::schedule_spawned(task_header* t) noexcept {
  if constexpr (!F.lifo_slot) {
    schedule(t);  // without the slot, a spawned child is queued as a wake is (the deque)
  } else {
    worker* w = local_worker();
    if (!w || shutdown_.load(std::memory_order_relaxed)) {
      schedule(t);
      return;
    }
    // An empty LIFO slot takes the child (where a thief can still take it while the parent's
    // poll goes on); else it waits on the spawn stack, newest on top. The slot's task is not
    // displaced: no atomic exchange per spawn, and a woken task there keeps running next.
    if (!w->lifo.load(std::memory_order_relaxed)) {
      w->lifo_spawned = true;
      w->lifo.store(t, std::memory_order_release);  // only this worker fills the slot
      return;
    }
    push_spawned(*w, t);
  }
}


template <scheduler_features F>
inline_run basic_scheduler<F>::run_inline(task_header* t) noexcept {
  worker* w = local_worker();
  if (!w) return inline_run::not_run;
  // A spawn_local task runs on its own worker only.
  if (t->home != 0 && t->home != worker_home(*w)) return inline_run::not_run;
  // Stack grows down: a frame outside [base - limit, base] (a fiber's stack, or too deep)
  // makes the unsigned difference exceed the limit.
  const auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (stack_base() - sp > inline_stack_limit) return inline_run::not_run;
  // The inline time slice: a tree run inline never returns to the worker loop, so the loop's
  // turns (injector, io_context, woken tasks) would wait for all of it.
  if (w->inline_runs == inline_closed) return inline_run::not_run;
  if (w->inline_runs == 0) {
    w->inline_since = steady_ns();
    w->inline_slices = 0;
  } else if (w->inline_runs % inline_check_every == 0) {
    const std::int64_t now = steady_ns();  // one clock read per check, renewal included
    if (now - w->inline_since <= inline_slice_ns) {
      // the slice goes on
    } else if (++w->inline_slices < inline_max_slices && inject_.size_hint() == 0 &&
               inject_.empty()) {
      w->inline_since = now;  // no outside work waits: a new slice
    } else {
      bump(&worker_counters::inline_unwinds, *w);
      w->inline_runs = inline_closed;
      w->inject_countdown = 1;  // their turns come first when the loop takes its next task
      w->event_countdown = 1;
      w->spawn_streak = spawn_fairness;
      return inline_run::not_run;
    }
  }
  // Its queue entry is usually where this worker's own pushes put it (the common fork-join
  // join): taken back, its reference becomes the run's (task_run_joined). Elsewhere (deque,
  // injector, a sibling's queues) the task is claimed with a reference of its own and the
  // entry goes stale, dropping its reference when popped. A completion is left held for the
  // joiner (inline_run::held), which publishes it in one RMW.
  bool took_entry = false;
  bool in_slot = false;
  if constexpr (F.lifo_slot) in_slot = w->lifo.load(std::memory_order_relaxed) == t;
  if constexpr (!F.lifo_slot) {
    // no slot and no spawn stack (their feature): the task is claimed below
  } else if (in_slot) {
    took_entry = take_lifo_if(*w, t);
  } else {
    // In this worker's spawn stack, the task is at the index its slot records (a task is in
    // one stack at most, and the check of the pointer settles it: a scan of the stack was
    // 40 % of this function in skynet). Taken from the middle, a slot becomes a hole that
    // pops and spills skip; the top is never a hole.
    const std::uint32_t i =
        static_cast<std::uint16_t>(t->spawn_slot.load(std::memory_order_relaxed) - w->spawn_base);
    if (i < w->spawn_top && w->spawn_stack[i] == t) {
      if (i + 1 == w->spawn_top)
        pop_spawned(*w);
      else
        w->spawn_stack[i] = nullptr;
      took_entry = true;
    }
  }
  if (!took_entry && !task_claim(t)) return inline_run::not_run;  // not claimable any more
  // Siblings see only the deque, and a joiner running its children inline pushes nothing:
  // keep feeding them as push_spawned does (the older half of the stack when it ran dry).
  if constexpr (F.lifo_slot)
    if (w->spawn_top > 1 && spill_wanted(*w)) spill_spawned(*w, (w->spawn_top + 1) / 2, true);
  ++w->inline_runs;
  bump(&worker_counters::polls, *w);
  bump(&worker_counters::inline_runs, *w);
  inline_run r;
  {
    // The child is its own task: it must not see the parent's task-local values
    // (task_local.hpp keeps the innermost scope in a thread_local while a task is polled),
    // and the parent's coop budget is kept aside for it.
    task_local_frame*& locals = task_local_top();
    task_local_frame* const parent_locals = std::exchange(locals, nullptr);
    coop::nested_poll keep_budget;
    if constexpr (observed) {
      poll_watch watch{*this, *w};
      r = task_run_joined_with(t, !took_entry, watch);
    } else {
      r = task_run_joined(t, !took_entry);
    }
    locals = parent_locals;
  }
  if (r == inline_run::requeue) {
    stamp_queued(t);
    push_woken(*w, t, true);
    r = inline_run::ran;
  }
  return r;
}


template <scheduler_features F>
worker* basic_scheduler<F>::make_worker(unsigned i, worker_placement p, worker_counters* c) {
  // On the worker's own thread (its node's memory), except current_thread's.
  std::unique_ptr<worker> w(new worker(this, i, opts_.local_queue_capacity, p, c));
  if constexpr (F.io_driver) w->driver = {new worker_io, &worker_io::destroy};
  return w.release();
}

template <scheduler_features F>
void basic_scheduler<F>::interrupt_park(worker& w) noexcept {
  if constexpr (F.io_driver)
    w.driver->io.stop();
  else
    w.unpark.raise_and_wake();
}

template <scheduler_features F>
void basic_scheduler<F>::start_io() {
  if constexpr (F.io_driver)
    if (opts_.enable_io_uring) setup_io_uring();
}


template <scheduler_features F>
void basic_scheduler<F>::release_io_work(worker& w) noexcept {
  if constexpr (F.io_driver) w.driver->guard.reset();
  (void)w;
}

template <scheduler_features F>
void basic_scheduler<F>::run_thread_loop(worker& w) {
  const busy_period busy(w);
  run_loop(w, [] { return false; });
}

template <scheduler_features F>
void basic_scheduler<F>::run_driver_loop(worker& w, const driver_signal& sig,
                                         bool until_no_work) {
  // One task first, whatever the signal says: a block_on future that wakes itself at every
  // poll (yield_now in a loop) would otherwise never let a spawned task run, since the signal
  // is already set when the driver is entered. Tokio's block_on also runs tasks between two
  // polls of its future.
  if (!shutdown_.load(std::memory_order_acquire)) {
    task_header* t = next_task(w);
    if (std::size_t taken; !t && (t = take_injected(w, taken))) bump(&worker_counters::injector_pulls, w, taken);
    if (t) {
      if (w.searching) end_search(w);
      run_task(w, t);
    }
  }
  // Acquire: pairs with driver_signal::wake's release store.
  run_loop(w, [&] {
    return sig.flag().load(std::memory_order_acquire) ||
           (until_no_work && outstanding_work() <= 0);
  });
  trace_gap(w);  // back to the caller's code
}

template <scheduler_features F>
template <class Stop>
void basic_scheduler<F>::run_loop(worker& w, Stop stop) {
  while (!shutdown_.load(std::memory_order_acquire) && !stop()) {
    if (task_header* t = next_task(w)) {
      // A worker woken as a searcher may find its work here rather than in search(): it
      // must stop counting as searching, or producers would never wake anyone else.
      if (w.searching) end_search(w);
      run_task(w, t);
      continue;
    }
    trace_gap(w);  // whatever follows takes time the next poll must not be stamped with
    // Out of local work: run ready I/O completions and posted handlers without blocking, a
    // bounded turn (run_io). A full turn means more may be ready at once: the injector gets
    // the next turn, or a worker whose I/O never runs dry would reach it only once in
    // global_queue_interval turns.
    if (std::size_t ran = poll_io(w); ran != 0) {
      if (ran >= io_poll_budget()) w.inject_countdown = 1;
      continue;
    }
    if constexpr (F.work_stealing) {
      if (task_header* t = search(w)) {
        run_task(w, t);
        continue;
      }
    } else if (std::size_t taken; task_header* t = take_injected(w, taken)) {
      bump(&worker_counters::injector_pulls, w, taken);
      if (w.searching) end_search(w);
      run_task(w, t);
      continue;
    }
    // No task anywhere: run I/O completions that busy siblings have not got to yet.
    if (poll_sibling_io(w)) continue;
    if (opts_.park_spin.count() > 0 && spin_before_park(w)) continue;
    park(w);
  }
}

template <scheduler_features F>
task_header* basic_scheduler<F>::next_task(worker& w) {
  // Priority levels first, on every worker; after priority_fairness of them in a row, one
  // turn for the rest (the starvation guard), then the priority queues again.
  if (has_priorities_ && high_pending_.load(std::memory_order_relaxed) > 0) {
    if (w.high_streak < priority_fairness) {
      if (task_header* t = pop_high()) {
        ++w.high_streak;
        return t;
      }
    }
    w.high_streak = 0;
  }
  // Pinned tasks (spawn_local) take every other turn while other work waits, and any turn
  // when nothing else does (the end of this function): neither side starves the other.
  if (w.pinned_count.load(std::memory_order_relaxed) != 0 && (w.pinned_turn = !w.pinned_turn))
    if (task_header* t = pop_pinned(w)) return t;
  // Fairness: the injector gets a turn even when local work never runs out.
  if (--w.inject_countdown == 0) {
    w.inject_countdown = opts_.global_queue_interval;
    std::size_t taken;
    if (task_header* t = take_injected(w, taken)) {
      bump(&worker_counters::injector_pulls, w, taken);
      if (taken > 1) notify_parked();
      return t;
    }
  }
  // Completions of this worker's io_context get a turn too, and so do the tasks of ours that
  // other workers completed (owned_tasks.hpp).
  if (--w.event_countdown == 0) {
    w.event_countdown = opts_.event_interval;
    if constexpr (F.io_driver) {
      trace_gap(w);  // I/O handlers may run here
      const std::int64_t now = steady_ns();
      if (w.io_turn_found || now - w.last_io_turn >= io_turn_min_gap_ns) {
        w.last_io_turn = now;
        w.io_turn_found = poll_io(w) != 0;
      }
    }
    owned_.drain_returned(w.index);
  }

  // The LIFO slot, and the spawn stack that it feeds (schedule_spawned), are one feature.
  if constexpr (F.lifo_slot) {
    task_header* t = w.lifo.load(std::memory_order_relaxed) ? take_lifo(w) : nullptr;
    if (t) {
      w.lifo_spawned = false;
      if (w.lifo_streak < opts_.max_lifo_polls) {
        ++w.lifo_streak;
        bump(&worker_counters::lifo_polls, w);
        return t;
      }
      // Two tasks waking each other would starve the rest: the deque (or else the spawn
      // stack) gets a turn now, and this task runs right after it (on top of the spawn
      // stack). It is not sent behind the whole deque: in a fork-join tree that task is
      // usually a parent just woken by its last child's completion, and parking it behind
      // older work is breadth-first again (fib's live tasks grew from about 24 to 40,000).
      w.lifo_streak = 0;
      task_header* d = pop_local(w);
      if (d) {
        if (w.woken_in_deque != 0) --w.woken_in_deque;
      } else if (w.spawn_top != 0) {
        d = pop_spawned(w);  // a child spawned and displaced mid-streak
      }
      if (d) {
        push_spawned(w, t);
        return d;
      }
      return t;  // nothing else waits on this worker: nobody to starve
    }
  }
  w.lifo_streak = 0;
  // Spawned children, newest first: depth-first, so a fork-join tree holds about depth x
  // width tasks instead of a whole level. While woken tasks wait in the deque, it still gets
  // one turn in every spawn_fairness pops; spawned work in the deque (spilled, or pulled from
  // the injector) gets none, since starting an old subtree early is breadth again.
  if constexpr (F.lifo_slot) {
    if (w.spawn_top != 0) {
      if (w.spawn_top > 1 && spill_wanted(w)) spill_spawned(w, w.spawn_top / 2, true);
      if (++w.spawn_streak < spawn_fairness || w.woken_in_deque == 0)
        return pop_spawned(w);
      w.spawn_streak = 0;
      if (task_header* t = pop_local(w)) {
        --w.woken_in_deque;  // most likely that one; an estimate (thieves take some)
        return t;
      }
      w.woken_in_deque = 0;
      return pop_spawned(w);
    }
    w.spawn_streak = 0;
  }
  if (task_header* t = pop_local(w)) {
    if (w.woken_in_deque != 0) --w.woken_in_deque;
    return t;
  }
  w.woken_in_deque = 0;

  if (w.pinned_count.load(std::memory_order_relaxed) != 0)
    if (task_header* t = pop_pinned(w)) return t;

  // Local queue empty: take batches from the injector until we hold a fair share (the rest
  // is left for the others; a batch is at most half a deque, so one always fits).
  if (inject_.size_hint() == 0) return nullptr;
  std::size_t share = inject_.size_hint() / workers_.size() + 1;
  std::size_t taken = 0;
  task_header* first = take_injected(w, taken);
  if (!first) return nullptr;
  std::size_t pulled = taken;
  while (pulled < share && w.deque.size() < w.deque.capacity() / 2) {
    task_header* t = take_injected(w, taken);
    if (!t) break;
    push_local(w, t, false);
    pulled += taken;
  }
  bump(&worker_counters::injector_pulls, w, pulled);
  if (pulled > 1) notify_parked();
  return first;
}

template <scheduler_features F>
task_header* basic_scheduler<F>::search(worker& w) {
  if (!w.searching) {
    if (!idle_.transition_to_searching()) {
      // Enough siblings are searching already; still take from the injector.
      std::size_t taken;
      if (task_header* t = take_injected(w, taken)) {
        bump(&worker_counters::injector_pulls, w, taken);
        return t;
      }
      return nullptr;
    }
    w.searching = true;
  }
  task_header* found = nullptr;
  // NUMA: the siblings on this node first, the other nodes only when those have nothing.
  // Without the numa feature every sibling is near (one node).
  for (const std::vector<unsigned>* group : {&w.near_siblings, &w.far_siblings}) {
    if (!F.numa && group == &w.far_siblings) break;
    const auto n = static_cast<std::uint32_t>(group->size());
    if (n == 0) continue;
    const bool remote = group == &w.far_siblings;
    std::uint32_t start = w.rng.next_below(n);
    for (std::uint32_t k = 0; k < n && !found; ++k) {
      worker& v = *workers_[(*group)[(start + k) % n]];
      std::uint32_t stolen = 0;
      found = v.deque.steal_into(w.deque, stolen);
      if (found) {
        if constexpr (F.trace) trace_on(&w, trace_kind::steal, stolen);
        if constexpr (F.metrics) {
          bump(&worker_counters::steals, w);
          bump(&worker_counters::stolen_tasks, w, stolen);
          if (remote) bump(&worker_counters::remote_steals, w);
          note_first_steal(w);
        }
      }
    }
    // A sibling stuck in a long poll may hold a task in its LIFO slot.
    for (std::uint32_t k = 0; F.lifo_slot && k < n && !found; ++k) {
      worker& v = *workers_[(*group)[(start + k) % n]];
      if (!v.lifo.load(std::memory_order_relaxed)) continue;
      if constexpr (F.lifo_slot) found = v.lifo.exchange(nullptr, std::memory_order_acq_rel);
      if (found) {
        if constexpr (F.trace) trace_on(&w, trace_kind::steal, 1);
        if constexpr (F.metrics) {
          bump(&worker_counters::steals, w);
          bump(&worker_counters::stolen_tasks, w);
          if (remote) bump(&worker_counters::remote_steals, w);
          note_first_steal(w);
        }
      }
    }
    if (found) break;
  }
  if (!found) {
    std::size_t taken;
    found = take_injected(w, taken);
    if (found) {
      bump(&worker_counters::injector_pulls, w, taken);
    }
  }
  if (found) end_search(w);
  return found;
}

template <scheduler_features F>
void basic_scheduler<F>::note_first_steal(worker& w) noexcept {
  if (w.counters->first_steal.load(std::memory_order_relaxed) == 0)
    w.counters->first_steal.store(steal_seq_.fetch_add(1, std::memory_order_relaxed) + 1,
                                  std::memory_order_relaxed);
}

template <scheduler_features F>
void basic_scheduler<F>::run_task(worker& w, task_header* t) {
  w.inline_runs = 0;
  // Awake without a producer's wake-up and about to poll (maybe for long): a sibling asleep
  // without a timeout must watch our I/O again (idle.hpp, "Untimed sleep"). Only here, not
  // on every self wake: two idle workers would otherwise interrupt each other forever.
  if constexpr (F.io_driver) {
    if (w.woke_by_itself) [[unlikely]] {
      w.woke_by_itself = false;
      wake_untimed_sleepers(w);
    }
  }
  bump(&worker_counters::polls, w);
  if (poll_task(w, t)) {
    // The task woke itself while running (yield): it goes behind the queued work.
    stamp_queued(t);
    push_woken(w, t, true);
  }
  if constexpr (F.trace) trace_.recorder->chain(w.index);  // on to the next task
}


template <scheduler_features F>
std::size_t basic_scheduler<F>::poll_io(worker& v) {
  if constexpr (!F.io_driver) {
    (void)v;
    return 0;
  } else {
    // One thread at a time runs an io_context (owner or sibling): I/O objects then see the
    // single-threaded io_context Asio code expects. Busy or sleeping: skip, it is being run.
    int expect = 0;
    if (!v.driver->state.compare_exchange_strong(expect, 2, std::memory_order_acq_rel,
                                                 std::memory_order_relaxed))
      return 0;
    restart_io(v);
    std::size_t ran = run_io(v, false);
    if constexpr (F.metrics)
      if (ran != 0) count_io(v, ran);
    v.driver->state.store(0, std::memory_order_release);
    return ran;
  }
}

template <scheduler_features F>
void basic_scheduler<F>::count_io(worker& v, std::size_t ran) noexcept {
  // Called with v.driver->state held, so these plain read-modify-writes do not race.
  bump(&worker_counters::io_handlers, v, ran);
  worker* self = local_worker();
  if (self && self != &v) bump(&worker_counters::io_handlers_by_siblings, v, ran);
}

template <scheduler_features F>
bool basic_scheduler<F>::poll_sibling_io(worker& w) {
  if constexpr (!F.io_driver) {
    (void)w;
    return false;
  } else {
    const auto n = static_cast<std::uint32_t>(workers_.size());
    if (n < 2) return false;
    std::uint32_t start = w.rng.next_below(n);
    for (std::uint32_t k = 0; k < n; ++k) {
      worker& v = *workers_[(start + k) % n];
      if (&v == &w) continue;
      // Completions dispatched through zokio::executor run inline here, on this worker.
      if (poll_io(v) != 0) return true;
    }
    return false;
  }
}

template <scheduler_features F>
void basic_scheduler<F>::park(worker& w) {
  w.woke_by_itself = false;  // it ran nothing since: no sibling needs to watch it
  if (w.searching) {
    w.searching = false;
    idle_.transition_from_searching();
  }
  owned_.drain_returned(w.index);  // do not keep completed tasks' memory while asleep
  idle_.register_sleeper(w.index);
  // Ordering: seq_cst fence, pairs with the one in notify_parked(); see idle.hpp.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (should_wake(w)) {
    if (!idle_.unregister_sleeper(w.index)) w.searching = true;  // a producer woke us already
    else w.woke_by_itself = true;
    return;
  }
  bump(&worker_counters::parks, w);
  if constexpr (F.io_driver)
    park_in_io(w);
  else
    park_on_flag(w);
  if (!idle_.unregister_sleeper(w.index)) w.searching = true;
  else w.woke_by_itself = true;
}

template <scheduler_features F>
void basic_scheduler<F>::park_in_io(worker& w) {
  // Blocks in the reactor (or Asio's condition variable) until unpark()'s post, an I/O
  // completion, or stop() at shutdown.
  // Take the io_context for sleeping (a sibling may be polling it for a moment).
  for (int expect = 0; !w.driver->state.compare_exchange_weak(
           expect, 1, std::memory_order_acq_rel, std::memory_order_relaxed);
       expect = 0)
    std::this_thread::yield();
  // A notifier that popped us raised w.unpark before its stop(); if a sibling's poll ran that
  // post, the flag still tells us not to sleep.
  std::size_t ran = 0;
  restart_io(w);
  // After the restart: a shutdown whose stop() it may have undone is seen here (request_stop
  // sets shutdown_ before its stop()).
  if (!w.unpark.take() &&
      !shutdown_.load(std::memory_order_acquire)) {
    if constexpr (F.hooks)
      if (opts_.hooks.on_thread_park) call_hook(opts_.hooks.on_thread_park);
    if constexpr (F.trace) trace_on(&w, trace_kind::park);
    end_busy(w);
    ran = run_io(w, true);
    begin_busy(w);
    if constexpr (F.trace) trace_on(&w, trace_kind::unpark);
    if constexpr (F.hooks)
      if (opts_.hooks.on_thread_unpark) call_hook(opts_.hooks.on_thread_unpark);
  }
  if constexpr (F.metrics)
    if (ran != 0) count_io(w, ran);
  w.driver->state.store(0, std::memory_order_release);
}

template <scheduler_features F>
void basic_scheduler<F>::park_on_flag(worker& w) {
  // No I/O driver: nothing to run while asleep, so a plain sleep on the flag that unpark()
  // and request_stop() raise. One taken before the sleep (a wake-up that came first) ends the
  // park at once; a shutdown seen here too (request_stop sets shutdown_ before its raise).
  if (w.unpark.take() || shutdown_.load(std::memory_order_acquire)) return;
  if constexpr (F.hooks)
    if (opts_.hooks.on_thread_park) call_hook(opts_.hooks.on_thread_park);
  if constexpr (F.trace) trace_on(&w, trace_kind::park);
  end_busy(w);
  w.unpark.wait();
  w.unpark.take();  // consumed: the caller looks for work now anyway
  begin_busy(w);
  if constexpr (F.trace) trace_on(&w, trace_kind::unpark);
  if constexpr (F.hooks)
    if (opts_.hooks.on_thread_unpark) call_hook(opts_.hooks.on_thread_unpark);
}


}  // namespace zokio::detail

#endif
