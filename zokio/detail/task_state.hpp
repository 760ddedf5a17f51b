// The task state word and its named transitions: every change of a task's lifecycle (wake,
// run, idle, complete, abort, join-waker hand-off, handle drop, shutdown) is one function here.
#ifndef ZOKIO_DETAIL_TASK_STATE_HPP
#define ZOKIO_DETAIL_TASK_STATE_HPP

#include <atomic>
#include <cstdint>

namespace zokio::detail::task_state {

// Bit layout of task_header::state (Tokio's design, re-derived):
//
//   RUNNING        a worker, a joiner running it inline, or shutdown has exclusive access to
//                  the future
//   NOTIFIED       a wake arrived; if !RUNNING the task sits in a queue (at least one entry,
//                  which owns a reference); if RUNNING the poller requeues it after the poll
//   COMPLETE       the future is gone and the result (value, exception, cancellation) stored
//   CANCELLED      abort was requested; the next owner of RUNNING drops the future
//   JOIN_INTEREST  the join_handle is alive and wants the result
//   JOIN_WAKER     join_waker holds a waker; while set, only the task side reads it
//   bits 6..63     reference count (REF_ONE units)
//
// Invariants:
//   - References are held by: the join_handle, every waker, each queue entry (a running
//     poller inherits its entry's one; a joiner's claim takes one of its own), and the
//     owned-task list. The count reaching zero frees the task (the caller of the transition
//     that returned "last" deallocates).
//   - A queue entry owns one reference. A claim (the joiner runs a task that has not started)
//     leaves that task's entry stale: when popped, to_running() finds the task not both
//     NOTIFIED and idle and returns stale, and the entry only drops its reference. A stale
//     entry that finds the task notified again runs it: that is a poll the task was due.
//   - COMPLETE is set once, by the holder of RUNNING, and is final: after it only references
//     and the JOIN_* bits change.
//   - The result belongs to the task side until COMPLETE; after it to the join side while
//     JOIN_INTEREST is set (else the task side drops it before setting COMPLETE). A joiner
//     running the task inline is its task side: it may move the result out before COMPLETE
//     (to_complete_joined).
//   - The completing side unlinks the task from the owned list before COMPLETE, so the
//     references it drops go in the COMPLETE RMW: after that RMW it touches the task only
//     when it must wake the join waker (then it still holds its references).
//   - The join waker slot belongs to the join side while JOIN_WAKER is clear, to the task side
//     while it is set; the task side reads it only after setting COMPLETE.
//
// Ordering: every transition is an acq_rel RMW on the word (loads are acquire): the word
// carries the hand-offs of the future (RUNNING), of the result (COMPLETE) and of the join
// waker slot (JOIN_WAKER), so each successful RMW both publishes this side's writes and
// acquires the other side's. The Relacy model test/relacy/task_state_model.cpp checks them.
inline constexpr std::uint64_t RUNNING = 1u << 0;
inline constexpr std::uint64_t NOTIFIED = 1u << 1;
inline constexpr std::uint64_t COMPLETE = 1u << 2;
inline constexpr std::uint64_t CANCELLED = 1u << 3;
inline constexpr std::uint64_t JOIN_INTEREST = 1u << 4;
inline constexpr std::uint64_t JOIN_WAKER = 1u << 5;
inline constexpr std::uint64_t REF_SHIFT = 6;
inline constexpr std::uint64_t REF_ONE = std::uint64_t{1} << REF_SHIFT;
inline constexpr std::uint64_t FLAGS_MASK = REF_ONE - 1;

constexpr std::uint64_t ref_count(std::uint64_t s) noexcept { return s >> REF_SHIFT; }

using word = std::atomic<std::uint64_t>;

namespace detail_ {
inline bool cas(word& w, std::uint64_t& s, std::uint64_t next) noexcept {
  return w.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire);
}
}  // namespace detail_

// --- references -----------------------------------------------------------------------------

