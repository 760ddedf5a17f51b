// The task harness: runs the state machine's transitions (detail/task_state.hpp) and does
// what their results ask for (poll, queue, complete, wake the joiner, free), through the
// task_scheduler interface. Shared by all task types.
#ifndef ZOKIO_IMPL_TASK_HEADER_IPP
#define ZOKIO_IMPL_TASK_HEADER_IPP

#include <string>

#include <zokio/detail/coop.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/detail/wake_gate.hpp>
#include <zokio/error.hpp>

namespace zokio::detail {

namespace ts = task_state;

namespace {

// Called with RUNNING held and the result stored; `run_refs` is the run's reference (1), or 0
// at shutdown. Unlinks from the owned list first, so that the run's and the list's references
// go in the COMPLETE RMW (task_state.hpp); then wakes the join side or frees the task. After
// that RMW the task is touched only when a join waker is to be woken.
void complete(task_header* t, unsigned run_refs) noexcept {
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

// A wake or abort from a thread that is not one of the task's workers may race the runtime's
// teardown: it goes through the wake gate (wake_gate.hpp), which keeps the scheduler alive
// from the state check to the end of schedule(). Nothing in that section wakes another task.
const void* gate_key(const task_header* t) noexcept {
  // A pointer compare only: the scheduler may be gone already (that is what the gate is for).
  return task_scheduler::is_worker_of(t->sched) ? nullptr : static_cast<const void*>(t->sched);
}

enum class run_outcome {
  done,     // back to idle, or completed (and published)
  requeue,  // woken during the poll: the run's reference belongs to the new entry
  held,     // completed for a joiner running it inline: RUNNING still held, COMPLETE not set
};

// The poll of a task whose RUNNING the caller holds with one reference for the run. `joiner`:
// the caller is the task's joiner running it inline; a completion is then left to it (held)
// unless the join side left a waker (only the joiner sets one: an earlier pending join).
// `Observed`: with the scheduler's poll observer `o` (hooks, stall watchdog); the plain
// instantiation is the same code as before observers existed (poll_running is not inlined: a
// run-time null check cost 8 instructions per poll in skynet).
template <bool Observed = false>
run_outcome poll_running(task_header* t, bool cancelled, bool joiner,
                         poll_observer* o = nullptr) noexcept {
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
    if constexpr (Observed) o->before_poll(t);
    done = t->vtable->poll(t, cx);  // exceptions are caught and stored by the cell
    // RUNNING is still held and nothing is published: the task is alive for the observer.
    if constexpr (Observed) o->after_poll(t, current.outer());
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

}  // namespace

void task_wake_by_ref(task_header* t) noexcept {
  wake_gate_guard gate(gate_key(t));
  if (ts::to_notified_by_ref(t->state) == ts::notify_result::submit) t->sched->schedule(t);
}

void task_wake_by_val(task_header* t) noexcept {
  wake_gate_guard gate(gate_key(t));
  switch (ts::to_notified_by_val(t->state)) {
    case ts::notify_by_val_result::done: return;
    case ts::notify_by_val_result::submit: t->sched->schedule(t); return;
    case ts::notify_by_val_result::drop_ref:
      gate.release();  // dropping the last reference may run destructors that wake
      t->ref_dec();
      return;
  }
}

namespace {

template <bool Observed>
inline bool run_queued(task_header* t, poll_observer* o) noexcept {
  switch (ts::to_running(t->state)) {
    case ts::run_result::stale:
      // The task's joiner ran it inline (task_claim) after this entry was queued.
      t->ref_dec();
      return false;
    case ts::run_result::cancelled: return poll_running(t, true, false) == run_outcome::requeue;
    case ts::run_result::success: break;
  }
  // The queue entry's reference is the run's.
  return poll_running<Observed>(t, false, false, o) == run_outcome::requeue;
}

template <bool Observed>
inline inline_run run_joined(task_header* t, bool claimed, poll_observer* o) noexcept {
  bool cancelled = false;
  if (!claimed) {
    switch (ts::to_running(t->state)) {
      case ts::run_result::stale: t->ref_dec(); return inline_run::ran;
      case ts::run_result::cancelled: cancelled = true; break;
      case ts::run_result::success: break;
    }
  }
  // A claim saw CANCELLED clear; an abort since then is seen after the poll (to_idle).
  switch (poll_running<Observed>(t, cancelled, true, o)) {
    case run_outcome::done: return inline_run::ran;
    case run_outcome::requeue: return inline_run::requeue;
    case run_outcome::held: return inline_run::held;
  }
  return inline_run::ran;
}

}  // namespace

bool task_run(task_header* t) noexcept { return run_queued<false>(t, nullptr); }

bool task_run_observed(task_header* t, poll_observer& o) noexcept {
  return run_queued<true>(t, &o);
}

bool task_claim(task_header* t) noexcept { return ts::claim(t->state); }

inline_run task_run_joined(task_header* t, bool claimed) noexcept {
  return run_joined<false>(t, claimed, nullptr);
}

inline_run task_run_joined_observed(task_header* t, bool claimed, poll_observer& o) noexcept {
  return run_joined<true>(t, claimed, &o);
}

void task_finish_joined(task_header* t) noexcept {
  // The run's and the handle's references, and the owned list's when unlinked here.
  const unsigned refs = 2 + (t->sched->release_owned(t) ? 1u : 0u);
  if (ts::to_complete_joined(t->state, refs)) t->vtable->dealloc(t);
}

inline_run task_join_inline(task_header* t) noexcept { return t->sched->run_inline(t); }

void task_abort(task_header* t) noexcept {
  wake_gate_guard gate(gate_key(t));
  // Idle: scheduled so that a worker drops the future (on the runtime, not on this thread).
  if (ts::cancel(t->state) == ts::abort_result::submit) t->sched->schedule(t);
}

bool task_set_join_waker(task_header* t, const waker& w) noexcept {
  const auto s = t->state.load(std::memory_order_acquire);
  if (s & ts::COMPLETE) return true;
  if (s & ts::JOIN_WAKER) {
    if (t->join_waker.will_wake(w)) return false;
    // Take the slot back (fails if the task completes meanwhile: then it may be reading it).
    if (!ts::unset_join_waker(t->state)) return true;
  }
  // JOIN_WAKER is clear: the slot is ours.
  t->join_waker = w;
  if (ts::set_join_waker(t->state)) return false;
  t->join_waker.reset();  // completed first: the slot is still ours
  return true;
}

void task_drop_join_handle(task_header* t) noexcept {
  bool last = false;
  switch (ts::drop_join_handle(t->state, last)) {
    case ts::handle_drop::freed_or_done:
      if (last) t->vtable->dealloc(t);
      return;
    case ts::handle_drop::drop_output:
      // The result is the join side's (JOIN_INTEREST was set at completion). An exception
      // never joined is printed: the runtime may be gone by now (a handle can outlive it),
      // so it cannot be propagated.
      if (std::exception_ptr e = t->vtable->drop_output(t)) {
        // The handle's reference still holds the task: it can be named.
        std::string who = "a task whose join_handle was dropped unjoined after it ended";
        try {
          who = "a " + join_error::describe(task_id(t->id), t->name ? t->name : "", t->where()) +
                ", whose join_handle was dropped unjoined after it ended";
        } catch (...) {
        }
        task_scheduler::log_unhandled(e, who.c_str());
      }
      if (ts::release_join_interest(t->state)) t->vtable->dealloc(t);
      return;
    case ts::handle_drop::reset_waker:
      t->join_waker.reset();  // we cleared JOIN_WAKER before COMPLETE: the slot is ours
      t->ref_dec();
      return;
  }
}

bool task_inspect(task_header* t, std::vector<source_location>& chain) noexcept {
  if (!ts::to_inspecting(t->state)) return false;
  // RUNNING is ours: no poll moves the frames, and a wake or an abort only sets its bit.
  if (t->vtable->await_chain) {
    try {
      t->vtable->await_chain(t, chain);
    } catch (...) {  // out of memory for the chain: the task is still listed, without it
    }
  }
  wake_gate_guard gate(gate_key(t));
  switch (ts::from_inspecting(t->state)) {
    case ts::idle_result::requeue: t->sched->schedule(t); break;  // the reference is the entry's
    case ts::idle_result::last:  // not with the caller's reference; kept for completeness
      gate.release();
      t->vtable->dealloc(t);
      break;
    default: break;
  }
  return true;
}

void task_shutdown(task_header* t) noexcept {
  // Workers are joined before shutdown cancels tasks: nobody holds RUNNING.
  if (!ts::to_shutdown(t->state)) return;
  {
    current_task_scope current(t);  // the future's drop sees its task's id
    t->vtable->cancel(t, static_cast<int>(errc::runtime_shutdown));
  }
  complete(t, 0);  // shutdown's RUNNING came with no reference (the caller holds a pin)
}

}  // namespace zokio::detail

#endif
