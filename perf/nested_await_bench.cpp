// perf_nested_await: the cost of a wake at the bottom of a stack of nested task awaits
// (issue 12, point 1: nested awaits in O(1)).
//
// A chain of N zokio::task frames, each co_awaiting the next; the innermost awaits a
// zokio::notify 100,000 times, notified each time by a second task that then waits for the
// innermost frame's acknowledgement (a second notify), so every one of the 100,000 waits
// really suspends the whole chain and is woken from another task. Setups: N = 1, 10, 100,
// 1,000 on one runtime with 2 workers. Printed: time per wake of the chain (the workload's
// time / 100,000) and the ratio of each depth to depth 1. Target (issue 12): depth 1,000
// within 1.5x of depth 1.
#include <cstdio>
#include <memory>
#include <string>

#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace {

constexpr int kWakes = 100'000;

struct pair_state {
  zokio::notify to_leaf, to_sender;
  long received = 0;
};

zokio::task<long> leaf(pair_state* s) {
  for (int i = 0; i < kWakes; ++i) {
    co_await s->to_leaf.notified();
    ++s->received;
    s->to_sender.notify_one();
  }
  co_return s->received;
}

zokio::task<long> chain(int depth, pair_state* s) {
  if (depth <= 1) co_return co_await leaf(s);
  co_return co_await chain(depth - 1, s);
}

zokio::task<void> sender(pair_state* s) {
  for (int i = 0; i < kWakes; ++i) {
    s->to_leaf.notify_one();
    co_await s->to_sender.notified();
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, {"wakes"});
  std::printf("perf_nested_await: %d wakes of a chain of N nested task awaits, 2 workers, %d samples\n",
              kWakes, opts.samples);
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  bench::runner r;
  const int depths[] = {1, 10, 100, 1000};
  for (int d : depths) {
    std::string name = "depth " + std::to_string(d);
    if (!opts.setup_selected(name)) continue;
    r.add("wakes", name, [&rt, d] {
      pair_state s;
      auto h = rt.spawn(chain(d, &s));
      auto snd = rt.spawn(sender(&s));
      long got = rt.block_on(std::move(h));
      rt.block_on(std::move(snd));
      bench::check(got == kWakes, "the chain did not receive every wake");
    });
  }
  if (!r.run(opts)) return 1;
  r.print_table("wakes");
  const bench::summary* base = r.result("wakes", "depth 1");
  std::printf("  %-12s %14s %12s\n", "setup", "ns per wake", "vs depth 1");
  for (int d : depths) {
    const bench::summary* s = r.result("wakes", "depth " + std::to_string(d));
    if (!s) continue;
    std::printf("  depth %-6d %14.1f %11.2fx\n", d, s->median / kWakes * 1e9,
                base ? s->median / base->median : 0.0);
  }
  if (base)
    if (const bench::summary* deep = r.result("wakes", "depth 1000")) {
      double ratio = deep->median / base->median;
      std::printf("target: depth 1000 within 1.5x of depth 1: %.2fx %s\n", ratio,
                  ratio <= 1.5 ? "met" : "NOT MET");
    }
  return 0;
}
