// perf_scheduler: scheduler micro-benchmarks, Zokio against plain Boost.Asio.
//
// Workloads (each checks its own counts; a wrong count makes the process exit non-zero):
//   spawn_many     one root task spawns 100,000 trivial tasks; the last to finish signals.
//   yield_many     a root spawns 1,000 tasks that yield 400 times each; the last signals.
//   ping_pong      two spawned tasks signal each other: 1,000 round trips (A->B->A).
//   chained_spawn  a chain of 10,000 tasks, each spawning the next; the last signals.
//
// Setups, all with 2 worker threads:
//   zokio coro     (a) zokio::task<> coroutines, zokio::spawn, zokio::yield_now; the tasks
//                      nobody joins (spawn_many, yield_many, chained_spawn) are spawned with
//                      zokio::spawn_detached (until 2026-12-05: spawn(f).detach(), one RMW
//                      more per task for the handle's drop)
//   zokio hand     (b) hand-written futures (output + poll(context&)), same runtime type
//   cb: ...        (c) plain Asio callbacks: asio::post of function objects
//   aw: ...        (d) plain Asio C++20 coroutines: awaitable, co_spawn(detached),
//                      yield = co_await asio::post(ex, use_awaitable),
//                      ping_pong over experimental::concurrent_channel
//   zokio current_thread coro  the coroutines of (a) on a current_thread runtime: no worker
//                  threads, the main thread's block_on runs the workload (issue 13)
//   zokio no I/O driver coro   the coroutines of (a) on a runtime built without the I/O driver
//                  (runtime_config::enable_io_driver = false): workers park on a futex, no
//                  io_context turns (issue 13)
//   cb/aw: 1 io_context/1 thr  (c) and (d) on one io_context run by one thread: current_thread's
//                  plain-Asio baseline (not among the 2-thread targets' baselines)
//   tbb: task_group  chained_spawn only (issue 12's target): each link task_group::run()s the
//                    next in a 2-thread task_arena; the main thread waits on the group
//   (c) and (d) each on: thread_pool(2) ("pool"), one io_context run by 2 threads ("1ctx"),
//   two io_contexts run by 1 thread each ("2ctx"; spawned work is distributed round-robin,
//   a yield re-posts to the task's own io_context).
//
// Outside the timed region: every runtime, pool, io_context and its threads is created once
// per setup before the first sample and destroyed after the last; per-setup workload state
// (counters, signals, channels) is allocated once and reset at the start of each run.
// Inside the timed region: resetting that state, spawning the root (from the main thread),
// the whole workload, and the main thread being woken when it is complete.
//
// Completion: Zokio: the main thread waits with rt.block_on on a perf::signal (or on the
// root's join handle for ping_pong). Asio: the main thread waits on a bench::event (futex).
// Both are one futex wake of the main thread per workload run.
//
// Asio note: co_spawn onto the executor the caller runs on dispatches (runs the child
// inline); chained_spawn (d) therefore queues each link through a post, see aw_chain.
//
// Usage: perf_scheduler [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING] [--timeout S]
// Exit status: 0 ok, 1 a workload's result was wrong, 2 usage error, 3 a sample hung.
// Targets that are not met do not change the exit status; they are printed as NOT MET.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/version.hpp>
#include <boost/version.hpp>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <zokio/thread_per_core.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"
#include "signal.hpp"

namespace asio = boost::asio;

namespace {

constexpr unsigned kThreads = 2;
constexpr std::size_t kSpawnMany = 100'000;
constexpr std::size_t kYieldTasks = 1'000;
constexpr std::size_t kYieldsPerTask = 400;
constexpr std::size_t kRoundTrips = 1'000;
// ZOKIO_CHAIN_DEPTH=N overrides it, for experiments (the per-link cost against the fixed start-up).
const std::size_t kChainDepth = [] {
  const char* e = std::getenv("ZOKIO_CHAIN_DEPTH");
  return e && std::atoll(e) > 0 ? static_cast<std::size_t>(std::atoll(e)) : std::size_t{10000};
}();

const std::vector<std::string> kWorkloads = {"spawn_many", "yield_many", "ping_pong",
                                             "chained_spawn"};

// ---------------------------------------------------------------------------------------------
// Per-setup workload state (one instance per setup, alive for the whole program).

struct spawn_many_state {
  std::atomic<std::size_t> ran{0};
  perf::signal done_sig;  // Zokio
  bench::event done_ev;   // Asio
  void reset() {
    ran.store(0, std::memory_order_relaxed);
    done_sig.reset();
    done_ev.reset();
  }
  /// True for the task that completes the workload.
  bool hit() noexcept { return ran.fetch_add(1, std::memory_order_acq_rel) + 1 == kSpawnMany; }
};

struct yield_many_state {
  std::atomic<std::size_t> finished{0};
  std::atomic<std::size_t> yields{0};
  perf::signal done_sig;
  bench::event done_ev;
  void reset() {
    finished.store(0, std::memory_order_relaxed);
    yields.store(0, std::memory_order_relaxed);
    done_sig.reset();
    done_ev.reset();
  }
  /// A task is done after `n` yields; true for the last task.
  bool finish(std::size_t n) noexcept {
    yields.fetch_add(n, std::memory_order_relaxed);
    return finished.fetch_add(1, std::memory_order_acq_rel) + 1 == kYieldTasks;
  }
  void verify() const {
    bench::check_eq(finished.load(), kYieldTasks, "yield_many: tasks finished");
    bench::check_eq(yields.load(), kYieldTasks * kYieldsPerTask, "yield_many: total yields");
  }
};

struct ping_pong_state {
  perf::signal to_a, to_b;  // Zokio
  std::size_t a_rounds = 0, b_rounds = 0;  // each written by one side only
  std::atomic<int> sides_done{0};  // Asio: both sides finished -> done_ev
  bench::event done_ev;
  void reset() {
    to_a.reset();
    to_b.reset();
    a_rounds = b_rounds = 0;
    sides_done.store(0, std::memory_order_relaxed);
    done_ev.reset();
  }
  void side_done() noexcept {
    if (sides_done.fetch_add(1, std::memory_order_acq_rel) == 1) done_ev.set();
  }
  void verify() const {
    bench::check_eq(a_rounds, kRoundTrips, "ping_pong: round trips seen by A");
    bench::check_eq(b_rounds, kRoundTrips, "ping_pong: round trips seen by B");
  }
};

struct chain_state {
  std::atomic<std::size_t> ran{0};
  perf::signal done_sig;
  bench::event done_ev;
  void reset() {
    ran.store(0, std::memory_order_relaxed);
    done_sig.reset();
    done_ev.reset();
  }
  void verify() const { bench::check_eq(ran.load(), kChainDepth, "chained_spawn: tasks run"); }
};

// ---------------------------------------------------------------------------------------------
// (a) Zokio, coroutines: what a user writes.

using zokio_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads}>;

