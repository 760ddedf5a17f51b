// An echo server written as plain Asio code (asio::awaitable, use_awaitable), run on Zokio by
// handing it zokio::executors; clients that misbehave; where I/O completions run while the
// worker that owns their io_context is stuck in a long task. Portable but for the descriptor
// limit (RLIMIT_NOFILE: the 5,000-connection crowd and EMFILE), which Windows does not have,
// and the per-worker share case (doc/platforms.md): there the same cases meet Winsock's
// errors (WSAECONNRESET, graceful shutdown) on IOCP, and open handles stand in for
// descriptors.
#ifndef _WIN32
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>
#ifdef _WIN32
#include <windows.h>  // GetHandleInformation (after Asio: winsock2.h first)
#endif

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------------
// The server: exactly what one writes for an io_context (Asio's own co_echo_server, plus an
// accept loop that survives errors), templated only on the executor type. The counters are
// test instrumentation.

struct server_stats {
  std::atomic<int> live{0};  // sessions running now
  std::atomic<int> peak{0};  // most sessions running at once
  std::atomic<int> accepted{0};
  std::atomic<int> accept_errors{0};
  std::atomic<int> last_accept_error{0};
};

struct live_session {
  server_stats& st;
  explicit live_session(server_stats& s) : st(s) {
    int now = st.live.fetch_add(1) + 1;
    for (int p = st.peak.load(); p < now && !st.peak.compare_exchange_weak(p, now);) {
    }
  }
  ~live_session() { st.live.fetch_sub(1); }
};

asio::awaitable<void> echo_session(tcp::socket socket, server_stats& st) {
  live_session counted(st);
  try {
    char data[4096];
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // eof, reset, broken pipe: this connection is over, the server goes on.
  }
}

