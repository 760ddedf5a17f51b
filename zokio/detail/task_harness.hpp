// The task harness's poll path: one poll of a task whose RUNNING the caller holds, and what
// the state machine's result asks for after it (requeue, idle, complete, wake the joiner,
// free). A template on the poll observer, so a scheduler built with hooks, the stall
// watchdog, the task dump, histograms or the trace compiles its observer into the path (no
// virtual call, the polling worker at hand); the plain path (task_run, task_run_joined) is
// the instantiation with no_poll_observer, compiled once in impl/task_header.ipp.
//
// Invariants: the observer's before_poll runs once RUNNING is held and task_id::current() is
// the task; after_poll right after the future's poll returns, before anything is published
// (the task is alive in both and may be freed soon after). Neither runs for a stale entry's
// drop nor for an aborted task's cancel.
#ifndef ZOKIO_DETAIL_TASK_HARNESS_HPP
#define ZOKIO_DETAIL_TASK_HARNESS_HPP

#include <exception>
#include <string>

#include <zokio/detail/coop.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/error.hpp>

namespace zokio::detail {

/// The plain poll path's observer: sees nothing, costs nothing.
struct no_poll_observer {
  static constexpr bool enabled = false;
  void before_poll(task_header*) noexcept {}
  void after_poll(task_header*, task_header*) noexcept {}
};

namespace harness {

namespace ts = task_state;

// Called with RUNNING held and the result stored; `run_refs` is the run's reference (1), or 0
// at shutdown. Unlinks from the owned list first, so that the run's and the list's references
// go in the COMPLETE RMW (task_state.hpp); then wakes the join side or frees the task. After
// that RMW the task is touched only when a join waker is to be woken.
inline void complete(task_header* t, unsigned run_refs) noexcept {
  task_scheduler* const sched = t->sched;
  const unsigned refs = run_refs + (sched->release_owned(t) ? 1u : 0u);
  std::exception_ptr unjoined;
  std::string who;  // "a detached task 42 \"name\" spawned at f.cpp:9", for the report
  // Nobody joins (detached or handle dropped): the result is dropped before COMPLETE, and an
  // exception in it would otherwise vanish. The task is named here, while it is surely alive.
  const ts::complete_result r = ts::to_complete(t->state, refs, [&]() noexcept {
    unjoined = t->vtable->drop_output(t);
    if (unjoined) {
      try {
        who = "a detached " +
              join_error::describe(task_id(t->id), t->name ? t->name : "", t->where()) +
              " (or one whose join_handle was dropped)";
      } catch (...) {
        who.clear();  // out of memory: the generic wording below
      }
    }
  });
  if (r.join_waker) {
    t->join_waker.wake_by_ref();  // the slot is ours to read once COMPLETE is set
    if (refs) t->ref_dec(refs);
  } else if (r.last) {
    t->vtable->dealloc(t);
  }
  if (unjoined)
    sched->report_unhandled(std::move(unjoined),
                            who.empty() ? "a detached task (or one whose join_handle was dropped)"
                                        : who.c_str());
}

enum class run_outcome {
  done,     // back to idle, or completed (and published)
  requeue,  // woken during the poll: the run's reference belongs to the new entry
  held,     // completed for a joiner running it inline: RUNNING still held, COMPLETE not set
};

// The poll of a task whose RUNNING the caller holds with one reference for the run. `joiner`:
// the caller is the task's joiner running it inline; a completion is then left to it (held)
// unless the join side left a waker (only the joiner sets one: an earlier pending join).
// A template rather than a run-time observer pointer: a null check per poll cost 8
// instructions in skynet, and a virtual call per event most of the trace's cost.
template <class Observer>
run_outcome poll_running(task_header* t, bool cancelled, bool joiner, Observer& o) noexcept {
  bool done = cancelled;
  // task_id::current() inside the poll (or the future's drop); restored after, for a join
  // that runs a child inline inside its parent's poll.
  current_task_scope current(t);
  if (cancelled) {
    t->vtable->cancel(t, static_cast<int>(errc::task_aborted));
  } else {
    // Borrowed waker: the poll must not drop the reference it stands on.
    waker w = waker::from_raw({t, &task_waker_fns::vtable});
    context cx(w);
    coop::task_budget budget;  // a fresh coop budget for this poll (coop.hpp)
    if constexpr (Observer::enabled) o.before_poll(t);
    done = t->vtable->poll(t, cx);  // exceptions are caught and stored by the cell
    // RUNNING is still held and nothing is published: the task is alive for the observer.
    if constexpr (Observer::enabled) o.after_poll(t, current.outer());
    w.release();
  }
  if (!done) {
    // Spawned on a worker and pending for the first time: from now on it may sit in no queue,
    // so shutdown must find it in an owned list (owned_tasks.hpp). Before to_idle: until then
    // nobody else can complete (and unlink) it.
    if (t->owned_shard == owned_unlinked) [[unlikely]] t->sched->link_owned(t);
    switch (ts::to_idle(t->state)) {
      case ts::idle_result::idle: return run_outcome::done;
      case ts::idle_result::last: t->vtable->dealloc(t); return run_outcome::done;
      case ts::idle_result::requeue: return run_outcome::requeue;
      case ts::idle_result::cancelled:
        t->vtable->cancel(t, static_cast<int>(errc::task_aborted));
        break;
    }
  }
  if (joiner && !ts::has_join_waker(t->state)) return run_outcome::held;
  complete(t, 1);  // + the run's reference
  return run_outcome::done;
}

}  // namespace harness

/// task_run (task_header.hpp) with `o` told of the poll.
template <class Observer>
inline bool task_run_with(task_header* t, Observer& o) noexcept {
  using harness::run_outcome;
  switch (task_state::to_running(t->state)) {
    case task_state::run_result::stale:
      // The task's joiner ran it inline (task_claim) after this entry was queued.
      t->ref_dec();
      return false;
    case task_state::run_result::cancelled: {
      no_poll_observer none;  // an aborted task's cancel is not a poll
      return harness::poll_running(t, true, false, none) == run_outcome::requeue;
    }
    case task_state::run_result::success: break;
  }
  // The queue entry's reference is the run's.
  return harness::poll_running(t, false, false, o) == run_outcome::requeue;
}

/// task_run_joined (task_header.hpp) with `o` told of the poll.
template <class Observer>
inline inline_run task_run_joined_with(task_header* t, bool claimed, Observer& o) noexcept {
  using harness::run_outcome;
  bool cancelled = false;
  if (!claimed) {
    switch (task_state::to_running(t->state)) {
      case task_state::run_result::stale: t->ref_dec(); return inline_run::ran;
      case task_state::run_result::cancelled: cancelled = true; break;
      case task_state::run_result::success: break;
    }
  }
  // A claim saw CANCELLED clear; an abort since then is seen after the poll (to_idle).
  switch (harness::poll_running(t, cancelled, true, o)) {
    case run_outcome::done: return inline_run::ran;
    case run_outcome::requeue: return inline_run::requeue;
    case run_outcome::held: return inline_run::held;
  }
  return inline_run::ran;
}

}  // namespace zokio::detail

#endif
