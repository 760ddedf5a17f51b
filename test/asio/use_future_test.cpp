// Tests for zokio::use_future: Asio operations as zokio futures.
#include <zokio/use_future.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

using zokio::test::make_runtime;

BOOST_AUTO_TEST_SUITE(use_future_suite)

// Beast's composed operations post their continuation when a step completes at once (the
// second of two pipelined requests is already in the buffer): asio::post of use_future's
// handler, whose associated executor is the inline one, must then defer. This did not compile
// before inline_executor answered require(blocking.never) (with deferred_executor).
BOOST_AUTO_TEST_CASE(beast_reads_pipelined_requests_with_use_future, *boost::unit_test::timeout(30)) {
  namespace http = boost::beast::http;
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  int got = rt.block_on(rt.spawn(zokio::co_invoke([ex]() -> zokio::task<int> {
    asio::ip::tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket client(ex);
    auto accepted = acc.async_accept(zokio::use_future);
    if (!co_await client.async_connect(acc.local_endpoint(), zokio::use_future)) co_return -1;
    auto server = co_await std::move(accepted);
    if (!server) co_return -2;
    const std::string two = "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n";
    if (!co_await asio::async_write(client, asio::buffer(two), zokio::use_future)) co_return -3;
    boost::beast::flat_buffer buf;
    int n = 0;
    for (const char* want : {"/a", "/b"}) {
      http::request<http::empty_body> req;
      auto r = co_await http::async_read(*server, buf, req, zokio::use_future);
      if (!r || req.target() != want) co_return -4;
      ++n;
    }
    co_return n;
  })));
  BOOST_TEST(got == 2);
}