// Each new connection goes on the next executor of `pool` (one io_context per thread is the
// classic Asio way to spread connections; on Zokio the pool is the workers' executors).
template <class Executor>
asio::awaitable<void> accept_loop(tcp::acceptor acceptor, std::vector<Executor> pool,
                                  server_stats& st) {
  for (std::size_t next = 0;;) {
    auto [ec, socket] = co_await acceptor.async_accept(pool[next % pool.size()],
                                                       asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE, ENFILE, ENOBUFS...: the connection stays in the backlog. Back off briefly
      // (retrying at once would spin) and try again; the server keeps serving meanwhile.
      st.accept_errors.fetch_add(1);
      st.last_accept_error = ec.value();
      asio::steady_timer pause(co_await asio::this_coro::executor, 20ms);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    ++next;
    st.accepted.fetch_add(1);
    socket.set_option(tcp::no_delay(true), ec);  // never throw out of the loop over it
    asio::co_spawn(socket.get_executor(), echo_session(std::move(socket), st), asio::detached);
  }
}

template <class Executor>
tcp::endpoint start_echo_server(Executor ex, std::vector<Executor> pool, server_stats& st) {
  tcp::acceptor acceptor(ex, {asio::ip::address_v4::loopback(), 0});
  auto ep = acceptor.local_endpoint();
  asio::co_spawn(ex, accept_loop(std::move(acceptor), std::move(pool), st), asio::detached);
  return ep;
}

/// The server's executors on Zokio: the acceptor on rt.get_executor(), connections round-robin
/// over every worker's io_context.
template <class Runtime>
tcp::endpoint start_on_zokio(Runtime& rt, server_stats& st) {
  auto ex = rt.get_executor();
  std::vector<zokio::executor> pool;
  for (unsigned i = 0; i < rt.num_workers(); ++i) pool.push_back(ex.with_home(i));
  return start_echo_server(ex, std::move(pool), st);
}

using zokio::test::make_runtime;

// ---------------------------------------------------------------------------------------------
// Clients: coroutines on a plain io_context of the test thread.

std::string payload(int id, int trip, std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    s[i] = static_cast<char>((id * 131 + trip * 29 + i * 7 + i / 251) & 0xff);
  return s;
}

/// Writes one distinct payload per trip and checks that exactly it comes back.
asio::awaitable<bool> round_trips(tcp::socket& s, int id, int trips, std::size_t max_size) {
  std::string in;
  for (int t = 0; t < trips; ++t) {
    std::string out = payload(id, t, 1 + (id * 37 + t * 101) % max_size);
    in.assign(out.size(), '\0');
    co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
    co_await asio::async_read(s, asio::buffer(in), asio::use_awaitable);
    if (in != out) co_return false;
  }
  co_return true;
}

struct tally {
  int ok = 0, bad = 0, failed = 0;  // trips echoed right, wrong, connections that threw
  std::string first_error;
};

asio::awaitable<void> echo_client(tcp::endpoint ep, int id, int trips, tally& t) {
  try {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    for (int i = 0; i < trips; ++i) {
      if (co_await round_trips(s, id * 1000 + i, 1, 16000))
        ++t.ok;
      else
        ++t.bad;
    }
  } catch (const std::exception& e) {
    if (!t.failed++) t.first_error = e.what();
  }
}

/// Runs `a` on `io` (on this thread) until it finishes or `limit` passes.
template <class T>
std::optional<T> run_client(asio::io_context& io, asio::awaitable<T> a, clk::duration limit = 20s) {
  std::future<T> f = asio::co_spawn(io, std::move(a), asio::use_future);
  auto end = clk::now() + limit;
  while (f.wait_for(0s) != std::future_status::ready && clk::now() < end) {
    if (io.stopped()) io.restart();
    io.run_one_for(20ms);
  }
  if (f.wait_for(0s) != std::future_status::ready) return std::nullopt;
  return f.get();
}

/// One round of `trips` round trips on every socket of `socks`, one after the other.
asio::awaitable<bool> serve_all(std::vector<tcp::socket>& socks, int round, int trips) {
  for (std::size_t i = 0; i < socks.size(); ++i)
    if (!co_await round_trips(socks[i], static_cast<int>(i) * 100 + round, trips, 3000))
      co_return false;
  co_return true;
}

bool bystanders_served(asio::io_context& io, std::vector<tcp::socket>& socks, int round) {
  return run_client(io, serve_all(socks, round, 3), 10s).value_or(false);
}

std::vector<tcp::socket> connect_n(asio::io_context& io, tcp::endpoint ep, int n) {
  std::vector<tcp::socket> v;
  for (int i = 0; i < n; ++i) {
    v.emplace_back(io);
    v.back().connect(ep);
    v.back().set_option(tcp::no_delay(true));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Descriptors and their limit.

#ifdef _WIN32
// Open handles of the process: sockets, and the runtime's threads, events and completion
// ports, are handles. GetProcessHandleCount reads 0 under Wine 8, so the table is probed
// (handle values are multiples of 4; this process never has 16,000 open).
// The process's first runtime leaves one handle open for good under Wine (made once: every
// later case, each with a runtime of its own, counts equal); one is run before the first count.
int count_open_fds() {
  static const bool warmed = [] {
    auto rt = make_runtime(2);
    return rt.block_on([]() -> zokio::task<bool> { co_return true; }());
  }();
  (void)warmed;
  int n = 0;
  for (std::uintptr_t h = 4; h < (std::uintptr_t{1} << 16); h += 4) {
    DWORD flags = 0;
    if (::GetHandleInformation(reinterpret_cast<HANDLE>(h), &flags)) ++n;
  }
  return n;
}
#else
int count_open_fds() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}
#endif

/// The count is back to `before`: at once on Linux. Under Wine a case now and then ends with
/// one handle more than it began with, a handle Wine makes when it first needs it (in any
/// case, not the same one twice in a row): there it is given 2 s and two handles of slack,
/// which still tells a socket or thread leaked per connection (these cases make hundreds)
/// from none.
bool fds_back_to(int before) {
#ifdef _WIN32
  return zokio::test::wait_until(
      [&] {
        const int now = count_open_fds();
        return now >= before && now <= before + 2;
      },
      2000ms);
#else
  return count_open_fds() == before;
#endif
}

#ifndef _WIN32
int highest_open_fd() {
  int top = -1;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    top = std::max(top, std::stoi(e.path().filename().string()));
  return top;  // (includes the iterator's own descriptor, closed since: harmless)
}

/// Saves RLIMIT_NOFILE and puts it back when destroyed (or on restore()).
class nofile_guard {
 public:
  nofile_guard() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~nofile_guard() { restore(); }
  nofile_guard(const nofile_guard&) = delete;
  nofile_guard& operator=(const nofile_guard&) = delete;
  const rlimit& saved() const { return saved_; }
  bool set_soft(rlim_t soft) {
    rlimit r = saved_;
    r.rlim_cur = soft;
    return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
  }
  void restore() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  static rlim_t soft_now() {
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    return r.rlim_cur;
  }

 private:
  rlimit saved_{};
};
#endif  // _WIN32

// ---------------------------------------------------------------------------------------------
// (b) A task that blocks its worker for 500 ms, with I/O registered on that worker's io_context.

struct blocked_worker_probe {
  tcp::endpoint listener;  // the test's loopback listener; the blocker connects to it
  std::atomic<bool> armed{false}, blocker_done{false};
  std::atomic<unsigned> worker{~0u};  // the worker the blocker ran on
  std::thread::id blocker_thread;
  clk::time_point blocker_start, blocker_end;
  struct completion {
    std::atomic<bool> ran{false};
    bool before_blocker_done = false;
    std::thread::id thread;
    clk::time_point at;
    std::string data;
    void record(const blocked_worker_probe& p, std::string d = {}) {
      before_blocker_done = !p.blocker_done.load();
      thread = std::this_thread::get_id();
      at = clk::now();
      data = std::move(d);
      ran.store(true);
    }
  } timer, read;
};

zokio::task<void> blocking_task(zokio::runtime* rt, std::shared_ptr<blocked_worker_probe> p) {
  // Which worker is this? Any worker may pick the task up (LIFO slot, deque, injector, a
  // thief), so rather than forcing "worker 0" we let the task land anywhere, ask where it is,
  // and pin the I/O to *that* worker's io_context. The task cannot move while it runs: the
  // busy loop below is one poll, with no co_await.
  zokio::executor here = rt->get_executor().with_home(rt->current_worker().value());
  p->worker = here.home_worker();
  p->blocker_thread = std::this_thread::get_id();

  auto timer = std::make_shared<asio::steady_timer>(here, 150ms);
  timer->async_wait([timer, p](boost::system::error_code) { p->timer.record(*p); });

  // A loopback connection (connect completes from the listener's backlog; the test accepts
  // it later and writes into it), read on W's io_context.
  auto sock = std::make_shared<tcp::socket>(here);
  sock->connect(p->listener);
  auto buf = std::make_shared<std::array<char, 16>>();
  sock->async_read_some(
      asio::buffer(*buf), [sock, buf, p](boost::system::error_code ec, std::size_t n) {
        p->read.record(*p, ec ? "error: " + ec.message() : std::string(buf->data(), n));
      });

  p->blocker_start = clk::now();
  p->armed = true;  // the test writes into the socketpair 100 ms from now
  while (clk::now() - p->blocker_start < 500ms) {
  }
  p->blocker_end = clk::now();
  p->blocker_done = true;
  co_return;
}

long ms_since(clk::time_point from, clk::time_point to) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(echo_suite)

// ---------------------------------------------------------------------------------------------
// (a) The same server code, two executors.

template <class Executor>
void serve_100_clients(Executor ex, std::vector<Executor> pool, server_stats& st) {
  constexpr int clients = 100, trips = 8;
  tcp::endpoint ep = start_echo_server(ex, std::move(pool), st);
  asio::io_context client_io;
  tally t;
  for (int i = 0; i < clients; ++i)
    asio::co_spawn(client_io, echo_client(ep, i, trips, t), asio::detached);
  client_io.run_for(30s);  // returns once every client is done
  BOOST_TEST(t.failed == 0, "first client error: " << t.first_error);
  BOOST_TEST(t.bad == 0);
  BOOST_TEST(t.ok == clients * trips);
  BOOST_TEST(st.accepted.load() == clients);
  // Every session ends when its client closes (the clients' sockets are gone with client_io's
  // coroutines).
  BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 0; }));
  BOOST_TEST(st.accept_errors.load() == 0);
}

