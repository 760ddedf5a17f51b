// http_server: an HTTP/1.1 server on Boost.Beast written in Zokio's style (zokio::task,
// zokio::use_future, zokio::select): keep-alive and pipelining, static files read through
// asio::stream_file, a small JSON API (Boost.JSON), limits and deadlines answered with
// 408/413/431/503, graceful drain on SIGINT/SIGTERM, per-request logging, and /metrics in
// Prometheus text format (prometheus-cpp). doc/examples.md describes it.
//
//   http_server [--address A] [--port P] [--root DIR] [--workers N] [--max-connections N]
//               [--header-timeout S] [--idle-timeout S] [--body-limit BYTES] [--drain S] [--quiet]
//
// Prints "http_server: listening on A:P" (P is the bound port when 0 was asked) and serves
// until SIGINT or SIGTERM; then it stops accepting, lets every connection finish the request
// it is on (answers carry "Connection: close"), waits up to --drain seconds for them, closes
// the rest and exits 0.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/stream_file.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only: this program is one translation unit
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <zokio/zokio.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using runtime = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

struct config {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;
  std::string root;  // static files under /static/ (none when empty)
  unsigned workers = 0;
  std::size_t max_connections = 10000;
  std::chrono::seconds header_timeout{10};  // a request's header (and body) must arrive in this
  std::chrono::seconds idle_timeout{30};    // a keep-alive connection may wait this for the next
  std::uint64_t body_limit = 1 << 20;
  std::uint32_t header_limit = 8 * 1024;
  std::chrono::seconds drain{5};
  std::size_t max_file = 64 << 20;  // larger static files: 413 (this example reads into memory)
  bool log = true;
};

// Prometheus families: the server's own counters, and the runtime's metrics copied in at each
// scrape (counters advanced by the difference since the last scrape).
struct metrics_export {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests = prometheus::BuildCounter()
      .Name("http_requests_total").Help("Responses sent, by status class").Register(*registry);
  prometheus::Family<prometheus::Gauge>& connections = prometheus::BuildGauge()
      .Name("http_open_connections").Help("Connections being served").Register(*registry);
  prometheus::Family<prometheus::Counter>& polls = prometheus::BuildCounter()
      .Name("zokio_worker_polls_total").Help("Tasks polled, per worker").Register(*registry);
  prometheus::Family<prometheus::Counter>& steals = prometheus::BuildCounter()
      .Name("zokio_worker_steals_total").Help("Successful steals, per worker").Register(*registry);
  prometheus::Family<prometheus::Counter>& parks = prometheus::BuildCounter()
      .Name("zokio_worker_parks_total").Help("Times a worker parked, per worker").Register(*registry);
  prometheus::Family<prometheus::Counter>& io_handlers = prometheus::BuildCounter()
      .Name("zokio_worker_io_handlers_total").Help("Asio handlers run, per worker").Register(*registry);
  prometheus::Family<prometheus::Gauge>& queue_depth = prometheus::BuildGauge()
      .Name("zokio_worker_local_queue_depth").Help("Tasks in a worker's deque").Register(*registry);
  prometheus::Family<prometheus::Gauge>& live_tasks = prometheus::BuildGauge()
      .Name("zokio_live_tasks").Help("Spawned tasks not yet complete").Register(*registry);
  prometheus::Family<prometheus::Gauge>& injector = prometheus::BuildGauge()
      .Name("zokio_injector_depth").Help("Tasks in the global injector").Register(*registry);
  std::array<prometheus::Counter*, 6> by_class{};  // 1xx .. 5xx, [0] unused
  std::mutex scrape_mu;                              // one scrape at a time (the deltas)
  std::vector<std::array<std::uint64_t, 4>> last;    // per worker: polls, steals, parks, io

  metrics_export() {
    for (int c = 1; c <= 5; ++c) by_class[static_cast<std::size_t>(c)] = &requests.Add({{"code", std::to_string(c) + "xx"}});
  }
};

struct server {
  config cfg;
  runtime* rt = nullptr;
  std::atomic<std::size_t> open{0};
  std::atomic<bool> draining{false};
  metrics_export metrics;
};

