// Relacy model of the task state word (see doc/relacy.md).
//
// Mirrors, with the same memory orders:
//   zokio/detail/task_state.hpp       the bit layout and every named transition
//                                     (to_notified_by_ref / _by_val, to_running, claim,
//                                     to_idle, to_complete (references folded into the
//                                     COMPLETE RMW), to_complete_joined, cancel,
//                                     set_/unset_join_waker, drop_join_handle,
//                                     release_join_interest, ref_dec, to_inspecting,
//                                     from_inspecting);
//   zokio/impl/task_header.ipp        the harness: complete, poll_running, task_wake_by_ref,
//                                     task_wake_by_val, task_run (with the stale-entry drop),
//                                     task_claim / task_run_joined (a completion held
//                                     for the joiner), task_finish_joined, task_abort,
//                                     task_set_join_waker, task_drop_join_handle,
//                                     task_inspect (the task dump's hold on a waiting task);
//   zokio/detail/scheduler.hpp        spawn's initial state (NOTIFIED | JOIN_INTEREST, three
//                                     references: handle, queue entry, owned list);
//   zokio/impl/scheduler.ipp          run_inline's two ways to run a task its joiner found
//                                     not started (the entry taken back and run through
//                                     task_run; a claim that leaves the entry stale);
//   zokio/join_handle.hpp             poll: the inline join (a held completion: the
//                                     result moved out, then task_finish_joined, and the
//                                     handle owns nothing after), task_set_join_waker, then
//                                     take_result.
// The model keeps the pre-split shape (one function per operation, the transitions inlined
// into them); the CAS loops and orders are the same.
// A change to any of those needs the same change here. (The wake gate and the
// unhandled-exception reporting around these functions do not touch the state word.)
//
// One task; one or two workers pop its queue entries and run task_run; a waker thread sends
// events and wakes the task (by value, by reference, self-wakes from inside the poll); a join
// thread polls the join_handle (re-registering another waker), aborts, detaches or drops it.
// Two one-worker configurations are searched exhaustively (context bound 1), the others with
// the random scheduler. Checked:
//   - never polled twice at once (the future is an rl::var: two polls race; plus a counter);
//   - a wake is never lost: a wake during a poll causes another poll, so the future sees its
//     last event and the task completes (else the join thread sleeps forever: "deadlock", or
//     the task is never freed: "memory leak");
//   - at most one live queue entry exists at a time (NOTIFIED: the task sits in one queue);
//     an entry left stale by a claim is dropped when popped (queue entries <= 1 + claims);
//   - freed exactly once, after its last use (Relacy tracks new/delete: leak, double free,
//     access to freed memory);
//   - the join waker slot and the result are read only after their publication (rl::var:
//     a read not ordered after the write is a data race);
//   - the join side gets the value, or the cancellation when it aborted first.
//
// Differences from the real code: the scheduler's queues are one mutex-guarded queue (any
// real queue orders a push before the pop); release_owned always hands the owned list's
// reference back to the caller (complete returns 1); the waker thread's references are made
// at spawn (a clone is a relaxed increment from a live reference, wherever it happens).
//
// Event source. The future waits for the waker thread's events; the sender publishes one
// and then wakes, the poll checks how many arrived. By default the source is load-only (a
// release RMW to send, one acquire load to check), the weaker kind: the real
// task_wake_by_ref / task_wake_by_val decide the already-notified case with an RMW on the
// state (compare_exchange(s, s) / (s, s - REF_ONE)), so the task_run CAS that takes the
// notification acquires the sender's event. -DZOKIO_RELACY_LOAD_ONLY_SOURCE=0 checks an RMW
// source (atomic_waker, wait lists) instead. Before that fix a wake that found NOTIFIED
// returned after a plain load, and a load-only source lost the wake (store buffering;
// doc/relacy.md, "Finding"): seeded bug 4.
//
// Seeded bugs (`--seed-bug n`, each must make the model fail):
//   1  a wake that finds the task RUNNING does not set NOTIFIED: the wake is lost.
//   2  task_set_join_waker publishes JOIN_WAKER before writing the slot: complete() reads
//      the slot while the join side writes it.
//   3  an idle wake_by_ref queues the task without taking a reference for the queue entry:
//      the task is freed while still queued.
//   4  the already-notified wake decided by a plain load (the code before the finding's fix):
//      with the load-only source, a wake is lost.
//   5  task_claim takes no reference for the run (the stale entry's one is dropped when it is
//      popped): the task is freed while the joiner still runs it.
//   6  complete() drops its references in the COMPLETE RMW even when it must still read the
//      join waker slot: the handle's drop frees the task under the read.
//   7  the task dump's inspection ends by clearing RUNNING without looking at NOTIFIED or
//      CANCELLED: a wake (or an abort) that came while it held the task is lost.
// (A stale entry that polls an idle task without NOTIFIED is only a spurious poll, which a
// future must tolerate: not a seeded bug, the model passes with it.)
#include <cstdint>