BOOST_AUTO_TEST_CASE(plain_asio_server_on_io_context_sanity, *boost::unit_test::timeout(60)) {
  server_stats st;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread th([&io] { io.run(); });
  serve_100_clients(io.get_executor(), std::vector{io.get_executor()}, st);
  io.stop();
  th.join();
}

BOOST_AUTO_TEST_CASE(plain_asio_server_on_zokio_serves_100_clients,
                     *boost::unit_test::timeout(60)) {
  server_stats st;
  const int fds_before = count_open_fds();
  {
    auto rt = make_runtime(2);
    auto ex = rt.get_executor();
    std::vector<zokio::executor> pool{ex.with_home(0), ex.with_home(1)};
    serve_100_clients(ex, std::move(pool), st);
  }
  BOOST_TEST(fds_back_to(fds_before));  // sockets, acceptor, epoll/io_uring: all closed
}

// Connections go round-robin over the workers' io_contexts, and the per-worker I/O counters
// of rt.metrics() show each worker carrying its share of the completions.
BOOST_AUTO_TEST_CASE(connections_spread_over_the_workers_in_metrics,
                     *boost::unit_test::timeout(60)) {
  constexpr unsigned workers = 4;
  constexpr int clients = 40, trips = 10;
  zokio::basic_runtime<zokio::runtime_config{.worker_threads = workers, .enable_metrics = true}>
      rt;
  server_stats st;
  tcp::endpoint ep = start_on_zokio(rt, st);
  asio::io_context client_io;
  tally t;
  for (int i = 0; i < clients; ++i)
    asio::co_spawn(client_io, echo_client(ep, i, trips, t), asio::detached);
  client_io.run_for(30s);
  BOOST_TEST(t.ok == clients * trips);
  BOOST_REQUIRE(zokio::test::wait_until([&] { return st.live.load() == 0; }));

  // Counts are added per I/O turn, and a turn runs at most event_interval handlers, so read
  // right after the sessions end they miss at most one turn per worker. (Before turns were
  // bounded, one worker's count under Wine now and then missed ~500: its poll() had not
  // returned yet.)
  auto m = rt.metrics();
  BOOST_REQUIRE(m.workers.size() == workers);
  // Each trip is at least one read and one write completion on the session's io_context.
  const std::uint64_t total = m.total_io_handlers();
  BOOST_TEST(total >= std::uint64_t{2 * clients * trips});
  for (unsigned i = 0; i < workers; ++i) {
    const auto& w = m.workers[i];
    BOOST_TEST_MESSAGE("worker " << i << ": io_handlers " << w.io_handlers << " (by siblings "
                                 << w.io_handlers_by_siblings << "), polls " << w.polls);
    // 10 connections each: a worker with none would show ~0 here. Allow for uneven
    // message sizes (a quarter of the fair share is plenty to tell "none" from "some").
    BOOST_TEST(w.io_handlers * workers * 4 >= total, "worker " << i << " got too little I/O");
    BOOST_TEST(w.io_handlers_by_siblings <= w.io_handlers);
  }
}

