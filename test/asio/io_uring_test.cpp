// Tests for the io_uring setup of the runtime and its epoll fallback.
#include <zokio/runtime.hpp>  // self-contained header check

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/stream_file.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/stderr_capture.hpp"
#include "../support/test_util.hpp"
#include "io_uring_precondition.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using zokio::test::stderr_capture;

bool timer_works(zokio::runtime& rt) {
  asio::steady_timer t(rt.get_executor(), 5ms);
  return rt.block_on(t.async_wait(zokio::use_future)).has_value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_uring_suite)

// ZOKIO_FORCE_NO_IO_URING=1 in the environment stands for a kernel without io_uring: the
// tests below take the environment as they find it (the forced test restores it).

BOOST_AUTO_TEST_CASE(active_by_default_when_the_kernel_allows_it,
                     *boost::unit_test::precondition(zokio::test::io_uring_available)) {
  stderr_capture cap;
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto log = cap.text();
  BOOST_TEST_REQUIRE(rt.io_uring_active(), "io_uring went away since the precondition");
  BOOST_TEST(log.empty(), "log was: " << log);
  // A file written and read back through io_uring on a worker's io_context.
  std::string path = "/tmp/zokio-io-uring-test-" + std::to_string(::getpid());
  auto h = rt.spawn(zokio::co_invoke([&rt, path]() -> zokio::task<std::size_t> {
    asio::stream_file f(rt.get_executor(), path,
                        asio::stream_file::write_only | asio::stream_file::create |
                            asio::stream_file::truncate);
    auto n = co_await f.async_write_some(asio::buffer(std::string("io_uring")),
                                         zokio::use_future);
    co_return n ? *n : 0;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 8u);
  ::unlink(path.c_str());
  BOOST_TEST(timer_works(rt));
}

BOOST_AUTO_TEST_CASE(default_runtime_logs_a_fallback_exactly_when_io_uring_is_off) {
  // Whatever this machine allows: a default runtime without io_uring said why, one with it
  // said nothing; timers work either way.
  stderr_capture cap;
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto log = cap.text();
  if (rt.io_uring_active())
    BOOST_TEST(log.empty(), "log was: " << log);
  else
    BOOST_TEST(log.find("falling back to epoll") != std::string::npos, "log was: " << log);
  BOOST_TEST(timer_works(rt));
}

BOOST_AUTO_TEST_CASE(forced_refusal_falls_back_to_epoll_with_a_log_line) {
  std::string log;
  auto rt = [&] {
    zokio::test::env_guard force("ZOKIO_FORCE_NO_IO_URING", "1");  // put back as it was
    stderr_capture cap;
    auto r = zokio::runtime::builder().worker_threads(2).build();
    log = cap.text();
    return r;
  }();
  BOOST_TEST(!rt.io_uring_active());
  BOOST_TEST(log.find("zokio: io_uring refused (forced by ZOKIO_FORCE_NO_IO_URING); "
                      "falling back to epoll") != std::string::npos,
             "log was: " << log);
  // Sockets and timers keep working on epoll.
  BOOST_TEST(timer_works(rt));
  auto ex = rt.get_executor();
  asio::ip::tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
  auto accepted = acc.async_accept(zokio::use_future);
  asio::ip::tcp::socket c(ex);
  c.connect(acc.local_endpoint());
  BOOST_TEST(rt.block_on(std::move(accepted)).has_value());
}

BOOST_AUTO_TEST_CASE(disabled_by_config_logs_nothing) {
  stderr_capture cap;
  auto rt = zokio::runtime::builder().worker_threads(1).enable_io_uring(false).build();
  BOOST_TEST(!rt.io_uring_active());
  BOOST_TEST(cap.text().empty());
  BOOST_TEST(timer_works(rt));
}

BOOST_AUTO_TEST_SUITE_END()
