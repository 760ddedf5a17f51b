// The compile-time features of a scheduler (taken from runtime_config): which code and data a
// runtime has. A feature that is off is not a branch at run time: basic_scheduler<F> is built
// without it, so its code is never instantiated and its data never allocated.
#ifndef ZOKIO_DETAIL_SCHEDULER_FEATURES_HPP
#define ZOKIO_DETAIL_SCHEDULER_FEATURES_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>

#include <zokio/detail/config.hpp>
#include <zokio/metrics.hpp>

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
  bool latency_histograms = false;  // per-worker poll-time and schedule-latency histograms
  bool io_driver = true;      // an io_context per worker (Asio I/O, timers), parked in; off:
                              // workers park on a flag, and no io_context is ever built
  friend constexpr bool operator==(const scheduler_features&, const scheduler_features&) = default;
};

/// steady_clock now, in ns (the loop's time slices and turns, busy time).
inline std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// now - since in ns, 0 when the clock reads are out of order (since taken on another cpu).
inline std::uint64_t elapsed_ns(std::int64_t now, std::int64_t since) noexcept {
  return now > since ? static_cast<std::uint64_t>(now - since) : 0;
}

/// Per-worker counters, when features.metrics: written by the owning worker only (relaxed
/// load + store, no RMW), read by metrics(). One cache-line-aligned block per worker.
struct alignas(ZOKIO_CACHE_LINE) worker_counters {
  std::atomic<std::uint64_t> polls{0}, steals{0}, stolen_tasks{0}, parks{0}, injector_pulls{0},
      lifo_polls{0}, inline_runs{0}, inline_unwinds{0};
  // Handlers run from this worker's io_context, by whichever thread held it (worker_io::state
  // makes that one thread at a time, so plain load + store is still exact).
  std::atomic<std::uint64_t> io_handlers{0}, io_handlers_by_siblings{0};
  // Steals whose victim is on another NUMA node (a subset of steals).
  std::atomic<std::uint64_t> remote_steals{0};
  // Place of this worker's first steal in the order of all workers' steals (0: none yet).
  std::atomic<std::uint64_t> first_steal{0};
  // Busy time (worker_metrics::busy_ns): busy_ns holds the periods that ended (the worker
  // went to park or left its loop); busy_since is when the current one began (steady ns), 0
  // while there is none. The owner changes the pair inside a seqlock: busy_version odd
  // (relaxed), a release fence, the fields (relaxed), busy_version even (release). metrics()
  // reads the version (acquire: pairs with that release store), the fields, an acquire
  // fence (pairs with the writer's release fence), the version again, and retries while it
  // was odd or changed (scheduler_metrics.ipp).
  std::atomic<std::uint64_t> busy_ns{0};
  std::atomic<std::int64_t> busy_since{0};
  std::atomic<std::uint32_t> busy_version{0};
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Owner only: a busy period begins / ends at `now` (steady ns, never 0).
  void begin_busy(std::int64_t now) noexcept {
    if (busy_since.load(std::memory_order_relaxed) != 0) return;  // one is going on
    write_busy([&] { busy_since.store(now, std::memory_order_relaxed); });
  }
  void end_busy(std::int64_t now) noexcept {
    const std::int64_t since = busy_since.load(std::memory_order_relaxed);
    if (since == 0) return;
    write_busy([&] {
      busy_ns.store(busy_ns.load(std::memory_order_relaxed) + elapsed_ns(now, since),
                    std::memory_order_relaxed);
      busy_since.store(0, std::memory_order_relaxed);
    });
  }

 private:
  // The seqlock's writer side around a change of (busy_ns, busy_since): odd version while
  // it goes on.
  template <class Change>
  void write_busy(Change change) noexcept {
    const std::uint32_t v = busy_version.load(std::memory_order_relaxed);
    busy_version.store(v + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);  // pairs with metrics()'s fence
    change();
    busy_version.store(v + 2, std::memory_order_release);  // pairs with metrics()'s first load
  }
};

/// Per-worker blocks of a feature in a basic_scheduler: empty (no member, no allocation)
/// when the feature is off. make(n) gives worker i its block (&blocks[i]), or nullptr.
template <class Block, bool On>
struct per_worker_blocks {
  Block* make(unsigned) noexcept { return nullptr; }
};
template <class Block>
struct per_worker_blocks<Block, true> {
  std::unique_ptr<Block[]> blocks;
  Block* make(unsigned n) {
    blocks.reset(new Block[n]);
    return blocks.get();
  }
};

/// The counters' storage (features.metrics).
template <bool On>
using worker_counters_storage = per_worker_blocks<worker_counters, On>;

static_assert(std::is_empty_v<worker_counters_storage<false>>,
              "a runtime without metrics keeps no counters");

/// One histogram's buckets (zokio::latency_histogram), written by one worker only (relaxed
/// load + store), read by metrics() (relaxed: a snapshot, not a consistent cut).
struct latency_buckets {
  std::atomic<std::uint64_t> counts[latency_histogram::bucket_count]{};
  std::atomic<std::uint64_t> sum_ns{0};
  void record(std::uint64_t ns) noexcept {
    auto& c = counts[latency_histogram::bucket_of(ns)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_ns.store(sum_ns.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }
  latency_histogram snapshot() const noexcept {
    latency_histogram h;
    for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i)
      h.counts[i] = counts[i].load(std::memory_order_relaxed);
    h.sum_ns = sum_ns.load(std::memory_order_relaxed);
    return h;
  }
};

/// A worker's histograms (features.latency_histograms), recorded by the worker that polls:
/// the poll's duration, and how long the task waited in a queue before it.
struct alignas(ZOKIO_CACHE_LINE) worker_histograms {
  latency_buckets poll_time, schedule_latency;
};

/// Their storage (features.latency_histograms).
template <bool On>
using worker_histograms_storage = per_worker_blocks<worker_histograms, On>;

static_assert(std::is_empty_v<worker_histograms_storage<false>>,
              "a runtime without latency histograms keeps none");

}  // namespace zokio::detail

#endif