// The one-line swap (issue 11): Asio's own C++20 echo server shape, one executor passed
// everywhere (acceptor, `async_accept(use_awaitable)` with no executor of its own, co_spawn),
// nothing Zokio-specific. Under load from 40 clients, every one of 4 workers runs at least
// 15% of the server's handlers. On the old placement (I/O homed on the calling worker) one
// worker ran them all.
asio::awaitable<void> plain_echo(tcp::socket s) {
  std::array<char, 1024> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto [wec, m] = co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::as_tuple(asio::use_awaitable));
    if (wec) co_return;
  }
}

asio::awaitable<void> plain_listener(tcp::acceptor& acceptor) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(executor, plain_echo(std::move(socket)), asio::detached);
  }
}

BOOST_AUTO_TEST_CASE(plain_swap_server_spreads_over_the_workers, *boost::unit_test::timeout(60)) {
  constexpr unsigned workers = 4;
  constexpr int clients = 40, trips = 20;
  zokio::basic_runtime<zokio::runtime_config{.worker_threads = workers, .enable_metrics = true}>
      rt;
  auto executor = rt.get_executor();  // was: asio::io_context io; auto executor = io.get_executor();
  tcp::acceptor acceptor(executor, {asio::ip::address_v4::loopback(), 0});
  auto ep = acceptor.local_endpoint();
  asio::co_spawn(executor, plain_listener(acceptor), asio::detached);

  asio::io_context client_io;  // the load: clients on their own thread
  tally t;
  for (int i = 0; i < clients; ++i)
    asio::co_spawn(client_io, echo_client(ep, i, trips, t), asio::detached);
  client_io.run_for(30s);
  BOOST_TEST(t.ok == clients * trips);

  auto m = rt.metrics();
  BOOST_REQUIRE(m.workers.size() == workers);
  const std::uint64_t total = m.total_io_handlers();
  BOOST_TEST(total >= std::uint64_t{2 * clients * trips});
  for (unsigned i = 0; i < workers; ++i) {
    BOOST_TEST_MESSAGE("plain swap: worker " << i << " ran " << m.workers[i].io_handlers << " of "
                                             << total << " handlers");
    BOOST_TEST(m.workers[i].io_handlers * 100 >= total * 15, "worker " << i << " ran under 15%");
  }
  std::atomic<bool> closed{false};
  asio::post(executor, [&] {
    acceptor.close();
    closed = true;
  });
  BOOST_REQUIRE(zokio::test::wait_until([&] { return closed.load(); }));
  rt.shutdown();
}

