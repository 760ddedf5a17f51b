// perf_spawn_outside: starting many tasks from a thread outside the runtime (issue 12,
// point 4). 100,000 trivial tasks, started from the main thread, each counting down; the
// last one sets an event the main thread waits on. Setups, 2 worker threads each:
//   zokio spawn loop   rt.spawn(task) per task (one owned-list lock, one injector push and
//                      one wake-up attempt per task)
//   zokio spawn_many   rt.spawn_many(vector of tasks): one lock, batches of 512, one
//                      wake-up per batch
//   asio post loop     asio::post(thread_pool(2), lambda) per task: the plain-Asio way
// Timed: making the tasks (coroutine frames), starting them, running them, the wake of the
// main thread. Medians of interleaved samples; ratios against the loop and against Asio.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "bench.hpp"

namespace {

constexpr long kTasks = 100'000;

struct countdown {
  std::atomic<long> left{0};
  bench::event done;
  void reset() {
    left.store(kTasks, std::memory_order_relaxed);
    done.reset();
  }
  void hit() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set();
  }
};

zokio::task<> trivial(countdown& c) {
  c.hit();
  co_return;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int samples = argc > 1 ? std::max(3, std::atoi(argv[1])) : 11;
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  boost::asio::thread_pool pool(2);
  countdown c;
  std::vector<double> loop, many, asio;
  auto run_loop = [&] {
    c.reset();
    auto t0 = bench::clock::now();
    for (long i = 0; i < kTasks; ++i) rt.spawn(trivial(c)).detach();
    c.done.wait();
    return bench::seconds_since(t0);
  };
  auto run_many = [&] {
    c.reset();
    auto t0 = bench::clock::now();
    std::vector<zokio::task<>> ts;
    ts.reserve(kTasks);
    for (long i = 0; i < kTasks; ++i) ts.push_back(trivial(c));
    rt.spawn_many(std::move(ts));  // handles dropped: detached
    c.done.wait();
    return bench::seconds_since(t0);
  };
  auto run_asio = [&] {
    c.reset();
    auto t0 = bench::clock::now();
    for (long i = 0; i < kTasks; ++i) boost::asio::post(pool, [&c] { c.hit(); });
    c.done.wait();
    return bench::seconds_since(t0);
  };
  run_loop(), run_many(), run_asio();  // warm-up
  for (int s = 0; s < samples; ++s) {
    loop.push_back(run_loop());
    many.push_back(run_many());
    asio.push_back(run_asio());
  }
  const double l = median(loop), m = median(many), a = median(asio);
  std::printf("perf_spawn_outside: %ld tasks started from the main thread, 2 workers, median of %d\n",
              kTasks, samples);
  std::printf("  zokio spawn loop   %8.2f ms  (%.0f ns/task)\n", l * 1e3, l * 1e9 / kTasks);
  std::printf("  zokio spawn_many   %8.2f ms  (%.0f ns/task)\n", m * 1e3, m * 1e9 / kTasks);
  std::printf("  asio post loop     %8.2f ms  (%.0f ns/task)\n", a * 1e3, a * 1e9 / kTasks);
  std::printf("  spawn_many: %.2fx faster than the spawn loop, %.2fx against asio::post (> 1: Zokio faster)\n",
              l / m, a / m);
  return 0;
}
