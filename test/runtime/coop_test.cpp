// The coop budget (zokio/detail/coop.hpp): Zokio's resources charge each task poll, and a task
// that keeps finding them ready yields once its budget is spent, so it cannot starve timers,
// spawns from outside or socket reads on its worker (issue 13, point 4).
#include <zokio/detail/coop.hpp>  // self-contained header check

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/mpsc.hpp>
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
namespace coop = zokio::detail::coop;
using clk = std::chrono::steady_clock;

namespace {

// Loops on an always-ready channel (it sends to itself, then receives) until `stop`: without
// the budget, one poll that never ends.
zokio::task<long> spin_on_ready_channel(std::atomic<bool>* stop) {
  auto [tx, rx] = zokio::mpsc::channel<int>(16);
  long n = 0;
  while (!stop->load(std::memory_order_relaxed)) {
    (void)co_await tx.send(1);
    (void)co_await rx.recv();
    ++n;
  }
  co_return n;
}

double ms_since(clk::time_point t) {
  return std::chrono::duration<double, std::milli>(clk::now() - t).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(coop_suite)

BOOST_AUTO_TEST_CASE(a_task_poll_has_a_budget_and_outside_tasks_there_is_none) {
  auto rt = zokio::runtime::builder().worker_threads(1).build();
  // block_on's own future runs outside any task poll: never refused.
  std::uint32_t outside = rt.block_on(zokio::co_invoke([]() -> zokio::task<std::uint32_t> {
    co_return coop::remaining();
  }));
  BOOST_TEST(outside == coop::unconstrained);
  // In a task: 128 units, one per ready resource poll; the 129th poll yields (pending, with
  // the task woken), and the next poll starts with a fresh budget.
  struct probe {
    std::uint32_t at_start, after_10;
  };
  probe p = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<probe> {
    probe r{coop::remaining(), 0};
    auto [tx, rx] = zokio::mpsc::unbounded_channel<int>();
    for (int i = 0; i < 1000; ++i) (void)tx.send(i);
    for (int i = 0; i < 10; ++i) (void)co_await rx.recv();
    r.after_10 = coop::remaining();
    co_return r;
  })));
  BOOST_TEST(p.at_start == coop::initial_budget);
  BOOST_TEST(p.after_10 == coop::initial_budget - 10);
}

BOOST_AUTO_TEST_CASE(an_always_ready_loop_yields_when_the_budget_is_spent) {
  auto rt = zokio::runtime::builder().worker_threads(1).build();
  // A hand-written future that polls a ready recv 200 times in one poll: it sees the refusal
  // (pending) after 128 and is polled again.
  struct drain {
    using output = int;
    zokio::mpsc::receiver<int>* rx;
    int got = 0, refusals = 0;
    zokio::poll<int> poll(zokio::context& cx) {
      while (got < 200) {
        auto r = rx->poll_recv(cx);
        if (r.is_pending()) {
          ++refusals;
          return zokio::pending;
        }
        ++got;
      }
      return zokio::ready(refusals);
    }
  };
  auto [tx, rx] = zokio::mpsc::unbounded_channel<int>();
  for (int i = 0; i < 200; ++i) (void)tx.send(i);
  int refusals = rt.block_on(rt.spawn(drain{&rx}));
  BOOST_TEST(refusals == 1);  // 128 in the first poll, the other 72 in the second
}

// The test: on 1 worker and on 2, a task looping on an always-ready channel cannot
// delay a 10 ms timer, a spawn from outside or a socket read by more than a few ms.
BOOST_AUTO_TEST_CASE(a_ready_loop_does_not_starve_timers_spawns_or_sockets,
                     *boost::unit_test::timeout(120)) {
  // Bounds: a few ms in Release; the sanitizers slow every poll about 10x.
  const double bound_ms = zokio::test::stress_divisor > 1 ? 60.0 : 5.0;
  for (unsigned workers : {1u, 2u}) {
    BOOST_TEST_CONTEXT("workers " << workers) {
      auto rt = zokio::runtime::builder().worker_threads(workers).build();
      std::atomic<bool> stop{false};
      // One spinner per worker, so that every worker is busy with one.
      std::vector<zokio::join_handle<long>> spinners;
      for (unsigned i = 0; i < workers; ++i) spinners.push_back(rt.spawn(spin_on_ready_channel(&stop)));
      std::this_thread::sleep_for(20ms);

      // A 10 ms timer, five times: its lateness (median), seen by the task that slept. (Seen
      // from this thread it would include this thread's own wake-up: with a spinner on every
      // cpu of a 2-vCPU machine, the OS gave it its slice 6 ms late once in CI, which is not
      // the runtime's doing. The spawn and read checks below are timed inside tasks too.)
      std::vector<double> late;
      for (int i = 0; i < 5; ++i) {
        const auto t0 = clk::now();
        late.push_back(rt.block_on(rt.spawn(zokio::co_invoke([t0]() -> zokio::task<double> {
          co_await zokio::sleep(10ms);
          co_return ms_since(t0) - 10.0;
        }))));
      }
      std::sort(late.begin(), late.end());
      BOOST_TEST_MESSAGE("timer lateness median " << late[2] << " ms");
      BOOST_TEST(late[2] < bound_ms);

      // A spawn from outside: the time until it starts (median of 5).
      std::vector<double> start;
      for (int i = 0; i < 5; ++i) {
        auto t0 = clk::now();
        std::atomic<double> began{-1};
        auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
          began = ms_since(t0);
          co_return;
        }));
        rt.block_on(std::move(h));
        start.push_back(began.load());
      }
      std::sort(start.begin(), start.end());
      BOOST_TEST_MESSAGE("external spawn start median " << start[2] << " ms");
      BOOST_TEST(start[2] < bound_ms);

      // A socket read on the runtime: data written 10 ms after the read started.
      namespace ip = boost::asio::ip;
      ip::tcp::acceptor acc(rt.get_executor(), ip::tcp::endpoint(ip::address_v4::loopback(), 0));
      ip::tcp::socket client(rt.get_executor()), server(rt.get_executor());
      client.connect(acc.local_endpoint());
      acc.accept(server);
      std::atomic<double> read_at{-1};
      auto t0 = clk::now();
      auto reader = rt.spawn(zokio::co_invoke([&]() -> zokio::task<std::size_t> {
        char buf[16];
        auto r = co_await server.async_read_some(boost::asio::buffer(buf), zokio::use_future);
        read_at = ms_since(t0);
        co_return r ? *r : 0;
      }));
      std::this_thread::sleep_for(10ms);
      const double written_at = ms_since(t0);
      boost::asio::write(client, boost::asio::buffer("x", 1));
      BOOST_TEST(rt.block_on(std::move(reader)) == 1u);
      BOOST_TEST_MESSAGE("socket read completed " << read_at.load() - written_at << " ms after the write");
      BOOST_TEST(read_at.load() - written_at < bound_ms);

      stop = true;
      for (auto& s : spinners) BOOST_TEST(rt.block_on(std::move(s)) > 0);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
