// What each platform's I/O backend must do the same way (issue 16; runs on Linux and, under
// Wine, on Windows): completions come back on the worker whose io_context (epoll or io_uring
// on Linux, an I/O completion port on Windows) owns the socket; pending operations end when
// cancelled by the socket, by a dropped future (Asio's per-operation cancellation: CancelIoEx
// on Windows) or by a close, and nothing is lost; misbehaving peers give the errors
// doc/platforms.md lists for each platform.
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/select.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>
#include <zokio/use_future.hpp>

#include "../support/socket_pair.hpp"
#include "../support/test_util.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

// Which worker ran a completion handler (-1: none yet, -2: not a worker).
struct seen_on {
  std::atomic<int> worker{-1};
  std::atomic<int> bytes{-1};
};

bool is_one_of(const error_code& ec, std::initializer_list<error_code> allowed) {
  for (const auto& a : allowed)
    if (ec == a) return true;
  return false;
}

// A write that fails once the peer is gone: loops (bounded) until the stack reports it.
zokio::task<error_code> write_until_error(tcp::socket& s) {
  std::vector<char> chunk(64 * 1024, 'x');
  for (int i = 0; i < 2000; ++i) {
    auto r = co_await asio::async_write(s, asio::buffer(chunk), zokio::use_future);
    if (!r) co_return r.error();
    co_await zokio::sleep(1ms);
  }
  co_return error_code{};
}

// Runs f on ex's worker and returns once f has returned (a cancel() or close() whose handler
// another worker runs may still be inside the socket when that handler has run).
template <class Executor, class F>
void call_on(const Executor& ex, F f) {
  std::atomic<bool> returned{false};
  asio::post(ex, [&] {
    f();
    returned = true;
  });
  BOOST_REQUIRE(zokio::test::wait_until([&] { return returned.load(); }));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(platform_io_suite)

BOOST_AUTO_TEST_CASE(the_backend_is_the_platforms) {
  auto rt = zokio::test::make_runtime(2);
#if defined(_WIN32)
#  if !defined(BOOST_ASIO_HAS_IOCP)
  BOOST_FAIL("Windows build without Asio's IOCP backend");
#  endif
  BOOST_TEST(!rt.io_uring_active());
#endif
  BOOST_TEST(rt.num_workers() == 2u);
}

// Each worker owns an io_context; a socket made from executor.with_home(w) registers with
// worker w's, and its completion handler runs on worker w (on Windows: worker w's thread is
// the one dequeuing that completion port).
BOOST_AUTO_TEST_CASE(completions_come_back_on_the_worker_that_owns_the_socket,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  for (unsigned w = 0; w < 2; ++w) {
    for (int round = 0; round < 20; ++round) {
      auto sockets = zokio::test::socket_pair(rt.get_executor().with_home(w));
      tcp::socket& a = sockets.first;  // (clang 14 cannot capture structured bindings)
      tcp::socket& b = sockets.second;
      seen_on seen;
      std::array<char, 16> buf{};
      b.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
        auto here = rt.current_worker();
        seen.bytes = ec ? -static_cast<int>(ec.value()) - 10 : static_cast<int>(n);
        seen.worker = here ? static_cast<int>(*here) : -2;  // last: the test waits for it
      });
      BOOST_REQUIRE(asio::write(a, asio::buffer("ping", 4)) == 4u);
      BOOST_REQUIRE(zokio::test::wait_until([&] { return seen.worker.load() != -1; }));
      BOOST_TEST(seen.worker.load() == static_cast<int>(w), "round " << round);
      BOOST_TEST(seen.bytes.load() == 4);
      BOOST_TEST(std::memcmp(buf.data(), "ping", 4) == 0);
    }
  }
}

// A pending read ends with operation_aborted when the socket cancels it; with a timeout
// (the future dropped: per-operation cancellation) the socket stays usable and the bytes sent
// afterwards are all read; a close ends a pending read too.
BOOST_AUTO_TEST_CASE(pending_reads_are_cancelled_three_ways_and_lose_nothing,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto sockets = zokio::test::socket_pair(rt.get_executor());
  tcp::socket& a = sockets.first;  // (clang 14 cannot capture structured bindings)
  tcp::socket& b = sockets.second;

  // 1. socket.cancel() from another thread, while the read waits.
  std::atomic<int> cancelled{0};
  std::array<char, 16> buf{};
  b.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) {
    cancelled = ec == asio::error::operation_aborted ? 1 : 2;
  });
  std::this_thread::sleep_for(20ms);
  call_on(b.get_executor(), [&] { b.cancel(); });  // the socket is used again below
  BOOST_REQUIRE(zokio::test::wait_until([&] { return cancelled.load() != 0; }));
  BOOST_TEST(cancelled.load() == 1);

  // 2. A timeout drops the read future 100 times: each drop cancels its read through the
  // cancellation slot. Then the peer writes: every byte arrives, in order, on the next reads.
  int timeouts = rt.block_on([](tcp::socket& s) -> zokio::task<int> {
    int n = 0;
    std::array<char, 16> tmp{};
    for (int i = 0; i < 100; ++i) {
      auto r = co_await zokio::timeout(s.async_read_some(asio::buffer(tmp), zokio::use_future),
                                       200us);
      if (!r && r.error() == zokio::time_errc::timed_out) ++n;
    }
    co_return n;
  }(b));
  BOOST_TEST(timeouts == 100);
  std::string sent;
  for (int i = 0; i < 100; ++i) sent += "line " + std::to_string(i) + "\n";
  BOOST_REQUIRE(asio::write(a, asio::buffer(sent)) == sent.size());
  std::string got = rt.block_on([](tcp::socket& s, std::size_t want) -> zokio::task<std::string> {
    std::string out;
    std::array<char, 256> tmp{};
    while (out.size() < want) {
      auto r = co_await s.async_read_some(asio::buffer(tmp), zokio::use_future);
      if (!r) break;
      out.append(tmp.data(), *r);
    }
    co_return out;
  }(b, sent.size()));
  BOOST_TEST(got == sent);

  // 3. A close while a read waits: operation_aborted.
  std::atomic<int> closed{0};
  error_code close_ec;
  b.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) {
    close_ec = ec;
    closed = 1;
  });
  std::this_thread::sleep_for(20ms);
  call_on(b.get_executor(), [&] { b.close(); });  // the socket is destroyed at the end
  BOOST_REQUIRE(zokio::test::wait_until([&] { return closed.load() != 0; }));
  if (zokio::test::under_wine())  // Wine 8 completes it with error 676, not a Win32 abort code
    BOOST_TEST(!!close_ec, "a read pending at close completed without an error");
  else
    BOOST_TEST((close_ec == asio::error::operation_aborted),
               close_ec.message() << " (" << close_ec.value() << ")");
}

