// zokio::detail::rw_spin: a reader-writer spin lock for very short critical sections (one
// broadcast slot's copy).
#ifndef ZOKIO_DETAIL_RW_SPIN_HPP
#define ZOKIO_DETAIL_RW_SPIN_HPP

#include <atomic>
#include <thread>

namespace zokio::detail {

/// state: readers count, or -1 while a writer holds it. Writers are not preferred.
class rw_spin {
 public:
  void lock_shared() noexcept {
    for (unsigned spins = 0;; ++spins) {
      int v = s_.load(std::memory_order_relaxed);
      // Ordering: acquire pairs with unlock()'s release (the writer's data).
      if (v >= 0 && s_.compare_exchange_weak(v, v + 1, std::memory_order_acquire,
                                             std::memory_order_relaxed))
        return;
      if (spins > 64) std::this_thread::yield();
    }
  }
  void unlock_shared() noexcept { s_.fetch_sub(1, std::memory_order_release); }
  void lock() noexcept {
    for (unsigned spins = 0;; ++spins) {
      int v = 0;
      // Ordering: acquire pairs with the readers' release (their reads are done).
      if (s_.compare_exchange_weak(v, -1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
      if (spins > 64) std::this_thread::yield();
    }
  }
  void unlock() noexcept { s_.store(0, std::memory_order_release); }

 private:
  std::atomic<int> s_{0};
};

}  // namespace zokio::detail

#endif
