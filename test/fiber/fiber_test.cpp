// Tests for zokio::spawn_fiber and zokio::this_fiber: stackful tasks on Boost.Context.
#include <zokio/fiber.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/blocking.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
namespace utf = boost::unit_test;
using namespace std::chrono_literals;

// ThreadSanitizer cannot follow Boost.Context's fcontext switches (Boost 1.81 has no TSan
// annotations for fcontext, and creating a fiber already bounces onto its stack inside
// Boost.Context): a fiber resumed on another thread unbalances TSan's shadow call stack
// ("SEGV in __tsan_func_entry"), as with plain asio::spawn (see test/asio/executor_test.cpp).
// The fiber tests are therefore skipped under TSan; ASan runs them (zokio/fiber.hpp
// annotates every switch for ASan). ZOKIO_TEST_TSAN comes from test_util.hpp.

namespace {
using zokio::test::make_runtime;

boost::test_tools::assertion_result not_under_tsan(utf::test_unit_id) {
  boost::test_tools::assertion_result r(!ZOKIO_TEST_TSAN);
  r.message() << "ThreadSanitizer cannot follow Boost.Context fibers that change threads";
  return r;
}

zokio::task<int> add_later(int a, int b) {
  co_await zokio::yield_now{};
  co_return a + b;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(fiber_suite, *utf::precondition(not_under_tsan))

BOOST_AUTO_TEST_CASE(awaits_zokio_futures_and_tasks, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn_fiber([] {
    int a = zokio::this_fiber::await(add_later(1, 2));                     // a coroutine
    int b = zokio::this_fiber::await(zokio::spawn(add_later(a, 4)));       // a join handle
    int c = zokio::this_fiber::await(zokio::spawn_blocking([] { return 10; }));
    zokio::test::event e;
    std::thread t([&] {
      std::this_thread::sleep_for(10ms);
      e.notify();
    });
    zokio::this_fiber::await(e.wait());  // pending for a while: the fiber is suspended
    t.join();
    return a + b + c;
  });
  BOOST_TEST(rt.block_on(std::move(h)) == 3 + 7 + 10);
}

BOOST_AUTO_TEST_CASE(awaits_asio_timer_and_socket_ops, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto h = rt.spawn_fiber([ex] {
    namespace tf = zokio::this_fiber;
    asio::steady_timer timer(ex, 20ms);
    auto t0 = std::chrono::steady_clock::now();
    auto w = tf::await(timer.async_wait(zokio::use_future));
    if (!w || std::chrono::steady_clock::now() - t0 < 19ms) return std::string("timer");

    asio::ip::tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket client(ex);
    auto accepted = acc.async_accept(zokio::use_future);
    if (!tf::await(client.async_connect(acc.local_endpoint(), zokio::use_future)))
      return std::string("connect");
    auto server = tf::await(std::move(accepted));
    if (!server) return std::string("accept");
    std::string msg = "hello fiber";
    if (!tf::await(asio::async_write(client, asio::buffer(msg), zokio::use_future)))
      return std::string("write");
    char buf[64];
    std::size_t got = 0;
    while (got < msg.size()) {
      auto n = tf::await(server->async_read_some(asio::buffer(buf + got, sizeof buf - got),
                                                 zokio::use_future));
      if (!n) return std::string("read");
      got += *n;
    }
    return std::string(buf, got);
  });
  BOOST_TEST(rt.block_on(std::move(h)) == "hello fiber");
}

BOOST_AUTO_TEST_CASE(yield_lets_other_tasks_run, *utf::timeout(60)) {
  auto rt = make_runtime(1);  // one worker: only yielding lets the other task in
  std::atomic<int> other_ran{0};
  auto h = rt.spawn_fiber([&] {
    zokio::spawn(zokio::co_invoke([&]() -> zokio::task<> {
      other_ran.fetch_add(1);
      co_return;
    })).detach();
    for (int i = 0; i < 100 && other_ran.load() == 0; ++i) zokio::this_fiber::yield();
    return other_ran.load();
  });
  BOOST_TEST(rt.block_on(std::move(h)) == 1);
}

BOOST_AUTO_TEST_CASE(many_fibers_reuse_pooled_stacks, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  zokio::trim_fiber_stacks();
  const auto before = zokio::fiber_stacks();
  constexpr int waves = 10, per_wave = 100;
  long total = 0;
  for (int w = 0; w < waves; ++w) {
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < per_wave; ++i)
      hs.push_back(rt.spawn_fiber([i] {
        for (int k = 0; k < 5; ++k) zokio::this_fiber::yield();
        char on_stack[4096];  // touch a few pages of the stack
        on_stack[i] = static_cast<char>(i);
        return static_cast<int>(on_stack[i]) + 1;
      }));
    for (auto& h : hs) total += rt.block_on(std::move(h));
  }
  BOOST_TEST(total == waves * (per_wave * (per_wave + 1) / 2));
  const auto after = zokio::fiber_stacks();
  // 1,000 fibers ran, at most a wave at a time: stacks were reused, not mapped per fiber.
  BOOST_TEST(after.mapped - before.mapped <= static_cast<std::size_t>(per_wave) + 8);
  BOOST_TEST(after.in_use == 0u);
  BOOST_TEST(after.cached >= 1u);
}

BOOST_AUTO_TEST_CASE(custom_stack_size, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn_fiber(
      [] {
        std::vector<char> v(1000);  // heap, but the frame below uses the big stack
        volatile char big[512 * 1024];
        big[0] = 1;
        big[sizeof big - 1] = 2;
        zokio::this_fiber::yield();
        return big[0] + big[sizeof big - 1] + static_cast<int>(v.size());
      },
      zokio::fiber_options{.stack_size = 1024 * 1024});
  BOOST_TEST(rt.block_on(std::move(h)) == 1003);
}

BOOST_AUTO_TEST_CASE(exceptions_propagate_to_the_join, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn_fiber([]() -> int {
    zokio::this_fiber::yield();
    throw std::runtime_error("fiber failed");
  });
  try {
    (void)rt.block_on(std::move(h));
    BOOST_FAIL("no exception");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "fiber failed");
  }
  // An exception thrown by an awaited future surfaces at the await, inside the fiber.
  auto h2 = rt.spawn_fiber([] {
    try {
      zokio::this_fiber::await(zokio::spawn_blocking([]() -> int { throw std::logic_error("x"); }));
    } catch (const std::logic_error&) {
      return true;
    }
    return false;
  });
  BOOST_TEST(rt.block_on(std::move(h2)));
}

