// The task state machine: wake, run, complete, abort, join-waker hand-off, shutdown.
#ifndef ZOKIO_IMPL_TASK_HEADER_IPP
#define ZOKIO_IMPL_TASK_HEADER_IPP

#include <cassert>

#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/detail/wake_gate.hpp>

namespace zokio::detail {

using namespace task_state;

// Every transition is a CAS loop on `state` with acq_rel: the word carries the hand-offs of
// the future (RUNNING), of the result (COMPLETE) and of the join waker slot (JOIN_WAKER), so
// each successful CAS both publishes this side's writes and acquires the other side's.

namespace {

// Called with RUNNING held and the result stored. Publishes COMPLETE, hands the result to the
// join side (or drops it), unlinks from the owned list. Returns how many references the
// caller must drop: the owned list's one, unless it was handed back to the owning worker.
unsigned complete(task_header* t) noexcept {
  auto s = t->state.load(std::memory_order_acquire);
  std::uint64_t next;
  do {
    assert(s & RUNNING);
    next = (s & ~(RUNNING | NOTIFIED)) | COMPLETE;
  } while (!t->state.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
  if (!(s & JOIN_INTEREST)) {
    // The handle is gone (detached or dropped): nobody else touches the result, and an
    // exception in it would otherwise vanish.
    if (std::exception_ptr e = t->vtable->drop_output(t))
      t->sched->report_unhandled(std::move(e), "a detached task (or one whose join_handle was dropped)");
  } else if (s & JOIN_WAKER)
    t->join_waker.wake_by_ref();  // the slot is ours to read once COMPLETE is set
  return t->sched->release_owned(t) ? 1u : 0u;
}

// A wake or abort from a thread that is not one of the task's workers may race the runtime's
// teardown: it goes through the wake gate (wake_gate.hpp), which keeps the scheduler alive
// from the state check to the end of schedule(). Nothing in that section wakes another task.
const void* gate_key(const task_header* t) noexcept {
  return t->sched->on_worker_thread() ? nullptr : t->sched;
}

void drop_refs(task_header* t, unsigned n) noexcept {
  // Ordering: acq_rel, as in ref_dec.
  auto prev = t->state.fetch_sub(n * REF_ONE, std::memory_order_acq_rel);
  if (ref_count(prev) == n) t->vtable->dealloc(t);
}

}  // namespace

void task_wake_by_ref(task_header* t) noexcept {
  wake_gate_guard gate(gate_key(t));
  auto s = t->state.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) return;
    if (s & NOTIFIED) {
      // A wake is already pending. Decided by an RMW, not by the load: the task_run CAS that
      // takes this notification then reads from it and acquires what the waker published
      // before waking (an event source whose poll only loads would otherwise miss it: a lost
      // wake found by the Relacy model, doc/relacy.md; Tokio's #7622).
      if (t->state.compare_exchange_weak(s, s, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        return;
      continue;
    }
    if (s & RUNNING) {
      // The poller sees NOTIFIED when it releases RUNNING and requeues the task itself.
      if (t->state.compare_exchange_weak(s, s | NOTIFIED, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        return;
      continue;
    }
    // Idle: the queue entry we are about to make owns a new reference.
    if (t->state.compare_exchange_weak(s, (s | NOTIFIED) + REF_ONE, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      t->sched->schedule(t);
      return;
    }
  }
}

void task_wake_by_val(task_header* t) noexcept {
  wake_gate_guard gate(gate_key(t));
  auto s = t->state.load(std::memory_order_acquire);
  for (;;) {
    if ((s & NOTIFIED) && !(s & COMPLETE) && ref_count(s) > 1) {
      // A wake is already pending (whose queue entry holds a reference, so ours is not the
      // last): drop our reference in the RMW that saw NOTIFIED, as in wake_by_ref above.
      if (t->state.compare_exchange_weak(s, s - REF_ONE, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        return;
      continue;
    }
    if (s & (COMPLETE | NOTIFIED)) {
      gate.release();  // dropping the last reference may run destructors that wake
      t->ref_dec();
      return;
    }
    if (s & RUNNING) {
      // The running poller holds a reference, so this one cannot be the last.
      if (t->state.compare_exchange_weak(s, (s | NOTIFIED) - REF_ONE, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        return;
      continue;
    }
    // Idle: our reference moves into the queue entry.
    if (t->state.compare_exchange_weak(s, s | NOTIFIED, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      t->sched->schedule(t);
      return;
    }
  }
}

namespace {

// The poll of a task whose RUNNING bit the caller holds, with one reference for the run
// (`s`: the state the claim saw). Returns true when the task must be requeued (it was woken
// during the poll; the run's reference then belongs to the new queue entry).
bool poll_claimed(task_header* t, std::uint64_t s) noexcept {
  bool done;
  if (s & CANCELLED) {
    t->vtable->cancel(t, static_cast<int>(errc::task_aborted));
    done = true;
  } else {
    // Borrowed waker: the poll must not drop the reference it stands on.
    waker w = waker::from_raw({t, &task_waker_fns::vtable});
    context cx(w);
    done = t->vtable->poll(t, cx);  // exceptions are caught and stored by the cell
    w.release();
  }
  if (!done) {
    s = t->state.load(std::memory_order_acquire);
    for (;;) {
      if (s & CANCELLED) {
        t->vtable->cancel(t, static_cast<int>(errc::task_aborted));
        done = true;
        break;
      }
      if (s & NOTIFIED) {
        // Woken during the poll: keep the reference for the new queue entry.
        if (t->state.compare_exchange_weak(s, s & ~RUNNING, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
          return true;
        continue;
      }
      // Back to idle, dropping the run's reference in the same CAS.
      auto next = (s & ~RUNNING) - REF_ONE;
      if (t->state.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
        if (ref_count(next) == 0) t->vtable->dealloc(t);
        return false;
      }
    }
  }
  drop_refs(t, complete(t) + 1);  // + the run's reference
  return false;
}

}  // namespace

bool task_run(task_header* t) noexcept {
  auto s = t->state.load(std::memory_order_acquire);
  for (;;) {
    if ((s & (NOTIFIED | RUNNING | COMPLETE)) != NOTIFIED) {
      // A stale entry: the task's joiner ran it inline (task_claim) after this entry was
      // queued; it has run, runs, or waits for a wake that makes an entry of its own.
      drop_refs(t, 1);
      return false;
    }
    if (t->state.compare_exchange_weak(s, (s & ~NOTIFIED) | RUNNING, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      break;
  }
  return poll_claimed(t, s);  // the queue entry's reference is the run's
}

bool task_claim(task_header* t) noexcept {
  auto s = t->state.load(std::memory_order_acquire);
  for (;;) {
    // Not started and not aborted: an aborted task is left to its queue entry (the cancel
    // runs on the runtime as usual).
    if ((s & (NOTIFIED | RUNNING | COMPLETE | CANCELLED)) != NOTIFIED) return false;
    // The run gets a reference of its own: the queue entry keeps its one until it is popped
    // (or removed by the caller, who then drops it).
    if (t->state.compare_exchange_weak(s, ((s & ~NOTIFIED) | RUNNING) + REF_ONE,
                                       std::memory_order_acq_rel, std::memory_order_acquire))
      return true;
  }
}

bool task_run_claimed(task_header* t) noexcept {
  // The claim saw CANCELLED clear; an abort since then is seen after the poll, as in task_run.
  return poll_claimed(t, 0);
}

bool task_join_inline(task_header* t) noexcept { return t->sched->run_inline(t); }

void task_abort(task_header* t) noexcept {
  wake_gate_guard gate(gate_key(t));
  auto s = t->state.load(std::memory_order_acquire);
  for (;;) {
    if (s & (COMPLETE | CANCELLED)) return;
    if (s & (RUNNING | NOTIFIED)) {
      // Whoever holds or will take RUNNING sees CANCELLED and drops the future.
      if (t->state.compare_exchange_weak(s, s | CANCELLED, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        return;
      continue;
    }
    // Idle: schedule it so a worker drops the future (on the runtime, not on this thread).
    if (t->state.compare_exchange_weak(s, (s | CANCELLED | NOTIFIED) + REF_ONE,
                                       std::memory_order_acq_rel, std::memory_order_acquire)) {
      t->sched->schedule(t);
      return;
    }
  }
}

bool task_set_join_waker(task_header* t, const waker& w) noexcept {
  auto s = t->state.load(std::memory_order_acquire);
  if (s & COMPLETE) return true;
  if (s & JOIN_WAKER) {
    if (t->join_waker.will_wake(w)) return false;
    // Take the slot back (fails if the task completes meanwhile: then it may be reading it).
    for (;;) {
      if (s & COMPLETE) return true;
      if (t->state.compare_exchange_weak(s, s & ~JOIN_WAKER, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        break;
    }
  }
  // JOIN_WAKER is clear: the slot is ours.
  t->join_waker = w;
  s = t->state.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) {
      t->join_waker.reset();
      return true;
    }
    // Ordering: release publishes the slot to complete(), which acquires the state.
    if (t->state.compare_exchange_weak(s, s | JOIN_WAKER, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      return false;
  }
}

void task_drop_join_handle(task_header* t) noexcept {
  auto s = t->state.load(std::memory_order_acquire);
  if (s & COMPLETE) {
    // Joined (or finished before the drop): with JOIN_INTEREST set at completion the task
    // side never touches the result again, so it is dropped first, and then the interest
    // and our reference go in one RMW (JOIN_INTEREST is set: only the handle clears it).
    // An exception never joined is printed: the runtime may be gone by now (a handle can
    // outlive it), so it cannot be propagated.
    if (std::exception_ptr e = t->vtable->drop_output(t))
      scheduler::log_unhandled(e, "a task whose join_handle was dropped unjoined after it ended");
    // Ordering: acq_rel, as in ref_dec (the result's destruction happens-before dealloc).
    auto prev = t->state.fetch_sub(JOIN_INTEREST + REF_ONE, std::memory_order_acq_rel);
    if (ref_count(prev) == 1) t->vtable->dealloc(t);
    return;
  }
  // Detach of a running or queued task with no join waker: clear the interest and drop our
  // reference in one CAS.
  while (!(s & (COMPLETE | JOIN_WAKER))) {
    auto next = (s & ~JOIN_INTEREST) - REF_ONE;
    if (t->state.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      if (ref_count(next) == 0) t->vtable->dealloc(t);
      return;
    }
  }
  std::uint64_t next;
  do {
    next = (s & COMPLETE) ? (s & ~JOIN_INTEREST) : (s & ~(JOIN_INTEREST | JOIN_WAKER));
  } while (!t->state.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
  if (s & COMPLETE) {
    // The task side no longer touches the result. An exception never joined is printed: the
    // runtime may be gone by now (a handle can outlive it), so it cannot be propagated.
    if (std::exception_ptr e = t->vtable->drop_output(t))
      scheduler::log_unhandled(e, "a task whose join_handle was dropped unjoined after it ended");
  }
  else if (s & JOIN_WAKER)
    t->join_waker.reset();  // we cleared JOIN_WAKER before COMPLETE: the slot is ours
  t->ref_dec();
}

void task_shutdown(task_header* t) noexcept {
  auto s = t->state.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) return;
    assert(!(s & RUNNING));  // workers are joined before shutdown cancels tasks
    if (t->state.compare_exchange_weak(s, s | RUNNING, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      break;
  }
  t->vtable->cancel(t, static_cast<int>(errc::runtime_shutdown));
  drop_refs(t, complete(t));
}

}  // namespace zokio::detail

#endif
