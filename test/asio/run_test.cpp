// runtime::run(): io_context::run() for a runtime, returning when no Asio work is left
// (issue 11, point 3): posted functions, pending operations, work guards, co_spawn.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

long run_ms_since(clk::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0).count();
}

/// An Asio client program written for io_context::run(), callbacks only: a server accepts one
/// connection and echoes 32 bytes back after a 50 ms timer; the client connects, writes,
/// reads. Nothing here waits: the program is over when its handlers stop making work.
struct callback_program {
  explicit callback_program(asio::any_io_executor ex)
      : acceptor(ex, {asio::ip::address_v4::loopback(), 0}), server_sock(ex), client(ex), timer(ex) {}
  tcp::acceptor acceptor;
  tcp::socket server_sock, client;
  asio::steady_timer timer;
  std::array<char, 32> out{}, in{}, echo{};
  std::atomic<int> steps{0};
  bool echoed_right = false;

  void start() {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>('a' + i % 26);
    acceptor.async_accept(server_sock, [this](boost::system::error_code ec) {
      if (ec) return;
      ++steps;
      asio::async_read(server_sock, asio::buffer(echo), [this](boost::system::error_code ec, std::size_t) {
        if (ec) return;
        ++steps;
        timer.expires_after(50ms);
        timer.async_wait([this](boost::system::error_code ec) {
          if (ec) return;
          ++steps;
          asio::async_write(server_sock, asio::buffer(echo), [this](boost::system::error_code, std::size_t) {
            ++steps;
          });
        });
      });
    });
    client.async_connect(acceptor.local_endpoint(), [this](boost::system::error_code ec) {
      if (ec) return;
      ++steps;
      asio::async_write(client, asio::buffer(out), [this](boost::system::error_code ec, std::size_t) {
        if (ec) return;
        ++steps;
        asio::async_read(client, asio::buffer(in), [this](boost::system::error_code ec, std::size_t) {
          if (ec) return;
          echoed_right = in == out;
          ++steps;
        });
      });
    });
  }
  static constexpr int all_steps = 7;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(run_suite)

BOOST_AUTO_TEST_CASE(returns_at_once_without_work, *boost::unit_test::timeout(30)) {
  auto rt = zokio::test::make_runtime(2);
  auto t0 = clk::now();
  rt.run();
  rt.run();  // again: still nothing
  BOOST_TEST(run_ms_since(t0) < 1000);
  BOOST_TEST(rt.outstanding_work() == 0);
  // Zokio tasks are not Asio work: a pending one does not hold run() up.
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    co_await zokio::sleep(100ms);
    co_return 1;
  }));
  t0 = clk::now();
  rt.run();
  BOOST_TEST(run_ms_since(t0) < 90);
  BOOST_TEST(rt.block_on(std::move(h)) == 1);
}

// The program's handlers are done when run() returns, and not before: every step ran, the
// 50 ms timer included. Repeated (each run a fresh program) to catch an early return.
BOOST_AUTO_TEST_CASE(returns_when_a_callback_client_program_is_done, *boost::unit_test::timeout(120)) {
  auto rt = zokio::test::make_runtime(4);
  const int rounds = 20 / zokio::test::stress_divisor + 2;
  for (int r = 0; r < rounds; ++r) {
    auto p = std::make_unique<callback_program>(rt.get_executor());
    asio::post(rt.get_executor(), [&p] { p->start(); });
    auto t0 = clk::now();
    rt.run();
    BOOST_TEST_REQUIRE(p->steps.load() == callback_program::all_steps);
    BOOST_TEST(p->echoed_right);
    BOOST_TEST(run_ms_since(t0) >= 49);
    BOOST_TEST(rt.outstanding_work() == 0);
    p.reset();  // safe now: no handler of its objects is running or pending
  }
}

// A work guard holds run() until it is reset, as on io_context.
BOOST_AUTO_TEST_CASE(work_guard_holds_run_until_reset, *boost::unit_test::timeout(30)) {
  auto rt = zokio::test::make_runtime(2);
  auto guard = asio::make_work_guard(rt.get_executor());
  BOOST_TEST(rt.outstanding_work() == 1);
  auto copy = guard.get_executor();  // untracked: no work
  BOOST_TEST(rt.outstanding_work() == 1);
  std::atomic<bool> released{false};
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    released = true;
    guard.reset();
  });
  rt.run();
  BOOST_TEST(released.load());
  t.join();
  BOOST_TEST(rt.outstanding_work() == 0);
  // Copies and moves of a tracked executor count and hand over work.
  auto tracked = asio::prefer(rt.get_executor(), asio::execution::outstanding_work.tracked);
  BOOST_TEST(rt.outstanding_work() == 1);
  {
    auto c = tracked;
    BOOST_TEST(rt.outstanding_work() == 2);
    auto m = std::move(c);
    BOOST_TEST(rt.outstanding_work() == 2);
    c = m;
    BOOST_TEST(rt.outstanding_work() == 3);
    c = rt.get_executor();
    BOOST_TEST(rt.outstanding_work() == 2);
  }
  BOOST_TEST(rt.outstanding_work() == 1);
  tracked = asio::prefer(rt.get_executor(), asio::execution::outstanding_work.untracked);
  BOOST_TEST(rt.outstanding_work() == 0);
}

