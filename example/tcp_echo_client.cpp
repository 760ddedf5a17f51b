// tcp_echo_client: a load client for tcp_echo_server (or any echo server). Each connection is
// an asio::awaitable on Zokio doing round trips of distinct payloads; every echoed byte is
// checked.
//
//   tcp_echo_client port [connections=50] [trips=1000] [bytes=64] [workers=0] [host=127.0.0.1]
//
// Prints round trips per second; exits 1 on any connection error or mismatched echo.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include <zokio/zokio.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::atomic<long> round_trips{0};  // completed, all connections together

/// Connects, then `trips` times writes `bytes` bytes and reads them back. Returns the number
/// of round trips whose echo differed from what was sent.
asio::awaitable<long> connection(tcp::endpoint server, int id, long trips, std::size_t bytes) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(server, asio::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  std::vector<unsigned char> out(bytes), in(bytes);
  long mismatches = 0;
  for (long t = 0; t < trips; ++t) {
    for (std::size_t i = 0; i < bytes; ++i)
      out[i] = static_cast<unsigned char>(id * 131 + t * 7 + i);
    co_await asio::async_write(socket, asio::buffer(out), asio::use_awaitable);
    co_await asio::async_read(socket, asio::buffer(in), asio::use_awaitable);
    if (in != out) ++mismatches;
    ++round_trips;
  }
  co_return mismatches;
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s port [connections=50] [trips=1000] [bytes=64] [workers=0] "
                 "[host=127.0.0.1]\n",
                 argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  const int connections = argc > 2 ? std::atoi(argv[2]) : 50;
  const long trips = argc > 3 ? std::atol(argv[3]) : 1000;
  const std::size_t bytes = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 64;
  const unsigned workers = argc > 5 ? static_cast<unsigned>(std::atoi(argv[5])) : 0;
  const tcp::endpoint server(asio::ip::make_address(argc > 6 ? argv[6] : "127.0.0.1"), port);
  if (connections < 1 || trips < 1 || bytes < 1) return 2;

  auto rt = zokio::runtime::builder().worker_threads(workers).build();
  const auto start = std::chrono::steady_clock::now();
  // co_spawn with zokio::use_future: each connection's result (or exception) as a future.
  std::vector<zokio::op_future<std::exception_ptr, long>> results;
  for (int i = 0; i < connections; ++i)
    results.push_back(
        asio::co_spawn(rt.get_executor(), connection(server, i, trips, bytes), zokio::use_future));
  long mismatches = 0, failed = 0;
  for (auto& r : results) {
    try {
      mismatches += rt.block_on(std::move(r));
    } catch (const std::exception& e) {
      if (failed++ == 0) std::fprintf(stderr, "tcp_echo_client: %s\n", e.what());
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "tcp_echo_client: %d connections x %ld round trips of %zu bytes: %ld in %.3f s, "
      "%.0f round trips/s; %ld mismatched, %ld connections failed\n",
      connections, trips, bytes, round_trips.load(), secs, round_trips.load() / secs, mismatches, failed);
  return mismatches == 0 && failed == 0 ? 0 : 1;
}
