// Blocks a non-runtime thread until its waker fires (used by block_on).
#ifndef ZOKIO_DETAIL_THREAD_PARKER_HPP
#define ZOKIO_DETAIL_THREAD_PARKER_HPP

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include <zokio/detail/counted_waker_target.hpp>

namespace zokio::detail {

/// Reference-counted, since a waker made from it may outlive the block_on call.
class thread_parker : public counted_waker_target<thread_parker> {
 public:
  static thread_parker* create() { return new thread_parker; }

#if defined(__linux__)
  /// Sleeps (futex) until wake() was called since the last park().
  void park() noexcept {
    // Ordering: acquire pairs with the release in wake, so what the waker's owner wrote
    // before waking is visible to the next poll.
    while (notified_.exchange(0, std::memory_order_acquire) == 0)
      notified_.wait(0, std::memory_order_acquire);
  }
  void wake() noexcept {
    if (notified_.exchange(1, std::memory_order_release) == 0) notified_.notify_one();
  }
#else
  // Without a futex, a mutex and a condition variable: libstdc++ 12's std::atomic::wait
  // over its condition-variable pool lost wake-ups on mingw-w64 (block_on hung under Wine
  // with every worker idle, 5 runs in 6 of one test; doc/platforms.md).
  void park() noexcept {
    std::unique_lock lk(m_);
    cv_.wait(lk, [this] { return notified_; });
    notified_ = false;
  }
  void wake() noexcept {
    {
      std::lock_guard lk(m_);
      if (notified_) return;
      notified_ = true;
    }
    cv_.notify_one();  // the waker holds a reference: the parker outlives this call
  }
#endif

 private:
  friend class counted_waker_target<thread_parker>;  // deletes it
  thread_parker() = default;
  ~thread_parker() = default;

#if defined(__linux__)
  std::atomic<std::uint32_t> notified_{0};
#else
  std::mutex m_;
  std::condition_variable cv_;
  bool notified_ = false;
#endif
};

}  // namespace zokio::detail

#endif
