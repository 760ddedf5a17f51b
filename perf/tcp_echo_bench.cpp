// perf_tcp_echo: a TCP echo server on Zokio against the same server on plain Boost.Asio.
//
// Workloads (the client checks every byte it gets back):
//   round_trips  50 connections x 2,000 round trips of 64 bytes
//   bulk         8 connections echo 1 GiB in all, written in 64 KiB pieces
//
// Server setups, 2 threads each, one server coroutine code for all (an asio::awaitable
// session: read_some then write, as an Asio user writes it), only the executor differs:
//   zokio            zokio::runtime defaults; accepted sockets spread over the workers
//   asio thread_pool asio::thread_pool(2)
//   asio 1ctx/2thr   one io_context run by 2 threads
//   asio 2ctx        two io_contexts, one thread each, connections alternate
// The client is the same for all: one io_context on one thread, callbacks.
//
// Backend: this file is built twice. perf_tcp_echo uses the project's default (sockets on
// epoll, io_uring for files); perf_tcp_echo_uring adds BOOST_ASIO_DISABLE_EPOLL so that
// sockets go through Asio's io_uring backend too. perf/tcp_echo.sh runs both, interleaved.
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <zokio/thread_per_core.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr unsigned kThreads = 2;
constexpr int kRtConns = 50, kRtBytes = 64;
int rt_trips = 2000;  // round trips per connection (--quick: 200)
constexpr int kBulkConns = 8;
constexpr std::size_t kBulkChunk = 64 * 1024;
constexpr std::size_t kBulkPerConn = (std::size_t{1} << 30) / kBulkConns;  // 128 MiB

#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
constexpr const char* kBackend = "io_uring";
constexpr const char* kPrefix = "uring: ";
#else
constexpr const char* kBackend = "epoll";
constexpr const char* kPrefix = "";
#endif

// ---------------------------------------------------------------------------------------------
// The server: one coroutine for every setup.