response make_response(const request& req, http::status st, std::string body, std::string_view type) {
  response res{st, req.version()};
  res.set(http::field::server, "zokio-http-example");
  res.set(http::field::content_type, type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response json_response(const request& req, http::status st, const json::value& v) {
  return make_response(req, st, json::serialize(v), "application/json");
}

response error_response(const request& req, http::status st) {
  return json_response(req, st, json::object{{"error", std::string(http::obsolete_reason(st))}});
}

std::string_view mime_type(const fs::path& p) {
  const auto ext = p.extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html";
  if (ext == ".css") return "text/css";
  if (ext == ".js") return "application/javascript";
  if (ext == ".json") return "application/json";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".txt") return "text/plain";
  return "application/octet-stream";
}

// GET /static/<path>: the file under cfg.root, read through asio::stream_file on this task's
// worker (io_uring on Linux). A path that leaves the root (..) is refused.
zokio::task<response> static_file(server& s, const request& req, std::string_view rel) {
  if (s.cfg.root.empty()) co_return error_response(req, http::status::not_found);
  const fs::path sub(std::string{rel});
  for (const auto& part : sub)
    if (part == ".." || part == ".") co_return error_response(req, http::status::bad_request);
  const fs::path path = fs::path(s.cfg.root) / sub;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) co_return error_response(req, http::status::not_found);
  std::string body;
  http::status failure = http::status::ok;
  try {
    asio::stream_file f(s.rt->get_executor().on_calling_worker(), path.string(), asio::stream_file::read_only);
    const std::uint64_t size = f.size();
    if (size > s.cfg.max_file) co_return error_response(req, http::status::payload_too_large);
    body.resize(size);
    std::size_t got = 0;
    while (got < size) {
      auto n = co_await f.async_read_some(asio::buffer(body.data() + got, size - got), zokio::use_future);
      if (!n) break;  // cut short since the size was taken: serve what was read
      got += *n;
    }
    body.resize(got);
  } catch (const boost::system::system_error& e) {
    failure = e.code() == boost::system::errc::permission_denied ? http::status::forbidden : http::status::not_found;
  }
  if (failure != http::status::ok) co_return error_response(req, failure);
  response res = make_response(req, http::status::ok, std::move(body), mime_type(path));
  if (req.method() == http::verb::head) res.body().clear();  // content-length kept
  co_return res;
}

std::string scrape(server& s) {
  auto& m = s.metrics;
  std::lock_guard lk(m.scrape_mu);
  const auto snap = s.rt->metrics();
  m.last.resize(snap.workers.size());
  for (std::size_t i = 0; i < snap.workers.size(); ++i) {
    const auto& w = snap.workers[i];
    const prometheus::Labels l{{"worker", std::to_string(i)}};
    const std::array<std::uint64_t, 4> now{w.polls, w.steals, w.parks, w.io_handlers};
    prometheus::Family<prometheus::Counter>* fams[] = {&m.polls, &m.steals, &m.parks, &m.io_handlers};
    for (std::size_t k = 0; k < now.size(); ++k) {
      fams[k]->Add(l).Increment(static_cast<double>(now[k] - m.last[i][k]));
      m.last[i][k] = now[k];
    }
    m.queue_depth.Add(l).Set(static_cast<double>(w.local_queue_depth));
  }
  m.live_tasks.Add({}).Set(static_cast<double>(snap.live_tasks));
  m.injector.Add({}).Set(static_cast<double>(snap.injector_depth));
  m.connections.Add({}).Set(static_cast<double>(s.open.load()));
  return prometheus::TextSerializer().Serialize(m.registry->Collect());
}

