// perf_tcp_program: one whole Asio program, TCP client and server in the same process on the
// runtime under test, with Zokio as a *plain swap* (issue 11, benchmark b).
//
// The program is written once, as an Asio user writes it (C++20 coroutines, use_awaitable,
// one executor passed everywhere: acceptor, accepted sockets, client sockets, co_spawn). The
// only difference between setups is the executor it is given:
//   zokio             zokio::runtime (2 workers), rt.get_executor(): the one-line swap
//   asio thread_pool  asio::thread_pool(2)
//   asio 1ctx/2thr    one io_context run by 2 threads
//   asio ctx/thread   two io_contexts (concurrency hint 1), one thread each; `next()` hands
//                     out their executors alternately (the hand-placed best case; for every
//                     other setup `next()` returns the same executor every time)
//
// Workloads (every byte is checked):
//   round_trips  50 connections x 2,000 round trips of 64 B
//   bulk         8 connections, each echoing ZOKIO_BULK_MIB MiB (default 1024: 8 GiB in all)
//                written in 64 KiB pieces while the echo is read back
//
// Besides wall time it prints the process's CPU time (user + sys, getrusage) per round trip and
// per MiB echoed: client and server share the 2 cpus, so CPU per unit of work is the figure
// that machine noise moves least.
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr unsigned kThreads = 2;
constexpr int kRtConns = 50, kRtBytes = 64;
int rt_trips = 2000;  // round trips per connection (--quick: 200)
constexpr int kBulkConns = 8;
constexpr std::size_t kBulkChunk = 64 * 1024;

