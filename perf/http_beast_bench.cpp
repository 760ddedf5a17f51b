// perf_http_beast: Boost.Beast's async HTTP server (the shape of Beast 1.81's example
// http_server_async.cpp) on Zokio as a plain swap for Asio, against the same server on plain
// Asio, under `wrk -t1 -c50` (issue 11, benchmark (c)).
//
// One process serves one setup (so that getrusage's CPU time is that setup's alone):
//   perf_http_beast --setup NAME [--port P] [--seconds S]
// It listens on 127.0.0.1:P (0, the default: any free port), prints
//   listening setup=NAME port=P
// then serves until S seconds (default 10) have passed or it gets SIGINT/SIGTERM, stops, and
// prints one line
//   result setup=NAME wall_s=... cpu_user_us=... cpu_sys_us=... cpu_us=... requests=N errors=E
//          resets=R
// where the CPU time is the whole process's (RUSAGE_SELF, user + system), from just before the
// listener starts accepting to just after the server's threads have stopped, and requests is
// the number of responses written (an atomic counter in the session). errors counts failed
// reads, writes and accepts (the first five are printed on stderr), resets the connections
// reset by the client (wrk does that to those it still has a request on when it stops).
//
// The server code (session, listener, handle_request) is written once and only ever sees an
// asio::any_io_executor; the setups, 2 threads each, differ only in where that executor comes
// from:
//   zokio                zokio::runtime with 2 workers; rt.get_executor() where Beast's example
//                        has the io_context (the one Zokio-specific line)
//   asio_pool            asio::thread_pool(2)
//   asio_1ctx2thr        one io_context run by 2 threads
//   asio_ctx_per_thread  two io_contexts, one thread each; accepted connections alternate
//                        between them (its own executor-picking hook)
//   zokio_pinned         not a plain swap: Zokio with each connection's strand made over
//                        rt.get_executor().with_home(next++) (socket and timers on one worker)
// As in Beast's example, the acceptor and every accepted socket get their own strand
// (net::make_strand of the executor the hook picks).
//
// What it measures: what a Beast user gets from swapping the io_context for a Zokio runtime,
// with nothing else changed: requests per second (wrk's count, 50 keep-alive connections from
// one wrk thread on the same machine) and server CPU time per request (which stays meaningful
// when the client, not the server, is the bottleneck).
//
// How to run it (Release build; wrk from Debian's package, which the script installs if
// missing):
//   cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DZOKIO_BUILD_PERF=ON
//   ninja -C build/release perf_http_beast
//   perf/http_beast.sh build/release 5          # 5 rounds of the 4 setups, 5 s of wrk each
//   HTTP_BEAST_DURATION=10 perf/http_beast.sh build/release 3
// The script starts one server per setup and round, runs `wrk -t1 -c50 -d<duration>s` on it,
// stops it with SIGTERM, rotates the setup order per round, and prints (through
// perf/http_beast_summary.py) the medians of requests/s and server CPU us/request per setup,
// Zokio's per-round ratios to each Asio setup and to the best one, and every round's values.
#include <sys/resource.h>
#include <signal.h>
#include <time.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <zokio/zokio.hpp>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr unsigned kThreads = 2;
constexpr std::string_view kBody = "Hello, World!";

std::atomic<std::uint64_t> g_responses{0};
std::atomic<std::uint64_t> g_errors{0};
std::atomic<std::uint64_t> g_resets{0};

// ---------------------------------------------------------------------------------------------
// The server, as in Beast's http_server_async.cpp; the io_context is replaced by the executor
// the setup gives (`pick_executor` for each accepted socket).

/// Gives the executor for each new connection (the listener calls it on its strand).
using pick_executor = std::function<net::any_io_executor()>;

// Report a failure (the first few; every one is counted and reported at the end). A
// connection reset is counted apart: wrk resets the connections it still has a request on
// when its time is up.
void fail(beast::error_code ec, char const* what) {
  if (ec == net::error::connection_reset) {
    g_resets.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (g_errors.fetch_add(1, std::memory_order_relaxed) < 5)
    std::fprintf(stderr, "%s: %s\n", what, ec.message().c_str());
}

// Returns the response for the given request: a fixed 13-byte text/plain body for GET (its
// headers alone for HEAD), 400 for any other method; keep-alive as the request asks.
template <class Body, class Allocator>
http::message_generator handle_request(http::request<Body, http::basic_fields<Allocator>>&& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    http::response<http::string_body> res{http::status::bad_request, req.version()};
    res.set(http::field::server, BOOST_BEAST_VERSION_STRING);
    res.set(http::field::content_type, "text/html");
    res.keep_alive(req.keep_alive());
    res.body() = "Unknown HTTP-method";
    res.prepare_payload();
    return res;
  }
  if (req.method() == http::verb::head) {
    http::response<http::empty_body> res{http::status::ok, req.version()};
    res.set(http::field::server, BOOST_BEAST_VERSION_STRING);
    res.set(http::field::content_type, "text/plain");
    res.content_length(kBody.size());
    res.keep_alive(req.keep_alive());
    return res;
  }
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, BOOST_BEAST_VERSION_STRING);
  res.set(http::field::content_type, "text/plain");
  res.keep_alive(req.keep_alive());
  res.body() = std::string(kBody);
  res.prepare_payload();
  return res;
}

