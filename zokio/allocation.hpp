// Allocation categories, the counting hook, and ZOKIO_DEBUG_ALLOC leak accounting.
#ifndef ZOKIO_ALLOCATION_HPP
#define ZOKIO_ALLOCATION_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <zokio/detail/config.hpp>

namespace zokio {

/// What a runtime allocation is for (doc/performance.md lists where each comes from).
enum class alloc_category : std::uint8_t {
  task,     ///< a spawned task: header + result + future (or coroutine frame), one block
  frame,    ///< a zokio::task coroutine frame that is awaited, not spawned
  handler,  ///< Asio operation and handler memory through zokio::allocator / use_future
  queue,    ///< scheduler queues: injector batches and nodes
  worker,   ///< per-worker structures (deque, io_context, counters)
  timer,    ///< timer nodes
  channel,  ///< channel and sync-primitive nodes
  other,
};
inline constexpr std::size_t alloc_category_count = 8;

constexpr const char* alloc_category_name(alloc_category c) noexcept {
  constexpr const char* names[alloc_category_count] = {"task",  "frame",   "handler", "queue",
                                                       "worker", "timer", "channel", "other"};
  return names[static_cast<std::size_t>(c)];
}

/// One call of the runtime allocator. `upstream` is true when the block came from (or went
/// back to) oneTBB / the std allocator, false when the worker's recycling cache served it.
struct alloc_event {
  bool deallocate;
  alloc_category category;
  std::size_t bytes;
  bool upstream;
};

/// The counting hook: called on every allocation and free of the runtime allocator, on the
/// allocating thread, in every build. Must be thread-safe and must not allocate through Zokio.
using alloc_hook = void (*)(const alloc_event&) noexcept;

namespace detail {
inline std::atomic<alloc_hook> g_alloc_hook{nullptr};

struct alloc_counter {
  std::atomic<std::int64_t> count{0}, bytes{0};
};
// ZOKIO_DEBUG_ALLOC accounting: live blocks per category, and live task-waker references.
inline alloc_counter g_live[alloc_category_count];
inline std::atomic<std::int64_t> g_live_wakers{0};
inline std::atomic<int> g_live_runtimes{0};

[[gnu::noinline, gnu::cold]] inline void call_alloc_hook(alloc_hook h, alloc_event e) noexcept { h(e); }

// Inlined into every allocation and free (a call here was 2 % of skynet's instructions):
// without a hook and ZOKIO_DEBUG_ALLOC it is one load and a branch.
[[gnu::always_inline]] inline void account(alloc_category c, std::size_t bytes, bool dealloc,
                                           bool upstream) noexcept {
#if ZOKIO_DEBUG_ALLOC
  auto& k = g_live[static_cast<std::size_t>(c)];
  const std::int64_t sign = dealloc ? -1 : 1;
  k.count.fetch_add(sign, std::memory_order_relaxed);
  k.bytes.fetch_add(sign * static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
#endif
  if (alloc_hook h = g_alloc_hook.load(std::memory_order_acquire)) [[unlikely]]
    call_alloc_hook(h, alloc_event{dealloc, c, bytes, upstream});
}

inline void account_waker(std::int64_t delta) noexcept {
#if ZOKIO_DEBUG_ALLOC
  g_live_wakers.fetch_add(delta, std::memory_order_relaxed);
#else
  (void)delta;
#endif
}
}  // namespace detail

/// Installs `h` (nullptr removes it); returns the previous hook.
inline alloc_hook set_alloc_hook(alloc_hook h) noexcept {
  return detail::g_alloc_hook.exchange(h, std::memory_order_acq_rel);
}

/// True in builds that keep live counts (ZOKIO_DEBUG_ALLOC, on by default without NDEBUG).
inline constexpr bool debug_alloc_enabled = ZOKIO_DEBUG_ALLOC != 0;

struct live_allocations {
  std::int64_t count = 0;
  std::int64_t bytes = 0;
};

/// Live blocks of one category (ZOKIO_DEBUG_ALLOC builds; zero otherwise).
inline live_allocations live(alloc_category c) noexcept {
  auto& k = detail::g_live[static_cast<std::size_t>(c)];
  return {k.count.load(std::memory_order_relaxed), k.bytes.load(std::memory_order_relaxed)};
}

/// Task-waker references cloned and not yet dropped (ZOKIO_DEBUG_ALLOC builds).
inline std::int64_t live_wakers() noexcept {
  return detail::g_live_wakers.load(std::memory_order_relaxed);
}

/// What is still live, one line per category ("task: 1 block, 320 bytes"), or "" when
/// nothing is (or in builds without ZOKIO_DEBUG_ALLOC).
inline std::string leak_report() {
  std::string out;
  if constexpr (!debug_alloc_enabled) return out;
  char line[128];
  if (std::int64_t w = live_wakers(); w != 0) {
    std::snprintf(line, sizeof line, "  waker: %lld not dropped (each keeps its task alive)\n",
                  static_cast<long long>(w));
    out += line;
  }
  for (std::size_t i = 0; i < alloc_category_count; ++i) {
    auto l = live(static_cast<alloc_category>(i));
    if (l.count == 0) continue;
    std::snprintf(line, sizeof line, "  %s: %lld block%s, %lld bytes\n",
                  alloc_category_name(static_cast<alloc_category>(i)),
                  static_cast<long long>(l.count), l.count == 1 ? "" : "s",
                  static_cast<long long>(l.bytes));
    out += line;
  }
  return out;
}

}  // namespace zokio

#endif
