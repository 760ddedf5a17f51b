// perf_join_set: zokio::join_set against the same children spawned as plain join_handles.
//
// Workloads (each checks its result; a wrong one makes the process exit non-zero), 2 workers:
//   leaf     spawn 10,000 tasks that return at once, join them all;
//   yield    the same with one yield_now in each child (every child is woken once more).
// Setups: a vector of join_handles awaited in spawn order (the floor: spawn + join) against a
// join_set joined in completion order. Also prints runtime allocations per child of each.
//
// Usage: perf_join_set [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING]
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include <zokio/allocation.hpp>
#include <zokio/join_set.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "bench.hpp"

namespace {

constexpr int kTasks = 10000;
const std::vector<std::string> kWorkloads = {"leaf", "yield"};

zokio::task<int> leaf(int v) {
  co_return v;
}
zokio::task<int> yielder(int v) {
  co_await zokio::yield_now{};
  co_return v;
}

using child_fn = zokio::task<int> (*)(int);

zokio::task<long> join_set_run(child_fn f) {
  zokio::join_set<int> set;
  for (int i = 0; i < kTasks; ++i) set.spawn(f(i));
  long sum = 0;
  while (auto v = co_await set.join_next()) sum += *v;
  co_return sum;
}
zokio::task<long> handles_run(child_fn f) {
  std::vector<zokio::join_handle<int>> hs;
  hs.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) hs.push_back(zokio::spawn(f(i)));
  long sum = 0;
  for (auto& h : hs) sum += co_await std::move(h);
  co_return sum;
}

std::atomic<long> g_allocs{0};
void count_alloc(const zokio::alloc_event& e) noexcept {
  if (!e.deallocate) g_allocs.fetch_add(1, std::memory_order_relaxed);
}

// Runtime allocations of one run (the parent task's own included), per child.
template <class Run>
double allocs_per_child([[maybe_unused]] zokio::runtime& rt, Run run) {
  g_allocs = 0;
  auto prev = zokio::set_alloc_hook(&count_alloc);
  run();
  zokio::set_alloc_hook(prev);
  return double(g_allocs.load()) / kTasks;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = bench::parse_options(argc, argv, kWorkloads);
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  bench::runner r;
  const long want = long(kTasks) * (kTasks - 1) / 2;
  const struct {
    const char* name;
    child_fn f;
  } kinds[] = {{"leaf", &leaf}, {"yield", &yielder}};
  for (auto& k : kinds) {
    child_fn f = k.f;
    r.add(k.name, "join_handles in order",
          [&rt, f, want] { bench::check_eq(rt.block_on(rt.spawn(handles_run(f))), want, "sum"); });
    r.add(k.name, "join_set",
          [&rt, f, want] { bench::check_eq(rt.block_on(rt.spawn(join_set_run(f))), want, "sum"); });
  }
  bool ok = r.run(opts);
  for (auto& k : kinds) {
    if (!opts.selected(k.name)) continue;
    std::printf("%s\n", k.name);
    r.print_table(k.name);
    const bench::summary* b = r.result(k.name, "join_handles in order");
    const bench::summary* z = r.result(k.name, "join_set");
    // 1.0x: completion order costs nothing over joining in spawn order. Target: at most
    // half as fast (the set's bookkeeping per child is a few atomics and one more wake).
    if (b && z)
      bench::print_target(std::string(k.name) + ": join_handles / join_set", bench::ratio(*b, *z),
                          0.5);
    child_fn f = k.f;
    double ah = allocs_per_child(rt, [&] { rt.block_on(rt.spawn(handles_run(f))); });
    double as = allocs_per_child(rt, [&] { rt.block_on(rt.spawn(join_set_run(f))); });
    std::printf("  runtime allocations per child: join_handles %.3f, join_set %.3f\n", ah, as);
  }
  return ok ? 0 : 1;
}
