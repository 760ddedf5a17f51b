// zokio::detail::park_flag: a flag one thread sleeps on until another raises it (a futex on
// Linux, a mutex and condition variable elsewhere). block_on's thread_parker and the
// workers of a runtime without an I/O driver park on one.
#ifndef ZOKIO_DETAIL_PARK_FLAG_HPP
#define ZOKIO_DETAIL_PARK_FLAG_HPP

#include <atomic>
#include <cstdint>

#if !defined(__linux__)
#include <condition_variable>
#include <mutex>
#endif

namespace zokio::detail {

// Invariants: the flag is 0 (lowered) or 1 (raised); any thread raises it, the sleeper
// lowers it (take). wait() returns only once it saw the flag raised, and a raise that comes
// after the sleeper's last look wakes it: on Linux the futex compares the word under the
// kernel's lock; elsewhere raise and wait's check both hold the mutex.
class park_flag {
 public:
  /// Raises the flag without waking anyone: for a sleeper that is woken some other way
  /// (a worker asleep in its io_context, stopped by the raiser).
  void raise() noexcept {
    // Ordering: release, pairs with take()'s acquire: what the raiser wrote before is
    // visible to the sleeper once it sees the flag.
    flag_.store(1, std::memory_order_release);
  }
  /// Raises the flag and wakes the thread blocked in wait(), if any.
  void raise_and_wake() noexcept {
#if defined(__linux__)
    // Ordering: release, pairs with wait()'s and take()'s acquire. notify_one costs a system
    // call only when a thread waits (libstdc++ counts its waiters).
    flag_.store(1, std::memory_order_release);
    flag_.notify_one();
#else
    // Without a futex: libstdc++ 12's std::atomic::wait over its condition-variable pool lost
    // wake-ups on mingw-w64 (block_on hung under Wine; doc/platforms.md).
    {
      std::lock_guard lk(m_);
      flag_.store(1, std::memory_order_release);
    }
    cv_.notify_one();
#endif
  }
  /// Lowers the flag: true when it was raised. Ordering: acquire, pairs with the raise.
  bool take() noexcept { return flag_.exchange(0, std::memory_order_acq_rel) != 0; }
  /// Blocks until the flag is raised; it stays raised (take() lowers it). One sleeper.
  void wait() noexcept {
#if defined(__linux__)
    while (flag_.load(std::memory_order_acquire) == 0) flag_.wait(0, std::memory_order_acquire);
#else
    std::unique_lock lk(m_);
    cv_.wait(lk, [this] { return flag_.load(std::memory_order_acquire) != 0; });
#endif
  }

 private:
  std::atomic<std::uint32_t> flag_{0};
#if !defined(__linux__)
  std::mutex m_;
  std::condition_variable cv_;
#endif
};

}  // namespace zokio::detail

#endif
