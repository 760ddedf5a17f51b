// The flight recorder (issue 15, point 6): per-worker rings of scheduler events written out as
// Chrome Trace Event JSON that parses and whose slices balance, also when the rings wrapped
// and while the runtime keeps running.
#include <zokio/detail/trace_recorder.hpp>  // self-contained header check
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/json.hpp>  // compiled in task_dump_test.cpp (boost/json/src.hpp)
#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace trace_test {

using traced_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = 2, .enable_trace = true}>;

template <class R>
concept can_trace = requires(R& r) { r.trace_json(); };
static_assert(!zokio::runtime::features.trace);
static_assert(!can_trace<zokio::runtime>, "trace_json() exists with the feature only");
static_assert(can_trace<traced_rt>);
static_assert(std::is_empty_v<zokio::detail::trace_storage<false>>);

zokio::task<int> worker_task(int i) {
  for (int k = 0; k < 3; ++k) co_await zokio::yield_now{};
  co_await zokio::sleep(1ms);
  co_return i;
}

struct summary {
  std::size_t polls = 0, parks = 0, spawns = 0, wakes = 0, unfinished = 0, unfinished_polls = 0;
  bool balanced = true;
  std::string why;
};

// Checks the Chrome Trace Event shape and that every B has its E on the same thread, in
// order, not before it.
summary check(const std::string& json) {
  summary s;
  const boost::json::value v = boost::json::parse(json);  // throws if malformed
  std::map<std::int64_t, std::vector<std::pair<std::string, double>>> open;  // tid -> (name, ts)
  for (const auto& ev : v.at("traceEvents").as_array()) {
    const auto& e = ev.as_object();
    const std::string ph(e.at("ph").as_string());
    if (ph == "M") continue;
    const std::int64_t tid = e.at("tid").as_int64();
    const double ts = e.at("ts").to_number<double>();
    if (ph == "B") {
      const std::string name(e.at("name").as_string());
      if (name == "parked")
        ++s.parks;
      else if (name.rfind("task ", 0) == 0 && e.at("args").at("task").as_int64() > 0)
        ++s.polls;
      else
        s.balanced = false, s.why = "unknown slice " + name;
      open[tid].emplace_back(name, ts);
    } else if (ph == "E") {
      auto& st = open[tid];
      if (st.empty()) {
        s.balanced = false, s.why = "an end without a begin";
        continue;
      }
      if (ts + 1.0 < st.back().second) s.balanced = false, s.why = "an end before its begin";
      const bool poll = st.back().first.rfind("task ", 0) == 0;
      st.pop_back();
      if (e.contains("args") && e.at("args").as_object().contains("unfinished")) {
        ++s.unfinished;
        s.unfinished_polls += poll;
      }
    } else if (ph == "i") {
      const std::string name(e.at("name").as_string());
      s.spawns += name == "spawn";
      s.wakes += name == "wake";
    } else {
      s.balanced = false, s.why = "unknown phase " + ph;
    }
  }
  for (auto& [tid, st] : open)
    if (!st.empty()) s.balanced = false, s.why = "a begin without an end";
  return s;
}

// Per thread row, in the order the rows list them: every timestamp, and each outermost
// slice (a poll or a sleep) as (begin, end, name).
struct row {
  std::vector<double> stamps;
  std::vector<std::tuple<double, double, std::string>> outer;
};
std::map<std::int64_t, row> rows_of(const std::string& json) {
  std::map<std::int64_t, row> rows;
  std::map<std::int64_t, std::vector<std::pair<std::string, double>>> open;
  const boost::json::value v = boost::json::parse(json);  // (a range-for over a temporary's
  for (const auto& ev : v.at("traceEvents").as_array()) {  // member would dangle)
    const auto& e = ev.as_object();
    const std::string ph(e.at("ph").as_string());
    if (ph == "M") continue;
    const std::int64_t tid = e.at("tid").as_int64();
    const double ts = e.at("ts").to_number<double>();
    rows[tid].stamps.push_back(ts);
    if (ph == "B") open[tid].emplace_back(std::string(e.at("name").as_string()), ts);
    if (ph == "E" && !open[tid].empty()) {
      auto [name, begin] = open[tid].back();
      open[tid].pop_back();
      if (open[tid].empty()) rows[tid].outer.emplace_back(begin, ts, name);
    }
  }
  return rows;
}

