// zokio::prometheus_collector: a runtime's metrics as Prometheus families (prometheus-cpp).
// Optional: include it only in a program that links prometheus-cpp-core (Debian
// prometheus-cpp-dev); the Zokio library itself does not depend on it.
#ifndef ZOKIO_PROMETHEUS_HPP
#define ZOKIO_PROMETHEUS_HPP

#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <zokio/metrics.hpp>

namespace zokio {

/**
 * A prometheus::Collectable that takes a runtime_metrics snapshot at each scrape and turns it
 * into families named `zokio_*`: per-worker counters (label `worker`, plus `numa_node`) and
 * gauges, and the runtime's gauges and counters. Register it with an Exposer or a Registry's
 * owner, or serialize it yourself:
 *
 * @code
 * auto c = std::make_shared<zokio::prometheus_collector>([&rt] { return rt.metrics(); });
 * exposer.RegisterCollectable(c);                      // prometheus-cpp-pull
 * std::string text = zokio::prometheus_text(rt.metrics());  // or the text format at once
 * @endcode
 *
 * Counters the runtime does not keep (a runtime without runtime_config::enable_metrics) are
 * exported as 0; `zokio_metrics_enabled` says which case it is. The histograms
 * `zokio_worker_poll_duration_seconds` and `zokio_worker_schedule_latency_seconds` are
 * there with runtime_config::enable_latency_histograms only.
 */
class prometheus_collector : public prometheus::Collectable {
 public:
  explicit prometheus_collector(std::function<runtime_metrics()> source)
      : source_(std::move(source)) {}

  std::vector<prometheus::MetricFamily> Collect() const override { return families(source_()); }