// deferred_executor itself: never runs the function inside execute(); on a runtime's thread it
// runs as a task of that runtime (one worker here: after the calling task yields), off any
// runtime on Asio's system executor.
BOOST_AUTO_TEST_CASE(deferred_executor_runs_later_on_the_callers_runtime, *boost::unit_test::timeout(30)) {
  namespace execution = asio::execution;
  auto rt = make_runtime(1);
  struct seen {
    std::atomic<bool> ran{false}, ran_inside_execute{false}, on_worker{false};
  };
  auto st = std::make_shared<seen>();
  rt.block_on(rt.spawn(zokio::co_invoke([&rt, st]() -> zokio::task<void> {
    std::atomic<bool> in_execute{true};
    execution::execute(zokio::detail::deferred_executor{}, [&rt, st, &in_execute] {
      st->ran_inside_execute = in_execute.load();
      st->on_worker = rt.get_executor().running_in_this_thread();
      st->ran = true;
    });
    in_execute = false;
    while (!st->ran) co_await zokio::yield_now{};  // the only worker: it runs once we yield
  })));
  BOOST_TEST(st->ran.load());
  BOOST_TEST(!st->ran_inside_execute.load());
  BOOST_TEST(st->on_worker.load());

  std::promise<std::thread::id> where;
  execution::execute(zokio::detail::deferred_executor{}, [&] { where.set_value(std::this_thread::get_id()); });
  BOOST_TEST((where.get_future().get() != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(timer_as_future_in_task) {
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto h = rt.spawn(zokio::co_invoke([ex]() -> zokio::task<long> {
    asio::steady_timer t(ex, 20ms);
    auto start = std::chrono::steady_clock::now();
    boost::system::result<void> r = co_await t.async_wait(zokio::use_future);
    if (!r) co_return -1;
    co_return std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
        .count();
  }));
  long ms = rt.block_on(std::move(h));
  BOOST_TEST(ms >= 19);
  BOOST_TEST(ms < 2000);
}

BOOST_AUTO_TEST_CASE(polled_by_hand_and_from_block_on) {
  auto rt = make_runtime(2);
  asio::steady_timer t(rt.get_executor(), 5ms);
  auto f = t.async_wait(zokio::use_future);
  zokio::context cx(zokio::noop_waker());
  BOOST_TEST(f.poll(cx).is_pending());  // not fired yet
  auto r = rt.block_on(std::move(f));
  BOOST_TEST(r.has_value());
}

BOOST_AUTO_TEST_CASE(errors_are_results_not_exceptions) {
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto h = rt.spawn(zokio::co_invoke([ex]() -> zokio::task<bool> {
    // Nothing listens on this port: bound, not listening, and kept bound until the connect is
    // over (closed first, the connecting socket could get it as its own source port and
    // connect to itself: TCP simultaneous open, seen once in CI-like runs).
    asio::ip::tcp::acceptor probe(ex);
    probe.open(asio::ip::tcp::v4());
    probe.bind({asio::ip::address_v4::loopback(), 0});
    auto ep = probe.local_endpoint();
    asio::ip::tcp::socket s(ex);
    auto r = co_await s.async_connect(ep, zokio::use_future);
    co_return !r && r.error() == asio::error::connection_refused;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(value_results_carry_the_value) {
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto h = rt.spawn(zokio::co_invoke([ex]() -> zokio::task<std::string> {
    asio::ip::tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket client(ex);
    auto accepted = acc.async_accept(zokio::use_future);
    auto c = co_await client.async_connect(acc.local_endpoint(), zokio::use_future);
    if (!c) co_return "connect failed";
    boost::system::result<asio::ip::tcp::socket> server = co_await std::move(accepted);
    if (!server) co_return "accept failed";
    std::string msg = "hello";
    auto w = co_await asio::async_write(client, asio::buffer(msg), zokio::use_future);
    if (!w || *w != 5) co_return "write failed";
    char buf[16];
    auto n = co_await server->async_read_some(asio::buffer(buf), zokio::use_future);
    if (!n) co_return "read failed";
    co_return std::string(buf, *n);
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == "hello");
}

BOOST_AUTO_TEST_CASE(dropping_the_future_cancels_the_operation) {
  // A 10 s timer whose future is dropped must complete at once with operation_aborted.
  auto rt = make_runtime(2);
  asio::steady_timer t(rt.get_executor(), 10s);
  std::atomic<int> outcome{0};  // 1 aborted, 2 fired
  t.async_wait([&](boost::system::error_code ec) {
    outcome = ec == asio::error::operation_aborted ? 1 : 2;
  });
  // The same timer, second waiter through use_future: cancel it by dropping.
  {
    auto f = t.async_wait(zokio::use_future);
  }
  // Dropping cancels only its own operation (per-operation cancellation slot).
  std::this_thread::sleep_for(50ms);
  BOOST_TEST(outcome.load() == 0);
  auto start = std::chrono::steady_clock::now();
  auto f2 = t.async_wait(zokio::use_future);
  f2.cancel();
  auto r = rt.block_on(std::move(f2));
  BOOST_TEST(!r.has_value());
  BOOST_TEST(r.error() == asio::error::operation_aborted);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  t.cancel();
  BOOST_TEST(zokio::test::wait_until([&] { return outcome.load() == 1; }));
}

BOOST_AUTO_TEST_CASE(aborting_the_task_cancels_its_asio_operation) {
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto sock = std::make_shared<asio::ip::tcp::acceptor>(
      ex, asio::ip::tcp::endpoint{asio::ip::address_v4::loopback(), 0});
  std::atomic<bool> started{false};
  auto h = rt.spawn(zokio::co_invoke([sock, &started]() -> zokio::task<int> {
    started = true;
    auto r = co_await sock->async_accept(zokio::use_future);  // nobody connects
    co_return r ? 1 : 2;
  }));
  BOOST_REQUIRE(zokio::test::wait_until([&] { return started.load(); }));
  std::this_thread::sleep_for(20ms);
  h.abort();
  BOOST_CHECK_THROW(rt.block_on(std::move(h)), zokio::join_error);
  // The accept was cancelled: a new accept on the same acceptor works and completes.
  auto f = sock->async_accept(zokio::use_future);
  asio::ip::tcp::socket c(ex);
  c.connect(sock->local_endpoint());
  auto r = rt.block_on(std::move(f));
  BOOST_TEST(r.has_value());
}

BOOST_AUTO_TEST_CASE(co_spawn_with_use_future_is_joinable) {
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto ok = asio::co_spawn(ex, []() -> asio::awaitable<int> { co_return 41 + 1; }(),
                           zokio::use_future);
  BOOST_TEST(rt.block_on(std::move(ok)) == 42);
  auto bad = asio::co_spawn(
      ex, []() -> asio::awaitable<int> {
        throw std::runtime_error("awaitable failed");
        co_return 0;
      }(),
      zokio::use_future);
  BOOST_CHECK_THROW(rt.block_on(std::move(bad)), std::runtime_error);
  // And spawned as a Zokio task, joined through its handle.
  auto h = rt.spawn(asio::co_spawn(ex, []() -> asio::awaitable<int> { co_return 7; }(),
                                   zokio::use_future));
  BOOST_TEST(rt.block_on(std::move(h)) == 7);
}

BOOST_AUTO_TEST_SUITE_END()