zokio::task<int> spin_then_spawn(std::chrono::microseconds spin) {
  const auto until = std::chrono::steady_clock::now() + spin;
  while (std::chrono::steady_clock::now() < until) {
  }
  co_await zokio::spawn([]() -> zokio::task<int> { co_return 1; }());
  co_await zokio::yield_now{};
  co_return 1;
}

}  // namespace trace_test

using namespace trace_test;

BOOST_AUTO_TEST_SUITE(trace_suite)

BOOST_AUTO_TEST_CASE(a_small_program_traces_valid_balanced_json) {
  traced_rt rt;
  std::vector<zokio::join_handle<int>> hs;
  for (int i = 0; i < 100; ++i) hs.push_back(rt.spawn(worker_task(i)));
  int sum = 0;
  for (auto& h : hs) sum += rt.block_on(std::move(h));
  BOOST_TEST(sum == 4950);
  std::this_thread::sleep_for(20ms);  // the workers park
  const summary s = check(rt.trace_json());
  BOOST_TEST(s.balanced, s.why);
  BOOST_TEST(s.spawns == 100u);
  // Each task: 3 yields and its last poll, and one more poll and a timer wake when its sleep
  // pends. A 1 ms sleep may not pend: its deadline can pass while a loaded (TSan, CI) worker
  // is preempted between creating it and polling it (seen once in CI: 499 polls).
  BOOST_TEST(s.polls >= 400u);
  BOOST_TEST(s.wakes >= 1u);  // the timers' wakes (a yield requeues without a wake)
  BOOST_TEST(s.parks >= 1u);
}

BOOST_AUTO_TEST_CASE(wrapped_rings_still_balance) {
  auto rt = traced_rt::builder().worker_threads(2).trace_capacity(64).build();
  std::vector<zokio::join_handle<int>> hs;
  for (int i = 0; i < 2000; ++i) hs.push_back(rt.spawn(worker_task(i)));
  for (auto& h : hs) (void)rt.block_on(std::move(h));
  const std::string json = rt.trace_json();
  const summary s = check(json);
  BOOST_TEST(s.balanced, s.why);
  // 64 events per worker and 64 for other threads at most: what is left of 10,000 polls.
  const auto n = boost::json::parse(json).at("traceEvents").as_array().size();
  BOOST_TEST(n <= 3 * (64 + 4) + 4u);
  BOOST_TEST(s.polls + s.parks > 0u);
}

// Hostile: tasks that throw at their first poll or after a yield, and tasks aborted while
// they sleep (completed without a poll): every poll slice still ends, on its thread.
BOOST_AUTO_TEST_CASE(throwing_and_aborted_tasks_still_balance) {
  auto rt = traced_rt::builder().worker_threads(2).build();
  std::vector<zokio::join_handle<int>> throwing, aborted;
  std::atomic<int> asleep{0};
  for (int i = 0; i < 50; ++i) {
    throwing.push_back(rt.spawn([](int k) -> zokio::task<int> {
      if (k % 2 == 1) co_await zokio::yield_now{};
      throw std::runtime_error("step " + std::to_string(k % 2));
    }(i)));
    aborted.push_back(rt.spawn([](std::atomic<int>* n) -> zokio::task<int> {
      n->fetch_add(1);
      co_await zokio::sleep(10s);
      co_return 1;
    }(&asleep)));
  }
  BOOST_TEST(zokio::test::count_join_failures<std::runtime_error>(rt, throwing) == 50);
  // Every sleeper polled once before the aborts (under TSan some were still queued when the
  // throwing tasks had all ended: 123 polls, 1 run in 6).
  BOOST_TEST(zokio::test::wait_until([&] { return asleep.load() == 50; }));
  for (auto& h : aborted) h.abort();
  BOOST_TEST(zokio::test::count_join_failures(rt, aborted) == 50);
  std::this_thread::sleep_for(20ms);  // the workers park
  const summary s = check(rt.trace_json());
  BOOST_TEST(s.balanced, s.why);
  BOOST_TEST(s.unfinished_polls == 0u);  // (the parked workers' sleeps are still open)
  BOOST_TEST(s.spawns == 100u);
  BOOST_TEST(s.polls >= 125u);  // 25 + 2 x 25 throwing polls, the 50 sleepers' first polls
}