// ---------------------------------------------------------------------------------------------
// (b) Completions of a blocked worker's io_context.

// 2 workers. A task lands on worker W, registers a timer (150 ms) and a socket read on W's
// io_context, then keeps W busy for 500 ms; at 100 ms the test writes into the socket. The
// other worker is idle: it must run both completions while W is blocked (doc/asio_bridge.md:
// "A worker stuck in a long poll therefore does not hold up the I/O registered on its
// io_context: a sibling runs those completions").
//
// Regression test for a bug this test found: the idle sibling looked at busy siblings'
// io_contexts only once, in poll_sibling_io() right before parking, then slept in run_one() on
// its *own* io_context. Readiness arriving on W's io_context afterwards woke nobody (nobody
// waits in W's epoll), so both completions ran at 500 ms, on W itself, once the blocker
// returned. The assertions marked [bug] fail if that comes back.
BOOST_AUTO_TEST_CASE(completions_run_while_their_worker_is_blocked,
                     *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(2);
  auto p = std::make_shared<blocked_worker_probe>();
  asio::io_context test_io;  // blocking calls only, on this thread
  tcp::acceptor listener(test_io, {asio::ip::address_v4::loopback(), 0});
  p->listener = listener.local_endpoint();

  auto h = rt.spawn(blocking_task(&rt, p));
  BOOST_REQUIRE(zokio::test::wait_until([&] { return p->armed.load(); }));
  tcp::socket writer = listener.accept();
  std::this_thread::sleep_for(100ms);
  BOOST_REQUIRE(asio::write(writer, asio::buffer("ping", 4)) == 4u);
  rt.block_on(std::move(h));
  // Whenever they ran, both completions must have run by now (or very soon).
  BOOST_REQUIRE(zokio::test::wait_until([&] { return p->timer.ran && p->read.ran; }));
  writer.close();

  BOOST_TEST_MESSAGE("blocker on worker "
                     << p->worker.load() << " for " << ms_since(p->blocker_start, p->blocker_end)
                     << " ms; timer completion at " << ms_since(p->blocker_start, p->timer.at)
                     << " ms, read completion at " << ms_since(p->blocker_start, p->read.at)
                     << " ms");
  BOOST_TEST(p->worker.load() < 2u);
  BOOST_TEST(p->read.data == "ping");
  BOOST_TEST(ms_since(p->blocker_start, p->blocker_end) >= 500);
  // [bug] Each completion ran while the blocker was still running, on the other worker.
  BOOST_TEST(p->timer.before_blocker_done, "[bug] timer completion waited for the blocked worker");
  BOOST_TEST((p->timer.thread != p->blocker_thread),
             "[bug] timer completion ran on the blocked worker");
  BOOST_TEST(p->read.before_blocker_done, "[bug] read completion waited for the blocked worker");
  BOOST_TEST((p->read.thread != p->blocker_thread),
             "[bug] read completion ran on the blocked worker");
}

// ---------------------------------------------------------------------------------------------
// (c) Bad clients against the server on Zokio. Each test keeps a few well-behaved "bystander"
// connections and checks that they are served throughout; descriptors are counted before the
// runtime exists and after it is gone.

// Clients that reset (SO_LINGER 0, close: RST) in the middle of a message, some while the
// server is blocked writing the echo back to them.
BOOST_AUTO_TEST_CASE(clients_resetting_mid_message, *boost::unit_test::timeout(60)) {
  const int resets = 200 / zokio::test::stress_divisor;
  server_stats st;
  const int fds_before = count_open_fds();
  BOOST_TEST_MESSAGE("open descriptors (handles on Windows) before: " << fds_before);
  BOOST_TEST(fds_before >= 3);  // the count works here (stdio at least), so == below means something
  {
    auto rt = make_runtime(2);
    tcp::endpoint ep = start_on_zokio(rt, st);
    asio::io_context io;
    auto bystanders = connect_n(io, ep, 4);
    BOOST_TEST(bystanders_served(io, bystanders, 0));
    const std::string big = payload(-1, 0, 4 << 20);
    for (int i = 0; i < resets; ++i) {
      tcp::socket c(io);
      c.connect(ep);
      c.non_blocking(true);
      // Half of the time a small part of a message; otherwise as much as the kernel takes
      // without our reading, so that the server is stuck in async_write when the RST comes.
      const std::string msg = i % 2 ? payload(i, 0, 3000) : big;
      std::size_t sent = 0;
      boost::system::error_code ec;
      for (int k = 0; k < 64 && sent < msg.size() / 2; ++k) {
        sent += c.write_some(asio::buffer(msg.data() + sent, msg.size() / 2 - sent), ec);
        if (ec == asio::error::would_block)
          std::this_thread::sleep_for(200us);
        else if (ec)
          break;
      }
      c.set_option(asio::socket_base::linger(true, 0));
      c.close();
      if (i % 20 == 19) BOOST_TEST(bystanders_served(io, bystanders, i));
    }
    BOOST_TEST(bystanders_served(io, bystanders, resets));
#ifdef _WIN32
    // Windows drops a connection reset while it waits in the listen backlog (Linux's accept
    // returns it, and its first read fails): some resets are never accepted.
    BOOST_TEST(st.accepted.load() <= 4 + resets);
#else
    BOOST_TEST(st.accepted.load() == 4 + resets);
#endif
    // Every reset session ended; only the bystanders' remain.
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 4; }));
    bystanders.clear();
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 0; }));
  }
  BOOST_TEST(fds_back_to(fds_before));
}