#include "model_common.hpp"

// The library decides the already-notified case with an RMW (task_header.ipp, since the
// finding below was fixed); the load-only event source is then checked by default, as the
// stricter one. Seeded bug 4 puts the old load-only coalescing back: it must fail.
// (-DZOKIO_RELACY_RMW_COALESCE=0 checks the load-only coalescing in every run.)
#ifndef ZOKIO_RELACY_RMW_COALESCE
#  define ZOKIO_RELACY_RMW_COALESCE 1
#endif
// Seeded bug 4 puts the load-only coalescing back.
inline bool rmw_coalesce() { return ZOKIO_RELACY_RMW_COALESCE && !seed_bug(4); }
#ifndef ZOKIO_RELACY_LOAD_ONLY_SOURCE
#  define ZOKIO_RELACY_LOAD_ONLY_SOURCE 1
#endif

namespace {

// zokio/detail/task_state.hpp
constexpr std::uint64_t RUNNING = 1u << 0;
constexpr std::uint64_t NOTIFIED = 1u << 1;
constexpr std::uint64_t COMPLETE = 1u << 2;
constexpr std::uint64_t CANCELLED = 1u << 3;
constexpr std::uint64_t JOIN_INTEREST = 1u << 4;
constexpr std::uint64_t JOIN_WAKER = 1u << 5;
constexpr std::uint64_t REF_SHIFT = 6;
constexpr std::uint64_t REF_ONE = std::uint64_t{1} << REF_SHIFT;
constexpr std::uint64_t ref_count(std::uint64_t s) { return s >> REF_SHIFT; }

constexpr int OUT_NONE = 0, OUT_VALUE = 1, OUT_ABORTED = 2, OUT_GONE = 3;

struct model;

// How often each interesting path ran (summed over all iterations; printed per run), so that a
// model change that stops reaching a path shows up in the log.
struct path_counts {
  unsigned long wake_coalesced, wake_while_running, requeued, abort_idle, abort_running,
      cancelled_after_poll, waker_taken_back, waker_reset_complete, handle_cleared_waker,
      joiner_woken, output_dropped_by_task, claimed, entry_taken_back, stale_dropped,
      held_for_joiner, inspected, inspect_requeued;
};
path_counts paths;

struct task {
  rl::atomic<std::uint64_t> state;
  model* m;
  // The future: how many polls it has had (written by each poll: two polls at once race).
  rl::var<int> polls;
  rl::var<bool> fut_alive;
  rl::var<int> output;      // OUT_*: the cell's result variant
  rl::var<int> join_waker;  // 0: empty, else the id of the joiner's waker

  void ref_dec();
};

// Outcome bookkeeping, outside the model (plain ints: no added synchronization).
struct ledger {
  int polling;  // polls in progress
  int freed;
  int completed;
  int queued;   // queue entries (at most one live one, plus stale ones left by claims)
  int claims;   // successful task_claim calls
  int joined;   // what the join side got (OUT_*), 0 if it did not join
};

// Which operations each non-worker thread runs, in order.
//   waker thread:  'v' event + wake_by_val, 'r' event + wake_by_ref, 'd' drop a waker,
//                  'a' abort
//   join thread:   'p' poll the handle with waker 1, 'q' poll with waker 2, 'w' wait for the
//                  join waker and poll until ready, 'a' abort, 'x' drop the handle (last),
//                  'i' inline join by claim (run_inline when the entry is elsewhere: claim,
//                  run, requeue if woken, then poll), 'e' inline join that takes the queue
//                  entry back first (run_inline's LIFO slot / spawn stack case: task_run on
//                  that entry, then poll), 'n' the task dump looks at it (task_inspect,
//                  through the handle's reference as the dump's pin)
//   yields: how many of the first polls wake the task themselves (yield_now) and return
//           pending.
struct task_config {
  const char* waker_ops;
  const char* join_ops;
  int yields;
  int workers;  // 1 or 2
};

struct model {
  task* t;
  int yields;
  int events_total;
  // The event source the future waits on (see "Event source" at the top).
  rl::atomic<int> events;
  void send_event() {
#if ZOKIO_RELACY_LOAD_ONLY_SOURCE
    events.fetch_add(1, rl::memory_order_release);
#else
    events.fetch_add(1, rl::memory_order_acq_rel);
#endif
  }
  int check_events() {
#if ZOKIO_RELACY_LOAD_ONLY_SOURCE
    return events.load(rl::memory_order_acquire);
#else
    return events.fetch_add(0, rl::memory_order_acq_rel);
#endif
  }
  // The scheduler: one queue, guarded by mu (as any real queue, a push happens-before the
  // pop that takes it).
  rl::mutex mu;
  rl::condition_variable cv;
  rl::var<int> queue_len;
  rl::var<int> running;
  rl::var<int> ext_done;
  rl::var<bool> join_woken;
  ledger led;

