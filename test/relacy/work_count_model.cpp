// Relacy model of the outstanding-work count behind runtime::run() (see doc/relacy.md).
//
// Mirrors, with the same memory orders: zokio/impl/scheduler.ipp work_started, work_finished
// (a worker's own pair: relaxed load + release store; other threads' shared pair: fetch_add
// release) and outstanding_work (every `finished` acquire, then every `started` acquire); the
// invariants are in zokio/detail/scheduler.hpp's work section. A change there needs the same
// change here.
//
// Checked: a chain of hand-overs (each new unit started before the old one is finished, on
// whichever thread) is never read as zero by a concurrent scan. Script: a foreign thread (F,
// like main posting a function) starts unit 1 on the shared pair and hands it to worker A
// (release/acquire, as a queue would); A starts unit 2, finishes unit 1 on its own shard, and
// hands unit 2 to worker B; B starts unit 3, finishes unit 2, then marks the chain over and
// finishes unit 3. A scanner thread (run()) reads the sum twice: once it has seen the chain
// begin, a zero means the chain is over. The units cross threads, so a shard's own counts go
// negative (A finishes what F started): only the sum means anything.
//
// Seeded bugs (`--seed-bug n`, each must make the model fail):
//   1  the scan reads `started` before `finished`: it can see a finish whose hand-over start
//      it missed, and read zero mid-chain.
//   2  the worker stores are relaxed: a finish no longer carries the start before it.
#include <cstdint>

#include "model_common.hpp"

namespace {


struct work_count_test : rl::test_suite<work_count_test, 4> {
  // Shards: 0 and 1 the workers A and B (owner-written), 2 the shared one (fetch_add).
  rl::atomic<std::uint64_t> started[3], finished[3];
  rl::atomic<int> handoff_a, handoff_b;  // a unit handed to A / to B
  rl::atomic<int> begun, over;

  void before() {
    for (int i = 0; i < 3; ++i) {
      started[i].store(0, rl::memory_order_relaxed);
      finished[i].store(0, rl::memory_order_relaxed);
    }
    handoff_a.store(0, rl::memory_order_relaxed);
    handoff_b.store(0, rl::memory_order_relaxed);
    begun.store(0, rl::memory_order_relaxed);
    over.store(0, rl::memory_order_relaxed);
  }

  void own_add(rl::atomic<std::uint64_t>& c) {
    const std::uint64_t v = c.load(rl::memory_order_relaxed) + 1;
    if (seed_bug(2))
      c.store(v, rl::memory_order_relaxed);  // BUG: not release
    else
      c.store(v, rl::memory_order_release);
  }

  long scan() {
    std::uint64_t f = 0, s = 0;
    if (seed_bug(1)) {  // BUG: started read before finished
      for (auto& c : started) s += c.load(rl::memory_order_acquire);
      for (auto& c : finished) f += c.load(rl::memory_order_acquire);
    } else {
      for (auto& c : finished) f += c.load(rl::memory_order_acquire);
      for (auto& c : started) s += c.load(rl::memory_order_acquire);
    }
    return static_cast<long>(s - f);
  }

  void thread(unsigned index) {
    switch (index) {
      case 0:  // F: a foreign thread
        started[2].fetch_add(1, rl::memory_order_release);
        begun.store(1, rl::memory_order_release);
        handoff_a.store(1, rl::memory_order_release);
        break;
      case 1:  // worker A
        while (handoff_a.load(rl::memory_order_acquire) == 0) rl::yield(1, $);
        own_add(started[0]);   // unit 2
        own_add(finished[0]);  // unit 1 (started by F)
        handoff_b.store(1, rl::memory_order_release);
        break;
      case 2:  // worker B
        while (handoff_b.load(rl::memory_order_acquire) == 0) rl::yield(1, $);
        own_add(started[1]);   // unit 3
        own_add(finished[1]);  // unit 2 (started by A)
        over.store(1, rl::memory_order_release);
        own_add(finished[1]);  // unit 3: the chain is over
        break;
      case 3:  // the scanner (run())
        for (int k = 0; k < 2; ++k) {
          bool seen_begin = begun.load(rl::memory_order_acquire) != 0;
          long n = scan();
          RL_ASSERT(n >= 0 || !seen_begin);
          if (seen_begin && n == 0) RL_ASSERT(over.load(rl::memory_order_acquire) != 0);
        }
        break;
    }
  }

  void after() { RL_ASSERT(scan() == 0); }
};

}  // namespace

int main(int argc, char** argv) {
  if (!zokio_relacy::parse_args(argc, argv)) return 2;
  bool ok = zokio_relacy::run<work_count_test>("work count: hand-over chain vs scan (exhaustive)",
                                               rl::sched_bound, 0, 2);
  ok = ok && zokio_relacy::run<work_count_test>("work count: hand-over chain vs scan",
                                                rl::sched_random, 200000);
  return zokio_relacy::finish(ok);
}
