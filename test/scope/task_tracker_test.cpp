// zokio::task_tracker (issue 17, point 3): tracked tasks counted from spawn to the end of
// their future; drain() cancels the token, waits up to its deadline and names the
// stragglers; a runtime shut down under it, and a tracker dropped under its tasks, leave
// nothing behind (run under TSan and ASan with the suite).
#include <zokio/task_tracker.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/select.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace task_tracker_test {

// A request in flight: finishes its work shortly after the drain begins.
zokio::task<int> request(zokio::cancellation_token stop) {
  co_await stop.cancelled();
  co_await zokio::sleep(20ms);
  co_return 1;
}
// Ignores the token: still running at the deadline.
zokio::task<int> stuck() {
  co_await zokio::sleep(30s);
  co_return 0;
}
zokio::task<int> thrower(zokio::cancellation_token stop) {
  co_await stop.cancelled();
  throw std::runtime_error("failed while draining");
}

}  // namespace task_tracker_test

using namespace task_tracker_test;

BOOST_AUTO_TEST_SUITE(task_tracker_suite)

BOOST_AUTO_TEST_CASE(drain_waits_for_the_finishers_and_names_the_straggler) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  zokio::task_tracker tracker;
  auto report = rt.block_on([](zokio::task_tracker& tr) -> zokio::task<zokio::drain_report> {
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < 5; ++i) hs.push_back(tr.spawn(request(tr.token()), {.name = "request"}));
    hs.push_back(tr.spawn(thrower(tr.token()), {.name = "thrower"}));
    auto s = tr.spawn(stuck(), {.name = "stuck"});
    const auto stuck_id = s.id();
    BOOST_TEST(tr.live() == 7u);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await tr.drain(200ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took >= 190ms));
    BOOST_TEST((took < 10s));
    BOOST_TEST_REQUIRE(r.stragglers.size() == 1u);
    BOOST_TEST(r.stragglers[0].id == stuck_id);
    int sum = 0;
    for (std::size_t i = 0; i < 5; ++i) sum += co_await std::move(hs[i]);
    BOOST_TEST(sum == 5);
    s.abort();
    co_return r;
  }(tracker));
  BOOST_TEST(report.finished == 6u);  // 5 requests and the thrower (an error ends it too)
  BOOST_TEST(!report.complete());
  BOOST_TEST(report.stragglers[0].name == "stuck");
  BOOST_TEST(std::string(report.stragglers[0].where.file_name()).find("task_tracker_test.cpp") !=
             std::string::npos);
  BOOST_TEST(report.to_string().find("\"stuck\" spawned at") != std::string::npos);
  BOOST_TEST(tracker.token().is_cancelled());
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return tracker.live() == 0; }));
}

BOOST_AUTO_TEST_CASE(an_empty_drain_returns_at_once_and_a_second_one_counts_anew) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(1).build();
  zokio::task_tracker tracker;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = rt.block_on(tracker.drain(10s));
  BOOST_TEST(r.complete());
  BOOST_TEST(r.finished == 0u);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
  // Spawned after the drain: the token is cancelled already, so it ends at once.
  auto h = rt.block_on([](zokio::task_tracker& tr) -> zokio::task<int> {
    auto h = tr.spawn(request(tr.token()));
    auto r2 = co_await tr.drain(10s);
    BOOST_TEST(r2.complete());
    BOOST_TEST(r2.finished == 1u);
    co_return co_await std::move(h);
  }(tracker));
  BOOST_TEST(h == 1);
}

// Hostile: the runtime is destroyed with tracked tasks waiting (their futures are dropped:
// nothing stays tracked), and a tracker is dropped while its tasks run (they keep its
// state and finish).
BOOST_AUTO_TEST_CASE(shutdown_and_a_dropped_tracker_leave_nothing) {
  zokio::task_tracker tracker;
  {
    zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
    rt.block_on([](zokio::task_tracker& tr) -> zokio::task<void> {
      for (int i = 0; i < 20; ++i) tr.spawn(stuck(), {.name = "sleeper"}).detach();
      co_return;
    }(tracker));
    BOOST_TEST(tracker.live() == 20u);
  }
  BOOST_TEST(tracker.live() == 0u);

  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  std::atomic<int> done{0};
  {
    zokio::task_tracker local;
    rt.block_on([](zokio::task_tracker& tr, std::atomic<int>& done) -> zokio::task<void> {
      for (int i = 0; i < 20; ++i)
        tr.spawn([](std::atomic<int>& d) -> zokio::task<void> {
            co_await zokio::sleep(5ms);
            ++d;
          }(done)).detach();
      co_return;
    }(local, done));
  }
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return done.load() == 20; }));
}

BOOST_AUTO_TEST_SUITE_END()