  void schedule(task*) {
    mu.lock($);
    RL_ASSERT(led.queued <= led.claims);  // a second live entry: the task would run twice
    led.queued += 1;
    queue_len($) = queue_len($) + 1;
    cv.notify_all($);
    mu.unlock($);
  }

  // The join waker: wakes the join thread (its own task, in the real runtime). The slot is
  // read after the lock: a Relacy thread switches only at atomics and synchronisation, and
  // the real wake_by_ref reads the slot while it runs (the vtable, then the data it wakes),
  // so the model needs a switch point before the read for a premature free to show.
  void wake_joiner(const rl::var<int>& slot) {
    mu.lock($);
    const int waker_id = slot($);
    RL_ASSERT(waker_id == 1 || waker_id == 2);
    join_woken($) = true;
    cv.notify_all($);
    mu.unlock($);
  }
};

// task_vtable, as task_cell implements it.
bool vt_poll(task* t);  // below: needs task_wake_by_ref
void vt_cancel(task* t) {
  RL_ASSERT(t->fut_alive($));
  t->fut_alive($) = false;
  t->output($) = OUT_ABORTED;
}
void vt_drop_output(task* t) { t->output($) = OUT_GONE; }
void vt_dealloc(task* t) {
  model* m = t->m;
  m->led.freed += 1;
  RL_ASSERT(m->led.freed == 1);
  RL_ASSERT(!t->fut_alive($));  // every path completes the task before its last reference
  delete t;                     // Relacy: double free, use after free
}

void task::ref_dec() {
  auto prev = state.fetch_sub(REF_ONE, rl::memory_order_acq_rel);
  if (ref_count(prev) == 1) vt_dealloc(this);
}

// --- zokio/impl/task_header.ipp ---------------------------------------------------------

void drop_refs(task* t, unsigned n) {
  auto prev = t->state.fetch_sub(n * REF_ONE, rl::memory_order_acq_rel);
  if (ref_count(prev) == n) vt_dealloc(t);
}

// Called with RUNNING held and the result stored; `run_refs`: the run's reference. The owned
// list's reference (release_owned, before COMPLETE) and the run's go in the COMPLETE RMW
// unless the join waker must be woken; with nobody joining, the output is dropped first.
void complete(task* t, unsigned run_refs) {
  model* m = t->m;
  const std::uint64_t refs = run_refs + 1;  // + release_owned(t): the owned list's reference
  auto s = t->state.load(rl::memory_order_acquire);
  bool dropped = false;
  bool wake;
  std::uint64_t next;
  for (;;) {
    RL_ASSERT(s & RUNNING);
    if (!(s & JOIN_INTEREST) && !dropped) {
      ++paths.output_dropped_by_task;
      vt_drop_output(t);  // still the task side's result: before COMPLETE
      dropped = true;
    }
    wake = (s & JOIN_INTEREST) && (s & JOIN_WAKER);
    next = (s & ~(RUNNING | NOTIFIED)) | COMPLETE;
    // Seeded bug 6: references dropped even when the slot is still to be read.
    if (!wake || seed_bug(6)) next -= refs * REF_ONE;
    if (t->state.compare_exchange_weak(s, next, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire))
      break;
  }
  m->led.completed += 1;
  if (wake) {
    ++paths.joiner_woken;
    m->wake_joiner(t->join_waker);  // join_waker.wake_by_ref()
    if (!seed_bug(6)) drop_refs(t, refs);
  } else if (ref_count(next) == 0) {
    vt_dealloc(t);
  }
}

void task_wake_by_ref(task* t) {
  auto s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if (rmw_coalesce()) {
      if (s & COMPLETE) return;
      if (s & NOTIFIED) {  // decide with an RMW, so a later poll acquires our event
        if (t->state.compare_exchange_weak(s, s, rl::memory_order_acq_rel,
                                           rl::memory_order_acquire)) {
          ++paths.wake_coalesced;
          return;
        }
        continue;
      }
    } else if (s & (COMPLETE | NOTIFIED)) {
      if (s & NOTIFIED) ++paths.wake_coalesced;
      return;
    }
    if (s & RUNNING) {
      if (seed_bug(1)) return;  // BUG: the poller is not told to poll again
      if (t->state.compare_exchange_weak(s, s | NOTIFIED, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        ++paths.wake_while_running;
        return;
      }
      continue;
    }
    // Seeded bug 3: the queue entry owns no reference.
    const std::uint64_t queue_ref = seed_bug(3) ? 0 : REF_ONE;
    if (t->state.compare_exchange_weak(s, (s | NOTIFIED) + queue_ref, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire)) {
      t->m->schedule(t);
      return;
    }
  }
}

void task_wake_by_val(task* t) {
  auto s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if (rmw_coalesce() && (s & NOTIFIED) && !(s & COMPLETE) && ref_count(s) > 1) {
      // drop our reference in the CAS that saw NOTIFIED
      if (t->state.compare_exchange_weak(s, s - REF_ONE, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        ++paths.wake_coalesced;
        return;
      }
      continue;
    }
    if (s & (COMPLETE | NOTIFIED)) {
      if (s & NOTIFIED) ++paths.wake_coalesced;
      t->ref_dec();
      return;
    }
    if (s & RUNNING) {
      if (seed_bug(1)) {
        t->ref_dec();  // BUG: the poller is not told to poll again
        return;
      }
      if (t->state.compare_exchange_weak(s, (s | NOTIFIED) - REF_ONE, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        ++paths.wake_while_running;
        return;
      }
      continue;
    }
    if (t->state.compare_exchange_weak(s, s | NOTIFIED, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire)) {
      t->m->schedule(t);
      return;
    }
  }
}

// poll_claimed: the caller holds RUNNING and one reference for the run. `joiner`: the
// caller is the join side running it inline: a completion is left held for it (unless it left
// a join waker). Returns RUN_DONE, RUN_REQUEUE or RUN_HELD.
constexpr int RUN_DONE = 0, RUN_REQUEUE = 1, RUN_HELD = 2;
int poll_claimed(task* t, std::uint64_t s, bool joiner) {
  bool done;
  if (s & CANCELLED) {
    vt_cancel(t);
    done = true;
  } else {
    done = vt_poll(t);  // with a borrowed waker: no reference taken or dropped
  }
  if (!done) {
    s = t->state.load(rl::memory_order_acquire);
    for (;;) {
      if (s & CANCELLED) {
        ++paths.cancelled_after_poll;
        vt_cancel(t);
        done = true;
        break;
      }
      if (s & NOTIFIED) {
        if (t->state.compare_exchange_weak(s, s & ~RUNNING, rl::memory_order_acq_rel,
                                           rl::memory_order_acquire)) {
          ++paths.requeued;
          return RUN_REQUEUE;
        }
        continue;
      }
      auto next = (s & ~RUNNING) - REF_ONE;
      if (t->state.compare_exchange_weak(s, next, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        if (ref_count(next) == 0) vt_dealloc(t);
        return RUN_DONE;
      }
    }
  }
  if (joiner && !(t->state.load(rl::memory_order_acquire) & JOIN_WAKER)) {
    ++paths.held_for_joiner;
    return RUN_HELD;
  }
  complete(t, 1);
  return RUN_DONE;
}

// task_finish_joined: the joiner took the result of a held run; COMPLETE, the join interest
// and the run's, handle's and owned list's references in one RMW.
void task_finish_joined(task* t) {
  model* m = t->m;
  auto s = t->state.load(rl::memory_order_acquire);
  std::uint64_t next;
  do {
    RL_ASSERT(s & RUNNING);
    RL_ASSERT(!(s & JOIN_WAKER));
    next = ((s & ~(RUNNING | NOTIFIED | JOIN_INTEREST)) | COMPLETE) - 3 * REF_ONE;
  } while (!t->state.compare_exchange_weak(s, next, rl::memory_order_acq_rel,
                                           rl::memory_order_acquire));
  m->led.completed += 1;
  if (ref_count(next) == 0) vt_dealloc(t);
}

// task_run (joiner = false) and task_run_joined with the entry taken back (joiner = true).
int task_run_entry(task* t, bool joiner) {
  auto s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if ((s & (NOTIFIED | RUNNING | COMPLETE)) != NOTIFIED) {
      ++paths.stale_dropped;
      drop_refs(t, 1);
      return RUN_DONE;
    }
    if (t->state.compare_exchange_weak(s, (s & ~NOTIFIED) | RUNNING, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire))
      break;
  }
  return poll_claimed(t, s, joiner);
}
bool task_run(task* t) { return task_run_entry(t, false) == RUN_REQUEUE; }

bool task_claim(task* t) {
  auto s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if ((s & (NOTIFIED | RUNNING | COMPLETE | CANCELLED)) != NOTIFIED) return false;
    // Seeded bug 5: the run borrows the stale entry's reference.
    const std::uint64_t run_ref = seed_bug(5) ? 0 : REF_ONE;
    if (t->state.compare_exchange_weak(s, ((s & ~NOTIFIED) | RUNNING) + run_ref,
                                       rl::memory_order_acq_rel, rl::memory_order_acquire)) {
      ++paths.claimed;
      t->m->led.claims += 1;
      return true;
    }
  }
}

int task_run_claimed(task* t) { return poll_claimed(t, 0, true); }

void task_abort(task* t) {
  auto s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if (s & (COMPLETE | CANCELLED)) return;
    if (s & (RUNNING | NOTIFIED)) {
      if (t->state.compare_exchange_weak(s, s | CANCELLED, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        if (s & RUNNING) ++paths.abort_running;
        return;
      }
      continue;
    }
    if (t->state.compare_exchange_weak(s, (s | CANCELLED | NOTIFIED) + REF_ONE,
                                       rl::memory_order_acq_rel, rl::memory_order_acquire)) {
      ++paths.abort_idle;
      t->m->schedule(t);
      return;
    }
  }
}

bool task_set_join_waker(task* t, int w) {
  auto s = t->state.load(rl::memory_order_acquire);
  if (s & COMPLETE) return true;
  if (s & JOIN_WAKER) {
    if (t->join_waker($) == w) return false;  // will_wake
    for (;;) {
      if (s & COMPLETE) return true;
      if (t->state.compare_exchange_weak(s, s & ~JOIN_WAKER, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        ++paths.waker_taken_back;
        break;
      }
    }
  }
  if (seed_bug(2)) {
    // BUG: JOIN_WAKER is published before the slot is written.
    s = t->state.load(rl::memory_order_acquire);
    for (;;) {
      if (s & COMPLETE) return true;
      if (t->state.compare_exchange_weak(s, s | JOIN_WAKER, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire))
        break;
    }
    t->join_waker($) = w;
    return false;
  }
  t->join_waker($) = w;
  s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) {
      ++paths.waker_reset_complete;
      t->join_waker($) = 0;  // join_waker.reset()
      return true;
    }
    if (t->state.compare_exchange_weak(s, s | JOIN_WAKER, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire))
      return false;
  }
}

