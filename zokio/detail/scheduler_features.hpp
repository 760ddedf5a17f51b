// The compile-time features of a scheduler (taken from runtime_config): which code and data a
// runtime has. A feature that is off is not a branch at run time: basic_scheduler<F> is built
// without it, so its code is never instantiated and its data never allocated.
#ifndef ZOKIO_DETAIL_SCHEDULER_FEATURES_HPP
#define ZOKIO_DETAIL_SCHEDULER_FEATURES_HPP

#include <atomic>
#include <cstdint>
#include <memory>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

/// A structural type: the template argument of basic_scheduler.
struct scheduler_features {
  bool metrics = false;       // per-worker counters (worker_counters) and their updates
  bool lifo_slot = true;      // the last task woken (or spawned) by a worker runs next on it
  bool work_stealing = true;  // idle workers steal from busy ones' deques and LIFO slots
  bool numa = true;           // NUMA topology discovery, node-bound workers, near-first steals
  bool hooks = false;         // runtime_hooks: calls at park, spawn, terminate and each poll
  bool stall_watch = false;   // the stall watchdog thread and each poll's slot updates for it
  bool task_dump = false;     // the live-task registry, each poll's start time, dump()
  bool trace = false;         // the flight recorder: per-worker rings of scheduler events
  friend constexpr bool operator==(const scheduler_features&, const scheduler_features&) = default;
};

/// Per-worker counters, when features.metrics: written by the owning worker only (relaxed
/// load + store, no RMW), read by metrics(). One cache-line-aligned block per worker.
struct alignas(ZOKIO_CACHE_LINE) worker_counters {
  std::atomic<std::uint64_t> polls{0}, steals{0}, stolen_tasks{0}, parks{0}, injector_pulls{0},
      lifo_polls{0}, inline_runs{0}, inline_unwinds{0};
  // Handlers run from this worker's io_context, by whichever thread held it (io_state makes
  // that one thread at a time, so plain load + store is still exact).
  std::atomic<std::uint64_t> io_handlers{0}, io_handlers_by_siblings{0};
  // Steals whose victim is on another NUMA node (a subset of steals).
  std::atomic<std::uint64_t> remote_steals{0};
  // Place of this worker's first steal in the order of all workers' steals (0: none yet).
  std::atomic<std::uint64_t> first_steal{0};
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

/// The counters' storage in a basic_scheduler: empty (no member, no allocation) without
/// metrics. make(n) gives worker i its block (&blocks[i]), or nullptr.
template <bool On>
struct worker_counters_storage {
  worker_counters* make(unsigned) noexcept { return nullptr; }
};
template <>
struct worker_counters_storage<true> {
  std::unique_ptr<worker_counters[]> blocks;
  worker_counters* make(unsigned n) {
    blocks.reset(new worker_counters[n]);
    return blocks.get();
  }
};

static_assert(std::is_empty_v<worker_counters_storage<false>>,
              "a runtime without metrics keeps no counters");

}  // namespace zokio::detail

#endif
