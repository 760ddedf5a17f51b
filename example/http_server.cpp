// http_server: an HTTP/1.1 server on Boost.Beast written in Zokio's style (zokio::task,
// zokio::use_future, zokio::select): keep-alive and pipelining, static files read through
// asio::stream_file, a small JSON API (Boost.JSON), limits and deadlines answered with
// 408/413/431/503, graceful drain on SIGINT/SIGTERM, per-request logging, and /metrics in
// Prometheus text format (prometheus-cpp). doc/examples.md describes it.
//
//   http_server [--address A] [--port P] [--root DIR] [--workers N] [--max-connections N]
//               [--header-timeout S] [--idle-timeout S] [--body-limit BYTES] [--drain S] [--quiet]
//               [--stall-ms N] [--debug-endpoints]
//
// --debug-endpoints: GET /debug/tasks (the task dump, JSON; ?text for text), /debug/trace (the
// flight recorder, Chrome Trace Event JSON), /debug/stall?ms=N (blocks a worker, to see the
// stall watchdog), and the task dump on stderr at SIGUSR1. --stall-ms: the watchdog's
// threshold (default 100; 0: off).
//
// Prints "http_server: listening on A:P" (P is the bound port when 0 was asked) and serves
// until SIGINT or SIGTERM; then it stops accepting, lets every connection finish the request
// it is on (answers carry "Connection: close"), waits up to --drain seconds for them, closes
// the rest and exits 0.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only: this program is one translation unit

#include <zokio/zokio.hpp>

#include "http_server.hpp"

namespace {

using namespace http_example;
using tcp = asio::ip::tcp;

void log_line(const server& s, const request& req, const response& res, std::chrono::steady_clock::time_point t0) {
  if (!s.cfg.log) return;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s %s %u %zu %lld us\n", std::string(req.method_string()).c_str(), std::string(req.target()).c_str(),
              res.result_int(), res.body().size(), static_cast<long long>(us));
}

// http_requests_total{code="Nxx"} for one answer sent.
void count_response(server& s, const response& res) {
  s.metrics.by_class[std::clamp(res.result_int() / 100, 1u, 5u)]->Increment();
}

struct open_guard {
  server& s;
  ~open_guard() { s.open.fetch_sub(1); }
};

// `op` (an operation started with zokio::use_future) with a deadline. On expiry the operation
// is cancelled (the future is dropped: Asio cancels it at once, Beast's composed operations
// pass the cancellation to the socket) and the result is beast::error::timeout; the socket
// stays open, so that a 408 can still be written (beast::tcp_stream closes it on a timeout).
template <class Op>
zokio::task<boost::system::result<std::size_t>> within(Op op, std::chrono::seconds d) {
  auto r = co_await zokio::timeout(std::move(op), d);
  if (!r) co_return boost::system::result<std::size_t>(boost::system::in_place_error, make_error_code(beast::error::timeout));
  co_return std::move(*r);
}

// After an error answer, the client may still be sending (the rest of a header over the limit,
// a body over it): closing now, with its bytes unread, makes the kernel reset the connection,
// and the reset can destroy the answer before the client reads it. So: half-close, then read
// and discard until the client closes (or 1 s passes, or 1 MiB was discarded).
zokio::task<void> linger_close(tcp::socket& sock) {
  boost::system::error_code ec;
  sock.shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> scratch;
  std::size_t discarded = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (discarded < (1u << 20) && std::chrono::steady_clock::now() < until) {
    auto n = co_await zokio::timeout(sock.async_read_some(asio::buffer(scratch), zokio::use_future), 1s);
    if (!n || !*n) break;  // timed out, or the client closed / reset
    discarded += **n;
  }
}

zokio::task<void> send_error(server& s, tcp::socket& sock, http::status st, bool retry_after = false) {
  request none;
  none.version(11);
  response res = error_response(none, st);
  if (retry_after) res.set(http::field::retry_after, "1");
  res.keep_alive(false);
  co_await within(http::async_write(sock, res, zokio::use_future), s.cfg.header_timeout);
  count_response(s, res);
  co_await linger_close(sock);
}

// One connection: requests read and answered in order (pipelined ones wait in the buffer).
zokio::task<void> session(server& s, tcp::socket sock) {
  open_guard guard{s};
  beast::flat_buffer buf;
  bool first = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    apply_limits(s.cfg, parser);
    // The first request's header must come within the header deadline; between keep-alive
    // requests the connection may idle that long (unless bytes are already buffered).
    auto r = co_await within(http::async_read_header(sock, buf, parser, zokio::use_future),
                             first || buf.size() ? s.cfg.header_timeout : s.cfg.idle_timeout);
    first = false;
    if (r && !parser.is_done())
      r = co_await within(http::async_read(sock, buf, parser, zokio::use_future), s.cfg.header_timeout);
    const auto t0 = std::chrono::steady_clock::now();
    if (!r) {
      const http::status st = status_for(r.error(), parser.got_some() || buf.size() > 0);
      if (st == http::status::unknown) break;  // nothing to answer: close
      co_await send_error(s, sock, st);
      if (s.cfg.log) std::printf("- - %u (%s)\n", static_cast<unsigned>(st), r.error().message().c_str());
      break;
    }
    request req = parser.release();
    response res = co_await answer(s, req);
    if (s.draining.load()) res.keep_alive(false);  // drain: this answer is the last
    auto w = co_await within(http::async_write(sock, res, zokio::use_future), s.cfg.header_timeout);
    count_response(s, res);
    log_line(s, req, res, t0);
    if (!w || !res.keep_alive()) break;
  }
  boost::system::error_code ec;
  sock.shutdown(tcp::socket::shutdown_send, ec);  // a clean close for the client
}