namespace zk_coro {

zokio::task<> trivial(spawn_many_state& s) {
  if (s.hit()) s.done_sig.notify();
  co_return;
}
zokio::task<> spawn_many_root(spawn_many_state& s) {
  for (std::size_t i = 0; i < kSpawnMany; ++i) zokio::spawn_detached(trivial(s));
  co_return;
}

zokio::task<> yielder(yield_many_state& s) {
  std::size_t n = 0;
  for (; n < kYieldsPerTask; ++n) co_await zokio::yield_now{};
  if (s.finish(n)) s.done_sig.notify();
}
zokio::task<> yield_many_root(yield_many_state& s) {
  for (std::size_t i = 0; i < kYieldTasks; ++i) zokio::spawn_detached(yielder(s));
  co_return;
}

zokio::task<> ping(ping_pong_state& s) {
  for (std::size_t i = 0; i < kRoundTrips; ++i) {
    s.to_b.notify();
    co_await s.to_a.wait();
    ++s.a_rounds;
  }
}
zokio::task<> pong(ping_pong_state& s) {
  for (std::size_t i = 0; i < kRoundTrips; ++i) {
    co_await s.to_b.wait();
    ++s.b_rounds;
    s.to_a.notify();
  }
}
zokio::task<> ping_pong_root(ping_pong_state& s) {
  auto a = zokio::spawn(ping(s));
  auto b = zokio::spawn(pong(s));
  co_await std::move(a);
  co_await std::move(b);
}

zokio::task<> chain(chain_state& s, std::size_t remaining) {
  s.ran.fetch_add(1, std::memory_order_relaxed);
  if (remaining > 1)
    zokio::spawn_detached(chain(s, remaining - 1));
  else
    s.done_sig.notify();
  co_return;
}

}  // namespace zk_coro

// ---------------------------------------------------------------------------------------------
// (b) Zokio, hand-written futures.

namespace zk_hand {

struct trivial {
  using output = void;
  spawn_many_state* s;
  zokio::poll<void> poll(zokio::context&) {
    if (s->hit()) s->done_sig.notify();
    return zokio::ready();
  }
};
struct spawn_many_root {
  using output = void;
  spawn_many_state* s;
  zokio::poll<void> poll(zokio::context&) {
    for (std::size_t i = 0; i < kSpawnMany; ++i) zokio::spawn_detached(trivial{s});
    return zokio::ready();
  }
};

struct yielder {
  using output = void;
  yield_many_state* s;
  std::size_t yielded = 0;
  zokio::poll<void> poll(zokio::context& cx) {
    if (yielded < kYieldsPerTask) {  // same as yield_now: wake ourselves, return pending
      ++yielded;
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    if (s->finish(yielded)) s->done_sig.notify();
    return zokio::ready();
  }
};
struct yield_many_root {
  using output = void;
  yield_many_state* s;
  zokio::poll<void> poll(zokio::context&) {
    for (std::size_t i = 0; i < kYieldTasks; ++i) zokio::spawn_detached(yielder{s});
    return zokio::ready();
  }
};

struct ping {
  using output = void;
  ping_pong_state* s;
  std::size_t i = 0;
  bool waiting = false;
  zokio::poll<void> poll(zokio::context& cx) {
    for (;;) {
      if (!waiting) {
        if (i == kRoundTrips) return zokio::ready();
        s->to_b.notify();
        waiting = true;
      }
      if (s->to_a.poll_wait(cx).is_pending()) return zokio::pending;
      waiting = false;
      ++i;
      ++s->a_rounds;
    }
  }
};
struct pong {
  using output = void;
  ping_pong_state* s;
  std::size_t i = 0;
  zokio::poll<void> poll(zokio::context& cx) {
    while (i < kRoundTrips) {
      if (s->to_b.poll_wait(cx).is_pending()) return zokio::pending;
      ++i;
      ++s->b_rounds;
      s->to_a.notify();
    }
    return zokio::ready();
  }
};
struct ping_pong_root {
  using output = void;
  ping_pong_state* s;
  zokio::join_handle<void> a{}, b{};
  bool started = false;
  zokio::poll<void> poll(zokio::context& cx) {
    if (!started) {
      started = true;
      a = zokio::spawn(ping{s});
      b = zokio::spawn(pong{s});
    }
    if (a.valid()) {
      if (a.poll(cx).is_pending()) return zokio::pending;
      a = zokio::join_handle<void>{};
    }
    if (b.poll(cx).is_pending()) return zokio::pending;
    b = zokio::join_handle<void>{};
    return zokio::ready();
  }
};

struct chain {
  using output = void;
  chain_state* s;
  std::size_t remaining;
  zokio::poll<void> poll(zokio::context&) {
    s->ran.fetch_add(1, std::memory_order_relaxed);
    if (remaining > 1)
      zokio::spawn_detached(chain{s, remaining - 1});
    else
      s->done_sig.notify();
    return zokio::ready();
  }
};

}  // namespace zk_hand

// ---------------------------------------------------------------------------------------------
// Zokio setups: one runtime each, created once.

template <class Rt>
struct basic_zokio_setup {
  explicit basic_zokio_setup(zokio::runtime_flavour f = zokio::runtime_flavour::multi_thread)
      : rt(typename Rt::builder().flavour(f).build()) {}
  explicit basic_zokio_setup(typename Rt::builder b) : rt(b.build()) {}
  Rt rt;
  spawn_many_state sm;
  yield_many_state ym;
  ping_pong_state pp;
  chain_state ch;
};
using zokio_setup = basic_zokio_setup<zokio_rt>;

// The hooks feature (issue 15): compiled in and unset, and with every hook set to a counter.
using hooked_rt =
    zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads, .enable_hooks = true}>;