std::size_t bulk_per_conn() {
  const char* e = std::getenv("ZOKIO_BULK_MIB");
  long mib = e ? std::atol(e) : 1024;
  return static_cast<std::size_t>(mib > 0 ? mib : 1024) << 20;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// ---------------------------------------------------------------------------------------------
// The program: plain Asio, identical for every setup.

using next_fn = std::function<asio::any_io_executor()>;

asio::awaitable<void> echo(tcp::socket s) {
  std::vector<char> buf(kBulkChunk);
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

asio::awaitable<void> listener(tcp::acceptor& acc, next_fn next) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(next(), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    s.set_option(tcp::no_delay(true));
    auto ex = s.get_executor();
    asio::co_spawn(ex, echo(std::move(s)), asio::detached);
  }
}

struct client_done {
  std::atomic<int> left;
  std::atomic<long> bad{0};
  bench::event done;
  explicit client_done(int n) : left(n) {}
  void finish(bool ok) {
    if (!ok) bad++;
    if (--left == 0) done.set();
  }
};

asio::awaitable<void> round_trip_client(tcp::endpoint ep, int id, client_done* d) {
  tcp::socket s(co_await asio::this_coro::executor);
  bool ok = true;
  try {
    co_await s.async_connect(ep, asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    std::array<unsigned char, kRtBytes> out{}, in{};
    for (int t = 0; t < rt_trips && ok; ++t) {
      for (int i = 0; i < kRtBytes; ++i) out[i] = static_cast<unsigned char>(id + t + i);
      co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
      co_await asio::async_read(s, asio::buffer(in), asio::use_awaitable);
      ok = in == out;
    }
  } catch (...) {
    ok = false;
  }
  d->finish(ok);
}

asio::awaitable<void> bulk_writer(tcp::socket& s, std::size_t total) {
  std::vector<unsigned char> out(kBulkChunk);
  for (std::size_t k = 0; k < kBulkChunk; ++k) out[k] = static_cast<unsigned char>(k % 251);
  for (std::size_t sent = 0; sent < total; sent += kBulkChunk)
    co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
}

asio::awaitable<bool> bulk_reader(tcp::socket& s, std::size_t total) {
  std::vector<unsigned char> in(kBulkChunk);
  bool ok = true;
  for (std::size_t got = 0; got < total;) {
    std::size_t n = co_await s.async_read_some(asio::buffer(in), asio::use_awaitable);
    // Every byte written is (offset % 64 KiB % 251): check the echo at its stream offset.
    for (std::size_t i = 0; i < n; i += 4096)
      ok = ok && in[i] == static_cast<unsigned char>((got + i) % kBulkChunk % 251);
    got += n;
  }
  co_return ok;
}

asio::awaitable<void> bulk_client(tcp::endpoint ep, std::size_t total, client_done* d) {
  tcp::socket s(co_await asio::this_coro::executor);
  bool ok = false;
  try {
    co_await s.async_connect(ep, asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    ok = co_await (bulk_writer(s, total) && bulk_reader(s, total));
  } catch (...) {
    ok = false;
  }
  d->finish(ok);
}

/// The program's state: an acceptor made from the first executor, the listener spawned on it.
struct program {
  next_fn next;
  std::unique_ptr<tcp::acceptor> acc;
  tcp::endpoint ep;
  explicit program(next_fn n) : next(std::move(n)) {
    acc = std::make_unique<tcp::acceptor>(next(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    ep = acc->local_endpoint();
    asio::co_spawn(acc->get_executor(), listener(*acc, next), asio::detached);
  }
  void round_trips() {
    client_done d(kRtConns);
    for (int i = 0; i < kRtConns; ++i) asio::co_spawn(next(), round_trip_client(ep, i, &d), asio::detached);
    d.done.wait();
    bench::check_eq(d.bad.load(), 0L, "round_trips: bad echoes");
  }
  void bulk() {
    client_done d(kBulkConns);
    std::size_t total = bulk_per_conn();
    for (int i = 0; i < kBulkConns; ++i) asio::co_spawn(next(), bulk_client(ep, total, &d), asio::detached);
    d.done.wait();
    bench::check_eq(d.bad.load(), 0L, "bulk: bad echoes");
  }
  void close() {
    std::atomic<bool> closed{false};
    asio::post(acc->get_executor(), [&] {
      acc->close();
      closed = true;
    });
    while (!closed) std::this_thread::yield();
  }
};

// ---------------------------------------------------------------------------------------------
// Setups: what the program is given.

struct setup {
  virtual ~setup() = default;
  std::unique_ptr<program> prog;
};

struct zokio_setup : setup {
  zokio::runtime rt{zokio::runtime::builder().worker_threads(kThreads).build()};
  zokio_setup() {
    asio::any_io_executor ex = rt.get_executor();  // the one-line swap
    prog = std::make_unique<program>([ex] { return ex; });
  }
  ~zokio_setup() override {
    prog->close();
    rt.shutdown();
  }
};

struct pool_setup : setup {
  asio::thread_pool pool{kThreads};
  pool_setup() {
    asio::any_io_executor ex = pool.get_executor();
    prog = std::make_unique<program>([ex] { return ex; });
  }
  ~pool_setup() override {
    prog->close();
    pool.stop();
    pool.join();
  }
};

struct one_ctx_setup : setup {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::vector<std::thread> threads;
  one_ctx_setup() {
    asio::any_io_executor ex = io.get_executor();
    prog = std::make_unique<program>([ex] { return ex; });
    for (unsigned i = 0; i < kThreads; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~one_ctx_setup() override {
    prog->close();
    io.stop();
    for (auto& t : threads) t.join();
  }
};

struct ctx_per_thread_setup : setup {
  // Concurrency hint 1: each io_context is run by one thread (Asio's advice for this layout).
  std::array<asio::io_context, kThreads> ios{asio::io_context(1), asio::io_context(1)};
  std::vector<std::thread> threads;
  std::atomic<unsigned> n{0};
  ctx_per_thread_setup() {
    prog = std::make_unique<program>([this]() -> asio::any_io_executor {
      return ios[n.fetch_add(1, std::memory_order_relaxed) % kThreads].get_executor();
    });
    for (auto& io : ios) threads.emplace_back([&io] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  ~ctx_per_thread_setup() override {
    prog->close();
    for (auto& io : ios) io.stop();
    for (auto& t : threads) t.join();
  }
};

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, {"round_trips", "bulk"});
  if (opts.quick) rt_trips = 200;
  opts.timeout_s = std::max(opts.timeout_s, 300.0);
  const std::size_t per_conn = bulk_per_conn();
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
  const char* backend = "io_uring";
#else
  const char* backend = "epoll";
#endif
  std::printf("perf_tcp_program: client and server in one Asio program on the runtime under test "
              "(Zokio as a plain swap), sockets on %s, %u threads, %u samples\n", backend, kThreads,
              opts.samples);
  std::printf("sizes: round_trips %d conns x %d x %d B; bulk %d conns x %zu MiB in %zu KiB writes\n",
              kRtConns, rt_trips, kRtBytes, kBulkConns, per_conn >> 20, kBulkChunk / 1024);
  std::fflush(stdout);

  std::vector<std::pair<std::string, std::unique_ptr<setup>>> setups;
  auto add = [&](const char* n, auto make) {
    if (opts.setup_selected(n)) setups.emplace_back(n, make());
  };
  add("zokio", [] { return std::make_unique<zokio_setup>(); });
  add("asio thread_pool", [] { return std::make_unique<pool_setup>(); });
  add("asio 1ctx/2thr", [] { return std::make_unique<one_ctx_setup>(); });
  add("asio ctx/thread", [] { return std::make_unique<ctx_per_thread_setup>(); });

  // CPU seconds per run, by (workload, setup): the runner times wall clock only.
  std::map<std::pair<std::string, std::string>, std::vector<double>> cpu;
  bench::runner r;
  for (auto& [n, s] : setups) {
    program* p = s->prog.get();
    std::string name = n;
    r.add("round_trips", n, [p, name, &cpu] {
      double c0 = cpu_seconds();
      p->round_trips();
      cpu[{"round_trips", name}].push_back(cpu_seconds() - c0);
    });
    r.add("bulk", n, [p, name, &cpu] {
      double c0 = cpu_seconds();
      p->bulk();
      cpu[{"bulk", name}].push_back(cpu_seconds() - c0);
    });
  }
  bool ok = r.run(opts);

  const double units[] = {double(kRtConns) * rt_trips, double(kBulkConns) * double(per_conn >> 20)};
  const char* unit_names[] = {"round trip", "MiB"};
  const char* workloads[] = {"round_trips", "bulk"};
  for (int w = 0; w < 2; ++w) {
    if (!opts.selected(workloads[w])) continue;
    std::printf("\n== %s (wall time per run)\n", workloads[w]);
    r.print_table(workloads[w]);
    // Ratios against each Asio setup and the best of them (> 1: Zokio is faster / cheaper).
    const bench::summary* z = r.result(workloads[w], "zokio");
    double best_wall = 0, best_cpu = 0;
    std::printf("  %-18s %14s %16s\n", "setup", "throughput", (std::string("cpu us/") + unit_names[w]).c_str());
    std::map<std::string, double> cpu_med;
    for (auto& [n, s] : setups) {
      const bench::summary* x = r.result(workloads[w], n);
      if (!x) continue;
      auto c = bench::summarize(cpu[{workloads[w], n}]);
      cpu_med[n] = c.median / units[w] * 1e6;
      double thr = units[w] / x->median;
      std::printf("  %-18s %12.0f/s %16.3f\n", n.c_str(), thr, cpu_med[n]);
      if (n != "zokio") {
        best_wall = best_wall == 0 ? x->median : std::min(best_wall, x->median);
        best_cpu = best_cpu == 0 ? cpu_med[n] : std::min(best_cpu, cpu_med[n]);
      }
    }
    if (z && best_wall > 0) {
      for (auto& [n, s] : setups) {
        const bench::summary* x = r.result(workloads[w], n);
        if (n == "zokio" || !x) continue;
        std::printf("  zokio vs %-16s throughput %.2fx, cpu/%s %.2fx\n", n.c_str(), x->median / z->median,
                    unit_names[w], cpu_med["zokio"] / cpu_med[n]);
      }
      std::printf("  zokio vs best asio:      throughput %.2fx (target >= 1.0), cpu/%s %.2fx (target <= 1.0)\n",
                  best_wall / z->median, unit_names[w], cpu_med["zokio"] / best_cpu);
    }
  }
  return ok ? 0 : 1;
}