// Over the connection cap: 503 with Retry-After, then close.
zokio::task<void> refuse(server& s, tcp::socket sock) {
  co_await send_error(s, sock, http::status::service_unavailable, true);
}

// Accepts until SIGINT/SIGTERM, then drains.
zokio::task<int> serve(server& s) {
  auto ex = s.rt->executor;
  tcp::acceptor acceptor(ex);
  try {
    const tcp::endpoint ep(asio::ip::make_address(s.cfg.address), s.cfg.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "http_server: cannot listen on %s:%u: %s\n", s.cfg.address.c_str(), s.cfg.port,
                 e.code().message().c_str());
    co_return 1;
  }
  asio::signal_set signals(ex, SIGINT, SIGTERM);
  std::printf("http_server: listening on %s:%u\n", s.cfg.address.c_str(), acceptor.local_endpoint().port());
  std::fflush(stdout);
  for (;;) {
    // Both in this task: the acceptor and the signal set are never touched from two threads.
    // The loser is cancelled; a connection or a signal that arrives meanwhile waits for the
    // next round (kernel backlog, signal_set's queue).
    auto won = co_await zokio::select(acceptor.async_accept(zokio::use_future), signals.async_wait(zokio::use_future));
    if (won.index() == 1) break;  // SIGINT or SIGTERM
    auto& sock = std::get<0>(won);
    if (!sock) {
      // Out of descriptors (EMFILE/ENFILE) and the like: say so, wait a little, go on.
      std::fprintf(stderr, "http_server: accept: %s\n", sock.error().message().c_str());
      co_await zokio::sleep(100ms);
      continue;
    }
    if (s.open.fetch_add(1) >= s.cfg.max_connections) {
      s.open.fetch_sub(1);
      zokio::spawn(refuse(s, std::move(*sock)), zokio::spawn_options{.name = "refuse"}).detach();
      continue;
    }
    zokio::spawn(session(s, std::move(*sock)), zokio::spawn_options{.name = "session"}).detach();
  }
  // Drain: no new connections; each open one finishes its request (answered with
  // Connection: close) or idles out; after the deadline the rest are closed by the runtime.
  s.draining = true;
  acceptor.close();
  std::fprintf(stderr, "http_server: draining %zu connections (up to %lld s)\n", s.open.load(),
               static_cast<long long>(s.cfg.drain.count()));
  const auto deadline = std::chrono::steady_clock::now() + s.cfg.drain;
  while (s.open.load() > 0 && std::chrono::steady_clock::now() < deadline) co_await zokio::sleep(10ms);
  if (s.open.load() > 0)
    std::fprintf(stderr, "http_server: closing %zu connections after the drain deadline\n", s.open.load());
  else
    std::fprintf(stderr, "http_server: drained\n");
  co_return 0;
}

bool parse(int argc, char** argv, config& c) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto number = [&](auto& out, long min) {
      const char* v = value();
      if (!v) return false;
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (*end != '\0' || n < min) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(n);
      return true;
    };
    long secs = 0;
    if (a == "--address") {
      const char* v = value();
      if (!v) return false;
      c.address = v;
    } else if (a == "--port") {
      long p = 0;
      if (!number(p, 0) || p > 65535) return false;
      c.port = static_cast<unsigned short>(p);
    } else if (a == "--root") {
      const char* v = value();
      if (!v) return false;
      c.root = v;
    } else if (a == "--workers") {
      if (!number(c.workers, 1)) return false;
    } else if (a == "--max-connections") {
      if (!number(c.max_connections, 1)) return false;
    } else if (a == "--header-timeout") {
      if (!number(secs, 1)) return false;
      c.header_timeout = std::chrono::seconds(secs);
    } else if (a == "--idle-timeout") {
      if (!number(secs, 1)) return false;
      c.idle_timeout = std::chrono::seconds(secs);
    } else if (a == "--drain") {
      if (!number(secs, 0)) return false;
      c.drain = std::chrono::seconds(secs);
    } else if (a == "--body-limit") {
      if (!number(c.body_limit, 0)) return false;
    } else if (a == "--quiet") {
      c.log = false;
    } else if (a == "--debug-endpoints") {
      c.debug = true;
    } else if (a == "--stall-ms") {
      if (!number(secs, 0)) return false;
      c.stall = std::chrono::milliseconds(secs);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

template <class Runtime>
int run(server& s) {
  typename Runtime::builder b;
  if (s.cfg.workers) b.worker_threads(s.cfg.workers);
  // A connection's failure must not stop the server: exceptions nobody joins are logged.
  b.unhandled_exception(zokio::unhandled_exception_policy::log);
  b.stall_threshold(s.cfg.stall);
  if constexpr (Runtime::config.enable_task_dump) b.dump_signal(SIGUSR1);
  Runtime rt = b.build();
  s.rt = view_of(rt);
  return rt.block_on(rt.spawn(serve(s), zokio::spawn_options{.name = "serve"}));
}

// A server holds a descriptor per connection: the soft limit (often 1,024) goes up to the hard
// one, as servers do (a hard limit set from outside, e.g. `ulimit -n`, still holds).
static void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the request log, a line at a time
  raise_descriptor_limit();
  server s;
  if (!parse(argc, argv, s.cfg)) {
    std::fprintf(stderr,
                 "usage: %s [--address A] [--port P] [--root DIR] [--workers N] [--max-connections N]\n"
                 "          [--header-timeout S] [--idle-timeout S] [--body-limit BYTES] [--drain S] [--quiet]\n"
                 "          [--stall-ms N] [--debug-endpoints]\n",
                 argv[0]);
    return 2;
  }
  const int rc = s.cfg.debug ? run<debug_runtime>(s) : run<runtime>(s);
  std::fflush(stdout);
  return rc;
}
