// A tiny test-and-test-and-set lock for very short critical sections (owned-task shards).
#ifndef ZOKIO_DETAIL_SPIN_MUTEX_HPP
#define ZOKIO_DETAIL_SPIN_MUTEX_HPP

#include <atomic>
#include <thread>

namespace zokio::detail {

class spin_mutex {
 public:
  void lock() noexcept {
    for (unsigned spins = 0;; ++spins) {
      // Ordering: acquire pairs with the release in unlock.
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) std::this_thread::yield();
      }
    }
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace zokio::detail

#endif