inline void ref_inc(word& w) noexcept {
  // Relaxed: a new reference is made from an existing one, which keeps the task alive.
  w.fetch_add(REF_ONE, std::memory_order_relaxed);
}
/// Drops `n` references; true when they were the last (the caller frees the task).
inline bool ref_dec(word& w, unsigned n = 1) noexcept {
  // acq_rel: every use through other references happens-before the free.
  return ref_count(w.fetch_sub(n * REF_ONE, std::memory_order_acq_rel)) == n;
}

// --- wakes ----------------------------------------------------------------------------------

enum class notify_result {
  done,    // complete, already notified, or running (the poller requeues it)
  submit,  // was idle: now NOTIFIED with one more reference, for the entry the caller queues
};

/// A wake through a borrowed reference (waker::wake_by_ref).
inline notify_result to_notified_by_ref(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) return notify_result::done;
    if (s & NOTIFIED) {
      // A wake is already pending. Decided by an RMW, not by the load: the to_running RMW
      // that takes this notification then reads from it and acquires what the waker
      // published before waking (an event source whose poll only loads would otherwise miss
      // it: a lost wake found by the Relacy model, doc/relacy.md; Tokio's #7622).
      if (detail_::cas(w, s, s)) return notify_result::done;
      continue;
    }
    if (s & RUNNING) {
      if (detail_::cas(w, s, s | NOTIFIED)) return notify_result::done;
      continue;
    }
    if (detail_::cas(w, s, (s | NOTIFIED) + REF_ONE)) return notify_result::submit;
  }
}

enum class notify_by_val_result {
  done,      // the caller's reference was consumed (dropped, not the last)
  submit,    // was idle: the caller's reference now belongs to the entry it queues
  drop_ref,  // complete or notified (and maybe the last reference): the caller drops it
};

/// A wake that consumes the caller's reference (waker::wake).
inline notify_by_val_result to_notified_by_val(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if ((s & NOTIFIED) && !(s & COMPLETE) && ref_count(s) > 1) {
      // Pending already (the entry holds a reference, so ours is not the last): drop ours
      // in the RMW that saw NOTIFIED, as in to_notified_by_ref.
      if (detail_::cas(w, s, s - REF_ONE)) return notify_by_val_result::done;
      continue;
    }
    if (s & (COMPLETE | NOTIFIED)) return notify_by_val_result::drop_ref;
    if (s & RUNNING) {
      // The running poller holds a reference, so this one cannot be the last.
      if (detail_::cas(w, s, (s | NOTIFIED) - REF_ONE)) return notify_by_val_result::done;
      continue;
    }
    if (detail_::cas(w, s, s | NOTIFIED)) return notify_by_val_result::submit;
  }
}

// --- running --------------------------------------------------------------------------------

enum class run_result {
  success,    // RUNNING is ours; poll the future
  cancelled,  // RUNNING is ours; abort was requested: drop the future instead
  stale,      // a stale entry (see the invariants): drop its reference, run nothing
};

/// A queue entry was popped: NOTIFIED and idle -> RUNNING. The entry's reference becomes
/// the run's.
inline run_result to_running(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if ((s & (NOTIFIED | RUNNING | COMPLETE)) != NOTIFIED) return run_result::stale;
    if (detail_::cas(w, s, (s & ~NOTIFIED) | RUNNING))
      return (s & CANCELLED) ? run_result::cancelled : run_result::success;
  }
}

/// A task its joiner may run inline: queued and not started (NOTIFIED, idle), not aborted.
constexpr bool claimable(std::uint64_t s) noexcept {
  return (s & (NOTIFIED | RUNNING | COMPLETE | CANCELLED)) == NOTIFIED;
}

/// The joiner's claim of a claimable task: RUNNING plus a reference for the run. Its queue
/// entry goes stale. False: not claimable.
inline bool claim(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (!claimable(s)) return false;
    if (detail_::cas(w, s, ((s & ~NOTIFIED) | RUNNING) + REF_ONE)) return true;
  }
}