// Handles an HTTP server connection
class session : public std::enable_shared_from_this<session> {
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;

 public:
  // Take ownership of the stream
  explicit session(tcp::socket&& socket) : stream_(std::move(socket)) {}

  // Start the asynchronous operation
  void run() {
    // We need to be executing within a strand to perform async operations on the I/O
    // objects in this session.
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

  void do_read() {
    // Make the request empty before reading, otherwise the operation behavior is undefined.
    req_ = {};

    // Set the timeout.
    stream_.expires_after(std::chrono::seconds(30));

    // Read a request
    http::async_read(stream_, buffer_, req_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t bytes_transferred) {
    boost::ignore_unused(bytes_transferred);

    // This means they closed the connection
    if (ec == http::error::end_of_stream) return do_close();

    if (ec) return fail(ec, "read");

    // Send the response
    send_response(handle_request(std::move(req_)));
  }

  void send_response(http::message_generator&& msg) {
    bool keep_alive = msg.keep_alive();

    // Write the response
    beast::async_write(stream_, std::move(msg),
                       beast::bind_front_handler(&session::on_write, shared_from_this(),
                                                 keep_alive));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t bytes_transferred) {
    boost::ignore_unused(bytes_transferred);

    if (ec) return fail(ec, "write");

    g_responses.fetch_add(1, std::memory_order_relaxed);

    if (!keep_alive) {
      // This means we should close the connection, usually because the response indicated
      // the "Connection: close" semantic.
      return do_close();
    }

    // Read another request
    do_read();
  }

  void do_close() {
    // Send a TCP shutdown
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);

    // At this point the connection is closed gracefully
  }
};

// Accepts incoming connections and launches the sessions
class listener : public std::enable_shared_from_this<listener> {
  pick_executor pick_;
  tcp::acceptor acceptor_;

 public:
  listener(net::any_io_executor ex, pick_executor pick, tcp::endpoint endpoint)
      : pick_(std::move(pick)), acceptor_(net::make_strand(ex)) {
    beast::error_code ec;

    // Open the acceptor
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) throw beast::system_error(ec, "open");

    // Allow address reuse
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) throw beast::system_error(ec, "set_option");

    // Bind to the server address
    acceptor_.bind(endpoint, ec);
    if (ec) throw beast::system_error(ec, "bind");

    // Start listening for connections
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw beast::system_error(ec, "listen");
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  // Start accepting incoming connections
  void run() { do_accept(); }

  // Closes the acceptor on its strand (the pending accept ends with operation_aborted);
  // returns once that has run, or after a second.
  void close() {
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    net::post(acceptor_.get_executor(), [self = shared_from_this(), done] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      done->set_value();
    });
    if (f.wait_for(std::chrono::seconds(1)) != std::future_status::ready)
      std::fprintf(stderr, "listener: close did not run within 1 s\n");
  }

 private:
  void do_accept() {
    // The new connection gets its own strand
    acceptor_.async_accept(net::make_strand(pick_()),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != net::error::operation_aborted) fail(ec, "accept");
      return;  // To avoid infinite loop
    }
    // Create the session and run it
    std::make_shared<session>(std::move(socket))->run();

    // Accept another connection
    do_accept();
  }
};

// ---------------------------------------------------------------------------------------------
// The setups: each gives the executor (and the per-connection hook), and stops its threads.

struct setup {
  virtual ~setup() = default;
  /// The executor of the program: the acceptor's, and by default every connection's.
  virtual net::any_io_executor executor() = 0;
  /// Where each accepted connection goes.
  virtual pick_executor picker() {
    return [ex = executor()] { return ex; };
  }
  /// Stops serving and joins the threads (pending handlers are destroyed later, with the
  /// setup).
  virtual void stop() = 0;
};

struct zokio_setup : setup {
  zokio::runtime rt{zokio::runtime::builder().worker_threads(kThreads).build()};
  net::any_io_executor ex = rt.get_executor();
  net::any_io_executor executor() override { return ex; }
  void stop() override { rt.shutdown(); }
};

struct pool_setup : setup {
  net::thread_pool pool{kThreads};
  net::any_io_executor executor() override { return pool.get_executor(); }
  void stop() override {
    pool.stop();
    pool.join();
  }
};

