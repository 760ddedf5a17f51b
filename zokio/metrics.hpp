// Runtime metrics snapshot: per-worker scheduler counters (only with enable_metrics).
#ifndef ZOKIO_METRICS_HPP
#define ZOKIO_METRICS_HPP

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zokio {

/**
 * A latency histogram with power-of-two buckets (runtime_config::enable_latency_histograms):
 * bucket 0 counts samples below 256 ns, bucket i (0 < i < bucket_count - 1) samples in
 * [2^(7+i), 2^(8+i)) ns, the last one everything from 2^28 ns (268 ms) up. Fixed bounds, so
 * histograms of different workers and different scrapes add up bucket by bucket.
 */
struct latency_histogram {
  static constexpr std::size_t bucket_count = 22;
  std::array<std::uint64_t, bucket_count> counts{};  ///< samples per bucket (not cumulative)
  std::uint64_t sum_ns = 0;                          ///< sum of all samples

  /// Bucket i holds samples below this bound (UINT64_MAX for the last: no bound).
  static constexpr std::uint64_t upper_bound_ns(std::size_t i) noexcept {
    return i + 1 < bucket_count ? std::uint64_t{256} << i : UINT64_MAX;
  }
  /// The bucket a sample of `ns` goes to.
  static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
    const auto b = static_cast<std::size_t>(std::bit_width(ns >> 8));
    return b < bucket_count ? b : bucket_count - 1;
  }
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
  }
  /// Samples at or above `ns`, counted by whole buckets: those of every bucket whose lower
  /// bound is at least `ns` (so a bound between two powers of two undercounts).
  std::uint64_t count_at_least(std::uint64_t ns) const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = 1; i < bucket_count; ++i)
      if (upper_bound_ns(i - 1) >= ns) n += counts[i];
    return n + (ns == 0 ? counts[0] : 0);
  }
  /// The upper bound of the bucket that holds quantile q (0 < q <= 1) of the samples: the
  /// true value is below it and at least half of it (0 when there is no sample).
  std::uint64_t quantile_ns(double q) const noexcept {
    const std::uint64_t n = count();
    if (n == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n));
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i)
      if ((seen += counts[i]) >= rank) return upper_bound_ns(i);
    return UINT64_MAX;
  }
  latency_histogram& operator+=(const latency_histogram& o) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts[i] += o.counts[i];
    sum_ns += o.sum_ns;
    return *this;
  }
};

/// Counters of one worker, read with relaxed loads: each is exact, the set is not a
/// consistent cut.
struct worker_metrics {
  std::uint64_t polls = 0;           ///< tasks polled by this worker
  std::uint64_t steals = 0;          ///< successful steal operations (from deques or LIFO slots)
  std::uint64_t stolen_tasks = 0;    ///< tasks moved by those steals
  std::uint64_t remote_steals = 0;   ///< steals from a worker on another NUMA node
  /// Order of this worker's first steal among all workers' first steals (1 = first; 0 = none).
  std::uint64_t first_steal = 0;
  std::uint64_t parks = 0;           ///< times the worker parked in its io_context
  std::uint64_t injector_pulls = 0;  ///< tasks taken from the global injector
  std::uint64_t lifo_polls = 0;      ///< tasks taken from the LIFO slot
  std::uint64_t inline_runs = 0;     ///< not-started tasks run by their joiner (in polls too)
  std::uint64_t inline_unwinds = 0;  ///< inline slices that ended with work waiting: the tree unwound to the loop
  /// Handlers run from this worker's io_context (I/O completions, timers, posts to it), by
  /// any thread: the I/O load homed on this worker. unpark wake-ups are not counted.
  std::uint64_t io_handlers = 0;
  /// The part of io_handlers that idle siblings ran while this worker was busy.
  std::uint64_t io_handlers_by_siblings = 0;
  /// Time the worker was not asleep in park (running tasks, I/O handlers, searching), ns,
  /// up to the snapshot. Tokio's worker_total_busy_duration.
  std::uint64_t busy_ns = 0;
  /// With runtime_config::enable_latency_histograms (else empty): how long each poll this
  /// worker ran took (an inline child's poll counts in its parent's too) ...
  latency_histogram poll_time;
  /// ... and how long each of those tasks waited from being queued (spawned, woken, or
  /// yielding) to that poll's start.
  latency_histogram schedule_latency;
  std::size_t local_queue_depth = 0; ///< tasks in the local deque at snapshot time
  unsigned numa_node = 0;            ///< id of the NUMA node the worker is placed on
  int cpu = -1;                      ///< cpu it is pinned to, -1 when not pinned
};

/// What `runtime::metrics()` returns. Counters are zero when metrics are compiled out.
struct runtime_metrics {
  bool enabled = false;
  /// runtime_config::enable_latency_histograms: the workers' poll_time and schedule_latency.
  bool histograms = false;
  std::vector<worker_metrics> workers;
  std::size_t injector_depth = 0;  ///< approximate tasks in the global injector
  std::size_t live_tasks = 0;      ///< spawned tasks not yet complete
  /// Polls the stall watchdog reported (runtime_config::enable_stall_watchdog; else 0).
  std::uint64_t stalls = 0;
  std::size_t blocking_threads = 0;  ///< blocking-pool threads alive (spawn_blocking)
  std::size_t blocking_idle = 0;     ///< of those, waiting for a job
  std::size_t blocking_queued = 0;   ///< blocking jobs not started yet
  std::string topology;            ///< where the workers were placed ("1 node (libnuma): 0:[0,1]")

  std::uint64_t total_polls() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.polls;
    return n;
  }
  std::uint64_t total_io_handlers() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.io_handlers;
    return n;
  }
  std::uint64_t total_busy_ns() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.busy_ns;
    return n;
  }
  /// All workers' poll times in one histogram.
  latency_histogram poll_time() const noexcept {
    latency_histogram h;
    for (auto& w : workers) h += w.poll_time;
    return h;
  }
  /// All workers' schedule latencies in one histogram.
  latency_histogram schedule_latency() const noexcept {
    latency_histogram h;
    for (auto& w : workers) h += w.schedule_latency;
    return h;
  }
  std::uint64_t total_steals() const noexcept {
    std::uint64_t n = 0;
    for (auto& w : workers) n += w.steals;
    return n;
  }
};

}  // namespace zokio

#endif