// Hostile: trace_json() from another thread while the workers keep recording and the rings
// wrap (run under TSan and ASan with the suite): every copy parses and balances.
BOOST_AUTO_TEST_CASE(reading_while_recording) {
  auto rt = traced_rt::builder().worker_threads(2).trace_capacity(256).build();
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0};
  std::string why;
  std::thread reader([&] {
    while (!stop.load()) {
      const summary s = check(rt.trace_json());
      if (!s.balanced) {
        why = s.why;
        ++bad;
      }
      ++reads;
    }
  });
  for (int round = 0; round < 20; ++round) {
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < 200; ++i) hs.push_back(rt.spawn(worker_task(i)));
    for (auto& h : hs) (void)rt.block_on(std::move(h));
  }
  while (reads.load() < 3) std::this_thread::yield();
  stop = true;
  reader.join();
  BOOST_TEST(bad.load() == 0, why);
  BOOST_TEST(reads.load() >= 3);
}

// A worker's ring reads the clock about once per poll (spawns and wakes in a poll, and the
// next poll when nothing but queue work came between, share a stamp; trace_recorder.hpp).
// What that must not break: stamps on a row never go back, outermost slices on a row do not
// overlap, a poll that runs 2 ms is at least 2 ms long, and a poll after the worker did
// anything else (slept, or its block_on caller ran its own code for 30 ms) is not stamped
// from before that.
BOOST_AUTO_TEST_CASE(shared_stamps_keep_rows_ordered_and_slices_true) {
  auto rt = traced_rt::builder().worker_threads(2).build();
  for (int round = 0; round < 3; ++round) {
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < 50; ++i) hs.push_back(rt.spawn(worker_task(i)));
    hs.push_back(rt.spawn(spin_then_spawn(2ms)));
    for (auto& h : hs) (void)rt.block_on(std::move(h));
    std::this_thread::sleep_for(5ms);  // the workers park between rounds
  }
  bool long_poll = false;
  for (const auto& [tid, r] : rows_of(rt.trace_json())) {
    for (std::size_t i = 1; i < r.stamps.size(); ++i)
      BOOST_TEST_REQUIRE(r.stamps[i] >= r.stamps[i - 1], "row " << tid << " goes back at " << i);
    for (std::size_t i = 1; i < r.outer.size(); ++i)
      BOOST_TEST_REQUIRE(std::get<0>(r.outer[i]) >= std::get<1>(r.outer[i - 1]));
    for (const auto& [b, e, name] : r.outer) long_poll |= name != "parked" && e - b >= 2000.0;
  }
  BOOST_TEST(long_poll);  // the 2 ms spin's poll ended with a clock read of its own

  // current_thread: the caller's block_on drives the runtime, and between two block_on calls
  // its own code runs. The second quick task's poll must not start at the first one's end.
  using traced_ct = zokio::basic_runtime<zokio::runtime_config{
      .flavour = zokio::runtime_flavour::current_thread, .enable_trace = true}>;
  traced_ct ct;
  BOOST_TEST(ct.block_on(ct.spawn([]() -> zokio::task<int> { co_return 1; }())) == 1);
  std::this_thread::sleep_for(30ms);
  BOOST_TEST(ct.block_on(ct.spawn([]() -> zokio::task<int> { co_return 2; }())) == 2);
  std::size_t polls = 0;
  for (const auto& [tid, r] : rows_of(ct.trace_json()))
    for (const auto& [b, e, name] : r.outer)
      if (name != "parked") {
        ++polls;
        BOOST_TEST(e - b < 20000.0, name << " took " << (e - b) << " us");
      }
  BOOST_TEST(polls >= 2u);
}

BOOST_AUTO_TEST_SUITE_END()
