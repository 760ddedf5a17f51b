// Blocks a non-runtime thread until its waker fires (used by block_on).
#ifndef ZOKIO_DETAIL_THREAD_PARKER_HPP
#define ZOKIO_DETAIL_THREAD_PARKER_HPP

#include <atomic>
#include <cstdint>

#include <zokio/waker.hpp>

namespace zokio::detail {

/// Reference-counted, since a waker made from it may outlive the block_on call.
class thread_parker {
 public:
  static thread_parker* create() { return new thread_parker; }

  waker make_waker() noexcept {
    refs_.fetch_add(1, std::memory_order_relaxed);
    return waker::from_raw({this, &vtable_});
  }
  /// Sleeps (futex) until unpark() was called since the last park().
  void park() noexcept {
    // Ordering: acquire pairs with the release in unpark, so what the waker's owner wrote
    // before waking is visible to the next poll.
    while (notified_.exchange(0, std::memory_order_acquire) == 0)
      notified_.wait(0, std::memory_order_acquire);
  }
  void unpark() noexcept {
    if (notified_.exchange(1, std::memory_order_release) == 0) notified_.notify_one();
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  thread_parker() = default;
  static void clone_fn(void* p) noexcept {
    static_cast<thread_parker*>(p)->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  static void wake_fn(void* p) noexcept {
    static_cast<thread_parker*>(p)->unpark();
    static_cast<thread_parker*>(p)->release();
  }
  static void wake_by_ref_fn(void* p) noexcept { static_cast<thread_parker*>(p)->unpark(); }
  static void drop_fn(void* p) noexcept { static_cast<thread_parker*>(p)->release(); }
  static constexpr waker_vtable vtable_{&clone_fn, &wake_fn, &wake_by_ref_fn, &drop_fn};

  std::atomic<std::uint32_t> refs_{1};
  std::atomic<std::uint32_t> notified_{0};
};

}  // namespace zokio::detail

#endif