void task_drop_join_handle(task* t) {
  auto s = t->state.load(rl::memory_order_acquire);
  if (s & COMPLETE) {
    vt_drop_output(t);
    auto prev = t->state.fetch_sub(JOIN_INTEREST + REF_ONE, rl::memory_order_acq_rel);
    if (ref_count(prev) == 1) vt_dealloc(t);
    return;
  }
  while (!(s & (COMPLETE | JOIN_WAKER))) {
    auto next = (s & ~JOIN_INTEREST) - REF_ONE;
    if (t->state.compare_exchange_weak(s, next, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire)) {
      if (ref_count(next) == 0) vt_dealloc(t);
      return;
    }
  }
  std::uint64_t next;
  do {
    next = (s & COMPLETE) ? (s & ~JOIN_INTEREST) : (s & ~(JOIN_INTEREST | JOIN_WAKER));
  } while (!t->state.compare_exchange_weak(s, next, rl::memory_order_acq_rel,
                                           rl::memory_order_acquire));
  if (s & COMPLETE)
    vt_drop_output(t);
  else if (s & JOIN_WAKER) {
    ++paths.handle_cleared_waker;
    t->join_waker($) = 0;  // join_waker.reset()
  }
  t->ref_dec();
}

// task_inspect: the task dump holds a waiting task still (RUNNING plus a reference) while it
// reads its frames, then hands on a wake or an abort that came meanwhile.
void task_inspect(task* t) {
  auto s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    if (s & (RUNNING | NOTIFIED | COMPLETE | CANCELLED)) return;
    if (t->state.compare_exchange_weak(s, (s | RUNNING) + REF_ONE, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire))
      break;
  }
  ++paths.inspected;
  RL_ASSERT(t->fut_alive($));
  (void)t->polls($);  // the frames: a poll writing them now would be a data race
  s = t->state.load(rl::memory_order_acquire);
  for (;;) {
    // Seeded bug 7: the inspection's hold drops a wake.
    const bool woken = !seed_bug(7) && (s & (NOTIFIED | CANCELLED)) != 0;
    if (woken) {
      if (t->state.compare_exchange_weak(s, (s & ~RUNNING) | NOTIFIED, rl::memory_order_acq_rel,
                                         rl::memory_order_acquire)) {
        ++paths.inspect_requeued;
        t->m->schedule(t);  // the inspection's reference is the entry's
        return;
      }
      continue;
    }
    const auto next = (s & ~RUNNING) - REF_ONE;
    if (t->state.compare_exchange_weak(s, next, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire)) {
      if (ref_count(next) == 0) vt_dealloc(t);
      return;
    }
  }
}

