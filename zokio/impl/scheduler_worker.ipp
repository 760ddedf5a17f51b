// The feature-independent parts of the worker loop of detail::scheduler: the spawn stack's
// pop, the end of a search, the spin before a park. The loop itself (which task runs next,
// stealing, running a task, inline joins) is basic_scheduler's (impl/basic_scheduler.hpp).
//
// Invariants: a worker's loop-private fields (countdowns, streaks, spawn stack, inline
// counters) are touched by its own thread only.
#ifndef ZOKIO_IMPL_SCHEDULER_WORKER_IPP
#define ZOKIO_IMPL_SCHEDULER_WORKER_IPP

// Part of the scheduler's single translation unit (impl/src.hpp).
#include <zokio/impl/scheduler.ipp>

namespace zokio::detail {

task_header* scheduler::pop_spawned(worker& w) noexcept {
  task_header* t = w.spawn_stack[--w.spawn_top];
  while (w.spawn_top != 0 && !w.spawn_stack[w.spawn_top - 1]) --w.spawn_top;
  return t;
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

}  // namespace zokio::detail

#endif
