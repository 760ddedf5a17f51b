// Tests for runtime::shutdown_timeout: a bounded shutdown that leaves long blocking jobs
// running on their own threads.
#include <zokio/runtime.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/blocking.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace utf = boost::unit_test;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {
zokio::runtime make_rt(std::size_t max_blocking = 512) {
  return zokio::runtime::builder().worker_threads(1).max_blocking_threads(max_blocking).build();
}

template <class F>
zokio::errc error_of(F&& awaitable) {
  try {
    (void)zokio::block_on(std::forward<F>(awaitable));
  } catch (const zokio::join_error& e) {
    return static_cast<zokio::errc>(e.code().value());
  }
  return zokio::errc{};
}

bool is_runtime_shutdown(const std::exception& e) {
  auto* je = dynamic_cast<const zokio::join_error*>(&e);
  return je && je->code() == zokio::make_error_code(zokio::errc::runtime_shutdown);
}

int live_runtimes() { return zokio::detail::g_live_runtimes.load(); }

double ms_since(clk::time_point t) {
  return std::chrono::duration<double, std::milli>(clk::now() - t).count();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(shutdown_timeout_suite)

// The case: a job sleeping 2 s, shutdown_timeout(100ms). The runtime is destroyed while
// the job still runs; the job then uses the runtime (spawn, spawn_blocking), which must be
// alive still (ASan/TSan builds would report otherwise) and refuse.
BOOST_AUTO_TEST_CASE(long_job_is_left_behind_and_ends_safely, *utf::timeout(60)) {
  const int runtimes_before = live_runtimes();
  const long tracked_before = zokio::test::tracked::live.load();
  std::atomic<bool> started{false}, finished{false}, queued_ran{false};
  std::atomic<int> spawn_refused{0};
  std::optional<zokio::blocking_handle<int>> long_job;
  {
    auto rt = make_rt(1);  // one pool thread: the second job stays queued
    auto task = rt.spawn(zokio::test::never{});
    long_job.emplace(rt.spawn_blocking([&] {
      started = true;
      std::this_thread::sleep_for(2s);
      // The runtime is gone by now (destroyed below): spawning still answers, with a refusal.
      try {
        (void)zokio::block_on(zokio::spawn(zokio::test::never{}));
      } catch (const std::exception& e) {
        spawn_refused += is_runtime_shutdown(e);
      }
      try {
        (void)zokio::block_on(zokio::spawn_blocking([] { return 1; }));
      } catch (const std::exception& e) {
        spawn_refused += is_runtime_shutdown(e);
      }
      finished = true;
      return 42;
    }));
    auto queued = rt.spawn_blocking([&] { queued_ran = true; });
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return started.load(); }));

    const auto t0 = clk::now();
    const bool all_done = rt.shutdown_timeout(100ms);
    const double took_ms = ms_since(t0);
    BOOST_TEST(!all_done);
    BOOST_TEST_MESSAGE("shutdown_timeout(100ms) took " << took_ms << " ms");
    BOOST_TEST(took_ms >= 95);  // it did wait for the job, up to the bound
    BOOST_TEST(took_ms < 1000);
    BOOST_TEST(!finished.load());
    // Tasks were cancelled (future destroyed), the queued job dropped.
    BOOST_TEST(zokio::test::tracked::live.load() == tracked_before);
    BOOST_TEST((error_of(std::move(task)) == zokio::errc::runtime_shutdown));
    BOOST_TEST((error_of(std::move(queued)) == zokio::errc::runtime_shutdown));

    const auto t1 = clk::now();
    {
      auto gone = std::move(rt);
    }  // destroyed here: must not wait for the job
    BOOST_TEST(ms_since(t1) < 1000);
    BOOST_TEST(!finished.load());
    BOOST_TEST(live_runtimes() == runtimes_before + 1);  // its internals wait for the job
  }
  // The job ends on its own; its result still reaches the handle kept here.
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return finished.load(); }));
  BOOST_TEST(spawn_refused.load() == 2);
  BOOST_TEST(zokio::block_on(std::move(*long_job)) == 42);
  // Its thread freed the runtime's internals.
  BOOST_TEST(zokio::test::wait_until([&] { return live_runtimes() == runtimes_before; }));
  BOOST_TEST(!queued_ran.load());
  BOOST_TEST(zokio::test::tracked::live.load() == tracked_before);
}