using hooked_setup = basic_zokio_setup<hooked_rt>;
// The stall watchdog (issue 15): its thread, and two stores per poll.
using watched_rt = zokio::basic_runtime<
    zokio::runtime_config{.worker_threads = kThreads, .enable_stall_watchdog = true}>;
using watched_setup = basic_zokio_setup<watched_rt>;
// The task dump (issue 15): every task listed from spawn to completion, each poll's start noted.
using dumped_rt = zokio::basic_runtime<
    zokio::runtime_config{.worker_threads = kThreads, .enable_task_dump = true}>;
using dumped_setup = basic_zokio_setup<dumped_rt>;
// The flight recorder (issue 15): an event per spawn, poll begin and end, wake, park, steal.
using traced_rt =
    zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads, .enable_trace = true}>;
using traced_setup = basic_zokio_setup<traced_rt>;
// The latency histograms (issue 15): three steady_clock reads and two bucket updates per poll.
using timed_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads,
                                                            .enable_latency_histograms = true}>;
using timed_setup = basic_zokio_setup<timed_rt>;
// Without the I/O driver (issue 13): no io_context turns, parks and wakes on a futex.
using no_io_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads,
                                                            .enable_io_driver = false}>;
using no_io_setup = basic_zokio_setup<no_io_rt>;
// Counted per thread (what a real hook does: a contended counter would measure the cache line).
struct alignas(64) hook_slot {
  std::atomic<std::uint64_t> n{0};
};
hook_slot g_hook_slots[64];
std::atomic<unsigned> g_hook_next{0};
void count_hook() {
  thread_local hook_slot* slot =
      &g_hook_slots[g_hook_next.fetch_add(1, std::memory_order_relaxed) % 64];
  slot->n.store(slot->n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
std::uint64_t hook_calls() {
  std::uint64_t n = 0;
  for (auto& s : g_hook_slots) n += s.n.load(std::memory_order_relaxed);
  return n;
}
hooked_rt::builder all_hooks_counting() {
  hooked_rt::builder b;
  auto count = [] { count_hook(); };
  auto count_task = [](const zokio::task_info&) { count_hook(); };
  b.on_thread_start(count).on_thread_stop(count).on_thread_park(count).on_thread_unpark(count);
  b.on_task_spawn(count_task).on_task_terminate(count_task).before_poll(count_task).after_poll(
      count_task);
  return b;
}

template <class Z>
void zk_coro_spawn_many(Z& z) {
  auto& s = z.sm;
  s.reset();
  z.rt.spawn(zk_coro::spawn_many_root(s)).detach();
  z.rt.block_on(s.done_sig.wait());
  bench::check_eq(s.ran.load(), kSpawnMany, "spawn_many: tasks run");
}
template <class Z>
void zk_coro_yield_many(Z& z) {
  auto& s = z.ym;
  s.reset();
  z.rt.spawn(zk_coro::yield_many_root(s)).detach();
  z.rt.block_on(s.done_sig.wait());
  s.verify();
}
template <class Z>
void zk_coro_ping_pong(Z& z) {
  auto& s = z.pp;
  s.reset();
  z.rt.block_on(z.rt.spawn(zk_coro::ping_pong_root(s)));
  s.verify();
}
template <class Z>
void zk_coro_chained(Z& z) {
  auto& s = z.ch;
  s.reset();
  z.rt.spawn(zk_coro::chain(s, kChainDepth)).detach();
  z.rt.block_on(s.done_sig.wait());
  s.verify();
}

// Zokio's thread-per-core flavour (zokio/thread_per_core.hpp), 2 pinned shards, the same
// coroutines: work is split between the shards by the program (no stealing), ping and pong
// sit on different shards (each round trip crosses cores), the chain stays on shard 0.
struct tpc_setup {
  explicit tpc_setup(std::chrono::nanoseconds spin = {})
      : tpc(zokio::thread_per_core::builder().shards(kThreads).spin_before_park(spin).build()) {}
  zokio::thread_per_core tpc;
  spawn_many_state sm;
  yield_many_state ym;
  ping_pong_state pp;
  chain_state ch;
};

namespace zk_tpc {
zokio::task<> spawn_part(spawn_many_state& s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) zokio::spawn_detached(zk_coro::trivial(s));
  co_return;
}
zokio::task<> yield_part(yield_many_state& s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) zokio::spawn_detached(zk_coro::yielder(s));
  co_return;
}
}  // namespace zk_tpc

// Shard i's part of n (the remainder goes to shard 0).
std::size_t share(std::size_t n, unsigned i) { return n / kThreads + (i == 0 ? n % kThreads : 0); }

