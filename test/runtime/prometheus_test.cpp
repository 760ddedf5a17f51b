// zokio::prometheus_collector (issue 15, point 5): a runtime's metrics in the Prometheus text
// format, checked line by line against the format's grammar and the snapshot's values.
#include <zokio/prometheus.hpp>  // self-contained header check
#include <zokio/blocking.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

namespace prometheus_test {

using metered_rt = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;
using timed_rt = zokio::basic_runtime<zokio::runtime_config{
    .worker_threads = 2, .enable_metrics = true, .enable_latency_histograms = true}>;

// A strict reading of the text format 0.0.4: HELP and TYPE lines, then samples of that
// family only, each `name{label="v",...} value` with a valid name and a number. Returns the
// samples by their full name (labels included); fails the test on any other line.
std::map<std::string, double> parse(const std::string& text) {
  static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$)");
  std::map<std::string, double> out;
  std::set<std::string> typed;
  std::string family, family_type;
  std::istringstream in(text);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      family = m[1];
      continue;
    }
    if (std::regex_match(line, m, type)) {
      BOOST_TEST(m[1] == family, "TYPE without its HELP: " << line);
      BOOST_TEST(typed.insert(m[1]).second, "family typed twice: " << line);
      family_type = m[2];
      if (family_type == "counter")
        BOOST_TEST(family.ends_with("_total"), "a counter not named *_total: " << family);
      continue;
    }
    BOOST_TEST_REQUIRE(std::regex_match(line, m, sample), "not a sample line: '" << line << "'");
    // A histogram's samples are <family>_bucket (with an `le` label), _sum and _count.
    const std::string name = m[1];
    const bool in_family =
        name == family || (family_type == "histogram" &&
                           (name == family + "_sum" || name == family + "_count" ||
                            (name == family + "_bucket" &&
                             std::string(m[2]).find("le=\"") != std::string::npos)));
    BOOST_TEST(in_family, "sample outside its family: " << line);
    std::size_t used = 0;
    const double v = std::stod(m[4], &used);
    BOOST_TEST(used == m[4].length());
    BOOST_TEST(out.emplace(std::string(m[1]) + std::string(m[2]), v).second, "duplicate: " << line);
  }
  BOOST_TEST(lines > 0);
  return out;
}

zokio::task<int> busy(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await zokio::spawn(zokio::ready_future<int>(1));
  co_return sum;
}

}  // namespace prometheus_test

using namespace prometheus_test;

BOOST_AUTO_TEST_SUITE(prometheus_suite)

BOOST_AUTO_TEST_CASE(text_output_parses_and_carries_the_snapshot) {
  metered_rt::builder b;
  auto rt = b.worker_threads(2).build();
  BOOST_TEST(rt.block_on(rt.spawn(busy(1000))) == 1000);
  BOOST_TEST(rt.block_on(rt.spawn_blocking([] { return 3; })) == 3);
  const zokio::runtime_metrics snap = rt.metrics();
  const std::string text = zokio::prometheus_text(snap);
  BOOST_TEST_MESSAGE(text);
  const auto samples = parse(text);
  BOOST_TEST(samples.at("zokio_workers") == 2.0);
  BOOST_TEST(samples.at("zokio_metrics_enabled") == 1.0);
  BOOST_TEST(samples.at("zokio_stalls_total") == 0.0);
  BOOST_TEST(samples.at("zokio_blocking_threads") == double(snap.blocking_threads));
  BOOST_TEST(snap.blocking_threads >= 1u);
  double polls = 0;
  for (unsigned i = 0; i < 2; ++i) {
    const std::string key =
        "zokio_worker_polls_total{numa_node=\"" + std::to_string(snap.workers[i].numa_node) +
        "\",worker=\"" + std::to_string(i) + "\"}";
    BOOST_TEST_REQUIRE(samples.count(key) == 1u, key);
    BOOST_TEST(samples.at(key) == double(snap.workers[i].polls));
    polls += samples.at(key);
  }
  BOOST_TEST(polls >= 1001.0);  // the parent and its 1,000 children
}