// The routes.
zokio::task<response> handle(server& s, const request& req) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  auto only = [&](std::string_view allow) {
    response res = error_response(req, http::status::method_not_allowed);
    res.set(http::field::allow, allow);
    return res;
  };
  if (path == "/") {
    if (!get) co_return only("GET, HEAD");
    co_return make_response(req, http::status::ok,
                            "<!doctype html><title>Zokio</title><h1>Hello from Zokio</h1>"
                            "<p>Try <a href=\"/api/hello\">/api/hello</a>, /api/stats, POST /api/echo, "
                            "<a href=\"/metrics\">/metrics</a>, /static/...</p>\n",
                            "text/html");
  }
  if (path == "/plaintext") {  // the body perf/perf_http_beast serves: for wrk comparisons
    if (!get) co_return only("GET, HEAD");
    co_return make_response(req, http::status::ok, "Hello, World!", "text/plain");
  }
  if (path == "/api/hello") {
    if (!get) co_return only("GET, HEAD");
    co_return json_response(req, http::status::ok, json::object{{"message", "hello from zokio"}});
  }
  if (path == "/api/stats") {
    if (!get) co_return only("GET, HEAD");
    const auto m = s.rt->metrics();
    co_return json_response(req, http::status::ok,
                            json::object{{"open_connections", s.open.load()},
                                         {"workers", m.workers.size()},
                                         {"live_tasks", m.live_tasks},
                                         {"polls", m.total_polls()}});
  }
  if (path == "/api/echo") {
    if (req.method() != http::verb::post) co_return only("POST");
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec) co_return json_response(req, http::status::bad_request, json::object{{"error", "invalid JSON: " + ec.message()}});
    co_return json_response(req, http::status::ok, json::object{{"echo", std::move(v)}, {"bytes", req.body().size()}});
  }
  if (path == "/api/fail") {  // a handler that throws: answered 500, the server goes on
    throw std::runtime_error("deliberate failure (/api/fail)");
  }
  if (path == "/metrics") {
    if (!get) co_return only("GET, HEAD");
    co_return make_response(req, http::status::ok, scrape(s), "text/plain; version=0.0.4");
  }
  if (path.starts_with("/static/")) {
    if (!get) co_return only("GET, HEAD");
    co_return co_await static_file(s, req, path.substr(8));
  }
  co_return error_response(req, http::status::not_found);
}

// What a failed read is answered with: nothing (the client left, or an idle keep-alive
// connection timed out before a byte of the next request), or an error status and a close.
http::status status_for(const boost::system::error_code& ec, bool got_some) {
  if (ec == beast::error::timeout) return got_some ? http::status::request_timeout : http::status::unknown;
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  // The parser's other errors are malformed requests; end_of_stream and partial_message mean
  // the client closed (between requests, or in the middle of one): nobody to answer.
  if (ec.category() == make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    return http::status::bad_request;
  return http::status::unknown;  // eof, reset, aborted: the connection is gone
}

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
    parser.header_limit(s.cfg.header_limit);
    parser.body_limit(s.cfg.body_limit);
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
    // A handler that throws answers 500 and the connection goes on (the runtime's policy below
    // would only log an exception that escaped the session).
    std::optional<response> handled;
    std::string failure;
    try {
      handled = co_await handle(s, req);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!handled) {
      std::fprintf(stderr, "http_server: %s %s: %s\n", std::string(req.method_string()).c_str(),
                   std::string(req.target()).c_str(), failure.c_str());
      handled = error_response(req, http::status::internal_server_error);
    }
    response& res = *handled;
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
  auto ex = s.rt->get_executor();
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
      zokio::spawn(refuse(s, std::move(*sock))).detach();
      continue;
    }
    zokio::spawn(session(s, std::move(*sock))).detach();
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
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the request log, a line at a time
  server s;
  if (!parse(argc, argv, s.cfg)) {
    std::fprintf(stderr,
                 "usage: %s [--address A] [--port P] [--root DIR] [--workers N] [--max-connections N]\n"
                 "          [--header-timeout S] [--idle-timeout S] [--body-limit BYTES] [--drain S] [--quiet]\n",
                 argv[0]);
    return 2;
  }
  runtime::builder b;
  if (s.cfg.workers) b.worker_threads(s.cfg.workers);
  // A connection's failure must not stop the server: exceptions nobody joins are logged.
  b.unhandled_exception(zokio::unhandled_exception_policy::log);
  runtime rt = b.build();
  s.rt = &rt;
  const int rc = rt.block_on(rt.spawn(serve(s)));
  std::fflush(stdout);
  return rc;
}