void tpc_spawn_many(tpc_setup& z) {
  auto& s = z.sm;
  s.reset();
  for (unsigned i = 0; i < kThreads; ++i)
    z.tpc.submit_detached_to(i, zk_tpc::spawn_part(s, share(kSpawnMany, i)));
  z.tpc.block_on(s.done_sig.wait());
  bench::check_eq(s.ran.load(), kSpawnMany, "spawn_many: tasks run");
}
void tpc_yield_many(tpc_setup& z) {
  auto& s = z.ym;
  s.reset();
  for (unsigned i = 0; i < kThreads; ++i)
    z.tpc.submit_detached_to(i, zk_tpc::yield_part(s, share(kYieldTasks, i)));
  z.tpc.block_on(s.done_sig.wait());
  s.verify();
}
void tpc_ping_pong(tpc_setup& z) {
  auto& s = z.pp;
  s.reset();
  auto a = z.tpc.submit_to(0, zk_coro::ping(s));
  auto b = z.tpc.submit_to(kThreads - 1, zk_coro::pong(s));
  z.tpc.block_on(std::move(a));
  z.tpc.block_on(std::move(b));
  s.verify();
}
void tpc_chained(tpc_setup& z) {
  auto& s = z.ch;
  s.reset();
  z.tpc.submit_detached_to(0, zk_coro::chain(s, kChainDepth));
  z.tpc.block_on(s.done_sig.wait());
  s.verify();
}

// oneTBB's task_group, chained_spawn: each link runs the next through the group.
struct tbb_chain {
  tbb::task_arena arena{static_cast<int>(kThreads)};
  tbb::task_group group;
  chain_state ch;
  void link(std::size_t remaining) {
    ch.ran.fetch_add(1, std::memory_order_relaxed);
    if (remaining > 1) group.run([this, remaining] { link(remaining - 1); });
  }
  void run() {
    ch.reset();
    arena.execute([this] {
      group.run([this] { link(kChainDepth); });
      group.wait();
    });
    ch.verify();
  }
};
const std::string kTbbChain = "tbb: task_group";

void zk_hand_spawn_many(zokio_setup& z) {
  auto& s = z.sm;
  s.reset();
  z.rt.spawn(zk_hand::spawn_many_root{&s}).detach();
  z.rt.block_on(s.done_sig.wait());
  bench::check_eq(s.ran.load(), kSpawnMany, "spawn_many: tasks run");
}
void zk_hand_yield_many(zokio_setup& z) {
  auto& s = z.ym;
  s.reset();
  z.rt.spawn(zk_hand::yield_many_root{&s}).detach();
  z.rt.block_on(s.done_sig.wait());
  s.verify();
}
void zk_hand_ping_pong(zokio_setup& z) {
  auto& s = z.pp;
  s.reset();
  z.rt.block_on(z.rt.spawn(zk_hand::ping_pong_root{&s}));
  s.verify();
}
void zk_hand_chained(zokio_setup& z) {
  auto& s = z.ch;
  s.reset();
  z.rt.spawn(zk_hand::chain{&s, kChainDepth}).detach();
  z.rt.block_on(s.done_sig.wait());
  s.verify();
}

// ---------------------------------------------------------------------------------------------
// Plain Asio executors (created once per setup; threads run until the program ends).

struct pool_env {
  asio::thread_pool pool{kThreads};
  asio::thread_pool::executor_type exec(std::size_t) { return pool.get_executor(); }
  ~pool_env() {
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
  asio::io_context::executor_type exec(std::size_t) { return io.get_executor(); }
  ~one_ctx_env() {
    guard.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }
};

// Plain Asio on one thread: one io_context with concurrency hint 1, run by one thread (the
// baseline of Zokio's current_thread flavour).
struct one_thread_env {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  asio::io_context::executor_type exec(std::size_t) { return io.get_executor(); }
  ~one_thread_env() {
    guard.reset();
    io.stop();
    thread.join();
  }
};

struct two_ctx_env {
  std::array<std::unique_ptr<asio::io_context>, kThreads> io;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  two_ctx_env() {
    for (auto& p : io) {
      p = std::make_unique<asio::io_context>(1);  // concurrency hint 1: one thread each
      guards.emplace_back(p->get_executor());
    }
    for (auto& p : io) threads.emplace_back([ctx = p.get()] { ctx->run(); });
  }
  /// Round-robin: the i-th spawned piece of work goes to io_context i % 2.
  asio::io_context::executor_type exec(std::size_t i) { return io[i % kThreads]->get_executor(); }
  ~two_ctx_env() {
    guards.clear();
    for (auto& p : io) p->stop();
    for (auto& t : threads) t.join();
  }
};

// ---------------------------------------------------------------------------------------------
// (c) Plain Asio, callbacks.

template <class Env>
struct asio_cb {
  using executor = decltype(std::declval<Env&>().exec(0));

  struct yield_step {  // one task: re-posts itself to its own executor
    executor ex;
    yield_many_state* s;
    std::size_t yielded;
    void operator()() {
      if (yielded < kYieldsPerTask) {
        ++yielded;
        asio::post(ex, yield_step{ex, s, yielded});
        return;
      }
      if (s->finish(yielded)) s->done_ev.set();
    }
  };

  struct ping_pong_run {  // A runs on exec(0), B on exec(1)
    executor ea, eb;
    ping_pong_state* s;
    void a_step() {
      if (s->a_rounds == kRoundTrips) {
        s->done_ev.set();  // nothing touches *this after this line
        return;
      }
      asio::post(eb, [this] { b_step(); });  // A signals B
    }
    void b_step() {
      ++s->b_rounds;
      asio::post(ea, [this] {  // B signals A back
        ++s->a_rounds;
        a_step();
      });
    }
  };

  static void chain_step(Env* env, chain_state* s, std::size_t remaining, std::size_t idx) {
    s->ran.fetch_add(1, std::memory_order_relaxed);
    if (remaining > 1)
      asio::post(env->exec(idx + 1),
                 [env, s, remaining, idx] { chain_step(env, s, remaining - 1, idx + 1); });
    else
      s->done_ev.set();
  }

  Env env;
  spawn_many_state sm;
  yield_many_state ym;
  ping_pong_state pp;
  chain_state ch;

