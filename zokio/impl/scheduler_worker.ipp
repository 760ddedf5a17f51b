// The worker loop of detail::scheduler: which task runs next (fairness turns, LIFO slot,
// spawn stack, deque, injector), stealing, running a task, and running a joined child inline.
//
// Invariants: a worker's loop-private fields (countdowns, streaks, spawn stack, inline
// counters) are touched by its own thread only; RUNNING on a task is taken only through
// task_run / task_claim (task_state.hpp), so a task is never polled twice at once; an inline
// run starts only on the child's own runtime's worker, within inline_stack_limit of the loop's
// frame and inside the inline slices (renewed while the injector is empty, inline_max_slices
// at most); a child that completes inline stays RUNNING until its joiner publishes it
// (task_finish_joined).
#ifndef ZOKIO_IMPL_SCHEDULER_WORKER_IPP
#define ZOKIO_IMPL_SCHEDULER_WORKER_IPP

// Part of the scheduler's single translation unit (impl/src.hpp): included after
// impl/scheduler.ipp, whose thread_locals (tl_worker, tl_entered, tl_stack_base) it uses.
#include <zokio/detail/coop.hpp>
#include <zokio/impl/scheduler.ipp>

namespace zokio::detail {

namespace {
std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

task_header* scheduler::pop_spawned(worker& w) noexcept {
  task_header* t = w.spawn_stack[--w.spawn_top];
  while (w.spawn_top != 0 && !w.spawn_stack[w.spawn_top - 1]) --w.spawn_top;
  return t;
}

inline_run scheduler::run_inline(task_header* t) noexcept {
  worker* w = local_worker();
  if (!w) return inline_run::not_run;
  // A spawn_local task runs on its own worker only.
  if (t->home != 0 && t->home != worker_home(*w)) return inline_run::not_run;
  // Stack grows down: a frame outside [base - limit, base] (a fiber's stack, or too deep)
  // makes the unsigned difference exceed the limit.
  const auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (tl_stack_base - sp > inline_stack_limit) return inline_run::not_run;
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
      if (opts_.enable_metrics) worker_counters::bump(w->counters.inline_unwinds);
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
  if (w->lifo.load(std::memory_order_relaxed) == t) {
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
  if (w->spawn_top > 1 && spill_wanted(*w)) spill_spawned(*w, (w->spawn_top + 1) / 2, true);
  ++w->inline_runs;
  if (opts_.enable_metrics) {
    worker_counters::bump(w->counters.polls);
    worker_counters::bump(w->counters.inline_runs);
  }
  inline_run r;
  {
    // The child is its own task: it must not see the parent's task-local values
    // (task_local.hpp keeps the innermost scope in a thread_local while a task is polled),
    // and the parent's coop budget is kept aside for it.
    task_local_frame*& locals = task_local_top();
    task_local_frame* const parent_locals = std::exchange(locals, nullptr);
    coop::nested_poll keep_budget;
    r = task_run_joined(t, !took_entry);
    locals = parent_locals;
  }
  if (r == inline_run::requeue) {
    push_woken(*w, t, true);
    r = inline_run::ran;
  }
  return r;
}

template <class Stop>
void scheduler::run_worker(worker& w, Stop stop) {
  if (opts_.enable_metrics)
    run_loop<true>(w, stop);
  else
    run_loop<false>(w, stop);
}

template <bool Metrics, class Stop>
void scheduler::run_loop(worker& w, Stop stop) {
  while (!shutdown_.load(std::memory_order_acquire) && !stop()) {
    if (task_header* t = next_task<Metrics>(w)) {
      // A worker woken as a searcher may find its work here rather than in search(): it
      // must stop counting as searching, or producers would never wake anyone else.
      if (w.searching) end_search(w);
      run_task<Metrics>(w, t);
      continue;
    }
    // Out of local work: drain ready I/O completions and posted handlers without blocking.
    if (poll_io(w) != 0) continue;
    if (opts_.enable_work_stealing || workers_.size() == 1) {
      if (task_header* t = search<Metrics>(w)) {
        run_task<Metrics>(w, t);
        continue;
      }
    } else if (std::size_t taken; task_header* t = take_injected(w, taken)) {
      if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
      if (w.searching) end_search(w);
      run_task<Metrics>(w, t);
      continue;
    }
    // No task anywhere: run I/O completions that busy siblings have not got to yet.
    if (poll_sibling_io(w)) continue;
    if (opts_.park_spin.count() > 0 && spin_before_park(w)) continue;
    park<Metrics>(w);
  }
}

template <bool Metrics>
task_header* scheduler::next_task(worker& w) {
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
      if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
      if (taken > 1) notify_parked();
      return t;
    }
  }
  // Completions of this worker's io_context get a turn too, and so do the tasks of ours that
  // other workers completed (owned_tasks.hpp).
  if (--w.event_countdown == 0) {
    w.event_countdown = opts_.event_interval;
    const std::int64_t now = steady_ns();
    if (w.io_turn_found || now - w.last_io_turn >= io_turn_min_gap_ns) {
      w.last_io_turn = now;
      w.io_turn_found = poll_io(w) != 0;
    }
    owned_.drain_returned(w.index);
  }

