// The current_thread flavour of detail::scheduler: worker 0 has no thread of its own; the
// caller of block_on becomes it for the call and runs its loop until the future is woken.
//
// Invariants: at most one thread drives at a time (driving_, under exit_mu_); the driver
// counts as a running worker (running_workers_), so shutdown waits for it to leave, and a
// runtime destroyed from one of its tasks is deleted by leave_driver, the driver's last touch.
// While driving, the thread's worker state (tl_worker, tl_work_slot, tl_stack_base) is
// worker 0's, so its spawns, wakes and I/O take the worker's local paths; tasks left queued
// when it leaves wait for the next block_on (as in Tokio's current_thread runtime).
#ifndef ZOKIO_IMPL_CURRENT_THREAD_IPP
#define ZOKIO_IMPL_CURRENT_THREAD_IPP

// Part of the scheduler's single translation unit (impl/src.hpp): included after
// impl/scheduler.ipp, whose thread_locals (tl_worker, tl_entered, tl_stack_base) it uses.
#include <zokio/impl/scheduler.ipp>

namespace zokio::detail {

void driver_signal::wake() noexcept {
  // Ordering: release, pairs with take()'s acquire and the driver's wake check
  // (scheduler::should_wake).
  woken_.store(true, std::memory_order_release);
  std::lock_guard lk(mu_);
  if (sched_) sched_->unpark_driver();
  cv_.notify_all();
}

bool scheduler::enter_driver(driver_signal& sig) noexcept {
  {
    std::lock_guard lk(exit_mu_);
    if (driving_ || shutdown_.load(std::memory_order_acquire)) return false;
    driving_ = true;
    ++running_workers_;
  }
  worker& w = *workers_[0];
  w.driver_woken = &sig.flag();
  enter_worker_thread(w, reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)));
  // Busy from here to leave_driver, but for its sleeps (park): polling block_on's future
  // and joins run inline there are work for the runtime too.
  if (w.counters) w.counters->begin_busy(steady_ns());
  sig.attach(this);
  return true;
}

void scheduler::run_driver(const driver_signal& sig, bool until_no_work) {
  run_driver_loop(*workers_[0], sig, until_no_work);  // basic_scheduler's loop
}

void scheduler::unpark_driver() noexcept {
  if (!local_worker()) unpark(0);  // the driver itself checks the flag between tasks
}

void scheduler::leave_driver(driver_signal& sig) noexcept {
  sig.detach();  // no wake reaches this scheduler through `sig` after this
  worker& w = *workers_[0];
  if (w.searching) end_search(w);
  w.driver_woken = nullptr;
  if (w.counters) w.counters->end_busy(steady_ns());
  leave_worker_thread();
  {
    // Another thread's block_on waits for the runtime: one of them drives next.
    std::lock_guard lk(unhandled_mu_);
    for (const waker* d : drivers_) d->wake_by_ref();
  }
  {
    std::lock_guard lk(exit_mu_);
    driving_ = false;
  }
  worker_exited();  // may delete this scheduler (destroyed from inside): touch nothing after
}

}  // namespace zokio::detail

#endif
