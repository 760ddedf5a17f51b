// perf_fiber: Zokio fibers (zokio::spawn_fiber, Boost.Context, pooled stacks) against Asio's
// stackful coroutines (asio::spawn on Boost.Context), 2 worker threads each.
//
// Workloads (each checks its own counts; a wrong count makes the process exit non-zero):
//   yield_one    one fiber yields 100,000 times: the bare switch cost (fiber -> scheduler ->
//                fiber), nothing else runnable. Zokio: this_fiber::yield(); Asio:
//                asio::post(yield).
//   yield_many   1,000 fibers x 100 yields (the same with a full run queue: stacks and
//                queue entries no longer stay in cache, and work is shared by 2 threads).
//   ping_pong    two fibers hand a token back and forth 1,000 times (a switch plus a wake on
//                each side). Zokio: this_fiber::await on a perf::signal; Asio: a zero-capacity
//                experimental::concurrent_channel, async_send / async_receive with yield.
//   spawn_many   10,000 fibers that return at once (stack acquisition + first switch).
//
// Setups: "zokio"   a zokio::runtime with 2 workers;
//         "spawn: pool"  asio::spawn on asio::thread_pool(2);
//         "spawn: 1ctx"  asio::spawn on one io_context run by 2 threads.
// asio::spawn gets a strand-free executor, as Zokio fibers get none: each coroutine is only
// ever resumed by one completion at a time. Stacks: Zokio 256 KiB guarded, pooled; Asio its
// default (boost::context::default_stack, 128 KiB from malloc, per coroutine).
//
// Timed region: spawning the fibers, the workload, and waking the main thread (Zokio:
// rt.block_on on a perf::signal; Asio: bench::event, a futex). Zokio's fibers are spawned by
// a root fiber on a worker, as perf_scheduler's root task does; Asio's from the main thread
// (asio::spawn from inside a coroutine goes to the same shared queue).
//
// Usage: perf_fiber [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING] [--timeout S]
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/version.hpp>

#include <zokio/fiber.hpp>
#include <zokio/runtime.hpp>

#include "bench.hpp"
#include "signal.hpp"

namespace asio = boost::asio;

namespace {

constexpr unsigned kThreads = 2;
constexpr std::size_t kFibers = 1000, kYields = 100, kRoundTrips = 1000, kSpawns = 10000;
constexpr std::size_t kOneYields = 100000;
const std::vector<std::string> kWorkloads = {"yield_one", "yield_many", "ping_pong",
                                             "spawn_many"};
const std::string kZokio = "zokio";
const std::vector<std::string> kAsioSetups = {"spawn: pool", "spawn: 1ctx"};

// --- Zokio -----------------------------------------------------------------------------------

struct zokio_setup {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(kThreads).build();
  perf::signal done;
  std::atomic<std::size_t> left{0};
  perf::signal to_a, to_b;
  std::size_t a_rounds = 0, b_rounds = 0;

  void finish_one() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify();
  }
  void wait_done() { rt.block_on(done.wait()); }

  void yield_one() {
    rt.block_on(rt.spawn_fiber([] {
      for (std::size_t k = 0; k < kOneYields; ++k) zokio::this_fiber::yield();
    }));
  }
  void yield_many() {
    done.reset();
    left.store(kFibers, std::memory_order_relaxed);
    // A root fiber spawns them (onto its worker's queue, from where the other worker steals),
    // as perf_scheduler's root task does.
    rt.spawn_fiber([this] {
        for (std::size_t i = 0; i < kFibers; ++i)
          zokio::spawn_fiber([this] {
            for (std::size_t k = 0; k < kYields; ++k) zokio::this_fiber::yield();
            finish_one();
          }).detach();
      }).detach();
    wait_done();
  }
  void ping_pong() {
    done.reset();
    to_a.reset();
    to_b.reset();
    a_rounds = b_rounds = 0;
    left.store(2, std::memory_order_relaxed);
    // The root joins both, as perf_scheduler's ping_pong root does.
    rt.block_on(rt.spawn_fiber([this] {
      auto a = zokio::spawn_fiber([this] {
        for (std::size_t i = 0; i < kRoundTrips; ++i) {
          to_b.notify();
          zokio::this_fiber::await(to_a.wait());
          ++a_rounds;
        }
      });
      auto b = zokio::spawn_fiber([this] {
        for (std::size_t i = 0; i < kRoundTrips; ++i) {
          zokio::this_fiber::await(to_b.wait());
          ++b_rounds;
          to_a.notify();
        }
      });
      zokio::this_fiber::await(std::move(a));
      zokio::this_fiber::await(std::move(b));
    }));
    bench::check_eq(a_rounds, kRoundTrips, "ping_pong: round trips seen by A");
    bench::check_eq(b_rounds, kRoundTrips, "ping_pong: round trips seen by B");
  }
  void spawn_many() {
    done.reset();
    left.store(kSpawns, std::memory_order_relaxed);
    rt.spawn_fiber([this] {
        for (std::size_t i = 0; i < kSpawns; ++i)
          zokio::spawn_fiber([this] { finish_one(); }).detach();
      }).detach();
    wait_done();
  }
};

// --- Asio ------------------------------------------------------------------------------------