/// Writes all of `data`, then shuts down its sending side (the server sees eof).
asio::awaitable<void> write_then_shutdown(std::shared_ptr<tcp::socket> s,
                                          std::shared_ptr<const std::string> data) {
  try {
    co_await asio::async_write(*s, asio::buffer(*data), asio::use_awaitable);
    s->shutdown(tcp::socket::shutdown_send);
  } catch (const std::exception&) {
  }
}

/// Half-closes after writing `size` bytes; reads concurrently until the server closes.
/// True when exactly what was sent came back, followed by eof.
asio::awaitable<bool> half_close_client(tcp::endpoint ep, int id, std::size_t size) {
  auto ex = co_await asio::this_coro::executor;
  auto s = std::make_shared<tcp::socket>(ex);
  co_await s->async_connect(ep, asio::use_awaitable);
  auto data = std::make_shared<const std::string>(payload(id, 0, size));
  asio::co_spawn(ex, write_then_shutdown(s, data), asio::detached);
  std::string got;
  char buf[8192];
  for (;;) {
    auto [ec, n] =
        co_await s->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    got.append(buf, n);
    if (ec == asio::error::eof) break;
    if (ec) co_return false;
  }
  co_return got == *data;
}

BOOST_AUTO_TEST_CASE(half_closed_clients_get_their_echo_then_eof, *boost::unit_test::timeout(60)) {
  server_stats st;
  const int fds_before = count_open_fds();
  {
    auto rt = make_runtime(2);
    tcp::endpoint ep = start_on_zokio(rt, st);
    asio::io_context io;
    auto bystanders = connect_n(io, ep, 4);
    int id = 0;
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{100000},
                             std::size_t{3} << 20}) {
      for (int rep = 0; rep < 3; ++rep) {
        BOOST_TEST(run_client(io, half_close_client(ep, ++id, size)).value_or(false),
                   "half-closed client, " << size << " bytes");
      }
      BOOST_TEST(bystanders_served(io, bystanders, id));
    }
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 4; }));
    bystanders.clear();
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 0; }));
  }
  BOOST_TEST(fds_back_to(fds_before));
}

// 5,000 connections open at once, each does round trips while all the others are open.
struct crowd {
  int target = 0, connected = 0, done_trips = 0, ok = 0, failed = 0, in_flight = 0;
  std::string first_error;
  std::optional<asio::steady_timer> all_connected, all_tripped;  // gates, cancelled to open
};

asio::awaitable<void> crowd_member(tcp::endpoint ep, int id, crowd& c) {
  bool connecting = true;
  try {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    connecting = false;
    --c.in_flight;
    if (++c.connected == c.target)
      c.all_connected->cancel();
    else
      co_await c.all_connected->async_wait(asio::as_tuple(asio::use_awaitable));
    bool good = co_await round_trips(s, id, 2, 200);
    // Hold the connection until everyone has done their trips: the server then has all of
    // them open at once.
    if (++c.done_trips == c.target)
      c.all_tripped->cancel();
    else
      co_await c.all_tripped->async_wait(asio::as_tuple(asio::use_awaitable));
    if (good) ++c.ok;
  } catch (const std::exception& e) {
    if (connecting) --c.in_flight;
    if (!c.failed++) c.first_error = e.what();
  }
}

