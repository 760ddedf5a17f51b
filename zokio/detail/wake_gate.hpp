// The wake gate: keeps a scheduler alive across a wake made on a thread that is not one of its
// workers, so that a waker firing while its runtime is destroyed never touches freed memory.
#ifndef ZOKIO_DETAIL_WAKE_GATE_HPP
#define ZOKIO_DETAIL_WAKE_GATE_HPP

#include <atomic>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

/**
 * Invariants (a Dekker pair, with seq_cst fences on both sides):
 * - A foreign wake publishes the scheduler in its thread's slot, then (fence) reads the task
 *   state; it touches the scheduler only if the task was not COMPLETE, and clears the slot
 *   when done with it.
 * - Teardown first completes every task of the scheduler, then (fence) waits until no slot
 *   holds the scheduler (wait_idle), and only then drains the queues and frees anything.
 * Either the wake sees COMPLETE (and leaves the scheduler alone), or teardown sees the slot
 * (and waits for the wake to finish pushing its queue entry, which the drain then drops).
 * Workers of the scheduler need no slot: teardown joins them first.
 */
class wake_gate {
 public:
  /// Publishes `sched` for the calling thread, then a seq_cst fence. Not reentrant: the
  /// section between enter and leave must not wake another task.
  ZOKIO_DECL static void enter(const void* sched) noexcept;
  /// Ordering: release, pairs with the acquire loads of wait_idle.
  ZOKIO_DECL static void leave() noexcept;
  /// After every task of `sched` is COMPLETE: returns when no thread is inside a wake of it.
  ZOKIO_DECL static void wait_idle(const void* sched) noexcept;
};

/// RAII over wake_gate::enter/leave; a no-op when constructed with nullptr.
class wake_gate_guard {
 public:
  explicit wake_gate_guard(const void* sched) noexcept : on_(sched != nullptr) {
    if (on_) wake_gate::enter(sched);
  }
  ~wake_gate_guard() { release(); }
  void release() noexcept {
    if (on_) wake_gate::leave();
    on_ = false;
  }
  wake_gate_guard(const wake_gate_guard&) = delete;
  wake_gate_guard& operator=(const wake_gate_guard&) = delete;

 private:
  bool on_;
};

}  // namespace zokio::detail

#endif
