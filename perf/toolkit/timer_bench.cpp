// perf_timer: 100,000 timers with random expiries in [0, 100 ms), Zokio against plain Asio.
//
// Workload timers_100k: at t0 the deadlines t0 + off[i] are fixed (off: uniform in
// [0, 100 ms), the same fixed-seed list for every setup and run); the timers are created and
// armed by code running on the executor (a root task / a posted handler), and each one, when
// it fires, records its lateness (the time its code ran minus its deadline); the last one
// wakes the main thread. Reported: time to fire all (t0 to the last completion; the 100 ms of
// deadlines are in it), and the median over runs of each run's p50 and p99 lateness.
//
// Setups, all with 2 threads:
//   zokio coro   100k spawned zokio::task<> coroutines, each `co_await zokio::sleep_until(d)`
//   zokio hand   100k spawned hand-written futures holding a zokio::sleep_future
//   asio: 1 io_context/2 thr   100k asio::steady_timer + callback, one io_context run by 2 threads
//   asio: thread_pool(2)       the same on asio::thread_pool(2)
//   asio: 2 io_context/1 thr   the same spread round-robin over 2 io_contexts (Zokio's layout:
//                              one timer queue per thread)
//
// Usage: perf_timer [--samples N] [--setup SUBSTRING] [--timeout S]
// Exit status: 0 ok, 1 a result was wrong, 2 usage error, 3 a sample hung.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/version.hpp>

#include <zokio/zokio.hpp>
#include <zokio/sleep.hpp>

#include "bench.hpp"

namespace asio = boost::asio;
using sclock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kTimers = 100000;
constexpr unsigned kThreads = 2;
const std::string kWorkload = "timers_100k";

/// Shared by every setup: the expiry offsets, per-timer lateness, completion.
struct run_state {
  std::vector<sclock::duration> off;
  std::vector<sclock::duration> late;
  std::atomic<std::size_t> remaining{0};
  sclock::time_point t0;
  bench::event done;
  // Per run: p50 and p99 lateness, and the time to fire all (seconds).
  std::map<std::string, std::vector<double>> p50, p99, all;

  run_state() : off(kTimers), late(kTimers) {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<long> d(0, 100'000'000 - 1);  // ns
    for (auto& o : off) o = std::chrono::nanoseconds(d(rng));
  }
  void begin() {
    remaining.store(kTimers, std::memory_order_relaxed);
    done.reset();
    t0 = sclock::now();
  }
  void fired(std::size_t i) {
    late[i] = sclock::now() - (t0 + off[i]);
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set();
  }
  void end(const std::string& setup) {
    done.wait();
    const double total = std::chrono::duration<double>(sclock::now() - t0).count();
    std::vector<sclock::duration> v = late;
    auto at = [&](double q) {
      auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
      std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
      return std::chrono::duration<double>(v[k]).count();
    };
    bench::check(*std::min_element(late.begin(), late.end()) >= sclock::duration::zero(),
                 "a timer fired before its deadline");
    p50[setup].push_back(at(0.50));
    p99[setup].push_back(at(0.99));
    all[setup].push_back(total);
  }
};

// --- Zokio ------------------------------------------------------------------------------------

zokio::task<void> coro_timer(run_state& s, std::size_t i) {
  co_await zokio::sleep_until(s.t0 + s.off[i]);
  s.fired(i);
}

struct hand_timer {
  using output = void;
  hand_timer(run_state& s, std::size_t i) noexcept
      : st(&s), idx(i), sleep(zokio::sleep_until(s.t0 + s.off[i])) {}
  run_state* st;
  std::size_t idx;
  zokio::sleep_future sleep;
  zokio::poll<void> poll(zokio::context& cx) {
    if (sleep.poll(cx).is_pending()) return zokio::pending;
    st->fired(idx);
    return zokio::ready();
  }
};

struct zokio_setup {
  zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads}> rt;
};

template <bool Coro>
void zk_run(zokio_setup& z, run_state& s, const std::string& name) {
  s.begin();
  // The root spawns from a worker (its local queue; idle siblings steal half).
  z.rt.spawn(zokio::co_invoke([&s]() -> zokio::task<void> {
         for (std::size_t i = 0; i < kTimers; ++i) {
           if constexpr (Coro)
             zokio::spawn(coro_timer(s, i)).detach();
           else
             zokio::spawn(hand_timer(s, i)).detach();
         }
         co_return;
       }))
      .detach();
  s.end(name);
}

// --- Plain Asio -------------------------------------------------------------------------------

struct timer_cb {
  run_state* s;
  std::size_t i;
  void operator()(const boost::system::error_code&) const { s->fired(i); }
};

/// `Ctx`: how many io_contexts (1 or 2) run by how many threads each.
struct asio_ctx_setup {
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::vector<std::optional<asio::steady_timer>> timers;

  asio_ctx_setup(unsigned contexts, unsigned threads_each) : timers(kTimers) {
    for (unsigned c = 0; c < contexts; ++c) {
      ios.push_back(std::make_unique<asio::io_context>(threads_each == 1 ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT));
      guards.emplace_back(ios.back()->get_executor());
    }
    for (auto& io : ios)
      for (unsigned t = 0; t < threads_each; ++t) threads.emplace_back([p = io.get()] { p->run(); });
  }
  ~asio_ctx_setup() {
    for (auto& g : guards) g.reset();
    for (auto& io : ios) io->stop();
    for (auto& t : threads) t.join();
  }

