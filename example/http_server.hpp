// http_server.hpp: the HTTP server example's application (routes, answers, limits), apart from
// its sockets, so that the server (http_server.cpp) and the request-path fuzz target
// (test/fuzz/http_request_fuzz.cpp) run the same code on the same bytes. A program that
// includes it also includes <boost/json/src.hpp> once (Boost.JSON header-only).
#ifndef ZOKIO_EXAMPLE_HTTP_SERVER_HPP
#define ZOKIO_EXAMPLE_HTTP_SERVER_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/stream_file.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <zokio/prometheus.hpp>
#include <zokio/zokio.hpp>

namespace http_example {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;


// Metrics for /metrics, and the stall watchdog. With --debug-endpoints the server runs on
// debug_runtime instead, which adds the task dump, the flight recorder and the latency
// histograms (compile-time features with a cost per task and per poll: doc/observability.md).
using runtime = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true,
                                                           .enable_stall_watchdog = true}>;
using debug_runtime = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true,
                                                                 .enable_stall_watchdog = true,
                                                                 .enable_task_dump = true,
                                                                 .enable_trace = true,
                                                                 .enable_latency_histograms =
                                                                     true}>;
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
  bool debug = false;                      // /debug/tasks, /debug/trace, /debug/stall; SIGUSR1
  std::chrono::milliseconds stall{100};    // a poll this long is reported (0: never)
};

// Prometheus families: the server's own counters here; the runtime's come from
// zokio::prometheus_collector at each scrape (zokio/prometheus.hpp).
struct metrics_export {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests = prometheus::BuildCounter()
      .Name("http_requests_total").Help("Responses sent, by status class").Register(*registry);
  prometheus::Family<prometheus::Gauge>& connections = prometheus::BuildGauge()
      .Name("http_open_connections").Help("Connections being served").Register(*registry);
  std::array<prometheus::Counter*, 6> by_class{};  // 1xx .. 5xx, [0] unused

  metrics_export() {
    for (int c = 1; c <= 5; ++c) by_class[static_cast<std::size_t>(c)] = &requests.Add({{"code", std::to_string(c) + "xx"}});
  }
};

// What the application needs of its runtime, whichever of the two it runs on.
struct runtime_view {
  zokio::executor executor;
  std::function<zokio::runtime_metrics()> metrics;
  std::function<std::string(bool text)> dump;  // empty without the task dump
  std::function<std::string()> trace;          // empty without the flight recorder
};

template <class Runtime>
runtime_view view_of(Runtime& rt) {
  runtime_view v{rt.get_executor(), [&rt] { return rt.metrics(); }, {}, {}};
  if constexpr (Runtime::config.enable_task_dump)
    v.dump = [&rt](bool text) { return text ? rt.dump().to_text() : rt.dump().to_json(); };
  if constexpr (Runtime::config.enable_trace) v.trace = [&rt] { return rt.trace_json(); };
  return v;
}

struct server {
  config cfg;
  std::optional<runtime_view> rt;  // set before serving
  std::atomic<std::size_t> open{0};
  std::atomic<bool> draining{false};
  metrics_export metrics;
};

inline response make_response(const request& req, http::status st, std::string body, std::string_view type) {
  response res{st, req.version()};
  res.set(http::field::server, "zokio-http-example");
  res.set(http::field::content_type, type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

inline response json_response(const request& req, http::status st, const json::value& v) {
  return make_response(req, st, json::serialize(v), "application/json");
}

inline response error_response(const request& req, http::status st) {
  return json_response(req, st, json::object{{"error", std::string(http::obsolete_reason(st))}});
}

inline std::string_view mime_type(const fs::path& p) {
  const auto ext = p.extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html";
  if (ext == ".css") return "text/css";
  if (ext == ".js") return "application/javascript";
  if (ext == ".json") return "application/json";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".txt") return "text/plain";
  if (ext == ".md") return "text/markdown; charset=utf-8";
  return "application/octet-stream";
}

// GET /static/<path>: the file under cfg.root, read through asio::stream_file on this task's
// worker (io_uring on Linux). A path that leaves the root (..) is refused.
inline zokio::task<response> static_file(server& s, const request& req, std::string_view rel) {
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
    asio::stream_file f(s.rt->executor.on_calling_worker(), path.string(), asio::stream_file::read_only);
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

inline std::string scrape(server& s) {
  auto& m = s.metrics;
  m.connections.Add({}).Set(static_cast<double>(s.open.load()));
  std::vector<prometheus::MetricFamily> families = m.registry->Collect();
  for (auto& f : zokio::prometheus_collector::families(s.rt->metrics()))
    families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

// The routes.
inline zokio::task<response> handle(server& s, const request& req) {
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
  if (s.cfg.debug && path.starts_with("/debug/")) {
    if (!get) co_return only("GET, HEAD");
    const std::string_view query = target.size() > path.size() ? target.substr(path.size() + 1) : "";
    // Both are built on the blocking pool: a trace of 65,536 events per worker is about 10 MB
    // of JSON, which took over 100 ms on a worker (the stall watchdog reported it).
    if (path == "/debug/tasks" && s.rt->dump) {  // the task dump: JSON, or text with ?text
      const bool text = query == "text";
      std::string body = co_await zokio::spawn_blocking([&s, text] { return s.rt->dump(text); });
      co_return make_response(req, http::status::ok, std::move(body), text ? "text/plain" : "application/json");
    }
    if (path == "/debug/trace" && s.rt->trace) {  // Chrome Trace Event JSON (chrome://tracing, Perfetto)
      std::string body = co_await zokio::spawn_blocking([&s] { return s.rt->trace(); });
      co_return make_response(req, http::status::ok, std::move(body), "application/json");
    }
    if (path == "/debug/stall") {  // blocks this worker on purpose (?ms=N, at most 5000)
      long ms = 300;
      if (query.starts_with("ms=")) ms = std::clamp(std::atol(std::string(query.substr(3)).c_str()), 0L, 5000L);
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      co_return make_response(req, http::status::ok, "blocked a worker for " + std::to_string(ms) + " ms\n",
                              "text/plain");
    }
    co_return error_response(req, http::status::not_found);
  }
  if (path.starts_with("/static/")) {
    if (!get) co_return only("GET, HEAD");
    co_return co_await static_file(s, req, path.substr(8));
  }
  co_return error_response(req, http::status::not_found);
}

// What a failed read is answered with: nothing (the client left, or an idle keep-alive
// connection timed out before a byte of the next request), or an error status and a close.
inline http::status status_for(const boost::system::error_code& ec, bool got_some) {
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

// A request's parser with the server's limits.
inline void apply_limits(const config& cfg, http::request_parser<http::string_body>& parser) {
  parser.header_limit(cfg.header_limit);
  parser.body_limit(cfg.body_limit);
}

// The answer to one request: the route's, or 500 when the handler throws (logged on stderr;
// the connection goes on: the runtime's policy would only log an exception that escaped).
inline zokio::task<response> answer(server& s, const request& req) {
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
  co_return std::move(*handled);
}

}  // namespace http_example

#endif  // ZOKIO_EXAMPLE_HTTP_SERVER_HPP
