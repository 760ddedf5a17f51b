// The I/O driver's turn (zokio/impl/io_driver.ipp): a worker runs a bounded number of its
// io_context's handlers per turn, so tasks, timers and spawns from outside still run while
// I/O on the worker never runs dry (both ends of a loopback connection on the runtime, each
// handler starting an operation that completes at once). io_context::poll() ran until no
// handler was ready: these cases never finished their spawn (1 worker) before the fix.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/socket_pair.hpp"
#include "../support/test_util.hpp"

BOOST_AUTO_TEST_SUITE(io_driver)

namespace asio = boost::asio;
using namespace std::chrono_literals;
using io_clock = std::chrono::steady_clock;

// Two coroutines bouncing 64 bytes over a loopback pair until `stop` (or a 5 s cap, so that
// the old driver fails these cases instead of hanging them). `trips` counts reads.
struct ping_pong {
  std::atomic<bool> stop{false};
  std::atomic<long> trips{0};
  std::atomic<int> live{0};
  io_clock::time_point cap = io_clock::now() + 5s;

  asio::awaitable<void> side(asio::ip::tcp::socket s, bool serve_first) {
    char buf[64] = {};
    try {
      if (serve_first) co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
      while (!stop.load(std::memory_order_relaxed) && io_clock::now() < cap) {
        co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
        trips.fetch_add(1, std::memory_order_relaxed);
        co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
      }
    } catch (const std::exception&) {  // the peer closed first
    }
    boost::system::error_code ignored;
    s.close(ignored);
    live.fetch_sub(1);
  }

  template <class Executor>
  void start(Executor ex) {
    auto [a, b] = zokio::test::socket_pair(ex);
    live += 2;
    asio::co_spawn(ex, side(std::move(a), true), asio::detached);
    asio::co_spawn(ex, side(std::move(b), false), asio::detached);
    BOOST_REQUIRE(zokio::test::wait_until([&] { return trips.load() > 100; }));
  }

  void finish() {
    stop = true;
    BOOST_REQUIRE(zokio::test::wait_until([&] { return live.load() == 0; }));
  }
};

zokio::task<int> io_driver_marker() { co_return 7; }

zokio::task<long> io_driver_sleep_ms(std::chrono::milliseconds d) {
  const auto t0 = io_clock::now();
  co_await zokio::sleep(d);
  co_return std::chrono::duration_cast<std::chrono::milliseconds>(io_clock::now() - t0).count();
}

long ms_since(io_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(io_clock::now() - t0).count();
}


BOOST_AUTO_TEST_CASE(spawn_from_outside_runs_while_io_never_runs_dry,
                     *boost::unit_test::timeout(60)) {
  for (unsigned workers : {1u, 2u}) {
    BOOST_TEST_CONTEXT("workers " << workers) {
      auto rt = zokio::runtime::builder().worker_threads(workers).build();
      ping_pong pp;
      // Both connections homed on worker 0 (two of them on 2 workers: the other worker may
      // help with one, never with both at once).
      pp.start(rt.get_executor().with_home(0));
      if (workers == 2) pp.start(rt.get_executor().with_home(0));
      for (int i = 0; i < 5; ++i) {
        const auto t0 = io_clock::now();
        BOOST_TEST(rt.block_on(rt.spawn(io_driver_marker())) == 7);
        // Before the fix: never on 1 worker (the 5 s cap ended it). Now about 0.2 ms.
        BOOST_TEST(ms_since(t0) < 1000, "the spawn waited " << ms_since(t0) << " ms");
      }
      BOOST_TEST(pp.trips.load() > 100);
      pp.finish();
    }
  }
}

BOOST_AUTO_TEST_CASE(timer_fires_on_time_while_io_never_runs_dry,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(1).build();
  ping_pong pp;
  pp.start(rt.get_executor());
  // The task runs on the worker and is woken there by its timer; nothing here drives it
  // (block_on would run tasks on this thread meanwhile). Timed from the spawn: before the
  // fix its first poll waited for the 5 s cap to end the connection.
  std::atomic<long> slept{-1};
  const auto t0 = io_clock::now();
  rt.spawn_detached([](std::atomic<long>& out) -> zokio::task<void> {
    out = co_await io_driver_sleep_ms(10ms);
  }(slept));
  BOOST_REQUIRE(zokio::test::wait_until([&] { return slept.load() >= 0; }));
  const long total = ms_since(t0);
  BOOST_TEST(slept.load() >= 10);
  BOOST_TEST(total < 500, "a 10 ms sleep ended " << total << " ms after its spawn");
  pp.finish();
}

BOOST_AUTO_TEST_CASE(io_handler_counts_keep_up_while_io_never_runs_dry,
                     *boost::unit_test::timeout(60)) {
  zokio::basic_runtime<zokio::runtime_config{.worker_threads = 1, .enable_metrics = true}> rt;
  ping_pong pp;
  pp.start(rt.get_executor());
  std::this_thread::sleep_for(100ms);
  // Every trip ran at least one handler (its read); the counts are added per turn, and one
  // turn runs at most event_interval handlers. Before: 0 until the connection closed.
  const long trips = pp.trips.load();
  const std::uint64_t counted = rt.metrics().total_io_handlers();
  const std::uint64_t turn = rt.default_options().event_interval;
  BOOST_TEST(counted + turn >= static_cast<std::uint64_t>(trips),
             counted << " handlers counted after " << trips << " trips");
  pp.finish();
}

BOOST_AUTO_TEST_SUITE_END()