BOOST_AUTO_TEST_CASE(abort_unwinds_the_fiber_stack, *utf::timeout(60)) {
  auto rt = make_runtime(2);
  const long live0 = zokio::test::tracked::live.load();
  std::atomic<bool> waiting{false}, after_await{false};
  zokio::test::event never;
  auto h = rt.spawn_fiber([&] {
    zokio::test::tracked on_stack;  // must be destroyed by the unwind
    waiting = true;
    zokio::this_fiber::await(never.wait());
    after_await = true;
  });
  BOOST_TEST(zokio::test::wait_until([&] { return waiting.load(); }));
  BOOST_TEST(zokio::test::tracked::live.load() == live0 + 1);
  h.abort();
  try {
    rt.block_on(std::move(h));
    BOOST_FAIL("aborted fiber completed");
  } catch (const zokio::join_error& e) {
    BOOST_TEST(e.is_cancelled());
  }
  BOOST_TEST(zokio::test::tracked::live.load() == live0);
  BOOST_TEST(!after_await.load());
  BOOST_TEST(zokio::fiber_stacks().in_use == 0u);  // the stack went back to the pool
}

BOOST_AUTO_TEST_CASE(runtime_shutdown_unwinds_suspended_fibers, *utf::timeout(60)) {
  const long live0 = zokio::test::tracked::live.load();
  std::atomic<int> waiting{0};
  zokio::test::event never;
  std::vector<zokio::join_handle<void>> hs;
  {
    auto rt = make_runtime(2);
    for (int i = 0; i < 20; ++i)
      hs.push_back(rt.spawn_fiber([&] {
        zokio::test::tracked on_stack;
        waiting.fetch_add(1);
        zokio::this_fiber::await(never.wait());
      }));
    BOOST_TEST(zokio::test::wait_until([&] { return waiting.load() == 20; }));
  }
  BOOST_TEST(zokio::test::tracked::live.load() == live0);
  for (auto& h : hs) BOOST_CHECK_THROW(zokio::block_on(std::move(h)), zokio::join_error);
}

BOOST_AUTO_TEST_CASE(await_outside_a_fiber_throws, *utf::timeout(60)) {
  BOOST_TEST(!zokio::this_fiber::is_fiber());
  BOOST_CHECK_THROW(zokio::this_fiber::await(zokio::yield_now{}), std::logic_error);
  BOOST_CHECK_THROW((void)zokio::spawn_fiber([] { return 1; }), boost::system::system_error);
}

BOOST_AUTO_TEST_SUITE_END()