  /// The families of one snapshot.
  static std::vector<prometheus::MetricFamily> families(const runtime_metrics& m) {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    // One sample: a counter's or a gauge's value, as `type` says.
    auto sample = [](MetricType type, double v, prometheus::ClientMetric c = {}) {
      (type == MetricType::Counter ? c.counter.value : c.gauge.value) = v;
      return c;
    };
    auto per_worker = [&](const char* name, const char* help, MetricType type, auto field) {
      prometheus::MetricFamily f{name, help, type, {}};
      for (std::size_t i = 0; i < m.workers.size(); ++i) {
        prometheus::ClientMetric c;
        c.label = {{"numa_node", std::to_string(m.workers[i].numa_node)},
                   {"worker", std::to_string(i)}};
        f.metric.push_back(sample(type, static_cast<double>(field(m.workers[i])), std::move(c)));
      }
      out.push_back(std::move(f));
    };
    auto one = [&](const char* name, const char* help, MetricType type, double v) {
      out.push_back(prometheus::MetricFamily{name, help, type, {sample(type, v)}});
    };
    const auto C = MetricType::Counter;
    const auto G = MetricType::Gauge;
    per_worker("zokio_worker_polls_total", "Tasks polled by the worker", C,
               [](const worker_metrics& w) { return w.polls; });
    per_worker("zokio_worker_steals_total", "Successful steal operations", C,
               [](const worker_metrics& w) { return w.steals; });
    per_worker("zokio_worker_stolen_tasks_total", "Tasks moved by steals", C,
               [](const worker_metrics& w) { return w.stolen_tasks; });
    per_worker("zokio_worker_remote_steals_total", "Steals from another NUMA node", C,
               [](const worker_metrics& w) { return w.remote_steals; });
    per_worker("zokio_worker_parks_total", "Times the worker went to sleep", C,
               [](const worker_metrics& w) { return w.parks; });
    per_worker("zokio_worker_injector_pulls_total", "Tasks taken from the global injector", C,
               [](const worker_metrics& w) { return w.injector_pulls; });
    per_worker("zokio_worker_lifo_polls_total", "Tasks taken from the LIFO slot", C,
               [](const worker_metrics& w) { return w.lifo_polls; });
    per_worker("zokio_worker_inline_runs_total", "Children run inline by their joiner", C,
               [](const worker_metrics& w) { return w.inline_runs; });
    per_worker("zokio_worker_io_handlers_total",
               "Asio handlers run from the worker's io_context, by any thread", C,
               [](const worker_metrics& w) { return w.io_handlers; });
    per_worker("zokio_worker_io_handlers_by_siblings_total",
               "Of those, handlers idle siblings ran while the worker was busy", C,
               [](const worker_metrics& w) { return w.io_handlers_by_siblings; });
    per_worker("zokio_worker_local_queue_depth", "Tasks in the worker's deque", G,
               [](const worker_metrics& w) { return w.local_queue_depth; });
    per_worker("zokio_worker_busy_seconds_total", "Time the worker was not asleep", C,
               [](const worker_metrics& w) { return static_cast<double>(w.busy_ns) / 1e9; });
    if (m.histograms) {
      // Histograms in seconds, per worker; the buckets are latency_histogram's (cumulative
      // here, as the format wants), the last one +Inf.
      auto per_worker_histogram = [&](const char* name, const char* help, auto field) {
        prometheus::MetricFamily f{name, help, MetricType::Histogram, {}};
        for (std::size_t i = 0; i < m.workers.size(); ++i) {
          const latency_histogram& h = field(m.workers[i]);
          prometheus::ClientMetric c;
          c.label = {{"numa_node", std::to_string(m.workers[i].numa_node)},
                     {"worker", std::to_string(i)}};
          std::uint64_t cumulative = 0;
          for (std::size_t b = 0; b < latency_histogram::bucket_count; ++b) {
            cumulative += h.counts[b];
            const bool last = b + 1 == latency_histogram::bucket_count;
            c.histogram.bucket.push_back(
                {cumulative, last ? std::numeric_limits<double>::infinity()
                                  : static_cast<double>(latency_histogram::upper_bound_ns(b)) / 1e9});
          }
          c.histogram.sample_count = cumulative;
          c.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
          f.metric.push_back(std::move(c));
        }
        out.push_back(std::move(f));
      };
      per_worker_histogram("zokio_worker_poll_duration_seconds", "Duration of each task poll",
                           [](const worker_metrics& w) -> const latency_histogram& {
                             return w.poll_time;
                           });
      per_worker_histogram("zokio_worker_schedule_latency_seconds",
                           "Time from a task's queueing (spawn, wake, yield) to its poll",
                           [](const worker_metrics& w) -> const latency_histogram& {
                             return w.schedule_latency;
                           });
    }
    one("zokio_workers", "Worker threads", G, static_cast<double>(m.workers.size()));
    one("zokio_metrics_enabled", "1 when the runtime keeps per-worker counters", G,
        m.enabled ? 1.0 : 0.0);
    one("zokio_injector_depth", "Tasks in the global injector (approximate)", G,
        static_cast<double>(m.injector_depth));
    one("zokio_live_tasks", "Spawned tasks not yet complete", G,
        static_cast<double>(m.live_tasks));
    one("zokio_stalls_total", "Polls the stall watchdog reported", C,
        static_cast<double>(m.stalls));
    one("zokio_blocking_threads", "Blocking-pool threads alive", G,
        static_cast<double>(m.blocking_threads));
    one("zokio_blocking_idle_threads", "Blocking-pool threads waiting for a job", G,
        static_cast<double>(m.blocking_idle));
    one("zokio_blocking_queue_depth", "Blocking jobs not started", G,
        static_cast<double>(m.blocking_queued));
    return out;
  }

 private:
  std::function<runtime_metrics()> source_;
};

/// One snapshot in the Prometheus text exposition format (version 0.0.4).
inline std::string prometheus_text(const runtime_metrics& m) {
  return prometheus::TextSerializer().Serialize(prometheus_collector::families(m));
}

}  // namespace zokio

#endif