  if (w.lifo.load(std::memory_order_relaxed)) {
    task_header* t = take_lifo(w);
    if (t) {
      w.lifo_spawned = false;
      if (w.lifo_streak < opts_.max_lifo_polls) {
        ++w.lifo_streak;
        if constexpr (Metrics) worker_counters::bump(w.counters.lifo_polls);
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
  if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, pulled);
  if (pulled > 1) notify_parked();
  return first;
}

template <bool Metrics>
task_header* scheduler::search(worker& w) {
  if (!w.searching) {
    if (!idle_.transition_to_searching()) {
      // Enough siblings are searching already; still take from the injector.
      std::size_t taken;
      if (task_header* t = take_injected(w, taken)) {
        if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
        return t;
      }
      return nullptr;
    }
    w.searching = true;
  }
  task_header* found = nullptr;
  // NUMA: the siblings on this node first, the other nodes only when those have nothing.
  for (const std::vector<unsigned>* group : {&w.near, &w.far}) {
    const auto n = static_cast<std::uint32_t>(group->size());
    if (n == 0) continue;
    const bool remote = group == &w.far;
    std::uint32_t start = w.rng.next_below(n);
    for (std::uint32_t k = 0; k < n && !found; ++k) {
      worker& v = *workers_[(*group)[(start + k) % n]];
      std::uint32_t stolen = 0;
      found = v.deque.steal_into(w.deque, stolen);
      if (found) {
        if constexpr (Metrics) {
          worker_counters::bump(w.counters.steals);
          worker_counters::bump(w.counters.stolen_tasks, stolen);
          if (remote) worker_counters::bump(w.counters.remote_steals);
          note_first_steal(w);
        }
      }
    }
    // A sibling stuck in a long poll may hold a task in its LIFO slot.
    for (std::uint32_t k = 0; k < n && !found; ++k) {
      worker& v = *workers_[(*group)[(start + k) % n]];
      if (!v.lifo.load(std::memory_order_relaxed)) continue;
      found = v.lifo.exchange(nullptr, std::memory_order_acq_rel);
      if (found) {
        if constexpr (Metrics) {
          worker_counters::bump(w.counters.steals);
          worker_counters::bump(w.counters.stolen_tasks);
          if (remote) worker_counters::bump(w.counters.remote_steals);
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
      if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
    }
  }
  if (found) end_search(w);
  return found;
}

void scheduler::note_first_steal(worker& w) noexcept {
  if (w.counters.first_steal.load(std::memory_order_relaxed) == 0)
    w.counters.first_steal.store(steal_seq_.fetch_add(1, std::memory_order_relaxed) + 1,
                                 std::memory_order_relaxed);
}

void scheduler::end_search(worker& w) noexcept {
  w.searching = false;
  // The last searcher to find work wakes another, in case there is more (Tokio's rule).
  if (idle_.transition_from_searching()) notify_parked();
}

bool scheduler::spin_before_park(worker& w) noexcept {
  // Not registered as a sleeper meanwhile: a producer wakes nobody (no system call on either
  // side), and this loop sees its push. Its own io_context is not polled while spinning, so
  // the spin is short (a builder option, default off; thread_per_core's shards use it).
  const std::int64_t until = steady_ns() + opts_.park_spin.count();
  for (unsigned i = 1;; ++i) {
    if (should_wake(w)) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 64 == 0 && steady_ns() >= until) return false;
  }
}

template <bool Metrics>
void scheduler::run_task(worker& w, task_header* t) {
  w.inline_runs = 0;
  if constexpr (Metrics) worker_counters::bump(w.counters.polls);
  if (task_run(t)) {
    // The task woke itself while running (yield): it goes behind the queued work.
    push_woken(w, t, true);
  }
}

}  // namespace zokio::detail

#endif
