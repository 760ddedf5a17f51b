// perf_mutex: an async mutex under contention, Zokio against plain Boost.Asio strands.
//
// Workload "mutex_contended": 64 logical tasks, each doing 1,000 increments of one shared
// counter under mutual exclusion (64,000 critical sections); 2 worker threads everywhere.
// The counter is a plain long: each run checks it ends at exactly 64,000.
//
// Setups:
//   zokio lock loop    64 zokio::task<> coroutines on a 2-worker runtime, each looping
//                      { auto g = co_await m.lock(); ++*g; } on one zokio::mutex<long>
//   zokio lock+yield   the same plus co_await zokio::yield_now{} after each unlock, so the 64
//                      tasks interleave: every increment is scheduled separately, as in the
//                      strand setups
//   zokio hold+yield   the lock is held across a yield: every lock is a FIFO hand-off to a
//                      queued waiter (the slow path only). Reference: a strand cannot hold
//                      "the lock" across a suspension, so there is no Asio equivalent.
//   asio strand cb     (the baseline) asio::thread_pool(2); 64 chains of 1,000 handlers
//                      posted through one asio::strand: each handler increments and posts
//                      the next link of its chain
//   asio strand coro   64 Asio C++20 coroutines co_spawned on that strand, each looping
//                      { ++counter; co_await asio::post(strand, use_awaitable); }
//
// Workload "mutex_with_work": the same 64 x 1,000 critical sections, each preceded by about
// 0.1 us of private work (a xorshift loop) that may run in parallel, as in real code where
// the lock guards only the shared update:
//   zokio lock loop    { work(); auto g = co_await m.lock(); ++*g; }
//   asio strand cb     each handler on the strand does work() and the increment (all serial)
//   asio strand hop    the work runs on the pool, the increment is posted to the strand, and
//                      the strand handler posts the next step back to the pool: Asio's way to
//                      run only the critical section serialized (two posts per iteration)
//
// Outside the timed region: runtimes, pools, strands, mutexes. Inside: resetting the counter,
// starting the 64 tasks from the main thread, all increments, and waking the main thread.
//
// Usage: perf_mutex [--samples N] [--setup SUBSTRING] [--timeout S]
// Exit status: 0 ok, 1 a result was wrong, 2 usage error, 3 a sample hung.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/version.hpp>

#include <zokio/mutex.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace asio = boost::asio;

namespace {

constexpr unsigned kThreads = 2;
constexpr int kTasks = 64;
constexpr int kIters = 1000;
constexpr long kTotal = long(kTasks) * kIters;

constexpr int kWorkRounds = 64;  // about 0.1 us of xorshift

const std::vector<std::string> kWorkloads = {"mutex_contended", "mutex_with_work"};
const std::string kLoop = "zokio lock loop", kYield = "zokio lock+yield",
                  kHold = "zokio hold+yield", kStrandCb = "asio strand cb",
                  kStrandCoro = "asio strand coro", kStrandHop = "asio strand hop";

// Private work outside the critical section; the result feeds a sink so it is not elided.
inline std::uint64_t work(std::uint64_t x) noexcept {
  for (int i = 0; i < kWorkRounds; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}
std::atomic<std::uint64_t> g_sink{0};

// ---------------------------------------------------------------------------------------------
// Zokio

using zokio_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads}>;

enum class mode { loop, yield_after, hold_across, work_then_lock };

struct zokio_setup {
  zokio_rt rt;
  zokio::mutex<long> m{0};
};

zokio::task<> zk_worker(zokio::mutex<long>& m, mode md) {
  if (md == mode::work_then_lock) {
    std::uint64_t x = reinterpret_cast<std::uintptr_t>(&m) | 1;
    for (int i = 0; i < kIters; ++i) {
      x = work(x);
      auto g = co_await m.lock();
      ++*g;
    }
    g_sink.fetch_add(x, std::memory_order_relaxed);
    co_return;
  }
  for (int i = 0; i < kIters; ++i) {
    if (md == mode::hold_across) {
      auto g = co_await m.lock();
      co_await zokio::yield_now{};
      ++*g;
      continue;
    }
    {
      auto g = co_await m.lock();
      ++*g;
    }
    if (md == mode::yield_after) co_await zokio::yield_now{};
  }
}

zokio::task<> zk_root(zokio::mutex<long>& m, mode md) {
  std::vector<zokio::join_handle<void>> hs;
  hs.reserve(kTasks);
  for (int t = 0; t < kTasks; ++t) hs.push_back(zokio::spawn(zk_worker(m, md)));
  for (auto& h : hs) co_await std::move(h);
}

void zk_run(zokio_setup& s, mode md) {
  s.m.get_mut() = 0;  // no task runs between workloads
  s.rt.block_on(s.rt.spawn(zk_root(s.m, md)));
  bench::check_eq(s.m.get_mut(), kTotal, "counter");
}

// ---------------------------------------------------------------------------------------------
// Asio

struct strand_setup {
  asio::thread_pool pool{kThreads};
  asio::strand<asio::thread_pool::executor_type> strand = asio::make_strand(pool);
  long counter = 0;  // only touched on the strand (and by main between runs)
  std::atomic<int> left{0};
  bench::event done;
  ~strand_setup() { pool.join(); }