struct pool_env {
  asio::thread_pool pool{kThreads};
  auto executor() { return pool.get_executor(); }
  void stop() {
    pool.stop();
    pool.join();
  }
};
struct one_ctx_env {
  asio::io_context io{static_cast<int>(kThreads)};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::vector<std::thread> threads;
  one_ctx_env() {
    for (unsigned i = 0; i < kThreads; ++i) threads.emplace_back([this] { io.run(); });
  }
  auto executor() { return io.get_executor(); }
  void stop() {
    guard.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }
};

template <class Env>
struct asio_setup {
  using channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;
  Env env;
  bench::event done;
  std::atomic<std::size_t> left{0};
  std::unique_ptr<channel> to_a, to_b;
  std::size_t a_rounds = 0, b_rounds = 0;

  ~asio_setup() {
    to_a.reset();
    to_b.reset();
    env.stop();
  }
  void finish_one() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set();
  }

  void yield_one() {
    done.reset();
    left.store(1, std::memory_order_relaxed);
    auto ex = env.executor();
    asio::spawn(
        ex,
        [this, ex](asio::yield_context y) {
          for (std::size_t k = 0; k < kOneYields; ++k) asio::post(ex, y);
          finish_one();
        },
        asio::detached);
    done.wait();
  }
  void yield_many() {
    done.reset();
    left.store(kFibers, std::memory_order_relaxed);
    auto ex = env.executor();
    for (std::size_t i = 0; i < kFibers; ++i)
      asio::spawn(
          ex,
          [this, ex](asio::yield_context y) {
            for (std::size_t k = 0; k < kYields; ++k) asio::post(ex, y);
            finish_one();
          },
          asio::detached);
    done.wait();
  }
  void ping_pong() {
    done.reset();
    auto ex = env.executor();
    if (!to_a) {
      to_a = std::make_unique<channel>(ex, 0);
      to_b = std::make_unique<channel>(ex, 0);
    }
    a_rounds = b_rounds = 0;
    left.store(2, std::memory_order_relaxed);
    asio::spawn(
        ex,
        [this](asio::yield_context y) {
          for (std::size_t i = 0; i < kRoundTrips; ++i) {
            to_b->async_send(boost::system::error_code{}, y);
            to_a->async_receive(y);
            ++a_rounds;
          }
          finish_one();
        },
        asio::detached);
    asio::spawn(
        ex,
        [this](asio::yield_context y) {
          for (std::size_t i = 0; i < kRoundTrips; ++i) {
            to_b->async_receive(y);
            ++b_rounds;
            to_a->async_send(boost::system::error_code{}, y);
          }
          finish_one();
        },
        asio::detached);
    done.wait();
    bench::check_eq(a_rounds, kRoundTrips, "ping_pong: round trips seen by A");
    bench::check_eq(b_rounds, kRoundTrips, "ping_pong: round trips seen by B");
  }
  void spawn_many() {
    done.reset();
    left.store(kSpawns, std::memory_order_relaxed);
    auto ex = env.executor();
    for (std::size_t i = 0; i < kSpawns; ++i)
      asio::spawn(ex, [this](asio::yield_context) { finish_one(); }, asio::detached);
    done.wait();
  }
};

template <class S>
void add_all(bench::runner& r, const std::string& name, S& s) {
  r.add("yield_one", name, [&s] { s.yield_one(); });
  r.add("yield_many", name, [&s] { s.yield_many(); });
  r.add("ping_pong", name, [&s] { s.ping_pong(); });
  r.add("spawn_many", name, [&s] { s.spawn_many(); });
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, kWorkloads);
  std::printf("perf_fiber: Zokio fibers vs asio::spawn (Boost %d.%d), %u worker threads, %u "
              "hardware threads, %u samples\n",
              BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, kThreads,
              std::thread::hardware_concurrency(), opts.samples);
#ifndef NDEBUG
  std::printf("WARNING: assertions are enabled (not a Release build): numbers are not "
              "representative\n");
#endif
  std::printf("sizes: yield_one %zu yields, yield_many %zu fibers x %zu yields, ping_pong %zu "
              "round trips, spawn_many %zu fibers\n",
              kOneYields, kFibers, kYields, kRoundTrips, kSpawns);
  std::fflush(stdout);

  auto zk = std::make_unique<zokio_setup>();
  auto pool = std::make_unique<asio_setup<pool_env>>();
  auto one = std::make_unique<asio_setup<one_ctx_env>>();
  bench::runner r;
  add_all(r, kZokio, *zk);
  add_all(r, kAsioSetups[0], *pool);
  add_all(r, kAsioSetups[1], *one);
  bool ok = r.run(opts);

  std::printf("\nTimes are per workload run (median of %u samples, min - max).\n", opts.samples);
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    std::printf("\n== %s\n", w.c_str());
    r.print_table(w);
    const bench::summary* zs = r.result(w, kZokio);
    const bench::summary* best = nullptr;
    std::string best_name;
    for (auto& a : kAsioSetups) {
      const bench::summary* as = r.result(w, a);
      if (zs && as)
        std::printf("  %s / zokio: %s\n", a.c_str(),
                    bench::format_ratio(bench::ratio(*as, *zs)).c_str());
      if (as && (!best || as->median < best->median)) {
        best = as;
        best_name = a;
      }
    }
    if (zs && best)
      bench::print_target("vs the fastest asio::spawn setup (" + best_name + ")",
                          bench::ratio(*best, *zs), 1.0);
  }
  return ok ? 0 : 1;
}