struct one_ctx_setup : setup {
  net::io_context ioc{static_cast<int>(kThreads)};
  net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
  std::vector<std::thread> threads;
  one_ctx_setup() {
    for (unsigned i = 0; i < kThreads; ++i) threads.emplace_back([this] { ioc.run(); });
  }
  net::any_io_executor executor() override { return ioc.get_executor(); }
  void stop() override {
    ioc.stop();
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

struct ctx_per_thread_setup : setup {
  std::array<net::io_context, kThreads> iocs{net::io_context{1}, net::io_context{1}};
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  ctx_per_thread_setup() {
    for (auto& ioc : iocs) {
      guards.push_back(net::make_work_guard(ioc));
      threads.emplace_back([&ioc] { ioc.run(); });
    }
  }
  net::any_io_executor executor() override { return iocs[0].get_executor(); }
  pick_executor picker() override {
    // Called by the listener on its strand only: a plain counter is enough.
    return [this, next = 0u]() mutable -> net::any_io_executor {
      return iocs[next++ % kThreads].get_executor();
    };
  }
  void stop() override {
    for (auto& ioc : iocs) ioc.stop();
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

// Not a plain swap, for comparison: each connection's strand over an executor pinned to the
// next worker (rt.get_executor().with_home(i)), so that a connection's socket and its
// tcp_stream timers share a worker (doc/asio_bridge.md, placement trade-offs).
struct zokio_pinned_setup : zokio_setup {
  std::atomic<unsigned> next{0};
  pick_executor picker() override {
    return [this]() -> net::any_io_executor {
      return rt.get_executor().with_home(next.fetch_add(1, std::memory_order_relaxed));
    };
  }
};

constexpr std::array<const char*, 5> kSetups = {"zokio", "asio_pool", "asio_1ctx2thr",
                                                "asio_ctx_per_thread", "zokio_pinned"};

std::unique_ptr<setup> make_setup(std::string_view name) {
  if (name == "zokio") return std::make_unique<zokio_setup>();
  if (name == "zokio_pinned") return std::make_unique<zokio_pinned_setup>();
  if (name == "asio_pool") return std::make_unique<pool_setup>();
  if (name == "asio_1ctx2thr") return std::make_unique<one_ctx_setup>();
  if (name == "asio_ctx_per_thread") return std::make_unique<ctx_per_thread_setup>();
  return nullptr;
}

double cpu_us(const rusage& r, bool user) {
  const timeval& t = user ? r.ru_utime : r.ru_stime;
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
}

[[noreturn]] void usage(const char* argv0, int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: %s --setup NAME [--port P] [--seconds S]\nsetups:", argv0);
  for (auto s : kSetups) std::fprintf(status ? stderr : stdout, " %s", s);
  std::fprintf(status ? stderr : stdout, "\n");
  std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  unsigned long port = 0;
  double seconds = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    if (a == "--setup") {
      name = value();
    } else if (a == "--port") {
      port = std::strtoul(value().c_str(), nullptr, 10);
      if (port > 65535) usage(argv[0], 2);
    } else if (a == "--seconds") {
      seconds = std::atof(value().c_str());
      if (!(seconds > 0)) usage(argv[0], 2);
    } else if (a == "--help" || a == "-h") {
      usage(argv[0], 0);
    } else {
      std::fprintf(stderr, "unknown argument '%s'\n", a.c_str());
      usage(argv[0], 2);
    }
  }

  // SIGINT/SIGTERM end the run early: blocked here, before any thread starts (threads
  // inherit the mask), and waited for by the main thread below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<setup> s = make_setup(name);
  if (!s) {
    std::fprintf(stderr, "unknown setup '%s'\n", name.c_str());
    usage(argv[0], 2);
  }

  std::shared_ptr<listener> l;
  try {
    l = std::make_shared<listener>(
        s->executor(), s->picker(),
        tcp::endpoint(net::ip::address_v4::loopback(), static_cast<unsigned short>(port)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "listener: %s\n", e.what());
    return 1;
  }
  std::printf("listening setup=%s port=%u\n", name.c_str(), static_cast<unsigned>(l->port()));
  std::fflush(stdout);

  rusage r0{};
  getrusage(RUSAGE_SELF, &r0);
  auto t0 = std::chrono::steady_clock::now();
  l->run();

  // Serve until the time is up or a stop signal comes.
  for (;;) {
    double left =
        seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (left <= 0) break;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(left);
    ts.tv_nsec = static_cast<long>((left - static_cast<double>(ts.tv_sec)) * 1e9);
    int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) break;
  }

  l->close();
  s->stop();
  rusage r1{};
  getrusage(RUSAGE_SELF, &r1);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  double user = cpu_us(r1, true) - cpu_us(r0, true);
  double sys = cpu_us(r1, false) - cpu_us(r0, false);
  std::printf("result setup=%s wall_s=%.3f cpu_user_us=%.0f cpu_sys_us=%.0f cpu_us=%.0f "
              "requests=%llu errors=%llu resets=%llu\n",
              name.c_str(), wall, user, sys, user + sys,
              static_cast<unsigned long long>(g_responses.load()),
              static_cast<unsigned long long>(g_errors.load()),
              static_cast<unsigned long long>(g_resets.load()));
  std::fflush(stdout);

  l.reset();  // the acceptor goes before its execution context
  s.reset();
  return 0;
}
