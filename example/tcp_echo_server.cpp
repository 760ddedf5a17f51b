// tcp_echo_server: a TCP echo server on Zokio, written as an Asio user writes one
// (asio::co_spawn, asio::awaitable, use_awaitable); Zokio only provides the executors.
//
//   tcp_echo_server [port] [workers] [seconds | --once N]
//
//   port      0 (default): an ephemeral port, printed on the first line of output
//   workers   0 (default): one per cpu
//   seconds   stop after this long; 0 (default): run until SIGINT or SIGTERM
//   --once N  serve N connections, exit once all N have closed (for tests)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <boost/asio.hpp>

#include <zokio/zokio.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

long once = -1;  // --once N: serve N connections (set before the runtime starts)
std::atomic<long> served{0}, closed{0};
std::atomic<bool> stop_requested{false};  // a signal, the duration, or --once's last close

void request_stop() {
  stop_requested = true;
  stop_requested.notify_all();
}

asio::awaitable<void> session(tcp::socket socket) {
  try {
    char data[4096];
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // eof or reset: this connection is over
  }
  if (++closed == once) request_stop();
}

asio::awaitable<void> listener(tcp::acceptor acceptor, zokio::executor ex, long limit) {
  for (unsigned next = 0; limit < 0 || next < limit;) {
    // Accepting onto an executor whose home is the next worker round-robin places the new
    // socket on that worker's io_context: connections spread over the workers. (A plain
    // acceptor.async_accept(token) would put all of them on the acceptor's worker.)
    auto [ec, socket] =
        co_await acceptor.async_accept(ex.with_home(next), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {  // EMFILE and the like: the client waits in the backlog; retry after a pause
      std::fprintf(stderr, "tcp_echo_server: accept: %s\n", ec.message().c_str());
      asio::steady_timer pause(ex, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::use_awaitable);
      continue;
    }
    ++next;
    ++served;
    socket.set_option(tcp::no_delay(true), ec);  // never throw out of the loop over it
    asio::co_spawn(socket.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char* argv[]) {
  const auto port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0);
  const unsigned workers = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 0;
  long seconds = 0;
  if (argc > 4 && std::strcmp(argv[3], "--once") == 0)
    once = std::max(1L, std::atol(argv[4]));
  else if (argc > 3)
    seconds = std::atol(argv[3]);

  auto rt = zokio::runtime::builder().worker_threads(workers).build();
  zokio::executor ex = rt.get_executor();  // called off the workers: the next home round-robin
  tcp::acceptor acceptor(ex, {tcp::v4(), port});
  std::printf("tcp_echo_server: listening on port %u, %zu workers\n",
              acceptor.local_endpoint().port(), rt.num_workers());
  std::fflush(stdout);
  asio::co_spawn(ex, listener(std::move(acceptor), ex, once), asio::detached);

  asio::signal_set signals(ex, SIGINT, SIGTERM);
  signals.async_wait([](boost::system::error_code ec, int) {
    if (!ec) request_stop();
  });
  asio::steady_timer deadline(ex);
  if (seconds > 0) {
    deadline.expires_after(std::chrono::seconds(seconds));
    deadline.async_wait([](boost::system::error_code ec) {
      if (!ec) request_stop();
    });
  }

  stop_requested.wait(false);
  // Stops and joins the workers; connections still open close with their io_contexts.
  rt.shutdown();
  std::printf("tcp_echo_server: served %ld connections\n", served.load());
  return 0;
}