// --- the future -----------------------------------------------------------------------------

// Ready once it has seen every event the waker thread sends; the first `yields` polls wake
// the task themselves first (yield_now) and return pending.
bool vt_poll(task* t) {
  model* m = t->m;
  RL_ASSERT(m->led.polling == 0);  // two polls at once
  m->led.polling += 1;
  RL_ASSERT(t->fut_alive($));
  int n = t->polls($) + 1;
  t->polls($) = n;
  bool ready = false;
  if (n <= m->yields) {
    task_wake_by_ref(t);
  } else if (m->check_events() == m->events_total) {
    t->output($) = OUT_VALUE;  // store the result, destroy the future
    t->fut_alive($) = false;
    ready = true;
  }
  m->led.polling -= 1;
  return ready;
}

// --- the test -------------------------------------------------------------------------------

template <const task_config& C>
struct task_test : rl::test_suite<task_test<C>, C.workers + 2> {
  // Threads 0 .. workers-1: workers; then the waker thread and the join thread.
  model m;

  void before() {
    m.yields = C.yields;
    int wakers = 0, events = 0;
    for (const char* s = C.waker_ops; *s; ++s) {
      wakers += *s == 'v' || *s == 'd';
      events += *s == 'v' || *s == 'r';
    }
    m.events_total = events;
    m.events.store(0, rl::memory_order_relaxed);
    m.queue_len($) = 0;
    m.running($) = 0;
    m.ext_done($) = 0;
    m.join_woken($) = false;
    m.led = ledger{};
    task* t = new task;
    t->m = &m;
    t->polls($) = 0;
    t->fut_alive($) = true;
    t->output($) = OUT_NONE;
    t->join_waker($) = 0;
    // scheduler::spawn: NOTIFIED | JOIN_INTEREST, handle + queue entry + owned list, plus the
    // waker thread's wakers; then schedule.
    t->state.store(NOTIFIED | JOIN_INTEREST | (3 + wakers) * REF_ONE, rl::memory_order_relaxed);
    m.t = t;
    m.queue_len($) = 1;
    m.led.queued = 1;
  }