  void spawn_many() {
    auto& s = sm;
    s.reset();
    asio::post(env.exec(0), [this, &s] {
      for (std::size_t i = 0; i < kSpawnMany; ++i)
        asio::post(env.exec(i), [&s] {
          if (s.hit()) s.done_ev.set();
        });
    });
    s.done_ev.wait();
    bench::check_eq(s.ran.load(), kSpawnMany, "spawn_many: tasks run");
  }
  void yield_many() {
    auto& s = ym;
    s.reset();
    asio::post(env.exec(0), [this, &s] {
      for (std::size_t i = 0; i < kYieldTasks; ++i)
        asio::post(env.exec(i), yield_step{env.exec(i), &s, 0});
    });
    s.done_ev.wait();
    s.verify();
  }
  void ping_pong() {
    auto& s = pp;
    s.reset();
    ping_pong_run run{env.exec(0), env.exec(1), &s};
    asio::post(run.ea, [&run] { run.a_step(); });
    s.done_ev.wait();
    s.verify();
  }
  void chained() {
    auto& s = ch;
    s.reset();
    Env* e = &env;
    asio::post(env.exec(0), [e, &s] { chain_step(e, &s, kChainDepth, 0); });
    s.done_ev.wait();
    s.verify();
  }
};

// ---------------------------------------------------------------------------------------------
// (d) Plain Asio, C++20 coroutines (awaitable).

using aw_channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

asio::awaitable<void> aw_trivial(spawn_many_state& s) {
  if (s.hit()) s.done_ev.set();
  co_return;
}
template <class Env>
asio::awaitable<void> aw_spawn_many_root(Env& env, spawn_many_state& s) {
  for (std::size_t i = 0; i < kSpawnMany; ++i)
    asio::co_spawn(env.exec(i), aw_trivial(s), asio::detached);
  co_return;
}

asio::awaitable<void> aw_yielder(yield_many_state& s) {
  auto ex = co_await asio::this_coro::executor;
  std::size_t n = 0;
  for (; n < kYieldsPerTask; ++n) co_await asio::post(ex, asio::use_awaitable);
  if (s.finish(n)) s.done_ev.set();
}
template <class Env>
asio::awaitable<void> aw_yield_many_root(Env& env, yield_many_state& s) {
  for (std::size_t i = 0; i < kYieldTasks; ++i)
    asio::co_spawn(env.exec(i), aw_yielder(s), asio::detached);
  co_return;
}

asio::awaitable<void> aw_ping(ping_pong_state& s, aw_channel& to_b, aw_channel& to_a) {
  for (std::size_t i = 0; i < kRoundTrips; ++i) {
    co_await to_b.async_send(boost::system::error_code{}, asio::use_awaitable);
    co_await to_a.async_receive(asio::use_awaitable);
    ++s.a_rounds;
  }
  s.side_done();
}
asio::awaitable<void> aw_pong(ping_pong_state& s, aw_channel& to_b, aw_channel& to_a) {
  for (std::size_t i = 0; i < kRoundTrips; ++i) {
    co_await to_b.async_receive(asio::use_awaitable);
    ++s.b_rounds;
    co_await to_a.async_send(boost::system::error_code{}, asio::use_awaitable);
  }
  s.side_done();
}
template <class Env>
asio::awaitable<void> aw_ping_pong_root(Env& env, ping_pong_state& s, aw_channel& to_b,
                                        aw_channel& to_a) {
  asio::co_spawn(env.exec(0), aw_ping(s, to_b, to_a), asio::detached);
  asio::co_spawn(env.exec(1), aw_pong(s, to_b, to_a), asio::detached);
  co_return;
}

// co_spawn called on a thread of the target executor dispatches: the child runs inline, on
// the parent's stack, before co_spawn returns. A 10,000-deep chain of plain co_spawns is then
// a 10,000-deep recursion that needs 4-8 MB of stack (it segfaults with `ulimit -s 4096` and
// under TSan). So when the target executor runs on this thread, the link is co_spawned from a
// posted handler: the child is queued, as in every other setup, and the stack stays flat.
// Otherwise (two io_contexts: the round-robin target is the other thread) co_spawn posts
// by itself and is called directly.
template <class Env>
asio::awaitable<void> aw_chain(Env& env, chain_state& s, std::size_t remaining,
                               std::size_t idx) {
  s.ran.fetch_add(1, std::memory_order_relaxed);
  if (remaining > 1) {
    auto ex = env.exec(idx + 1);
    if (ex.running_in_this_thread())
      asio::post(ex, [&env, &s, ex, remaining, idx] {
        asio::co_spawn(ex, aw_chain(env, s, remaining - 1, idx + 1), asio::detached);
      });
    else
      asio::co_spawn(ex, aw_chain(env, s, remaining - 1, idx + 1), asio::detached);
  } else {
    s.done_ev.set();
  }
  co_return;
}

template <class Env>
struct asio_aw {
  Env env;
  spawn_many_state sm;
  yield_many_state ym;
  ping_pong_state pp;
  chain_state ch;
  // One-slot channels, like perf::signal; empty again after every complete run.
  aw_channel to_a{env.exec(0), 1}, to_b{env.exec(0), 1};