  void reset() {
    counter = 0;
    left.store(kTasks, std::memory_order_relaxed);
    done.reset();
  }
  void finish_one() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set();
  }
};

void cb_step(strand_setup& s, int remaining) {
  ++s.counter;
  if (remaining > 1)
    asio::post(s.strand, [&s, remaining] { cb_step(s, remaining - 1); });
  else
    s.finish_one();
}

// With work: everything on the strand (serial).
void cbw_step(strand_setup& s, int remaining, std::uint64_t x) {
  x = work(x);
  ++s.counter;
  if (remaining > 1)
    asio::post(s.strand, [&s, remaining, x] { cbw_step(s, remaining - 1, x); });
  else {
    g_sink.fetch_add(x, std::memory_order_relaxed);
    s.finish_one();
  }
}

void cbw_run(strand_setup& s) {
  s.reset();
  for (int t = 0; t < kTasks; ++t)
    asio::post(s.strand, [&s, t] { cbw_step(s, kIters, std::uint64_t(t) * 2 + 1); });
  s.done.wait();
  bench::check_eq(s.counter, kTotal, "mutex_with_work: counter");
}

// With work: work on the pool, increment on the strand, then back to the pool.
void hop_step(strand_setup& s, int remaining, std::uint64_t x) {
  x = work(x);
  asio::post(s.strand, [&s, remaining, x] {
    ++s.counter;
    if (remaining > 1)
      asio::post(s.pool, [&s, remaining, x] { hop_step(s, remaining - 1, x); });
    else {
      g_sink.fetch_add(x, std::memory_order_relaxed);
      s.finish_one();
    }
  });
}

void hop_run(strand_setup& s) {
  s.reset();
  for (int t = 0; t < kTasks; ++t)
    asio::post(s.pool, [&s, t] { hop_step(s, kIters, std::uint64_t(t) * 2 + 1); });
  s.done.wait();
  bench::check_eq(s.counter, kTotal, "mutex_with_work: counter");
}

void cb_run(strand_setup& s) {
  s.reset();
  for (int t = 0; t < kTasks; ++t) asio::post(s.strand, [&s] { cb_step(s, kIters); });
  s.done.wait();
  bench::check_eq(s.counter, kTotal, "mutex_contended: counter");
}

asio::awaitable<void> aw_worker(strand_setup& s) {
  for (int i = 0; i < kIters; ++i) {
    ++s.counter;
    co_await asio::post(s.strand, asio::use_awaitable);
  }
  s.finish_one();
}

void aw_run(strand_setup& s) {
  s.reset();
  for (int t = 0; t < kTasks; ++t) asio::co_spawn(s.strand, aw_worker(s), asio::detached);
  s.done.wait();
  bench::check_eq(s.counter, kTotal, "mutex_contended: counter");
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, kWorkloads);
  auto t_start = bench::clock::now();
  std::printf("perf_mutex: Zokio %d.%d.%d vs plain Boost %d.%d, %u worker threads, %u hardware "
              "threads, %u samples\n",
              ZOKIO_VERSION / 10000, ZOKIO_VERSION / 100 % 100, ZOKIO_VERSION % 100,
              BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, kThreads,
              std::thread::hardware_concurrency(), opts.samples);
#ifndef NDEBUG
  std::printf("WARNING: assertions are enabled (not a Release build): numbers are not "
              "representative\n");