asio::awaitable<void> crowd_launcher(tcp::endpoint ep, crowd& c) {
  asio::steady_timer pace(co_await asio::this_coro::executor);
  for (int i = 0; i < c.target; ++i) {
    // At most 256 handshakes in flight: a burst of 5,000 SYNs would overflow the listen
    // backlog and cost 1 s retransmissions, which is not what this test is about.
    while (c.in_flight >= 256) {
      pace.expires_after(1ms);
      co_await pace.async_wait(asio::use_awaitable);
    }
    ++c.in_flight;
    asio::co_spawn(co_await asio::this_coro::executor, crowd_member(ep, i, c), asio::detached);
  }
}

#ifndef _WIN32  // RLIMIT_NOFILE (doc/platforms.md)
BOOST_AUTO_TEST_CASE(five_thousand_concurrent_connections, *boost::unit_test::timeout(60)) {
  const int n = 5000 / zokio::test::stress_divisor;
  const rlim_t needed = 2 * static_cast<rlim_t>(n) + 256;  // both ends are in this process
  nofile_guard limit;
  if (limit.saved().rlim_max != RLIM_INFINITY && limit.saved().rlim_max < needed) {
    BOOST_TEST_MESSAGE("RLIMIT_NOFILE hard limit " << limit.saved().rlim_max << " < " << needed
                                                   << ": skipping the crowd");
    BOOST_TEST(limit.saved().rlim_max < needed);
    return;
  }
  if (limit.saved().rlim_cur < needed) BOOST_REQUIRE(limit.set_soft(needed));
  BOOST_REQUIRE(nofile_guard::soft_now() >= needed);

  server_stats st;
  const int fds_before = count_open_fds();
  auto start = clk::now();
  {
    auto rt = make_runtime(4);
    tcp::endpoint ep = start_on_zokio(rt, st);
    asio::io_context io;
    crowd c;
    c.target = n;
    c.all_connected.emplace(io, clk::time_point::max());
    c.all_tripped.emplace(io, clk::time_point::max());
    asio::co_spawn(io, crowd_launcher(ep, c), asio::detached);
    io.run_for(45s);
    BOOST_TEST(c.failed == 0, "first error: " << c.first_error);
    BOOST_TEST(c.connected == n);
    BOOST_TEST(c.ok == n);
    BOOST_TEST(st.accepted.load() == n);
    BOOST_TEST(st.peak.load() == n);  // all of them open on the server at once
    BOOST_TEST(st.accept_errors.load() == 0);
    c.all_connected.reset();
    c.all_tripped.reset();
    // io's coroutines are done and their sockets closed: every session ends.
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 0; }, 20000ms));
  }
  BOOST_TEST(fds_back_to(fds_before));
  BOOST_TEST_MESSAGE(n << " connections in " << ms_since(start, clk::now()) << " ms");
}
#endif  // _WIN32

// A client that writes and never reads: the server's echo write blocks (a plain echo loop
// buffers one read's worth, never more), so the client soon cannot write either, and the
// server keeps serving everybody else.
BOOST_AUTO_TEST_CASE(client_that_never_reads, *boost::unit_test::timeout(60)) {
  server_stats st;
  const int fds_before = count_open_fds();
  {
    auto rt = make_runtime(2);
    tcp::endpoint ep = start_on_zokio(rt, st);
    asio::io_context io;
    auto bystanders = connect_n(io, ep, 4);

    tcp::socket hog(io);
    hog.connect(ep);
    hog.non_blocking(true);
    const std::string chunk = payload(7, 7, 64 * 1024);
    std::size_t written = 0;
    auto last_progress = clk::now();
    const auto give_up = clk::now() + 20s;
    // Write until 300 ms pass without the kernel taking a byte (or 256 MiB: unbounded).
    while (clk::now() - last_progress < 300ms && written < (std::size_t{256} << 20) &&
           clk::now() < give_up) {
      boost::system::error_code ec;
      std::size_t n = hog.write_some(asio::buffer(chunk), ec);
      if (n) {
        written += n;
        last_progress = clk::now();
      } else if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(1ms);
      } else {
        BOOST_FAIL("hog write failed: " << ec.message());
      }
    }
    BOOST_TEST_MESSAGE("the never-reading client got " << (written >> 10)
                                                       << " KiB into the socket buffers");
    // Bounded by the kernel's socket buffers (both ends), not growing with time.
    BOOST_TEST(written < (std::size_t{64} << 20));
    BOOST_TEST(st.live.load() == 5);

    // Meanwhile: the others are served, and new clients are accepted and served.
    for (int round = 0; round < 5; ++round) BOOST_TEST(bystanders_served(io, bystanders, round));
    auto newcomers = connect_n(io, ep, 4);
    BOOST_TEST(bystanders_served(io, newcomers, 99));
    // Still stuck: nothing much more goes in (the server did not drain the hog into memory).
    std::size_t more = 0;
    for (auto until = clk::now() + 100ms; clk::now() < until;) {
      boost::system::error_code ec;
      more += hog.write_some(asio::buffer(chunk), ec);
      std::this_thread::sleep_for(5ms);
    }
    BOOST_TEST(more < (std::size_t{1} << 20));

    // Reset the hog: its session's pending write fails and the session ends.
    hog.set_option(asio::socket_base::linger(true, 0));
    hog.close();
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 8; }));
    bystanders.clear();
    newcomers.clear();
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 0; }));
  }
  BOOST_TEST(fds_back_to(fds_before));
}

