// Counts the runtime allocator's timer-category blocks (a sleep's shared block): the block is
// freed only when both the future and the Asio handler are done with it, so "freed" means the
// Asio wait has completed. For the time suite's allocation checks.
#ifndef ZOKIO_TEST_SUPPORT_TIMER_ALLOCS_HPP
#define ZOKIO_TEST_SUPPORT_TIMER_ALLOCS_HPP

#include <atomic>

#include <zokio/allocation.hpp>

namespace zokio::test {

inline std::atomic<long> g_timer_allocs{0}, g_timer_frees{0};

inline void timer_hook(const zokio::alloc_event& e) noexcept {
  if (e.category != zokio::alloc_category::timer) return;
  (e.deallocate ? g_timer_frees : g_timer_allocs).fetch_add(1, std::memory_order_relaxed);
}

/// Installs timer_hook (counters reset) for its lifetime.
struct timer_hook_scope {
  timer_hook_scope() {
    g_timer_allocs = 0;
    g_timer_frees = 0;
    prev = zokio::set_alloc_hook(&timer_hook);
  }
  ~timer_hook_scope() { zokio::set_alloc_hook(prev); }
  zokio::alloc_hook prev;
};

}  // namespace zokio::test

#endif