  void thread(unsigned index) {
    const unsigned n = static_cast<unsigned>(C.workers);
    if (index < n) return worker();
    if (index == n) waker_thread();
    if (index == n + 1) join_thread();
    m.mu.lock($);
    m.ext_done($) = m.ext_done($) + 1;
    m.cv.notify_all($);
    m.mu.unlock($);
  }

  void worker() {
    for (;;) {
      m.mu.lock($);
      for (;;) {
        if (m.queue_len($) > 0) {
          m.queue_len($) = m.queue_len($) - 1;
          m.led.queued -= 1;
          m.running($) = m.running($) + 1;
          break;
        }
        if (m.ext_done($) == 2 && m.running($) == 0) {  // quiescent: nothing can wake it
          m.cv.notify_all($);
          m.mu.unlock($);
          return;
        }
        m.cv.wait(m.mu, $);
      }
      m.mu.unlock($);
      bool requeue = task_run(m.t);  // scheduler::run_task
      if (requeue) m.schedule(m.t);  // push_local
      m.mu.lock($);
      m.running($) = m.running($) - 1;
      m.cv.notify_all($);
      m.mu.unlock($);
    }
  }

  void waker_thread() {
    task* t = m.t;  // this thread's wakers keep it alive until the last one goes
    int left = 0;
    for (const char* s = C.waker_ops; *s; ++s) left += *s == 'v' || *s == 'd';
    for (const char* s = C.waker_ops; *s; ++s) {
      switch (*s) {
        case 'v':
          m.send_event();
          task_wake_by_val(t);
          --left;
          break;
        case 'r':
          m.send_event();
          task_wake_by_ref(t);
          break;
        case 'd':
          t->ref_dec();
          --left;
          break;
        case 'a':
          RL_ASSERT(left > 0);  // abort needs a live reference
          task_abort(t);
          break;
      }
    }
    RL_ASSERT(left == 0);
  }