asio::awaitable<void> session(tcp::socket s) {
  std::vector<char> buf(kBulkChunk);
  boost::system::error_code ec;
  for (;;) {
    std::size_t n =
        co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await asio::async_write(s, asio::buffer(buf.data(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

/// Accepts forever; `pick()` gives the executor (and so the io_context) of each new socket.
template <class Pick>
asio::awaitable<void> accept_loop(tcp::acceptor& acc, Pick pick) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acc.async_accept(pick(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    s.set_option(tcp::no_delay(true));
    auto ex = s.get_executor();
    asio::co_spawn(ex, session(std::move(s)), asio::detached);
  }
}

struct server {
  virtual ~server() = default;
  tcp::endpoint endpoint;
};

struct zokio_server : server {
  zokio::runtime rt{zokio::runtime::builder().worker_threads(kThreads).build()};
  std::unique_ptr<tcp::acceptor> acc;
  std::atomic<unsigned> next{0};
  zokio_server() {
    auto ex = rt.get_executor().with_home(0);
    acc = std::make_unique<tcp::acceptor>(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    endpoint = acc->local_endpoint();
    asio::co_spawn(ex,
                   accept_loop(*acc, [this, ex] {
                     return ex.with_home(next.fetch_add(1, std::memory_order_relaxed));
                   }),
                   asio::detached);
  }
  ~zokio_server() override {
    asio::post(acc->get_executor(), [this] { acc->close(); });
    rt.shutdown();
  }
};

// Zokio's thread-per-core flavour: 2 shards (pinned, or not: the client shares the 2 cpus), the acceptor on shard 0, each accepted
// socket (and its session) on the next shard in turn, where it stays.
struct tpc_server : server {
  zokio::thread_per_core tpc;
  std::unique_ptr<tcp::acceptor> acc;
  unsigned next = 0;  // only the accept loop (on shard 0) touches it
  explicit tpc_server(bool pin) : tpc(zokio::thread_per_core::builder().shards(kThreads).pin(pin).build()) {
    auto ex = tpc.shard(0).get_executor();
    acc = std::make_unique<tcp::acceptor>(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    endpoint = acc->local_endpoint();
    asio::co_spawn(ex, accept_loop(*acc, [this] { return tpc.shard(next++ % kThreads).get_executor(); }),
                   asio::detached);
  }
  ~tpc_server() override {
    asio::post(acc->get_executor(), [this] { acc->close(); });
    for (unsigned i = kThreads; i-- > 0;) tpc.shard(i).shutdown();
  }
};

struct pool_server : server {
  asio::thread_pool pool{kThreads};
  tcp::acceptor acc{pool, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  pool_server() {
    endpoint = acc.local_endpoint();
    asio::co_spawn(pool, accept_loop(acc, [this] { return pool.get_executor(); }), asio::detached);
  }
  ~pool_server() override {
    pool.stop();
    pool.join();
  }
};

struct one_ctx_server : server {
  asio::io_context io;
  tcp::acceptor acc{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::vector<std::thread> threads;
  one_ctx_server() {
    endpoint = acc.local_endpoint();
    asio::co_spawn(io, accept_loop(acc, [this] { return io.get_executor(); }), asio::detached);
    for (unsigned i = 0; i < kThreads; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~one_ctx_server() override {
    io.stop();
    for (auto& t : threads) t.join();
  }
};

struct two_ctx_server : server {
  std::array<asio::io_context, kThreads> ios;
  tcp::acceptor acc{ios[0], tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::vector<std::thread> threads;
  unsigned next = 0;  // only the accept loop (on ios[0]) touches it
  two_ctx_server() {
    endpoint = acc.local_endpoint();
    asio::co_spawn(ios[0],
                   accept_loop(acc, [this] { return ios[next++ % kThreads].get_executor(); }),
                   asio::detached);
    for (auto& io : ios) threads.emplace_back([&io] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  ~two_ctx_server() override {
    for (auto& io : ios) io.stop();
    for (auto& t : threads) t.join();
  }
};

// ---------------------------------------------------------------------------------------------
// The client: one io_context, one thread, callbacks; identical for every server.

struct client {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::thread th{[this] { io.run(); }};
  ~client() {
    guard.reset();
    io.stop();
    th.join();
  }

  std::vector<std::unique_ptr<tcp::socket>> connect(const tcp::endpoint& ep, int n) {
    std::vector<std::unique_ptr<tcp::socket>> v;
    for (int i = 0; i < n; ++i) {
      auto s = std::make_unique<tcp::socket>(io);
      s->connect(ep);
      s->set_option(tcp::no_delay(true));
      v.push_back(std::move(s));
    }
    return v;
  }

  struct rt_conn {
    tcp::socket* s;
    int id, left;
    std::array<unsigned char, kRtBytes> out{}, in{};
  };

  void round_trips(const tcp::endpoint& ep) {
    auto socks = connect(ep, kRtConns);
    std::vector<rt_conn> conns(kRtConns);
    std::atomic<int> remaining{kRtConns};
    std::atomic<long> bad{0};
    bench::event done;
    std::function<void(rt_conn&)> trip = [&](rt_conn& c) {
      for (int i = 0; i < kRtBytes; ++i) c.out[i] = static_cast<unsigned char>(c.id + c.left + i);
      asio::async_write(*c.s, asio::buffer(c.out), [&, pc = &c](boost::system::error_code ec, std::size_t) {
        if (ec) {
          bad++;
          if (--remaining == 0) done.set();
          return;
        }
        asio::async_read(*pc->s, asio::buffer(pc->in), [&, pc](boost::system::error_code ec2, std::size_t) {
          if (ec2 || pc->in != pc->out) bad++;
          if (ec2 || --pc->left == 0) {
            if (--remaining == 0) done.set();
            return;
          }
          trip(*pc);
        });
      });
    };
    for (int i = 0; i < kRtConns; ++i) {
      conns[i] = rt_conn{socks[i].get(), i, rt_trips};
      asio::post(io, [&, i] { trip(conns[i]); });
    }
    done.wait();
    bench::check_eq(bad.load(), 0L, "round_trips: bad echoes");
    asio::post(io, [&] { socks.clear(); });  // close on the client thread
    while (!socks.empty()) std::this_thread::yield();
  }

  struct bulk_conn {
    tcp::socket* s;
    std::size_t sent = 0, got = 0;
    std::vector<unsigned char> out = std::vector<unsigned char>(kBulkChunk);
    std::vector<unsigned char> in = std::vector<unsigned char>(kBulkChunk);
  };

  void bulk(const tcp::endpoint& ep) {
    auto socks = connect(ep, kBulkConns);
    std::vector<bulk_conn> conns(kBulkConns);
    std::atomic<int> remaining{kBulkConns};
    std::atomic<long> bad{0};
    bench::event done;
    std::function<void(bulk_conn&)> write_more, read_more;
    write_more = [&](bulk_conn& c) {
      if (c.sent == kBulkPerConn) return;
      asio::async_write(*c.s, asio::buffer(c.out), [&, pc = &c](boost::system::error_code ec, std::size_t n) {
        if (ec) return;
        pc->sent += n;
        write_more(*pc);
      });
    };
    read_more = [&](bulk_conn& c) {
      c.s->async_read_some(asio::buffer(c.in), [&, pc = &c](boost::system::error_code ec, std::size_t n) {
        if (ec) {
          bad++;
          if (--remaining == 0) done.set();
          return;
        }
        // Every byte written is (offset % 251): check the echo at its stream offset.
        for (std::size_t i = 0; i < n; i += 4096)
          if (pc->in[i] != static_cast<unsigned char>((pc->got + i) % kBulkChunk % 251)) bad++;
        pc->got += n;
        if (pc->got == kBulkPerConn) {
          if (--remaining == 0) done.set();
          return;
        }
        read_more(*pc);
      });
    };
    for (int i = 0; i < kBulkConns; ++i) {
      conns[i].s = socks[i].get();
      for (std::size_t k = 0; k < kBulkChunk; ++k) conns[i].out[k] = static_cast<unsigned char>(k % 251);
      asio::post(io, [&, i] {
        write_more(conns[i]);
        read_more(conns[i]);
      });
    }
    done.wait();
    bench::check_eq(bad.load(), 0L, "bulk: bad echoes");
    asio::post(io, [&] { socks.clear(); });
    while (!socks.empty()) std::this_thread::yield();
  }
};

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, {"round_trips", "bulk"});
  if (opts.quick) rt_trips = 200;
  opts.timeout_s = std::max(opts.timeout_s, 120.0);
  std::printf("perf_tcp_echo: Zokio vs plain Asio, sockets on %s, %u server threads, "
              "%u samples\n", kBackend, kThreads, opts.samples);
  std::printf("sizes: round_trips %d conns x %d x %d B; bulk %d conns, 1 GiB in %zu KiB writes\n",
              kRtConns, rt_trips, kRtBytes, kBulkConns, kBulkChunk / 1024);
  std::fflush(stdout);

  client cl;
  std::vector<std::pair<std::string, std::unique_ptr<server>>> servers;
  auto name = [](const char* n) { return std::string(kPrefix) + n; };
  servers.emplace_back(name("zokio"), std::make_unique<zokio_server>());
  servers.emplace_back(name("zokio tpc"), std::make_unique<tpc_server>(true));
  servers.emplace_back(name("zokio tpc unpinned"), std::make_unique<tpc_server>(false));
  servers.emplace_back(name("asio thread_pool"), std::make_unique<pool_server>());
  servers.emplace_back(name("asio 1ctx/2thr"), std::make_unique<one_ctx_server>());
  servers.emplace_back(name("asio 2ctx"), std::make_unique<two_ctx_server>());

  bench::runner r;
  for (auto& [n, s] : servers) {
    auto ep = s->endpoint;
    r.add("round_trips", n, [&cl, ep] { cl.round_trips(ep); });
    r.add("bulk", n, [&cl, ep] { cl.bulk(ep); });
  }
  bool ok = r.run(opts);
  for (auto w : {"round_trips", "bulk"})
    if (opts.selected(w)) {
      std::printf("\n== %s\n", w);
      r.print_table(w);
    }

  return ok ? 0 : 1;
}