// Peers that go away: a clean close is eof; an abortive close (linger 0: RST) is
// connection_reset on both platforms; writing to a peer that reset is broken_pipe on Linux
// and connection_reset or connection_aborted on Windows; connecting to a closed port is
// connection_refused; an accept pending when its acceptor closes is operation_aborted.
BOOST_AUTO_TEST_CASE(socket_errors_of_peers_that_go_away, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto ex = rt.get_executor();
  auto read_once = [](tcp::socket& s) -> zokio::task<error_code> {
    std::array<char, 64> tmp{};
    for (;;) {
      auto r = co_await s.async_read_some(asio::buffer(tmp), zokio::use_future);
      if (!r) co_return r.error();
    }
  };

  {  // clean close
    auto sockets = zokio::test::socket_pair(ex);
    tcp::socket& a = sockets.first;  // (clang 14 cannot capture structured bindings)
    tcp::socket& b = sockets.second;
    a.close();
    error_code ec = rt.block_on(read_once(b));
    BOOST_TEST((ec == asio::error::eof), ec.message());
  }
  {  // abortive close, seen by a pending read
    auto sockets = zokio::test::socket_pair(ex);
    tcp::socket& a = sockets.first;  // (clang 14 cannot capture structured bindings)
    tcp::socket& b = sockets.second;
    auto reader = rt.spawn(read_once(b));
    std::this_thread::sleep_for(20ms);
    a.set_option(asio::socket_base::linger(true, 0));
    a.close();
    error_code ec = rt.block_on(std::move(reader));
    BOOST_TEST((ec == asio::error::connection_reset), ec.message());
  }
  {  // writes after the peer reset
    auto sockets = zokio::test::socket_pair(ex);
    tcp::socket& a = sockets.first;  // (clang 14 cannot capture structured bindings)
    tcp::socket& b = sockets.second;
    a.set_option(asio::socket_base::linger(true, 0));
    a.close();
    error_code ec = rt.block_on(write_until_error(b));
#if defined(_WIN32)
    BOOST_TEST(is_one_of(ec, {asio::error::connection_reset, asio::error::connection_aborted}),
               ec.message());
#else
    BOOST_TEST(is_one_of(ec, {asio::error::broken_pipe, asio::error::connection_reset}),
               ec.message());
#endif
  }
  {  // a port nobody listens on: bound, not listening, and kept bound through the connect.
    // A closed acceptor's port is not that: right after close() it may still answer for a
    // moment while other threads sit in epoll_wait on the reactor it was registered with
    // (measured here: 0-6 connects in 3,000 accepted or reset on Zokio, 2 in 9,000 with plain
    // Asio's io_context run by 2 threads, 0 with one thread), and a freed port may become the
    // connecting socket's own source port (a self-connect). This case failed on both.
    tcp::acceptor probe(ex);
    probe.open(tcp::v4());
    probe.bind({asio::ip::address_v4::loopback(), 0});
    tcp::socket s(ex);
    auto r = rt.block_on(s.async_connect(probe.local_endpoint(), zokio::use_future));
    BOOST_TEST((!r && r.error() == asio::error::connection_refused),
               (r ? std::string("connected") : r.error().message()));
  }
  {  // an accept pending when its acceptor closes
    tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
    std::atomic<int> aborted{0};
    acc.async_accept([&](error_code ec, tcp::socket) {
      aborted = ec == asio::error::operation_aborted ? 1 : 2;
    });
    std::this_thread::sleep_for(20ms);
    // Destroyed at the end of this block: TSan saw the destructor race a close() whose
    // handler had already run on the other worker.
    call_on(acc.get_executor(), [&] { acc.close(); });
    BOOST_REQUIRE(zokio::test::wait_until([&] { return aborted.load() != 0; }));
    BOOST_TEST(aborted.load() == 1);
  }
}

BOOST_AUTO_TEST_SUITE_END()