BOOST_AUTO_TEST_CASE(returns_true_when_everything_finishes_in_time, *utf::timeout(60)) {
  const long tracked_before = zokio::test::tracked::live.load();
  {
    auto rt = make_rt();
    auto task = rt.spawn(zokio::test::never{});
    auto t0 = clk::now();
    BOOST_TEST(rt.shutdown_timeout(5s));  // no blocking job at all
    BOOST_TEST(ms_since(t0) < 1000);
    BOOST_TEST(zokio::test::tracked::live.load() == tracked_before);
    BOOST_TEST((error_of(std::move(task)) == zokio::errc::runtime_shutdown));
  }
  {
    auto rt = make_rt();
    std::atomic<bool> started{false};
    auto job = rt.spawn_blocking([&] {
      started = true;
      std::this_thread::sleep_for(50ms);
      return 7;
    });
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return started.load(); }));
    auto t0 = clk::now();
    // A duration other than nanoseconds, and a job that ends within it: waited for.
    BOOST_TEST(rt.shutdown_timeout(std::chrono::duration<double>(5.0)));
    BOOST_TEST(ms_since(t0) < 4000);
    BOOST_TEST(job.is_finished());
    BOOST_TEST(zokio::block_on(std::move(job)) == 7);
  }
}

// Repeated calls: each waits again, at most its own timeout, for the jobs left; once they
// are done the answer is true, and shutdown() and the destructor have nothing left to do.
BOOST_AUTO_TEST_CASE(later_calls_are_harmless, *utf::timeout(60)) {
  const int runtimes_before = live_runtimes();
  zokio::test::event release;
  std::atomic<bool> started{false}, finished{false};
  {
    auto rt = make_rt();
    auto job = rt.spawn_blocking([&] {
      started = true;
      while (!release.is_set()) std::this_thread::sleep_for(1ms);
      finished = true;
    });
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return started.load(); }));
    BOOST_TEST(!rt.shutdown_timeout(30ms));
    auto t0 = clk::now();
    BOOST_TEST(!rt.shutdown_timeout(0ms));  // no wait at all
    BOOST_TEST(!rt.shutdown_timeout(-5s));  // negative: as 0
    BOOST_TEST(ms_since(t0) < 500);
    BOOST_TEST(!finished.load());
    release.notify();
    BOOST_TEST(rt.shutdown_timeout(10s));  // waits for the job left
    BOOST_TEST(finished.load());
    BOOST_TEST(rt.shutdown_timeout(0ms));
    rt.shutdown();
    BOOST_TEST(job.is_finished());
    // Spawning after all that is refused, not lost.
    BOOST_TEST((error_of(rt.spawn(zokio::test::never{})) == zokio::errc::runtime_shutdown));
  }
  BOOST_TEST(live_runtimes() == runtimes_before);  // the destructor freed it at once
}

// The job left behind ends (and its thread exits) before the destructor: the destructor then
// frees everything itself, at once.
BOOST_AUTO_TEST_CASE(job_ending_before_the_destructor, *utf::timeout(60)) {
  const int runtimes_before = live_runtimes();
  std::atomic<bool> started{false}, go{false}, finished{false};
  {
    auto rt = make_rt();
    auto job = rt.spawn_blocking([&] {
      started = true;
      while (!go.load()) std::this_thread::sleep_for(1ms);
      finished = true;
      return 1;
    });
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return started.load(); }));
    BOOST_TEST(!rt.shutdown_timeout(20ms));
    go = true;
    BOOST_TEST_REQUIRE(zokio::test::wait_until(
        [&] { return job.is_finished() && rt.scheduler().blocking().stats().threads == 0; }));
  }
  BOOST_TEST(finished.load());
  BOOST_TEST(live_runtimes() == runtimes_before);
}

BOOST_AUTO_TEST_SUITE_END()