#ifndef _WIN32  // no per-process descriptor limit to exhaust on Windows
// accept() failing with EMFILE: the accept loop backs off and retries, the connected clients
// keep being served, and the queued connections are accepted once descriptors are free.
BOOST_AUTO_TEST_CASE(accept_fails_with_emfile_then_recovers, *boost::unit_test::timeout(60)) {
  nofile_guard limit;
  server_stats st;
  const int fds_before = count_open_fds();
  {
    auto rt = make_runtime(2);
    tcp::endpoint ep = start_on_zokio(rt, st);
    asio::io_context io;
    auto bystanders = connect_n(io, ep, 8);
    BOOST_TEST(bystanders_served(io, bystanders, 0));
    BOOST_REQUIRE(zokio::test::wait_until([&] { return st.accepted.load() == 8; }));

    // Sockets for the clients that will arrive while no descriptor is left: opened now,
    // connected later (connect needs no new descriptor; the server's accept does).
    std::vector<tcp::socket> late;
    for (int i = 0; i < 4; ++i) late.emplace_back(io, tcp::v4());

    // No descriptor left: lower the soft limit to just above the highest one in use and fill
    // the holes below it.
    BOOST_REQUIRE(limit.set_soft(static_cast<rlim_t>(highest_open_fd()) + 1));
    std::vector<int> fillers;
    for (;;) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        BOOST_TEST(errno == EMFILE);
        break;
      }
      fillers.push_back(fd);
    }
    const auto exhausted_at = clk::now();
    for (auto& s : late) {
      s.connect(ep);  // completed by the kernel, queued in the backlog
      s.set_option(tcp::no_delay(true));
    }
    BOOST_TEST(zokio::test::wait_until([&] { return st.accept_errors.load() >= 3; }, 5000ms));
    BOOST_TEST(st.last_accept_error.load() == EMFILE);
    // The already-connected clients are served while accept keeps failing (for 200 ms).
    const int errors_then = st.accept_errors.load();
    int rounds = 0;
    for (auto until = clk::now() + 200ms; clk::now() < until;)
      BOOST_TEST(bystanders_served(io, bystanders, ++rounds));
    BOOST_TEST(st.accepted.load() == 8);
    BOOST_TEST(st.accept_errors.load() > errors_then);  // still retrying: the loop did not exit

    // Free descriptors: the backlog is accepted within a few backoff periods.
    for (int fd : fillers) ::close(fd);
    limit.restore();
    const auto freed_at = clk::now();
    const int errors = st.accept_errors.load();
    BOOST_TEST(zokio::test::wait_until([&] { return st.accepted.load() == 12; }, 5000ms));
    BOOST_TEST_MESSAGE("accept failed " << errors << " times in "
                                        << ms_since(exhausted_at, freed_at)
                                        << " ms without descriptors (" << rounds
                                        << " bystander rounds served); recovered in "
                                        << ms_since(freed_at, clk::now()) << " ms");
    // Backoff, not a hot loop: about one attempt per 20 ms pause.
    BOOST_TEST(errors <= ms_since(exhausted_at, freed_at) / 20 + 5);
    BOOST_TEST(bystanders_served(io, late, 0));
    BOOST_TEST(bystanders_served(io, bystanders, ++rounds));
    late.clear();
    bystanders.clear();
    BOOST_TEST(zokio::test::wait_until([&] { return st.live.load() == 0; }));
  }
  BOOST_TEST(fds_back_to(fds_before));
  BOOST_TEST(nofile_guard::soft_now() == limit.saved().rlim_cur);
}
#endif  // _WIN32

BOOST_AUTO_TEST_SUITE_END()
