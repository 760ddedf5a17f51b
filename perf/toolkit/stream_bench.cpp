// perf_stream: the cost of Zokio's stream and scope layers against hand-written equivalents.
//
// Workloads (each checks its result; a wrong one makes the process exit non-zero):
//   generator   sum 100,000 items of an async_generator<int> (one resume per item) against a
//               hand-written stream struct (baseline: the floor for poll_next);
//   adapters    map + filter + take over the same 100,000 items: adapters over a generator
//               against one hand-written loop doing the same in the consumer;
//   join_set    spawn 10,000 tasks on 2 workers and join them with join_set (completion
//               order) against a vector of join_handles awaited in spawn order;
//   scope       100 scopes x 100 inline children (task_scope) against the same children
//               awaited one after another in a plain task (no concurrency: the floor).
//
// Usage: perf_stream [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING]
#include <cstdio>
#include <string>
#include <vector>

#include <zokio/async_generator.hpp>
#include <zokio/join_set.hpp>
#include <zokio/runtime.hpp>
#include <zokio/stream_ext.hpp>
#include <zokio/task.hpp>
#include <zokio/task_scope.hpp>

#include "bench.hpp"

namespace {

constexpr int kItems = 100000, kTasks = 10000, kScopes = 100, kChildren = 100;
const std::vector<std::string> kWorkloads = {"generator", "adapters", "join_set", "scope"};

struct counter_stream {
  using item = int;
  int i = 0, n;
  explicit counter_stream(int k) : n(k) {}
  zokio::poll<std::optional<int>> poll_next(zokio::context&) {
    if (i == n) return std::optional<int>();
    return std::optional<int>(i++);
  }
};

zokio::async_generator<int> counter_gen(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

template <class S>
zokio::task<long> sum_stream(S s) {
  long sum = 0;
  while (auto v = co_await zokio::next(s)) sum += *v;
  co_return sum;
}

zokio::task<long> adapters_zokio() {
  auto s = zokio::take(zokio::map(zokio::filter(counter_gen(kItems), [](int v) { return v % 3; }),
                                  [](int v) { return v * 2; }),
                       kItems / 2);
  long sum = 0;
  while (auto v = co_await zokio::next(s)) sum += *v;
  co_return sum;
}
zokio::task<long> adapters_hand() {
  counter_stream s(kItems);
  long sum = 0;
  int taken = 0;
  while (taken < kItems / 2) {
    auto v = co_await zokio::next(s);
    if (!v) break;
    if (*v % 3 == 0) continue;
    sum += *v * 2;
    ++taken;
  }
  co_return sum;
}

zokio::task<int> leaf(int v) {
  co_return v;
}

zokio::task<long> join_set_run() {
  zokio::join_set<int> set;
  for (int i = 0; i < kTasks; ++i) set.spawn(leaf(i));
  long sum = 0;
  while (auto v = co_await set.join_next()) sum += *v;
  co_return sum;
}
zokio::task<long> handles_run() {
  std::vector<zokio::join_handle<int>> hs;
  hs.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) hs.push_back(zokio::spawn(leaf(i)));
  long sum = 0;
  for (auto& h : hs) sum += co_await std::move(h);
  co_return sum;
}

zokio::task<void> child(long& out, int v) {
  co_await zokio::yield_now{};
  out += v;
}
zokio::task<long> scopes_run() {
  long sum = 0;
  for (int k = 0; k < kScopes; ++k)
    co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
      for (int i = 0; i < kChildren; ++i) s.spawn(child(sum, i));
      co_return;
    });
  co_return sum;
}
zokio::task<long> sequential_run() {
  long sum = 0;
  for (int k = 0; k < kScopes; ++k)
    for (int i = 0; i < kChildren; ++i) co_await child(sum, i);
  co_return sum;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = bench::parse_options(argc, argv, kWorkloads);
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  bench::runner r;
  const long items_sum = long(kItems) * (kItems - 1) / 2;
  long adapters_want = rt.block_on(rt.spawn(adapters_hand()));
  r.add("generator", "hand-written stream", [&] {
    bench::check_eq(rt.block_on(rt.spawn(sum_stream(counter_stream(kItems)))), items_sum, "sum");
  });
  r.add("generator", "async_generator", [&] {
    bench::check_eq(rt.block_on(rt.spawn(sum_stream(counter_gen(kItems)))), items_sum, "sum");
  });
  r.add("adapters", "hand-written loop", [&] {
    bench::check_eq(rt.block_on(rt.spawn(adapters_hand())), adapters_want, "sum");
  });
  r.add("adapters", "generator + adapters", [&] {
    bench::check_eq(rt.block_on(rt.spawn(adapters_zokio())), adapters_want, "sum");
  });
  const long tasks_sum = long(kTasks) * (kTasks - 1) / 2;
  r.add("join_set", "join_handles in order", [&] {
    bench::check_eq(rt.block_on(rt.spawn(handles_run())), tasks_sum, "sum");
  });
  r.add("join_set", "join_set", [&] {
    bench::check_eq(rt.block_on(rt.spawn(join_set_run())), tasks_sum, "sum");
  });
  const long scope_sum = long(kScopes) * kChildren * (kChildren - 1) / 2;
  r.add("scope", "sequential awaits", [&] {
    bench::check_eq(rt.block_on(rt.spawn(sequential_run())), scope_sum, "sum");
  });
  r.add("scope", "task_scope", [&] {
    bench::check_eq(rt.block_on(rt.spawn(scopes_run())), scope_sum, "sum");
  });
  bool ok = r.run(opts);
  const char* pairs[][3] = {{"generator", "hand-written stream", "async_generator"},
                            {"adapters", "hand-written loop", "generator + adapters"},
                            {"join_set", "join_handles in order", "join_set"},
                            {"scope", "sequential awaits", "task_scope"}};
  for (auto& p : pairs) {
    if (!opts.selected(p[0])) continue;
    std::printf("%s\n", p[0]);
    r.print_table(p[0]);
    const bench::summary* b = r.result(p[0], p[1]);
    const bench::summary* z = r.result(p[0], p[2]);
    if (b && z)
      std::printf("  ratio %s / %s: %s (1.0x = no overhead over the hand-written baseline)\n",
                  p[1], p[2], bench::format_ratio(bench::ratio(*b, *z)).c_str());
  }
  return ok ? 0 : 1;
}