enum class idle_result {
  idle,       // back to idle; the run's reference is dropped
  last,       // idle, and that was the last reference: the caller frees the task
  requeue,    // woken during the poll: the run's reference belongs to the new entry
  cancelled,  // aborted during the poll: RUNNING is still ours, drop the future
};

/// After a poll returned pending.
inline idle_result to_idle(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & CANCELLED) return idle_result::cancelled;
    if (s & NOTIFIED) {
      if (detail_::cas(w, s, s & ~RUNNING)) return idle_result::requeue;
      continue;
    }
    const auto next = (s & ~RUNNING) - REF_ONE;
    if (detail_::cas(w, s, next))
      return ref_count(next) == 0 ? idle_result::last : idle_result::idle;
  }
}

struct complete_result {
  bool join_waker;  // true: the caller wakes the join waker (the slot is its to read), then
                    // drops the references it passed, which the RMW kept for that read
  bool last;        // the RMW dropped the last reference: the caller frees the task
};

/// The result is stored and the future gone: RUNNING (held) -> COMPLETE. `refs` references
/// (the run's; the owned list's when the caller unlinked the task first) are dropped in the
/// same RMW unless a join waker must be woken. When nobody joins (JOIN_INTEREST clear, which
/// never comes back), `drop_output()` is called before the RMW: the result is still the task
/// side's, and after the RMW the task may be freed by another reference's drop.
template <class DropOutput>
inline complete_result to_complete(word& w, unsigned refs, DropOutput&& drop_output) noexcept {
  auto s = w.load(std::memory_order_acquire);
  bool dropped = false;
  for (;;) {
    if (!(s & JOIN_INTEREST) && !dropped) {
      drop_output();
      dropped = true;
    }
    const bool wake = (s & JOIN_INTEREST) && (s & JOIN_WAKER);
    auto next = (s & ~(RUNNING | NOTIFIED)) | COMPLETE;
    if (!wake) next -= refs * REF_ONE;
    if (detail_::cas(w, s, next)) return {wake, !wake && ref_count(next) == 0};
  }
}

/// The joiner ran the task inline (claim or entry taken back), it completed, and the joiner
/// moved the result out while holding RUNNING (the result is the task side's until COMPLETE,
/// and the joiner is that side now). RUNNING -> COMPLETE, clearing JOIN_INTEREST and dropping
/// `refs` references (the run's, the owned list's when unlinked, the handle's) in one RMW.
/// Requires JOIN_WAKER clear (only the joiner sets it). True: that was the last reference.
inline bool to_complete_joined(word& w, unsigned refs) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    const auto next = ((s & ~(RUNNING | NOTIFIED | JOIN_INTEREST)) | COMPLETE) - refs * REF_ONE;
    if (detail_::cas(w, s, next)) return ref_count(next) == 0;
  }
}

// --- inspection (the task dump) -------------------------------------------------------------

/// The task dump's hold on a waiting task (idle: not running, notified, complete or
/// cancelled): RUNNING plus a reference, so that its frames stand still while they are read.
/// A wake or an abort meanwhile only sets its bit (the task is RUNNING); from_inspecting
/// hands it on. False: not waiting now.
inline bool to_inspecting(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & (RUNNING | NOTIFIED | COMPLETE | CANCELLED)) return false;
    if (detail_::cas(w, s, (s | RUNNING) + REF_ONE)) return true;
  }
}

/// Ends the inspection. requeue: a wake or an abort came meanwhile: the task is NOTIFIED
/// and the inspection's reference belongs to the entry the caller queues (its next owner of
/// RUNNING sees CANCELLED, if set). idle or last, as to_idle.
inline idle_result from_inspecting(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & (NOTIFIED | CANCELLED)) {
      if (detail_::cas(w, s, (s & ~RUNNING) | NOTIFIED)) return idle_result::requeue;
      continue;
    }
    const auto next = (s & ~RUNNING) - REF_ONE;
    if (detail_::cas(w, s, next))
      return ref_count(next) == 0 ? idle_result::last : idle_result::idle;
  }
}

