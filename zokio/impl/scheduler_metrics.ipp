// The metrics snapshot of detail::scheduler: per-worker counters (written by their owner
// with relaxed load + store, read here relaxed: a snapshot, not a synchronization point),
// queue depths and the blocking pool.
#ifndef ZOKIO_IMPL_SCHEDULER_METRICS_IPP
#define ZOKIO_IMPL_SCHEDULER_METRICS_IPP

// Part of the scheduler's single translation unit (impl/src.hpp): included after
// impl/scheduler.ipp, whose thread_locals (tl_worker, tl_entered, tl_stack_base) it uses.
#include <zokio/impl/scheduler.ipp>

namespace zokio::detail {

namespace {

// Ended periods plus the one going on, read without tearing (worker_counters: busy_since).
std::uint64_t busy_ns_of(const worker_counters& c) noexcept {
  for (;;) {
    // Acquire: pairs with the release store that ended the owner's last change.
    const std::uint32_t v = c.busy_version.load(std::memory_order_acquire);
    const std::uint64_t ended = c.busy_ns.load(std::memory_order_relaxed);
    const std::int64_t since = c.busy_since.load(std::memory_order_relaxed);
    // Acquire fence: pairs with the owner's release fence, so a change that began before the
    // loads above shows in the version read below.
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((v & 1) != 0 || c.busy_version.load(std::memory_order_relaxed) != v) continue;
    const std::int64_t now = steady_ns();
    return ended + (since != 0 ? elapsed_ns(now, since) : 0);
  }
}

}  // namespace

runtime_metrics scheduler::metrics() const {
  runtime_metrics m;
  m.enabled = metrics_;
  m.histograms = histograms_ != nullptr;
  m.injector_depth = inject_.size_hint();
  m.live_tasks = owned_.live();
  m.stalls = stalls_.load(std::memory_order_relaxed);
  const blocking_pool_stats b = blocking_.stats();
  m.blocking_threads = b.threads;
  m.blocking_idle = b.idle;
  m.blocking_queued = b.queued;
  m.topology = topology_;
  static const worker_counters none;  // a runtime without metrics: all zero
  for (auto& w : workers_) {
    worker_metrics wm;
    const worker_counters& c = w->counters ? *w->counters : none;
    wm.polls = c.polls.load(std::memory_order_relaxed);
    wm.steals = c.steals.load(std::memory_order_relaxed);
    wm.stolen_tasks = c.stolen_tasks.load(std::memory_order_relaxed);
    wm.parks = c.parks.load(std::memory_order_relaxed);
    wm.injector_pulls = c.injector_pulls.load(std::memory_order_relaxed);
    wm.lifo_polls = c.lifo_polls.load(std::memory_order_relaxed);
    wm.inline_runs = c.inline_runs.load(std::memory_order_relaxed);
    wm.inline_unwinds = c.inline_unwinds.load(std::memory_order_relaxed);
    wm.io_handlers = c.io_handlers.load(std::memory_order_relaxed);
    wm.io_handlers_by_siblings = c.io_handlers_by_siblings.load(std::memory_order_relaxed);
    wm.local_queue_depth = w->deque.size();
    wm.remote_steals = c.remote_steals.load(std::memory_order_relaxed);
    wm.first_steal = c.first_steal.load(std::memory_order_relaxed);
    wm.busy_ns = busy_ns_of(c);
    if (histograms_) {
      wm.poll_time = histograms_[w->index].poll_time.snapshot();
      wm.schedule_latency = histograms_[w->index].schedule_latency.snapshot();
    }
    wm.numa_node = w->place.node_id;
    wm.cpu = w->place.cpu;
    m.workers.push_back(wm);
  }
  return m;
}

}  // namespace zokio::detail

#endif
