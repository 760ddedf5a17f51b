// The task harness: runs the state machine's transitions (detail/task_state.hpp) and does
// what their results ask for (poll, queue, complete, wake the joiner, free), through the
// task_scheduler interface. Shared by all task types.
#ifndef ZOKIO_IMPL_TASK_HEADER_IPP
#define ZOKIO_IMPL_TASK_HEADER_IPP

#include <zokio/detail/coop.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/detail/wake_gate.hpp>
#include <zokio/error.hpp>

namespace zokio::detail {

namespace ts = task_state;

namespace {

// Called with RUNNING held and the result stored. Publishes COMPLETE, hands the result to the
// join side (or drops it), unlinks from the owned list. Returns how many references the
// caller must drop: the owned list's one, unless it was handed back to the owning worker.
unsigned complete(task_header* t) noexcept {
  const ts::complete_result r = ts::to_complete(t->state);
  if (!r.join_interest) {
    // The handle is gone (detached or dropped): nobody else touches the result, and an
    // exception in it would otherwise vanish.
    if (std::exception_ptr e = t->vtable->drop_output(t))
      t->sched->report_unhandled(std::move(e), "a detached task (or one whose join_handle was dropped)");
  } else if (r.join_waker) {
    t->join_waker.wake_by_ref();  // the slot is ours to read once COMPLETE is set
  }
  return t->sched->release_owned(t) ? 1u : 0u;
}

// A wake or abort from a thread that is not one of the task's workers may race the runtime's
// teardown: it goes through the wake gate (wake_gate.hpp), which keeps the scheduler alive
// from the state check to the end of schedule(). Nothing in that section wakes another task.
const void* gate_key(const task_header* t) noexcept {
  // A pointer compare only: the scheduler may be gone already (that is what the gate is for).
  return task_scheduler::is_worker_of(t->sched) ? nullptr : static_cast<const void*>(t->sched);
}

// The poll of a task whose RUNNING the caller holds with one reference for the run. Returns
// true when the task must be requeued (the run's reference then belongs to the new entry).
bool poll_running(task_header* t, bool cancelled) noexcept {
  bool done = cancelled;
  if (cancelled) {
    t->vtable->cancel(t, static_cast<int>(errc::task_aborted));
  } else {
    // Borrowed waker: the poll must not drop the reference it stands on.
    waker w = waker::from_raw({t, &task_waker_fns::vtable});
    context cx(w);
    coop::task_budget budget;  // a fresh coop budget for this poll (coop.hpp)
    done = t->vtable->poll(t, cx);  // exceptions are caught and stored by the cell
    w.release();
  }
  if (!done) {
    switch (ts::to_idle(t->state)) {
      case ts::idle_result::idle: return false;
      case ts::idle_result::last: t->vtable->dealloc(t); return false;
      case ts::idle_result::requeue: return true;
      case ts::idle_result::cancelled:
        t->vtable->cancel(t, static_cast<int>(errc::task_aborted));
        break;
    }
  }
  t->ref_dec(complete(t) + 1);  // + the run's reference
  return false;
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

bool task_run(task_header* t) noexcept {
  switch (ts::to_running(t->state)) {
    case ts::run_result::stale:
      // The task's joiner ran it inline (task_claim) after this entry was queued.
      t->ref_dec();
      return false;
    case ts::run_result::cancelled: return poll_running(t, true);
    case ts::run_result::success: break;
  }
  return poll_running(t, false);  // the queue entry's reference is the run's
}

bool task_claim(task_header* t) noexcept { return ts::claim(t->state); }

bool task_run_claimed(task_header* t) noexcept {
  // The claim saw CANCELLED clear; an abort since then is seen after the poll (to_idle).
  return poll_running(t, false);
}

bool task_join_inline(task_header* t) noexcept { return t->sched->run_inline(t); }

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
      if (std::exception_ptr e = t->vtable->drop_output(t))
        task_scheduler::log_unhandled(e, "a task whose join_handle was dropped unjoined after it ended");
      if (ts::release_join_interest(t->state)) t->vtable->dealloc(t);
      return;
    case ts::handle_drop::reset_waker:
      t->join_waker.reset();  // we cleared JOIN_WAKER before COMPLETE: the slot is ours
      t->ref_dec();
      return;
  }
}

void task_shutdown(task_header* t) noexcept {
  // Workers are joined before shutdown cancels tasks: nobody holds RUNNING.
  if (!ts::to_shutdown(t->state)) return;
  t->vtable->cancel(t, static_cast<int>(errc::runtime_shutdown));
  const unsigned refs = complete(t);
  if (refs) t->ref_dec(refs);
}

}  // namespace zokio::detail

#endif