  void join_thread() {
    task* t = m.t;  // the handle's reference
    auto poll = [&](int waker_id) {
      if (!task_set_join_waker(t, waker_id)) return false;
      int out = t->output($);  // take_result
      RL_ASSERT(out == OUT_VALUE || out == OUT_ABORTED);
      m.led.joined = out;
      return true;
    };
    bool done = false;
    bool released = false;  // a held inline run was finished: the handle owns nothing
    int waker_id = 1;
    // join_handle::poll after an inline run: take a held result, or poll as usual.
    auto after_inline = [&](int r) {
      if (r != RUN_HELD) return poll(waker_id);
      int out = t->output($);  // moved out while RUNNING is held
      RL_ASSERT(out == OUT_VALUE || out == OUT_ABORTED);
      m.led.joined = out;
      task_finish_joined(t);
      released = true;
      return true;
    };
    for (const char* s = C.join_ops; *s; ++s) {
      switch (*s) {
        case 'p':
        case 'q':
          waker_id = *s == 'p' ? 1 : 2;
          if (!done) done = poll(waker_id);
          break;
        case 'a':
          if (!released) task_abort(t);
          break;
        case 'n':
          if (!released) task_inspect(t);
          break;
        case 'i':  // join_handle::poll -> run_inline, entry elsewhere: claim
          if (!done) {
            int r = RUN_DONE;
            if (task_claim(t)) {
              r = task_run_claimed(t);
              if (r == RUN_REQUEUE) m.schedule(t);
            }
            done = after_inline(r);
          }
          break;
        case 'e': {  // run_inline with the entry taken back (here: whichever entry is queued)
          if (done) break;
          m.mu.lock($);
          const bool took = m.queue_len($) > 0;
          if (took) {
            m.queue_len($) = m.queue_len($) - 1;
            m.led.queued -= 1;
          }
          m.mu.unlock($);
          int r = RUN_DONE;
          if (took) {
            ++paths.entry_taken_back;
            r = task_run_entry(t, true);
            if (r == RUN_REQUEUE) m.schedule(t);
          }
          done = after_inline(r);
          break;
        }
        case 'w':
          while (!done) {
            m.mu.lock($);
            while (!m.join_woken($)) m.cv.wait(m.mu, $);
            m.join_woken($) = false;
            m.mu.unlock($);
            done = poll(waker_id);
          }
          break;
        case 'x':
          if (!released) task_drop_join_handle(t);
          return;
      }
    }
    RL_ASSERT(false);  // every join script ends with 'x'
  }

  void after() {
    RL_ASSERT(m.led.completed == 1);
    RL_ASSERT(m.led.freed == 1);
    RL_ASSERT(m.led.queued == 0);
    // Aborted before the future could finish: the joiner sees the cancellation; otherwise it
    // sees the value.
    bool joins = false, aborts = false;
    for (const char* s = C.join_ops; *s; ++s) {
      joins = joins || *s == 'w';
      aborts = aborts || *s == 'a';
    }
    for (const char* s = C.waker_ops; *s; ++s) aborts = aborts || *s == 'a';
    if (joins) RL_ASSERT(m.led.joined == OUT_VALUE || (aborts && m.led.joined == OUT_ABORTED));
  }
};

// Join with a waker switch: register waker 1, re-register waker 2 (takes the slot back), wait.
constexpr task_config join_switch{"vrd", "pqwx", 0, 2};
// Self-wake (yield) during the first poll, racing a wake by value; then join.
constexpr task_config yield_join{"v", "pwx", 1, 2};
// Abort from the join side, then join: the value or the cancellation.
constexpr task_config abort_join{"rd", "apwx", 0, 2};
// Abort from another thread while the join side waits.
constexpr task_config abort_other{"ard", "pwx", 0, 2};
// Detach at once: complete() drops the output.
constexpr task_config detach{"vv", "x", 1, 2};
// Register the join waker, then drop the handle before completion or after.
constexpr task_config register_drop{"rvd", "px", 0, 2};
// The same on one worker, searched exhaustively, with the waker thread's only reference
// consumed by its wake: the handle's drop may then free the task as soon as the completion
// has dropped its own references (seeded bug 6 is caught here).
constexpr task_config register_drop_last{"v", "px", 0, 1};
// One worker, for the exhaustive (context-bound) search.
constexpr task_config small_join{"rd", "pqwx", 1, 1};
constexpr task_config small_abort{"v", "apwx", 0, 1};
// Inline joins: the joiner claims the task (its entry goes stale) racing a worker and wakes,
// with a self-wake in the first poll (the claimed run requeues it); then waits.
constexpr task_config claim_join{"vrd", "iwx", 1, 2};
// The joiner takes the queue entry back and runs it, racing wakes; a second inline attempt.
constexpr task_config entry_join{"rv", "eiwx", 1, 2};
// A claim racing an abort from another thread.
constexpr task_config claim_abort{"ard", "iwx", 0, 2};
// The joiner registers its waker (pending: the first poll yields), then takes the entry back:
// the completion is not held (JOIN_WAKER set) and wakes the joiner's own waker.
constexpr task_config waker_then_inline{"rd", "peiwx", 1, 2};
// One worker, claim then wait: exhaustive.
constexpr task_config small_claim{"v", "iwx", 1, 1};
// The task dump holds the task while wakes and a self-wake race it (seeded bug 7).
constexpr task_config inspect_wakes{"vrd", "pnnwx", 1, 2};
// The dump holds it while another thread aborts it.
constexpr task_config inspect_abort{"ard", "pnwx", 0, 2};
// One worker, a wake racing the dump: exhaustive.
constexpr task_config small_inspect{"v", "pnwx", 0, 1};

