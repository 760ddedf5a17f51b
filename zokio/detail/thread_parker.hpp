// Blocks a non-runtime thread until its waker fires (used by block_on).
#ifndef ZOKIO_DETAIL_THREAD_PARKER_HPP
#define ZOKIO_DETAIL_THREAD_PARKER_HPP

#include <atomic>
#include <cstdint>

#include <zokio/detail/counted_waker_target.hpp>

namespace zokio::detail {

/// Reference-counted, since a waker made from it may outlive the block_on call.
class thread_parker : public counted_waker_target<thread_parker> {
 public:
  static thread_parker* create() { return new thread_parker; }

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

 private:
  friend class counted_waker_target<thread_parker>;  // deletes it
  thread_parker() = default;
  ~thread_parker() = default;

  std::atomic<std::uint32_t> notified_{0};
};

}  // namespace zokio::detail

#endif
