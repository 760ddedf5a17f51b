// perf_trace: the flight recorder's cost per event (issue 15, point 6), on one thread where
// this VM's noise is smallest.
//
// - recorder: one ring written in the pattern of a busy worker (poll begin, a wake in the
//   poll, poll end, on to the next task), 4,000,000 events, with a clock read per event
//   against the shared stamps the worker rings use (detail/trace_recorder.hpp).
// - yield: a current_thread runtime, 10 tasks yielding 20,000 times each (2 events a poll);
//   traced against untraced, the same program.
// - notify_ping_pong: two tasks on a current_thread runtime waking each other through
//   zokio::notify 100,000 times each way (a wake, a poll begin and a poll end per hand-off).
// Printed: ns per event, (traced - untraced) / events, from the medians of the same run.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <zokio/detail/trace_recorder.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace {

constexpr int kPolls = 1'000'000;  // recorder: 4 events each
constexpr int kTasks = 10, kYields = 20'000;
constexpr int kHandOffs = 100'000;

using zd = zokio::detail::trace_kind;

template <bool Shared>
void write_polls(zokio::detail::trace_ring& r) {
  for (int i = 0; i < kPolls; ++i) {
    const auto id = static_cast<std::uint64_t>(i);
    if constexpr (Shared) {
      r.push(zd::poll_begin, id);
      r.push(zd::wake, id + 1);
      r.push(zd::poll_end, id);
      r.chain();
    } else {
      r.push_exact(zd::poll_begin, id);
      r.push_exact(zd::wake, id + 1);
      r.push_exact(zd::poll_end, id);
    }
  }
}

template <class Rt>
zokio::task<void> yielder() {
  for (int i = 0; i < kYields; ++i) co_await zokio::yield_now{};
}

template <class Rt>
void run_yield(Rt& rt) {
  std::vector<zokio::join_handle<void>> hs;
  for (int t = 0; t < kTasks; ++t) hs.push_back(rt.spawn(yielder<Rt>()));
  for (auto& h : hs) rt.block_on(std::move(h));
}

struct pair_state {
  zokio::notify to_a, to_b;
  long got = 0;
};

zokio::task<void> side_a(pair_state* s) {
  for (int i = 0; i < kHandOffs; ++i) {
    s->to_b.notify_one();
    co_await s->to_a.notified();
  }
}

zokio::task<void> side_b(pair_state* s) {
  for (int i = 0; i < kHandOffs; ++i) {
    co_await s->to_b.notified();
    ++s->got;
    s->to_a.notify_one();
  }
}

template <class Rt>
void run_ping_pong(Rt& rt) {
  pair_state s;
  auto b = rt.spawn(side_b(&s));
  auto a = rt.spawn(side_a(&s));
  rt.block_on(std::move(a));
  rt.block_on(std::move(b));
  bench::check(s.got == kHandOffs, "every hand-off arrived");
}

using plain_ct = zokio::basic_runtime<zokio::runtime_config{
    .flavour = zokio::runtime_flavour::current_thread}>;
using traced_ct = zokio::basic_runtime<zokio::runtime_config{
    .flavour = zokio::runtime_flavour::current_thread, .enable_trace = true}>;

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, {"recorder", "yield", "notify_ping_pong"});
  std::printf("perf_trace: the flight recorder's cost per event, one thread, %d samples\n",
              opts.samples);
  zokio::detail::trace_ring ring;
  ring.init(65536);
  plain_ct plain;
  traced_ct traced;
  bench::runner r;
  r.add("recorder", "clock per event", [&] { write_polls<false>(ring); });
  r.add("recorder", "shared stamps", [&] { write_polls<true>(ring); });
  r.add("yield", "untraced", [&] { run_yield(plain); });
  r.add("yield", "traced", [&] { run_yield(traced); });
  r.add("notify_ping_pong", "untraced", [&] { run_ping_pong(plain); });
  r.add("notify_ping_pong", "traced", [&] { run_ping_pong(traced); });
  if (!r.run(opts)) return 1;

  for (const char* w : {"recorder", "yield", "notify_ping_pong"})
    if (opts.selected(w)) r.print_table(w);
  std::printf("\n== ns per event (medians)\n");
  if (auto* e = r.result("recorder", "clock per event"), *s = r.result("recorder", "shared stamps");
      e && s)
    std::printf("  recorder          clock per event %.1f ns, shared stamps %.1f ns (%.2fx)\n",
                e->median * 1e9 / (3.0 * kPolls), s->median * 1e9 / (3.0 * kPolls),
                s->median / e->median);
  // yield: a poll begin and end per poll (a yield requeues without a wake event), and the
  // spawns (from outside: the other threads' ring, a clock read each).
  const double yield_events = 2.0 * kTasks * (kYields + 1) + kTasks;
  if (auto* u = r.result("yield", "untraced"), *t = r.result("yield", "traced"); u && t)
    std::printf("  yield             %.1f ns per event (%.0f events, traced %.2fx)\n",
                (t->median - u->median) * 1e9 / yield_events, yield_events, t->median / u->median);
  // Each hand-off: a wake, a poll begin and a poll end; and the two tasks' first and last.
  const double pp_events = 2.0 * 3.0 * kHandOffs;
  if (auto* u = r.result("notify_ping_pong", "untraced"), *t = r.result("notify_ping_pong", "traced");
      u && t)
    std::printf("  notify_ping_pong  %.1f ns per event (%.0f events, traced %.2fx)\n",
                (t->median - u->median) * 1e9 / pp_events, pp_events, t->median / u->median);
  return 0;
}