  void spawn_many() {
    sm.reset();
    asio::co_spawn(env.exec(0), aw_spawn_many_root(env, sm), asio::detached);
    sm.done_ev.wait();
    bench::check_eq(sm.ran.load(), kSpawnMany, "spawn_many: tasks run");
  }
  void yield_many() {
    ym.reset();
    asio::co_spawn(env.exec(0), aw_yield_many_root(env, ym), asio::detached);
    ym.done_ev.wait();
    ym.verify();
  }
  void ping_pong() {
    pp.reset();
    asio::co_spawn(env.exec(0), aw_ping_pong_root(env, pp, to_b, to_a), asio::detached);
    pp.done_ev.wait();
    pp.verify();
  }
  void chained() {
    ch.reset();
    asio::co_spawn(env.exec(0), aw_chain(env, ch, kChainDepth, 0), asio::detached);
    ch.done_ev.wait();
    ch.verify();
  }
};

// ---------------------------------------------------------------------------------------------

const std::string kZkCoro = "zokio coro";
const std::string kZkTpc = "zokio tpc coro";
const std::string kZkTpcSpin = "zokio tpc spin coro";
const std::string kZkHand = "zokio hand";
const std::string kZkCt = "zokio current_thread coro";
const std::string kZkHooksOff = "zokio hooks unset coro";
const std::string kZkHooksOn = "zokio hooks set coro";
const std::string kZkWatch = "zokio watchdog coro";
const std::string kZkDump = "zokio task dump coro";
const std::string kZkTrace = "zokio trace coro";
const std::string kZkHist = "zokio histograms coro";
const std::string kZkNoIo = "zokio no I/O driver coro";
// Not among kAsioSetups (the 2-thread targets' baselines): current_thread's comparison.
const std::vector<std::string> kAsio1Setups = {"cb: 1 io_context/1 thr", "aw: 1 io_context/1 thr"};
const std::vector<std::string> kAsioSetups = {
    "cb: thread_pool(2)", "cb: 1 io_context/2 thr", "cb: 2 io_context/1 thr",
    "aw: thread_pool(2)", "aw: 1 io_context/2 thr", "aw: 2 io_context/1 thr"};
const std::vector<std::string> kPoolSetups = {"cb: thread_pool(2)", "aw: thread_pool(2)"};

template <class T>
void add_asio(bench::runner& r, const std::string& name, T& x) {
  r.add("spawn_many", name, [&x] { x.spawn_many(); });
  r.add("yield_many", name, [&x] { x.yield_many(); });
  r.add("ping_pong", name, [&x] { x.ping_pong(); });
  r.add("chained_spawn", name, [&x] { x.chained(); });
}

// The four workloads of one Zokio setup: the coroutine workloads on a runtime, or the
// thread-per-core split of them.
template <class Z>
void add_zokio_coro(bench::runner& r, const std::string& name, Z& z) {
  r.add("spawn_many", name, [&z] { zk_coro_spawn_many(z); });
  r.add("yield_many", name, [&z] { zk_coro_yield_many(z); });
  r.add("ping_pong", name, [&z] { zk_coro_ping_pong(z); });
  r.add("chained_spawn", name, [&z] { zk_coro_chained(z); });
}
void add_tpc(bench::runner& r, const std::string& name, tpc_setup& t) {
  r.add("spawn_many", name, [&t] { tpc_spawn_many(t); });
  r.add("yield_many", name, [&t] { tpc_yield_many(t); });
  r.add("ping_pong", name, [&t] { tpc_ping_pong(t); });
  r.add("chained_spawn", name, [&t] { tpc_chained(t); });
}

// The fastest (lowest median) of `names` that has a result; nullptr when none.
const bench::summary* fastest(bench::runner& r, const std::string& w,
                              const std::vector<std::string>& names, std::string* which) {
  const bench::summary* best = nullptr;
  for (auto& n : names)
    if (auto* s = r.result(w, n); s && (!best || s->median < best->median)) {
      best = s;
      *which = n;
    }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  bench::options opts = bench::parse_options(argc, argv, kWorkloads);
  auto t_start = bench::clock::now();

  std::printf("perf_scheduler: Zokio %d.%d.%d vs plain Boost %d.%d (Asio %d.%d.%d), "
              "%u worker threads, %u hardware threads, %u samples\n",
              ZOKIO_VERSION / 10000, ZOKIO_VERSION / 100 % 100, ZOKIO_VERSION % 100,
              BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_ASIO_VERSION / 100000,
              BOOST_ASIO_VERSION / 100 % 1000, BOOST_ASIO_VERSION % 100, kThreads,
              std::thread::hardware_concurrency(), opts.samples);
#ifndef NDEBUG
  std::printf("WARNING: assertions are enabled (not a Release build): numbers are not "
              "representative\n");
#endif
  std::printf("sizes: spawn_many %zu tasks, yield_many %zu x %zu yields, ping_pong %zu round "
              "trips, chained_spawn depth %zu\n",
              kSpawnMany, kYieldTasks, kYieldsPerTask, kRoundTrips, kChainDepth);
  std::fflush(stdout);

  // Created once per setup, outside every timed region.
  auto zk_a = std::make_unique<zokio_setup>();
  auto zk_b = std::make_unique<zokio_setup>();
  auto cb_pool = std::make_unique<asio_cb<pool_env>>();
  auto cb_one = std::make_unique<asio_cb<one_ctx_env>>();
  auto cb_two = std::make_unique<asio_cb<two_ctx_env>>();
  auto aw_pool = std::make_unique<asio_aw<pool_env>>();
  auto aw_one = std::make_unique<asio_aw<one_ctx_env>>();
  auto aw_two = std::make_unique<asio_aw<two_ctx_env>>();
  auto tbb_ch = std::make_unique<tbb_chain>();
  auto zk_t = std::make_unique<tpc_setup>();
  auto zk_ts = std::make_unique<tpc_setup>(std::chrono::microseconds(50));
  auto zk_ct = std::make_unique<zokio_setup>(zokio::runtime_flavour::current_thread);
  auto zk_hk_off = std::make_unique<hooked_setup>();
  auto zk_hk_on = std::make_unique<hooked_setup>(all_hooks_counting());
  auto zk_watch = std::make_unique<watched_setup>();
  auto zk_dump = std::make_unique<dumped_setup>();
  auto zk_trace = std::make_unique<traced_setup>();
  auto zk_hist = std::make_unique<timed_setup>();
  auto zk_no_io = std::make_unique<no_io_setup>();
  auto cb_1 = std::make_unique<asio_cb<one_thread_env>>();
  auto aw_1 = std::make_unique<asio_aw<one_thread_env>>();

  bench::runner r;
  {
    auto& a = *zk_a;
    auto& b = *zk_b;
    r.add("spawn_many", kZkCoro, [&a] { zk_coro_spawn_many(a); });
    r.add("spawn_many", kZkHand, [&b] { zk_hand_spawn_many(b); });
    r.add("yield_many", kZkCoro, [&a] { zk_coro_yield_many(a); });
    r.add("yield_many", kZkHand, [&b] { zk_hand_yield_many(b); });
    r.add("ping_pong", kZkCoro, [&a] { zk_coro_ping_pong(a); });
    r.add("ping_pong", kZkHand, [&b] { zk_hand_ping_pong(b); });
    r.add("chained_spawn", kZkCoro, [&a] { zk_coro_chained(a); });
    r.add("chained_spawn", kZkHand, [&b] { zk_hand_chained(b); });
  }
  add_tpc(r, kZkTpc, *zk_t);
  add_tpc(r, kZkTpcSpin, *zk_ts);
  add_zokio_coro(r, kZkCt, *zk_ct);  // current_thread: the main thread's block_on runs it
  add_zokio_coro(r, kZkHooksOff, *zk_hk_off);
  add_zokio_coro(r, kZkHooksOn, *zk_hk_on);
  add_zokio_coro(r, kZkWatch, *zk_watch);
  add_zokio_coro(r, kZkDump, *zk_dump);
  add_zokio_coro(r, kZkTrace, *zk_trace);
  add_zokio_coro(r, kZkHist, *zk_hist);
  add_zokio_coro(r, kZkNoIo, *zk_no_io);
  add_asio(r, kAsio1Setups[0], *cb_1);
  add_asio(r, kAsio1Setups[1], *aw_1);
  add_asio(r, kAsioSetups[0], *cb_pool);
  add_asio(r, kAsioSetups[1], *cb_one);
  add_asio(r, kAsioSetups[2], *cb_two);
  add_asio(r, kAsioSetups[3], *aw_pool);
  add_asio(r, kAsioSetups[4], *aw_one);
  add_asio(r, kAsioSetups[5], *aw_two);

  r.add("chained_spawn", kTbbChain, [&t = *tbb_ch] { t.run(); });

  bool ok = r.run(opts);

  std::printf("\nTimes are per workload run (median of %u samples, min - max).\n", opts.samples);
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    std::printf("\n== %s\n", w.c_str());
    r.print_table(w);

    std::printf("  speed-up = asio median / zokio median (> 1: Zokio faster)\n");
    std::printf("  %-12s", "");
    for (auto& a : kAsioSetups) std::printf("  %s", bench::pad(a, 22, false).c_str());
    std::printf("\n");
    for (auto* z : {&kZkCoro, &kZkHand}) {
      std::printf("  %-12s", z->c_str());
      const bench::summary* zs = r.result(w, *z);
      for (auto& a : kAsioSetups) {
        const bench::summary* as = r.result(w, a);
        std::string cell = zs && as ? bench::format_ratio(bench::ratio(*as, *zs)) : "n/a";
        std::printf("  %s", bench::pad(cell, 22, false).c_str());
      }
      std::printf("\n");
    }
  }

