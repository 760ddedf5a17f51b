// perf_false_sharing: why per-worker structures are cache-line aligned. Two threads bump
// their own worker's counters (exactly what a worker's loop does per poll, with
// enable_metrics) laid out as zokio::detail::worker_counters is (each worker's block on its
// own cache lines) and, for comparison, packed next to each other as a plain array would be.
#include <cstddef>
#include <cstdio>
#include <thread>
#include <vector>

#include <zokio/detail/worker.hpp>

#include "bench.hpp"

namespace {

using zokio::detail::worker;
using zokio::detail::worker_counters;

// The layout the runtime really uses: checked here, so that a change to worker.hpp that
// breaks it fails this build.
static_assert(alignof(worker) % ZOKIO_CACHE_LINE == 0, "workers start on a cache line");
static_assert(sizeof(worker) % ZOKIO_CACHE_LINE == 0, "workers end on a cache line");
static_assert(alignof(worker_counters) % ZOKIO_CACHE_LINE == 0, "counters own their lines");
// The I/O driver's part (io_context, the sibling-written state) is a block of its own.
static_assert(alignof(zokio::detail::worker_io) % ZOKIO_CACHE_LINE == 0,
              "the I/O driver's part starts on a cache line");
// (offsetof on a non-standard-layout class is conditionally supported; GCC and clang
// support it, and this check needs it.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(worker, lifo) % ZOKIO_CACHE_LINE == 0, "LIFO slot owns its line");
static_assert(offsetof(worker, unpark) / ZOKIO_CACHE_LINE !=
                  offsetof(worker, inject_countdown) / ZOKIO_CACHE_LINE,
              "the sibling-written unpark flag is off the owner's loop-state line");
#pragma GCC diagnostic pop

constexpr int kThreads = 2;
constexpr long kBumps = 20'000'000;

struct aligned_slot {
  worker_counters c;  // cache-line aligned, as basic_scheduler allocates them per worker
};
// The same fields without the alignment: the next thread's counters share a line with these.
struct packed_counters {
  std::atomic<std::uint64_t> polls{0}, lifo_polls{0}, other[3]{};
};
struct packed_slot {
  packed_counters c;
};

template <class Slot>
void run(std::vector<Slot>& slots) {
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&slots, t] {
      auto& c = slots[t].c;
      for (long i = 0; i < kBumps; ++i) {
        worker_counters::bump(c.polls);
        if ((i & 15) == 0) worker_counters::bump(c.lifo_polls);
      }
    });
  for (auto& t : ts) t.join();
  for (auto& s : slots)
    bench::check(s.c.polls.load() % kBumps == 0, "every bump counted by its owner");
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, {"counters"});
  std::vector<aligned_slot> aligned(kThreads);
  std::vector<packed_slot> packed(kThreads);
  std::printf("perf_false_sharing: %d threads x %ld counter bumps; sizeof(worker_counters) = "
              "%zu, sizeof(worker) = %zu\n",
              kThreads, kBumps, sizeof(worker_counters), sizeof(worker));
  bench::runner r;
  r.add("counters", "zokio layout (aligned)", [&] { run(aligned); });
  r.add("counters", "packed array", [&] { run(packed); });
  bool ok = r.run(opts);
  std::printf("\n== counters\n");
  r.print_table("counters");
  const bench::summary* a = r.result("counters", "zokio layout (aligned)");
  const bench::summary* p = r.result("counters", "packed array");
  if (a && p)
    std::printf("  speed-up = packed median / aligned median: %s\n",
                bench::format_ratio(bench::ratio(*p, *a)).c_str());
  return ok ? 0 : 1;
}