BOOST_AUTO_TEST_CASE(a_runtime_without_metrics_exports_zeros_and_says_so) {
  auto rt = zokio::test::make_runtime(1);
  BOOST_TEST(rt.block_on(rt.spawn(busy(10))) == 10);
  zokio::prometheus_collector c([&rt] { return rt.metrics(); });
  const auto samples = parse(prometheus::TextSerializer().Serialize(c.Collect()));
  BOOST_TEST(samples.at("zokio_metrics_enabled") == 0.0);
  BOOST_TEST(samples.at("zokio_workers") == 1.0);
  BOOST_TEST(samples.at("zokio_worker_polls_total{numa_node=\"0\",worker=\"0\"}") == 0.0);
}

BOOST_AUTO_TEST_CASE(histograms_are_cumulative_and_end_at_their_count) {
  timed_rt rt;
  BOOST_TEST(rt.block_on(rt.spawn(busy(1000))) == 1000);
  const zokio::runtime_metrics snap = rt.metrics();
  const std::string text = zokio::prometheus_text(snap);
  const auto samples = parse(text);
  for (const char* family :
       {"zokio_worker_poll_duration_seconds", "zokio_worker_schedule_latency_seconds"}) {
    BOOST_TEST(text.find(std::string("# TYPE ") + family + " histogram") != std::string::npos);
    double total = 0;
    for (unsigned i = 0; i < 2; ++i) {
      const std::string labels = "numa_node=\"" + std::to_string(snap.workers[i].numa_node) +
                                 "\",worker=\"" + std::to_string(i) + "\"";
      const double count = samples.at(std::string(family) + "_count{" + labels + "}");
      const zokio::latency_histogram& h = std::string(family).find("poll") != std::string::npos
                                              ? snap.workers[i].poll_time
                                              : snap.workers[i].schedule_latency;
      BOOST_TEST(count == double(h.count()));
      BOOST_TEST(samples.at(std::string(family) + "_sum{" + labels + "}") ==
                     double(h.sum_ns) / 1e9,
                 boost::test_tools::tolerance(1e-9));
      // Buckets: one per latency_histogram bucket, `le` its bound in seconds (+Inf last),
      // each the cumulative count up to it, the +Inf one equal to _count.
      const std::string prefix = std::string(family) + "_bucket{" + labels + ",le=\"";
      std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
      for (auto it = samples.lower_bound(prefix);
           it != samples.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        const std::string le = it->first.substr(prefix.size(), it->first.size() - prefix.size() - 2);
        buckets.emplace_back(le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le),
                             it->second);
      }
      std::sort(buckets.begin(), buckets.end());
      BOOST_TEST_REQUIRE(buckets.size() == zokio::latency_histogram::bucket_count);
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < buckets.size(); ++b) {
        cumulative += h.counts[b];
        if (b + 1 < buckets.size())
          BOOST_TEST(buckets[b].first ==
                         double(zokio::latency_histogram::upper_bound_ns(b)) / 1e9,
                     boost::test_tools::tolerance(1e-12));
        BOOST_TEST(buckets[b].second == double(cumulative));
      }
      BOOST_TEST(std::isinf(buckets.back().first));
      BOOST_TEST(buckets.back().second == count);
      total += count;
    }
    BOOST_TEST(total >= 1001.0);  // the parent and its children, each polled once at least
  }
  BOOST_TEST(samples.count("zokio_worker_busy_seconds_total{numa_node=\"" +
                           std::to_string(snap.workers[0].numa_node) + "\",worker=\"0\"}") == 1u);
  // Without the feature the families are not there.
  metered_rt plain;
  BOOST_TEST(zokio::prometheus_text(plain.metrics()).find("poll_duration") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