#endif
  std::printf("mutex_contended: %d tasks x %d lock/increment/unlock = %ld critical sections\n",
              kTasks, kIters, kTotal);
  std::fflush(stdout);

  auto zk_a = std::make_unique<zokio_setup>();
  auto zk_b = std::make_unique<zokio_setup>();
  auto zk_c = std::make_unique<zokio_setup>();
  auto zk_d = std::make_unique<zokio_setup>();
  auto cb = std::make_unique<strand_setup>();
  auto aw = std::make_unique<strand_setup>();
  auto cbw = std::make_unique<strand_setup>();
  auto hop = std::make_unique<strand_setup>();

  bench::runner r;
  r.add("mutex_contended", kLoop, [&] { zk_run(*zk_a, mode::loop); });
  r.add("mutex_contended", kYield, [&] { zk_run(*zk_b, mode::yield_after); });
  r.add("mutex_contended", kHold, [&] { zk_run(*zk_c, mode::hold_across); });
  r.add("mutex_contended", kStrandCb, [&] { cb_run(*cb); });
  r.add("mutex_contended", kStrandCoro, [&] { aw_run(*aw); });
  r.add("mutex_with_work", kLoop, [&] { zk_run(*zk_d, mode::work_then_lock); });
  r.add("mutex_with_work", kStrandCb, [&] { cbw_run(*cbw); });
  r.add("mutex_with_work", kStrandHop, [&] { hop_run(*hop); });
  bool ok = r.run(opts);

  std::printf("\nTimes are per workload run (median of %u samples, min - max).\n", opts.samples);
  struct row {
    std::string workload;
    std::vector<const std::string*> zokio, asio;
  };
  const row rows[] = {{"mutex_contended", {&kLoop, &kYield, &kHold}, {&kStrandCb, &kStrandCoro}},
                      {"mutex_with_work", {&kLoop}, {&kStrandCb, &kStrandHop}}};
  for (auto& w : rows) {
    if (!opts.selected(w.workload)) continue;
    std::printf("\n== %s\n", w.workload.c_str());
    r.print_table(w.workload);
    std::printf("\n  speed-up = asio median / zokio median (> 1: Zokio faster)\n");
    std::printf("  %-18s", "");
    for (auto* a : w.asio) std::printf("  %16s", a->c_str());
    std::printf("\n");
    for (auto* z : w.zokio) {
      const bench::summary* zs = r.result(w.workload, *z);
      std::printf("  %-18s", z->c_str());
      for (auto* a : w.asio) {
        const bench::summary* as = r.result(w.workload, *a);
        std::string cell = zs && as ? bench::format_ratio(bench::ratio(*as, *zs)) : "n/a";
        std::printf("  %16s", cell.c_str());
      }
      std::printf("\n");
    }
  }

  // The target (issue): "async mutex under contention vs asio::strand", >= 1.0x, against the
  // strand setup the issue names (handlers posted through one strand).
  std::printf("\n== targets: async mutex under contention vs asio::strand (%s), >= 1.0x\n",
              kStrandCb.c_str());
  struct target {
    std::string workload;
    const std::string* zokio;
  };
  const target targets[] = {{"mutex_contended", &kLoop},
                            {"mutex_contended", &kYield},
                            {"mutex_with_work", &kLoop}};
  for (auto& t : targets) {
    if (!opts.selected(t.workload)) continue;
    const bench::summary* base = r.result(t.workload, kStrandCb);
    const bench::summary* zs = r.result(t.workload, *t.zokio);
    std::string label = t.workload + " / " + *t.zokio;
    if (!zs || !base)
      std::printf("  %s: n/a (a setup failed or was not run)\n", label.c_str());
    else
      bench::print_target(label, bench::ratio(*base, *zs), 1.0);
  }
  if (opts.selected("mutex_contended")) {
    const bench::summary* base = r.result("mutex_contended", kStrandCb);
    if (const bench::summary* zs = r.result("mutex_contended", kHold); zs && base)
      std::printf("  (reference, no Asio equivalent: mutex_contended / %s %s)\n", kHold.c_str(),
                  bench::format_ratio(bench::ratio(*base, *zs)).c_str());
  }
  if (opts.selected("mutex_with_work")) {
    const bench::summary* base = r.result("mutex_with_work", kStrandHop);
    if (const bench::summary* zs = r.result("mutex_with_work", kLoop); zs && base)
      std::printf("  (reference: mutex_with_work / %s vs %s %s)\n", kLoop.c_str(),
                  kStrandHop.c_str(), bench::format_ratio(bench::ratio(*base, *zs)).c_str());
  }

  std::printf("\ntotal wall time %.1f s\n", bench::seconds_since(t_start));
  if (!ok) std::printf("RESULT CHECK FAILED: see FAILED lines above\n");
  std::fflush(stdout);
  return ok ? 0 : 1;
}
