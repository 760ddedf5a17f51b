// The global injector: an unbounded MPMC queue (Boost.Lockfree) for tasks woken or spawned
// from outside the workers and for local-queue overflow.
#ifndef ZOKIO_DETAIL_INJECT_QUEUE_HPP
#define ZOKIO_DETAIL_INJECT_QUEUE_HPP

#include <atomic>
#include <cstddef>

#include <boost/lockfree/queue.hpp>

#include <zokio/detail/config.hpp>
#include <zokio/detail/task_header.hpp>

namespace zokio::detail {

class inject_queue {
 public:
  explicit inject_queue(std::size_t initial_nodes = 1024) : q_(initial_nodes) {}

  void push(task_header* t) {
    // Boost.Lockfree allocates a node only when its free list is empty.
    while (!q_.push(t)) {
    }
    // Relaxed: len_ is a hint for cheap emptiness checks; the queue itself synchronizes.
    len_.fetch_add(1, std::memory_order_relaxed);
  }

  task_header* pop() noexcept {
    if (len_.load(std::memory_order_relaxed) == 0) return nullptr;
    task_header* t = nullptr;
    if (!q_.pop(t)) return nullptr;
    len_.fetch_sub(1, std::memory_order_relaxed);
    return t;
  }

  /// May be briefly stale; parking re-checks with the queue itself (see scheduler::park).
  std::size_t size_hint() const noexcept {
    auto n = static_cast<std::ptrdiff_t>(len_.load(std::memory_order_relaxed));
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  bool empty() const noexcept { return q_.empty(); }

 private:
  boost::lockfree::queue<task_header*> q_;
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::ptrdiff_t> len_{0};
};

}  // namespace zokio::detail

#endif