  void run(run_state& s, const std::string& name) {
    s.begin();
    // Created and armed from a handler on each io_context (like the Zokio root task), each
    // context's share of the timers.
    const std::size_t n = ios.size();
    for (std::size_t c = 0; c < n; ++c)
      asio::post(*ios[c], [this, &s, c, n] {
        for (std::size_t i = c; i < kTimers; i += n) {
          timers[i].emplace(*ios[c], s.t0 + s.off[i]);
          timers[i]->async_wait(timer_cb{&s, i});
        }
      });
    s.end(name);
  }
};

struct asio_pool_setup {
  asio::thread_pool pool{kThreads};
  std::vector<std::optional<asio::steady_timer>> timers;
  asio_pool_setup() : timers(kTimers) {}
  ~asio_pool_setup() { pool.join(); }

  void run(run_state& s, const std::string& name) {
    s.begin();
    asio::post(pool, [this, &s] {
      for (std::size_t i = 0; i < kTimers; ++i) {
        timers[i].emplace(pool.get_executor(), s.t0 + s.off[i]);
        timers[i]->async_wait(timer_cb{&s, i});
      }
    });
    s.end(name);
  }
};

bench::summary sum_of(const std::vector<double>& v) { return bench::summarize(v); }

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, {kWorkload});
  std::printf("perf_timer: %zu timers, expiries uniform in [0, 100 ms), %u threads, %u samples "
              "(Boost %d.%d)\n",
              kTimers, kThreads, opts.samples, BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000);
#ifndef NDEBUG
  std::printf("WARNING: assertions are enabled (not a Release build): numbers are not "
              "representative\n");
#endif
  std::fflush(stdout);

  run_state s;
  auto zk = std::make_unique<zokio_setup>();
  auto one = std::make_unique<asio_ctx_setup>(1, kThreads);
  auto two = std::make_unique<asio_ctx_setup>(kThreads, 1);
  auto pool = std::make_unique<asio_pool_setup>();

  const std::string kZkCoro = "zokio coro", kZkHand = "zokio hand";
  const std::string kOne = "asio: 1 io_context/2 thr", kPool = "asio: thread_pool(2)",
                    kTwo = "asio: 2 io_context/1 thr";
  bench::runner r;
  r.add(kWorkload, kZkCoro, [&] { zk_run<true>(*zk, s, kZkCoro); });
  r.add(kWorkload, kZkHand, [&] { zk_run<false>(*zk, s, kZkHand); });
  r.add(kWorkload, kOne, [&] { one->run(s, kOne); });
  r.add(kWorkload, kPool, [&] { pool->run(s, kPool); });
  r.add(kWorkload, kTwo, [&] { two->run(s, kTwo); });
  // Every run is ~100 ms or more: one run per sample.
  opts.min_single_s = 0;
  bool ok = r.run(opts);

  // The warm-up run is in the per-run lists too: drop it (the first entry).
  auto measured = [&](std::map<std::string, std::vector<double>>& m, const std::string& k) {
    std::vector<double> v = m[k];
    if (v.size() > opts.samples) v.erase(v.begin(), v.end() - opts.samples);
    return sum_of(v);
  };

  std::printf("\n%-26s %12s %12s %12s %12s\n", "setup", "fire all", "p50 late", "p99 late",
              "runs");
  const std::vector<std::string> setups = {kZkCoro, kZkHand, kOne, kPool, kTwo};
  for (auto& name : setups) {
    if (!r.result(kWorkload, name)) continue;
    auto a = measured(s.all, name), p5 = measured(s.p50, name), p9 = measured(s.p99, name);
    std::printf("%-26s %12s %12s %12s %12zu\n", name.c_str(),
                bench::format_duration(a.median).c_str(), bench::format_duration(p5.median).c_str(),
                bench::format_duration(p9.median).c_str(), a.n);
  }

  std::printf("\nratios baseline/zokio (medians; > 1: Zokio faster / less late)\n");
  std::printf("%-26s %18s %18s %18s %18s\n", "baseline", "fire all coro/hand", "p50 coro/hand",
              "p99 coro/hand", "");
  for (auto& base : {kOne, kPool, kTwo}) {
    if (!r.result(kWorkload, base)) continue;
    auto ba = measured(s.all, base), b5 = measured(s.p50, base), b9 = measured(s.p99, base);
    auto cell = [&](const bench::summary& b, std::map<std::string, std::vector<double>>& m) {
      auto c = measured(m, kZkCoro), h = measured(m, kZkHand);
      return bench::format_ratio(bench::ratio(b, c)) + " / " +
             bench::format_ratio(bench::ratio(b, h));
    };
    std::printf("%-26s %18s %18s %18s\n", base.c_str(), cell(ba, s.all).c_str(),
                cell(b5, s.p50).c_str(), cell(b9, s.p99).c_str());
  }

  std::printf("\ntargets (>= 1.0x time to fire all vs each plain-Asio setup):\n");
  for (auto& base : {kOne, kPool}) {
    if (!r.result(kWorkload, base)) continue;
    auto b = measured(s.all, base);
    for (auto& z : {kZkCoro, kZkHand}) {
      if (!r.result(kWorkload, z)) continue;
      bench::print_target(z + " vs " + base, bench::ratio(b, measured(s.all, z)), 1.0);
    }
  }
  return ok ? 0 : 1;
}
