// The task harness: runs the state machine's transitions (detail/task_state.hpp) and does
// what their results ask for (poll, queue, complete, wake the joiner, free), through the
// task_scheduler interface. Shared by all task types. The poll path itself is a template on
// the poll observer (detail/task_harness.hpp); its plain instantiation is compiled here.
#ifndef ZOKIO_IMPL_TASK_HEADER_IPP
#define ZOKIO_IMPL_TASK_HEADER_IPP

#include <string>

#include <zokio/detail/task_harness.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/detail/wake_gate.hpp>
#include <zokio/error.hpp>

namespace zokio::detail {

namespace ts = task_state;

namespace {

// A wake or abort from a thread that is not one of the task's workers may race the runtime's
// teardown: it goes through the wake gate (wake_gate.hpp), which keeps the scheduler alive
// from the state check to the end of schedule(). Nothing in that section wakes another task.
const void* gate_key(const task_header* t) noexcept {
  // A pointer compare only: the scheduler may be gone already (that is what the gate is for).
  return task_scheduler::is_worker_of(t->sched) ? nullptr : static_cast<const void*>(t->sched);
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
  no_poll_observer none;
  return task_run_with(t, none);
}

bool task_claim(task_header* t) noexcept { return ts::claim(t->state); }

inline_run task_run_joined(task_header* t, bool claimed) noexcept {
  no_poll_observer none;
  return task_run_joined_with(t, claimed, none);
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
  harness::complete(t, 0);  // shutdown's RUNNING came with no reference (the caller holds a pin)
}

}  // namespace zokio::detail

#endif