// --- abort and shutdown ---------------------------------------------------------------------

enum class abort_result {
  done,    // complete, already cancelled, or whoever takes RUNNING next will see CANCELLED
  submit,  // was idle: NOTIFIED | CANCELLED with a reference for the entry the caller queues
};

inline abort_result cancel(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & (COMPLETE | CANCELLED)) return abort_result::done;
    if (s & (RUNNING | NOTIFIED)) {
      if (detail_::cas(w, s, s | CANCELLED)) return abort_result::done;
      continue;
    }
    if (detail_::cas(w, s, (s | CANCELLED | NOTIFIED) + REF_ONE)) return abort_result::submit;
  }
}

/// Shutdown (no worker runs any more): takes RUNNING to cancel the future. False: already
/// complete.
inline bool to_shutdown(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) return false;
    if (detail_::cas(w, s, s | RUNNING)) return true;
  }
}

// --- the join side --------------------------------------------------------------------------

inline bool is_complete(const word& w) noexcept {
  return (w.load(std::memory_order_acquire) & COMPLETE) != 0;
}
inline bool has_join_waker(const word& w) noexcept {
  return (w.load(std::memory_order_acquire) & JOIN_WAKER) != 0;
}

/// Takes the join waker slot back from the task side (JOIN_WAKER -> clear). False: the task
/// completed first (it may be reading the slot).
inline bool unset_join_waker(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) return false;
    if (detail_::cas(w, s, s & ~JOIN_WAKER)) return true;
  }
}

/// Publishes the slot the join side has just written (JOIN_WAKER set). False: the task
/// completed first; the slot is still the join side's (it resets it).
inline bool set_join_waker(word& w) noexcept {
  auto s = w.load(std::memory_order_acquire);
  for (;;) {
    if (s & COMPLETE) return false;
    // release (in acq_rel): publishes the slot to to_complete's reader.
    if (detail_::cas(w, s, s | JOIN_WAKER)) return true;
  }
}

enum class handle_drop {
  freed_or_done,   // interest and reference dropped in one RMW (`last`: free the task)
  drop_output,     // complete: drop the result, then release_join_interest()
  reset_waker,     // interest cleared before completion with the slot taken back: reset the
                   // slot, then ref_dec()
};

/// The join_handle is dropped. `last` is set for freed_or_done.
inline handle_drop drop_join_handle(word& w, bool& last) noexcept {
  auto s = w.load(std::memory_order_acquire);
  if (s & COMPLETE) return handle_drop::drop_output;
  // Not complete, no waker: clear the interest and drop the reference together.
  while (!(s & (COMPLETE | JOIN_WAKER))) {
    const auto next = (s & ~JOIN_INTEREST) - REF_ONE;
    if (detail_::cas(w, s, next)) {
      last = ref_count(next) == 0;
      return handle_drop::freed_or_done;
    }
  }
  if (s & COMPLETE) return handle_drop::drop_output;
  // JOIN_WAKER set: clear it with the interest (the slot is then ours), unless the task
  // completes first (then the task side may be reading it: leave it to the cell).
  for (;;) {
    if (s & COMPLETE) return handle_drop::drop_output;
    if (detail_::cas(w, s, s & ~(JOIN_INTEREST | JOIN_WAKER))) return handle_drop::reset_waker;
  }
}

/// After the result of a complete task was dropped by the join side: clears JOIN_INTEREST
/// (set: only the handle clears it) and drops the handle's reference in one RMW. True: last.
inline bool release_join_interest(word& w) noexcept {
  // acq_rel, as in ref_dec: the result's destruction happens-before the free.
  return ref_count(w.fetch_sub(JOIN_INTEREST + REF_ONE, std::memory_order_acq_rel)) == 1;
}

}  // namespace zokio::detail::task_state

#endif
