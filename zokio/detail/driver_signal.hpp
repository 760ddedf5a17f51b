// The waker of a future given to block_on on a current_thread runtime: it sets a flag that
// the driving loop checks between tasks, and wakes the thread that waits for it.
//
// Invariants: `woken_` is set by wake (release) and cleared by take() (acquire), so what the
// waker's owner wrote before waking is visible to the next poll. While a thread drives the
// runtime, `sched_` is that scheduler (set and cleared under `mu_`): a wake from another
// thread unparks the driver through it, and never after detach() returned, so a waker that
// outlives block_on (or the runtime) touches only this reference-counted object.
#ifndef ZOKIO_DETAIL_DRIVER_SIGNAL_HPP
#define ZOKIO_DETAIL_DRIVER_SIGNAL_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include <zokio/detail/counted_waker_target.hpp>

namespace zokio::detail {

class scheduler;

class driver_signal : public counted_waker_target<driver_signal> {
 public:
  static driver_signal* create() { return new driver_signal; }

  /// Woken since the last take() (the first call returns true: poll once to start).
  bool take() noexcept { return woken_.exchange(false, std::memory_order_acquire); }
  /// What the driving loop (and a parked driver's wake check) reads.
  const std::atomic<bool>& flag() const noexcept { return woken_; }
  /// While a thread drives `s`: a wake from another thread unparks it.
  void attach(scheduler* s) noexcept {
    std::lock_guard lk(mu_);
    sched_ = s;
  }
  void detach() noexcept {
    std::lock_guard lk(mu_);
    sched_ = nullptr;
  }
  /// A thread that does not drive waits here for a wake, at most `d` (it then checks whether
  /// it can take over the driving).
  void wait_for(std::chrono::microseconds d) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, d, [&] { return woken_.load(std::memory_order_relaxed); });
  }
  void wake() noexcept;  // impl/current_thread.ipp (needs the scheduler)

 private:
  friend class counted_waker_target<driver_signal>;  // deletes it
  driver_signal() = default;
  ~driver_signal() = default;

  std::atomic<bool> woken_{true};
  std::mutex mu_;
  std::condition_variable cv_;
  scheduler* sched_ = nullptr;  // mu_
};

}  // namespace zokio::detail

#endif
