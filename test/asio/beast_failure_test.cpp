// Failure injection in the composed operations the HTTP server example awaits (issue 14,
// point 6): Beast's test::stream with a fail_count fails the n-th low-level step of
// http::async_read and http::async_write; for every n until an attempt succeeds, the
// operation awaited with zokio::use_future ends with the injected error (or succeeds with the
// right message), the callback form completes exactly once, and nothing leaks (LeakSanitizer
// in the ASan build).
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

// test::stream with a fail_count takes an io_context (Beast 1.81): one run by its own thread,
// so the operations complete off the runtime, as a socket's may.
struct io_thread {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
  std::thread t{[this] { ioc.run(); }};
  ~io_thread() {
    guard.reset();
    t.join();
  }
};

const std::string kRequest =
    "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";

// Waits (bounded) until `n` reaches at least 1, then a little more for a second completion.
void expect_one_completion(const std::atomic<int>& n) {
  for (int i = 0; i < 2000 && n.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(2ms);
  BOOST_TEST(n.load() == 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(beast_failure_suite)

BOOST_AUTO_TEST_CASE(http_read_fails_cleanly_at_every_step, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  io_thread io;
  int failed = 0;
  bool ok = false;
  for (std::size_t n = 0; n < 200 && !ok; ++n) {
    {  // use_future, as http_server's session awaits it
      beast::test::fail_count fc(n);
      beast::test::stream ts(io.ioc, fc);
      ts.read_size(5);  // many small reads: many steps to fail at
      ts.append(kRequest);
      auto r = rt.block_on(rt.spawn(zokio::co_invoke([&ts]() -> zokio::task<std::optional<std::string>> {
        beast::flat_buffer buf;
        http::request<http::string_body> req;
        auto got = co_await http::async_read(ts, buf, req, zokio::use_future);
        if (!got) {
          BOOST_TEST((got.error() == beast::test::error::test_failure));
          co_return std::nullopt;
        }
        co_return req.body();
      })));
      if (r) {
        BOOST_TEST(*r == "abcdefg");
        ok = true;
      } else {
        ++failed;
      }
    }
    {  // the callback form of the same step: exactly one completion
      beast::test::fail_count fc(n);
      beast::test::stream ts(io.ioc, fc);
      ts.read_size(5);
      ts.append(kRequest);
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      std::atomic<int> completions{0};
      http::async_read(ts, buf, req, [&](beast::error_code, std::size_t) { ++completions; });
      expect_one_completion(completions);
    }
  }
  BOOST_TEST(ok);
  BOOST_TEST(failed > 10);  // the request takes that many steps at 5 bytes a read
}

BOOST_AUTO_TEST_CASE(http_write_fails_cleanly_at_every_step, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  io_thread io;
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::string(100, 'x');
  res.prepare_payload();
  int failed = 0;
  bool ok = false;
  for (std::size_t n = 0; n < 200 && !ok; ++n) {
    beast::test::fail_count fc(n);
    beast::test::stream ts(io.ioc, fc);
    beast::test::stream peer(io.ioc);
    ts.connect(peer);
    ts.write_size(7);  // many small writes
    const bool done = rt.block_on(rt.spawn(zokio::co_invoke([&ts, &res]() -> zokio::task<bool> {
      auto w = co_await http::async_write(ts, res, zokio::use_future);
      if (!w) BOOST_TEST((w.error() == beast::test::error::test_failure));
      co_return w.has_value();
    })));
    if (done) {
      const std::string wire(peer.str());
      BOOST_TEST(wire.starts_with("HTTP/1.1 200 OK\r\n"));
      BOOST_TEST(wire.ends_with(std::string(100, 'x')));
      ok = true;
    } else {
      ++failed;
    }
  }
  BOOST_TEST(ok);
  BOOST_TEST(failed > 10);
}

BOOST_AUTO_TEST_SUITE_END()