void print_paths() {
  const path_counts& p = paths;
  std::printf("  paths: wakes coalesced %lu, on RUNNING %lu; requeued %lu; aborts idle %lu, "
              "running %lu; cancelled after poll %lu; join waker taken back %lu, reset on "
              "COMPLETE %lu, cleared by drop %lu; joiner woken %lu; output dropped by task %lu; "
              "claimed %lu, entry taken back %lu, stale entries dropped %lu, held for the "
              "joiner %lu; inspected %lu, requeued by the inspection %lu\n",
              p.wake_coalesced, p.wake_while_running, p.requeued, p.abort_idle, p.abort_running,
              p.cancelled_after_poll, p.waker_taken_back, p.waker_reset_complete,
              p.handle_cleared_waker, p.joiner_woken, p.output_dropped_by_task, p.claimed,
              p.entry_taken_back, p.stale_dropped, p.held_for_joiner, p.inspected,
              p.inspect_requeued);
}

template <class Test>
bool run(const char* name, rl::scheduler_type_e sched, rl::iteration_t iterations,
         unsigned bound = 1) {
  paths = path_counts{};
  bool ok = zokio_relacy::run<Test>(name, sched, iterations, bound);
  print_paths();
  return ok;
}

template <class Test>
bool run_random(const char* name) {
  return run<Test>(name, rl::sched_random, 50000);
}

}  // namespace

int main(int argc, char** argv) {
  if (!zokio_relacy::parse_args(argc, argv)) return 2;
  bool ok = true;
  ok = ok && run<task_test<small_join>>("task: 1 worker, yield, join re-registers (exhaustive)",
                                        rl::sched_bound, 0, 1);
  ok = ok && run<task_test<small_abort>>("task: 1 worker, abort then join (exhaustive)",
                                         rl::sched_bound, 0, 1);
  ok = ok && run<task_test<small_claim>>("task: 1 worker, joiner claims it inline (exhaustive)",
                                         rl::sched_bound, 0, 1);
  ok = ok && run<task_test<small_inspect>>("task: 1 worker, the dump holds it while it is woken (exhaustive)",
                                           rl::sched_bound, 0, 1);
  ok = ok && run_random<task_test<inspect_wakes>>("task: the dump holds it, wakes and a self-wake race");
  ok = ok && run_random<task_test<inspect_abort>>("task: the dump holds it, an abort races");
  ok = ok && run_random<task_test<claim_join>>("task: inline join by claim, self-wake, wakes");
  ok = ok && run_random<task_test<entry_join>>("task: inline join takes the entry back");
  ok = ok && run_random<task_test<claim_abort>>("task: inline join by claim racing an abort");
  ok = ok && run_random<task_test<waker_then_inline>>(
                 "task: join waker registered, then the entry taken back");
  ok = ok && run_random<task_test<join_switch>>("task: wake x2, join re-registers its waker");
  ok = ok && run_random<task_test<yield_join>>("task: self-wake in poll + wake_by_val, join");
  ok = ok && run_random<task_test<abort_join>>("task: joiner aborts, then joins");
  ok = ok && run_random<task_test<abort_other>>("task: abort from another thread, join");
  ok = ok && run_random<task_test<detach>>("task: detached at once, yield + 2 wakes");
  ok = ok && run_random<task_test<register_drop>>("task: join waker registered, handle dropped");
  ok = ok && run<task_test<register_drop_last>>(
                 "task: 1 worker, join waker registered, handle dropped, no other reference "
                 "(exhaustive, 2 preemptions)", rl::sched_bound, 0, 2);
  return zokio_relacy::finish(ok);
}