// co_spawn'ed coroutines and the posts they make are work; chains of posts too.
BOOST_AUTO_TEST_CASE(coroutines_and_post_chains_are_work, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto ex = rt.get_executor();
  std::atomic<int> coroutine_steps{0}, chain{0};
  bool handler_ran = false;
  for (int c = 0; c < 10; ++c)
    asio::co_spawn(
        ex,
        // Parameters, not captures: the closure of a lambda called in place dies with the
        // full expression, while the coroutine frame goes on.
        [](asio::any_io_executor e, std::atomic<int>* steps) -> asio::awaitable<void> {
          asio::steady_timer t(e);
          for (int i = 0; i < 3; ++i) {
            t.expires_after(10ms);
            co_await t.async_wait(asio::use_awaitable);
            ++*steps;
          }
        }(ex, &coroutine_steps),
        [&handler_ran](std::exception_ptr) { handler_ran = true; });
  struct link {
    static void next(zokio::executor e, std::atomic<int>* n) {
      if (++*n < 1000) asio::post(e, [e, n] { next(e, n); });
    }
  };
  asio::post(ex, [ex, &chain] { link::next(ex, &chain); });
  rt.run();
  BOOST_TEST(coroutine_steps.load() == 30);
  BOOST_TEST(chain.load() == 1000);
  BOOST_TEST(handler_ran);
}

// Work handed between threads while run() scans: foreign threads and workers start and end
// work at once (tracked copies passed along post chains that hop between workers, guards
// reset from other threads, timers). run() must not return while any chain is alive (the
// scan reads per-worker counters in an order that can never see a hand-over as "no work"),
// and must return once all are done. Repeated; under TSan in CI.
BOOST_AUTO_TEST_CASE(run_waits_for_work_handed_between_threads, *boost::unit_test::timeout(120)) {
  const int rounds = std::max(3, 30 / zokio::test::stress_divisor);
  for (int round = 0; round < rounds; ++round) {
    auto rt = zokio::test::make_runtime(3);
    auto ex = rt.get_executor();
    constexpr int kChains = 6, kHops = 200;
    std::atomic<int> done{0}, hops{0};
    struct chain {
      // Each hop posts the next from inside a handler with a tracked copy in hand: the old
      // unit ends on one worker after the new one started on (possibly) another.
      static void hop(zokio::executor e, int left, std::atomic<int>* hops, std::atomic<int>* done) {
        ++*hops;
        if (left == 0) {
          ++*done;
          return;
        }
        auto tracked = asio::prefer(e, asio::execution::outstanding_work.tracked);
        asio::post(e, [tracked, e, left, hops, done] { hop(e, left - 1, hops, done); });
      }
    };
    std::vector<std::thread> starters;
    std::atomic<int> guards_released{0};
    for (int c = 0; c < kChains; ++c)
      starters.emplace_back([&, c] {
        // A guard taken on this thread and released from a handler on a worker.
        auto g = std::make_shared<asio::executor_work_guard<zokio::executor>>(ex);
        asio::post(ex, [ex, &hops, &done, g, &guards_released] {
          chain::hop(ex, kHops, &hops, &done);
          g->reset();
          ++guards_released;
        });
        if (c % 2) {
          auto t = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(c));
          t->async_wait([t, &done](boost::system::error_code) { ++done; });
        }
      });
    rt.run();  // may start before some starters posted: then it may return early, so...
    for (auto& t : starters) t.join();
    rt.run();  // ...once all work is known to have started, this run() must see it through
    BOOST_TEST(done.load() == kChains + kChains / 2);
    BOOST_TEST(hops.load() == kChains * (kHops + 1));
    BOOST_TEST(guards_released.load() == kChains);
    BOOST_TEST(rt.outstanding_work() == 0);
  }
}

// An exception from a handler leaves run(), like io_context::run(); run() again goes on.
BOOST_AUTO_TEST_CASE(handler_exception_leaves_run, *boost::unit_test::timeout(30)) {
  auto rt = zokio::test::make_runtime(2);
  auto ex = rt.get_executor();
  std::atomic<bool> later{false};
  asio::steady_timer t(ex, 50ms);
  t.async_wait([&later](boost::system::error_code) { later = true; });
  asio::post(ex, [] { throw std::runtime_error("from a handler"); });
  BOOST_CHECK_THROW(rt.run(), std::runtime_error);
  rt.run();
  BOOST_TEST(later.load());
}

// From a worker it would wait for itself: refused.
BOOST_AUTO_TEST_CASE(run_on_a_worker_is_refused, *boost::unit_test::timeout(30)) {
  auto rt = zokio::test::make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([&rt]() -> zokio::task<bool> {
    try {
      rt.run();
    } catch (const boost::system::system_error& e) {
      co_return e.code() == zokio::make_error_code(zokio::errc::nested_block_on);
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

// Shutdown from another thread ends a run() that waits on a guard.
BOOST_AUTO_TEST_CASE(shutdown_ends_run, *boost::unit_test::timeout(30)) {
  auto rt = zokio::test::make_runtime(2);
  auto guard = asio::make_work_guard(rt.get_executor());
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    rt.shutdown();
  });
  rt.run();
  t.join();
  guard.reset();
  rt.run();  // after shutdown: at once
}

BOOST_AUTO_TEST_SUITE_END()