  // Targets.
  struct target {
    std::string workload;
    double min_ratio;
    bool vs_pool;  // true: against asio::thread_pool; false: against the fastest Asio setup
  };
  const target targets[] = {{"spawn_many", 1.5, true},
                            {"yield_many", 1.0, false},
                            {"ping_pong", 2.5, false},
                            {"chained_spawn", 1.3, true}};
  std::printf("\n== thread_per_core (2 pinned shards) against multi_thread (2 workers), same "
              "coroutines\n");
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    const bench::summary* mt = r.result(w, kZkCoro);
    const bench::summary* tp = r.result(w, kZkTpc);
    const bench::summary* ts = r.result(w, kZkTpcSpin);
    if (mt && tp)
      std::printf("  %-14s multi_thread %s, thread_per_core %s: speed-up %s", w.c_str(),
                  bench::format_duration(mt->median).c_str(), bench::format_duration(tp->median).c_str(),
                  bench::format_ratio(bench::ratio(*mt, *tp)).c_str());
    if (mt && tp && ts)
      std::printf("; spinning 50 us before parking %s: speed-up %s", bench::format_duration(ts->median).c_str(),
                  bench::format_ratio(bench::ratio(*mt, *ts)).c_str());
    if (mt && tp) std::printf("\n");
  }

  std::printf("\n== current_thread (the caller of block_on runs everything) against "
              "multi_thread (2 workers) and plain Asio on one thread (speed-up > 1: "
              "current_thread faster)\n");
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    const bench::summary* ct = r.result(w, kZkCt);
    const bench::summary* mt = r.result(w, kZkCoro);
    if (!ct) continue;
    std::printf("  %-14s current_thread %s", w.c_str(), bench::format_duration(ct->median).c_str());
    if (mt) std::printf(", vs multi_thread %s", bench::format_ratio(bench::ratio(*mt, *ct)).c_str());
    for (auto& a : kAsio1Setups)
      if (const bench::summary* as = r.result(w, a))
        std::printf(", vs %s %s", a.c_str(), bench::format_ratio(bench::ratio(*as, *ct)).c_str());
    std::printf("\n");
  }

  std::printf("\n== without the I/O driver (runtime_config::enable_io_driver = false) against "
              "the same coroutines with it (%s); ratio < 1: faster without\n", kZkCoro.c_str());
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    const bench::summary* base = r.result(w, kZkCoro);
    const bench::summary* no_io = r.result(w, kZkNoIo);
    if (!base || !no_io) continue;
    std::printf("  %-14s %s against %s (%.2fx)\n", w.c_str(),
                bench::format_duration(no_io->median).c_str(),
                bench::format_duration(base->median).c_str(), no_io->median / base->median);
  }

  std::printf("\n== hooks (runtime_config::enable_hooks) against the same coroutines without "
              "the feature (%s); ratio > 1: slower\n", kZkCoro.c_str());
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    const bench::summary* base = r.result(w, kZkCoro);
    const bench::summary* off = r.result(w, kZkHooksOff);
    const bench::summary* on = r.result(w, kZkHooksOn);
    const bench::summary* dog = r.result(w, kZkWatch);
    const bench::summary* dump = r.result(w, kZkDump);
    const bench::summary* tr = r.result(w, kZkTrace);
    const bench::summary* hist = r.result(w, kZkHist);
    if (!base || !off || !on) continue;
    // Hook calls in one more run of the workload: the cost per call from the medians.
    const std::uint64_t before = hook_calls();
    if (w == "spawn_many") zk_coro_spawn_many(*zk_hk_on);
    if (w == "yield_many") zk_coro_yield_many(*zk_hk_on);
    if (w == "ping_pong") zk_coro_ping_pong(*zk_hk_on);
    if (w == "chained_spawn") zk_coro_chained(*zk_hk_on);
    const double calls = static_cast<double>(hook_calls() - before);
    std::printf("  %-14s unset %s (%.2fx), set %s (%.2fx): %.0f hook calls per run, %.1f ns "
                "each\n",
                w.c_str(), bench::format_duration(off->median).c_str(),
                off->median / base->median, bench::format_duration(on->median).c_str(),
                on->median / base->median, calls,
                calls > 0 ? (on->median - base->median) * 1e9 / calls : 0.0);
    if (dog)
      std::printf("  %-14s stall watchdog (100 ms) %s (%.2fx)\n", "",
                  bench::format_duration(dog->median).c_str(), dog->median / base->median);
    if (dump)
      std::printf("  %-14s task dump %s (%.2fx)\n", "", bench::format_duration(dump->median).c_str(),
                  dump->median / base->median);
    if (tr)
      std::printf("  %-14s trace %s (%.2fx)\n", "", bench::format_duration(tr->median).c_str(),
                  tr->median / base->median);
    if (hist) {
      // Polls in one more run (the histogram counts them): the cost per poll from the medians.
      const std::uint64_t p0 = zk_hist->rt.metrics().poll_time().count();
      if (w == "spawn_many") zk_coro_spawn_many(*zk_hist);
      if (w == "yield_many") zk_coro_yield_many(*zk_hist);
      if (w == "ping_pong") zk_coro_ping_pong(*zk_hist);
      if (w == "chained_spawn") zk_coro_chained(*zk_hist);
      const double polls = static_cast<double>(zk_hist->rt.metrics().poll_time().count() - p0);
      std::printf("  %-14s latency histograms %s (%.2fx): %.0f polls per run, %.1f ns each\n",
                  "", bench::format_duration(hist->median).c_str(), hist->median / base->median,
                  polls, polls > 0 ? (hist->median - base->median) * 1e9 / polls : 0.0);
    }
  }

  std::printf("\n== targets (baseline: the fastest of the named Asio setups, by median)\n");
  for (auto& t : targets) {
    if (!opts.selected(t.workload)) continue;
    std::string which;
    const bench::summary* base =
        fastest(r, t.workload, t.vs_pool ? kPoolSetups : kAsioSetups, &which);
    std::printf("%s: >= %.1fx %s (baseline %s, %s)\n", t.workload.c_str(), t.min_ratio,
                t.vs_pool ? "asio::thread_pool" : "the fastest plain-Asio setup",
                base ? which.c_str() : "n/a",
                base ? bench::format_duration(base->median).c_str() : "n/a");
    for (auto* z : {&kZkCoro, &kZkHand}) {
      const bench::summary* zs = r.result(t.workload, *z);
      if (!zs || !base) {
        std::printf("  %s: n/a (%s failed or was not run)\n", z->c_str(),
                    !zs ? z->c_str() : "the baseline");
        continue;
      }
      bench::print_target(*z, bench::ratio(*base, *zs), t.min_ratio);
    }
    // For reference only (not the target): the best callback and the best coroutine baseline.
    const std::vector<std::string>& pool = kPoolSetups;
    std::vector<std::string> cb(kAsioSetups.begin(), kAsioSetups.begin() + 3);
    std::vector<std::string> aw(kAsioSetups.begin() + 3, kAsioSetups.end());
    std::vector<std::string> cb_set = t.vs_pool ? std::vector<std::string>{pool[0]} : cb;
    std::vector<std::string> aw_set = t.vs_pool ? std::vector<std::string>{pool[1]} : aw;
    for (auto* set : {&cb_set, &aw_set}) {
      std::string w2;
      const bench::summary* b = fastest(r, t.workload, *set, &w2);
      const bench::summary* za = r.result(t.workload, kZkCoro);
      const bench::summary* zb = r.result(t.workload, kZkHand);
      if (!b) continue;
      std::printf("  (reference, not the target: vs %s %s: coro %s, hand %s)\n", w2.c_str(),
                  bench::format_duration(b->median).c_str(),
                  za ? bench::format_ratio(bench::ratio(*b, *za)).c_str() : "n/a",
                  zb ? bench::format_ratio(bench::ratio(*b, *zb)).c_str() : "n/a");
    }
  }

  if (opts.selected("chained_spawn")) {
    // Issue 12: chained_spawn at least at oneTBB's task_group rate (same run).
    const bench::summary* tb = r.result("chained_spawn", kTbbChain);
    std::printf("\nchained_spawn: >= 1.0x oneTBB task_group (baseline %s)\n",
                tb ? bench::format_duration(tb->median).c_str() : "n/a");
    for (auto* z : {&kZkCoro, &kZkHand}) {
      const bench::summary* zs = r.result("chained_spawn", *z);
      if (tb && zs) bench::print_target(*z, bench::ratio(*tb, *zs), 1.0);
    }
  }

  std::printf("\ntotal wall time %.1f s\n", bench::seconds_since(t_start));
  if (!ok) std::printf("RESULT CHECK FAILED: see FAILED lines above\n");
  std::fflush(stdout);
  return ok ? 0 : 1;
}
