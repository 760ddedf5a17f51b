// Tests for the work-stealing scheduler: foreign wakes, exclusivity of polls, stealing,
// fairness of yields, metrics.
#include <zokio/detail/scheduler.hpp>  // self-contained header check
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;
using zokio::test::stress_divisor;

// A named namespace: the data test cases below are templates whose lambdas capture these
// types, and g++ warns (-Wsubobject-linkage) when those come from an anonymous namespace.
namespace scheduler_test {

using metrics_rt = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;

using zokio::test::make_runtime;

// Woken from a foreign thread: records its waker, checks it is never polled concurrently,
// completes once it has seen all wakes.
struct foreign_woken {
  using output = long;
  struct shared {
    std::mutex m;
    zokio::waker w;
    std::atomic<long> sent{0};
    std::atomic<int> in_poll{0};
    std::atomic<int> overlaps{0};
    std::atomic<long> polls{0};
  };
  shared* s;
  long target;

  zokio::poll<long> poll(zokio::context& cx) {
    if (s->in_poll.fetch_add(1) != 0) s->overlaps.fetch_add(1);
    s->polls.fetch_add(1);
    {
      std::lock_guard lk(s->m);
      if (!s->w.will_wake(cx.waker())) s->w = cx.waker();
    }
    // Linger a little so that wakes arrive while RUNNING, too.
    std::atomic<int> spin{0};
    while (spin.fetch_add(1, std::memory_order_relaxed) < 50) {
    }
    bool done = s->sent.load() >= target;
    s->in_poll.fetch_sub(1);
    if (done) return zokio::ready(s->polls.load());
    return zokio::pending;
  }
};

// Stops its worker's io_context the way unpark() does, then waits for a timer on it.
zokio::task<void> stop_io_then_sleep(boost::asio::io_context& io, std::atomic<bool>& fired) {
  io.stop();
  co_await zokio::sleep(std::chrono::milliseconds(2));
  fired.store(true);
}

// Arms a timer on its worker's io_context, then blocks that worker (one long poll).
struct blocked_timer_probe {
  std::atomic<bool> timer_fired{false}, blocker_done{false}, fired_before_done{false};
};

zokio::task<void> block_beside_a_timer(boost::asio::io_context& io,
                                       std::shared_ptr<blocked_timer_probe> p) {
  auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(10));
  t->async_wait([t, p](boost::system::error_code) {
    p->fired_before_done.store(!p->blocker_done.load());
    p->timer_fired.store(true);
  });
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(150)) {
  }
  p->blocker_done.store(true);
  co_return;
}

}  // namespace scheduler_test

using namespace scheduler_test;

BOOST_AUTO_TEST_SUITE(scheduler_suite)

BOOST_DATA_TEST_CASE(foreign_thread_wakes, bdata::make({1u, 2u, 4u}), workers) {
  const long wakes = 100'000 / stress_divisor;
  auto rt = make_runtime<metrics_rt>(workers);
  foreign_woken::shared s;
  auto h = rt.spawn(foreign_woken{&s, wakes});
  std::thread waker_thread([&] {
    for (long i = 0; i < wakes; ++i) {
      zokio::waker w;
      while (!w.valid()) {
        std::lock_guard lk(s.m);
        w = s.w;
      }
      s.sent.fetch_add(1);
      if (i % 2)
        w.wake();
      else
        w.wake_by_ref();
    }
  });
  long polls = rt.block_on(std::move(h));
  waker_thread.join();
  BOOST_TEST(s.overlaps.load() == 0);   // never polled twice at once
  BOOST_TEST(polls >= 2);               // woken and re-polled
  BOOST_TEST(polls <= wakes + 1);       // a poll per wake at most (wakes coalesce)
  BOOST_TEST_MESSAGE(workers << " workers: " << polls << " polls for " << wakes << " wakes");
}

BOOST_AUTO_TEST_CASE(a_stopped_io_context_is_restarted_by_its_next_user) {
  // unpark() is a flag plus io_context::stop(). Restarting used to wait for a second flag the
  // waker set after its stop(): a stop not (yet) followed by that flag, as when the waker was
  // preempted between the two, left the worker on a stopped io_context, its timers and I/O
  // dead. Here the stop comes with no flag at all, from the task itself; nobody else wakes
  // the worker, so only a restart by the worker's own next poll can fire the timer.
  auto rt = make_runtime(1);
  boost::asio::io_context& io = rt.scheduler().worker_io_context(0);
  for (int round = 0; round < 5; ++round) {
    std::atomic<bool> fired{false};
    rt.spawn(stop_io_then_sleep(io, fired)).detach();
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return fired.load(); },
                                               std::chrono::milliseconds(3000)),
                       "round " << round << ": the timer never fired on the stopped io_context");
  }
}

BOOST_AUTO_TEST_CASE(a_worker_woken_by_its_own_io_is_watched_by_its_idle_sibling,
                     *boost::unit_test::timeout(120)) {
  // Both workers asleep: each sleeps without a timeout (idle costs nothing). Worker 1 is then
  // woken by its own io_context (a posted handler), not by a producer, and starts a long poll
  // with a timer pending on that io_context. Worker 0 must switch to its timed sleep and poll
  // worker 1's I/O: it used to sleep on untimed (it had seen every worker asleep), and the
  // timer waited for the blocker (CI saw it once in echo_suite's blocked-worker test).
  auto rt = make_runtime(2);
  boost::asio::io_context& io1 = rt.scheduler().worker_io_context(1);
  const int rounds = 10;
  int late = 0;
  for (int round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // both asleep, untimed
    auto p = std::make_shared<blocked_timer_probe>();
    boost::asio::post(io1, [&rt, &io1, p] {
      rt.spawn(block_beside_a_timer(io1, p)).detach();
    });
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return p->timer_fired.load(); },
                                               std::chrono::milliseconds(5000)));
    if (!p->fired_before_done.load()) ++late;
  }
  BOOST_TEST(late == 0, late << " of " << rounds
                             << " timers waited for their blocked worker");
}

BOOST_AUTO_TEST_CASE(stealing_happens) {
  // One task spawns every task into its own worker's deque, in rounds smaller than the deque
  // (so nothing overflows to the injector): the other worker only gets work by stealing.
  auto rt = make_runtime<metrics_rt>(2);
  const int rounds = 50 / stress_divisor + 1, per_round = 200;
  std::atomic<int> done{0};
  struct busy {
    using output = void;
    std::atomic<int>* done;
    zokio::poll<void> poll(zokio::context&) {
      auto end = std::chrono::steady_clock::now() + 20us;
      while (std::chrono::steady_clock::now() < end) {
      }
      done->fetch_add(1);
      return zokio::ready();
    }
  };
  rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
    for (int r = 0; r < rounds; ++r) {
      std::vector<zokio::join_handle<void>> hs;
      for (int i = 0; i < per_round; ++i) hs.push_back(zokio::spawn(busy{&done}));
      for (auto& h : hs) co_await std::move(h);
    }
  })));
  BOOST_TEST(done.load() == rounds * per_round);
  auto m = rt.metrics();
  BOOST_REQUIRE(m.workers.size() == 2u);
  for (std::size_t i = 0; i < 2; ++i)
    BOOST_TEST_MESSAGE("worker " << i << ": polls " << m.workers[i].polls << " steals "
                                 << m.workers[i].steals << " stolen " << m.workers[i].stolen_tasks
                                 << " parks " << m.workers[i].parks << " injector "
                                 << m.workers[i].injector_pulls);
  // The worker that did not spawn: whichever stole more.
  auto& thief = m.workers[0].stolen_tasks > m.workers[1].stolen_tasks ? m.workers[0] : m.workers[1];
  BOOST_TEST(thief.steals > 0u);
  // At least 5 %: the joiner runs children inline as it joins them (usually 10-40 % are
  // stolen; 110 of 1,200 was seen once under TSan, below the 10 % this asked before).
  BOOST_TEST(thief.stolen_tasks >= static_cast<std::uint64_t>(rounds * per_round / 20));
  BOOST_TEST(thief.polls >= thief.stolen_tasks / 2);
  BOOST_TEST(m.injector_depth == 0u);
}

BOOST_AUTO_TEST_CASE(yielding_tasks_share_one_worker) {
  // Two yielding tasks on one worker must interleave (yield goes behind queued work).
  auto rt = make_runtime<metrics_rt>(1);
  std::vector<int> order;
  std::mutex m;
  auto body = [&](int id) -> zokio::task<void> {
    for (int i = 0; i < 5; ++i) {
      {
        std::lock_guard lk(m);
        order.push_back(id);
      }
      co_await zokio::yield_now{};
    }
  };
  rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
    auto a = zokio::spawn(body(1));
    auto b = zokio::spawn(body(2));
    co_await std::move(a);
    co_await std::move(b);
  })));
  BOOST_REQUIRE(order.size() == 10u);
  int switches = 0;
  for (std::size_t i = 1; i < order.size(); ++i) switches += order[i] != order[i - 1];
  BOOST_TEST(switches >= 8);
}

BOOST_AUTO_TEST_CASE(ping_pong_never_starves_queue) {
  // Two tasks waking each other keep their worker's LIFO slot full: each wake puts the peer in
  // the slot, which runs next. A task queued on that worker meanwhile must still get a turn
  // while they bounce: max_lifo_polls bounds a LIFO streak, then the deque (or the spawn
  // stack) gets a turn before the slot's task. Without that bound the queued task waits until
  // the pair stops.
  //
  // The third task has to be queued behind a pair that is already bouncing, in the deque: one
  // bouncer spawns it mid-bounce on the worker (it takes the LIFO slot), then wakes its peer,
  // which takes the slot back and pushes the third task into the deque. (Spawned before the
  // bouncing, or from outside the runtime, it would run from the LIFO slot or get the
  // injector's turn, with or without the bound.) The pair gives up after `limit` bounces, so
  // that a starved third task makes the test fail instead of hang.
  constexpr long spawn_at = 100;
  const long limit = 100'000 / stress_divisor;
  // The bound's streak, and then some: a LIFO streak cap that is off, or far larger, fails.
  const long allowed_delay = 4 * (metrics_rt::config.max_lifo_polls + 1);
  struct shared {
    long limit = 0;
    long bounces = 0;           // polls of either bouncer (all on the one worker)
    long third_spawned_at = -1;
    long third_ran_at = -1;
    bool stop = false;
    bool stopped_by_limit = false;
    zokio::waker wa, wb;
  };
  struct third_task {
    using output = void;
    shared* st;
    zokio::poll<void> poll(zokio::context&) {
      st->third_ran_at = st->bounces;
      st->stop = true;
      return zokio::ready();
    }
  };
  struct bouncer {
    using output = void;
    shared* st;
    zokio::waker* self;
    zokio::waker* peer;
    bool spawner;
    zokio::poll<void> poll(zokio::context& cx) {
      const long n = ++st->bounces;
      if (!st->stop && n >= st->limit) {
        st->stop = true;
        st->stopped_by_limit = true;
      }
      if (st->stop) {
        peer->wake_by_ref();
        return zokio::ready();
      }
      if (!self->will_wake(cx.waker())) *self = cx.waker();
      if (spawner && n >= spawn_at && st->third_spawned_at < 0) {
        st->third_spawned_at = n;
        zokio::spawn(third_task{st}).detach();  // into the LIFO slot, ...
      }
      peer->wake_by_ref();  // ... which the peer takes: the third task waits (spawn stack)
      return zokio::pending;
    }
  };
  shared st;  // outlives the runtime
  st.limit = limit;
  auto rt = make_runtime<metrics_rt>(1);
  rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
    auto a = zokio::spawn(bouncer{&st, &st.wa, &st.wb, true});
    auto b = zokio::spawn(bouncer{&st, &st.wb, &st.wa, false});
    co_await std::move(a);
    co_await std::move(b);
  })));
  st.wa.reset();
  st.wb.reset();
  BOOST_TEST_REQUIRE(st.third_spawned_at >= spawn_at);
  BOOST_TEST_REQUIRE(st.third_ran_at >= 0, "the third task never ran");
  const long delay = st.third_ran_at - st.third_spawned_at;
  BOOST_TEST_MESSAGE("third task spawned at bounce " << st.third_spawned_at << ", ran at "
                                                     << st.third_ran_at << " (limit " << limit
                                                     << ")");
  BOOST_TEST(!st.stopped_by_limit,
             "the third task was starved until the pair gave up after " << limit << " bounces");
  BOOST_TEST(delay <= allowed_delay, "the third task waited " << delay << " bounces (max "
                                                              << allowed_delay << ")");
  BOOST_TEST(rt.metrics().workers[0].lifo_polls > 0u);  // the pair did bounce through the slot
}

BOOST_AUTO_TEST_CASE(tasks_of_a_blocked_worker_are_stolen) {
  // A task spawns two children (one lands in the LIFO slot, one in the deque, which wakes a
  // sibling) and then blocks its worker. The sibling must run both: it steals the deque entry,
  // then the LIFO slot. (A lone task in the LIFO slot wakes nobody, as in Tokio: see
  // doc/architecture.md.)
  auto rt = make_runtime<metrics_rt>(2);
  std::atomic<int> ran{0};
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
    for (int i = 0; i < 2; ++i)
      zokio::spawn(zokio::co_invoke([&]() -> zokio::task<void> {
        ran.fetch_add(1);
        co_return;
      })).detach();
    auto end = std::chrono::steady_clock::now() + 10s;
    while (ran.load() < 2 && std::chrono::steady_clock::now() < end) {
    }
    co_return;
  }));
  rt.block_on(std::move(h));
  BOOST_TEST(ran.load() == 2);
  BOOST_TEST(rt.metrics().total_steals() >= 1u);
}

BOOST_AUTO_TEST_CASE(metrics_compiled_out_by_default) {
  zokio::runtime rt(zokio::runtime::builder().worker_threads(2).build());
  rt.block_on(rt.spawn(zokio::yield_now{}));
  auto m = rt.metrics();
  BOOST_TEST(!m.enabled);
  BOOST_TEST(m.total_polls() == 0u);
}

BOOST_AUTO_TEST_CASE(metrics_count_polls) {
  auto rt = make_runtime<metrics_rt>(2);
  const int n = 1000;
  std::atomic<int> done{0};
  rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
    std::vector<zokio::join_handle<void>> hs;
    for (int i = 0; i < n; ++i) hs.push_back(zokio::spawn(zokio::yield_now{}));
    for (auto& h : hs) co_await std::move(h);
    done = 1;
  })));
  auto m = rt.metrics();
  // Each yield_now task is polled twice; the root at least twice.
  BOOST_TEST(m.total_polls() >= static_cast<std::uint64_t>(2 * n + 1));
  // The root's join wakes block_on just before the root leaves the owned list.
  BOOST_TEST(zokio::test::wait_until([&] { return rt.metrics().live_tasks == 0u; }));
}


// --- depth-first fork-join (issue 12, point 2) ----------------------------------------------

// A 10-ary tree written as a Zokio user writes it (spawn 9 children, await the 10th inline,
// join the 9): counts the spawned children that have not finished yet, and the most there
// ever were. Breadth-first order materialises a whole level (10^(depth-1) tasks); depth-first
// keeps about depth x 9 (plus what a thief has taken).
struct fan_out_counts {
  std::atomic<long> pending{0}, peak{0}, leaves{0};
  void spawned() {
    long now = pending.fetch_add(1) + 1;
    long p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }
};

zokio::task<long> fan_out(fan_out_counts* c, int depth, bool spawned) {
  long sum = 0;
  if (depth == 0) {
    c->leaves.fetch_add(1);
    sum = 1;
  } else {
    std::vector<zokio::join_handle<long>> hs;
    for (int i = 0; i < 9; ++i) {
      c->spawned();
      hs.push_back(zokio::spawn(fan_out(c, depth - 1, true)));
    }
    sum = co_await fan_out(c, depth - 1, false);
    for (auto& h : hs) sum += co_await std::move(h);
  }
  if (spawned) c->pending.fetch_sub(1);
  co_return sum;
}

BOOST_AUTO_TEST_CASE(fan_out_runs_depth_first_with_few_live_tasks, *boost::unit_test::timeout(120)) {
  for (unsigned workers : {1u, 2u}) {
    auto rt = make_runtime(workers);
    fan_out_counts c;
    const int depth = 5;  // 100,000 leaves; a level holds up to 10,000 tasks
    // The root is spawned, so the whole tree runs on the workers. (From block_on's thread,
    // the top levels' children go through the injector, whose fairness turns start those
    // subtrees early: a few hundred more pending, see doc/architecture.md.)
    long leaves = rt.block_on(rt.spawn(fan_out(&c, depth, false)));
    BOOST_TEST(leaves == 100000);
    BOOST_TEST_MESSAGE(workers << " worker(s): at most " << c.peak.load()
                                << " spawned children pending at once");
    // Depth-first: 9 per level on the path being worked on, per worker, and what the spill
    // to thieves holds. Breadth-first order reached thousands here.
    // Under the sanitizers (10x slower) the inline slices (doc/architecture.md) end after
    // fewer tasks, and each unwind leaves the path of joins in progress suspended with their
    // pending children: 426 seen once under TSan on 2 workers, about 100 in Release.
    BOOST_TEST(c.peak.load() <= 200 * static_cast<long>(workers) * (stress_divisor > 1 ? 2 : 1));
  }
}

// While a fork-join tree keeps one worker busy, a task woken by a timer still runs at once
// (it does not wait for the tree): wakes keep their fairness.
BOOST_AUTO_TEST_CASE(woken_tasks_run_while_a_fork_join_tree_runs, *boost::unit_test::timeout(120)) {
  auto rt = make_runtime(1);
  fan_out_counts c;
  std::atomic<long> leaves_when_timer_ran{-1};
  auto timer = rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
    co_await zokio::sleep(5ms);
    leaves_when_timer_ran = c.leaves.load();
  }));
  // 1,000,000 leaves (100,000 under the sanitizers): far longer than 5 ms either way.
  const int depth = stress_divisor > 1 ? 5 : 6;
  const long all = depth == 6 ? 1000000 : 100000;
  auto tree = rt.spawn(fan_out(&c, depth, false));
  BOOST_TEST(rt.block_on(std::move(tree)) == all);
  rt.block_on(std::move(timer));
  BOOST_TEST_MESSAGE("the timer's task ran after " << leaves_when_timer_ran.load() << " leaves");
  BOOST_TEST(leaves_when_timer_ran.load() >= 0);
  BOOST_TEST(leaves_when_timer_ran.load() < all);
}

// A task spawned from another thread (the injector) while a fork-join tree keeps the only
// worker busy runs before the tree ends: the inline slice ends with the tree unwound as soon
// as the injector holds work (within about 1 ms), not only every 10 slices.
BOOST_AUTO_TEST_CASE(outside_spawns_run_while_a_fork_join_tree_runs, *boost::unit_test::timeout(120)) {
  auto rt = make_runtime(1);
  fan_out_counts c;
  const int depth = stress_divisor > 1 ? 5 : 6;
  const long all = depth == 6 ? 1000000 : 100000;
  auto tree = rt.spawn(fan_out(&c, depth, false));
  std::atomic<long> leaves_when_ran{-1};
  std::thread outside([&] {
    while (c.leaves.load() == 0) std::this_thread::yield();  // the tree is running
    rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
      leaves_when_ran = c.leaves.load();
      co_return;
    })).detach();
  });
  BOOST_TEST(rt.block_on(std::move(tree)) == all);
  outside.join();
  BOOST_TEST_MESSAGE("the outside task ran after " << leaves_when_ran.load() << " leaves");
  BOOST_TEST(zokio::test::wait_until([&] { return leaves_when_ran.load() >= 0; }));
  BOOST_TEST(leaves_when_ran.load() < all);
}

// Shutdown while a fork-join tree runs on two workers: spawned children sit on the workers'
// spawn stacks, deques and LIFO slots. Dropping the runtime must free every one of them
// (each frame holds a tracked parameter from its creation, started or not): nothing leaks,
// nothing crashes (ASan in CI).
zokio::task<void> tracked_fan_out(zokio::test::tracked keep, std::atomic<long>* leaves, int depth) {
  if (depth == 0) {
    leaves->fetch_add(1);
    co_await zokio::yield_now{};
    co_return;
  }
  std::vector<zokio::join_handle<void>> hs;
  for (int i = 0; i < 9; ++i)
    hs.push_back(zokio::spawn(tracked_fan_out(zokio::test::tracked{}, leaves, depth - 1)));
  co_await tracked_fan_out(zokio::test::tracked{}, leaves, depth - 1);
  for (auto& h : hs) co_await std::move(h);
  (void)keep;
}

BOOST_AUTO_TEST_CASE(shutdown_while_a_fork_join_tree_runs_frees_every_task,
                     *boost::unit_test::timeout(120)) {
  zokio::test::tracked::live = 0;
  for (int round = 0; round < 5; ++round) {
    std::atomic<long> leaves{0};
    {
      auto rt = make_runtime(2);
      auto h = rt.spawn(tracked_fan_out(zokio::test::tracked{}, &leaves, 6));
      BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return leaves.load() > 1000; }));
      BOOST_TEST(zokio::test::tracked::live.load() > 0);
    }  // the handle is dropped, then the runtime, mid-tree
    BOOST_TEST(leaves.load() < 1000000);  // it was stopped, not run to the end
    BOOST_TEST(zokio::test::tracked::live.load() == 0, "frames left after shutdown");
  }
}

// Children spawned on a worker enter the owned lists only when a poll leaves them pending
// (owned_tasks.hpp): until then shutdown must find them in the queues (LIFO slot, spawn
// stack, deque, injector after an overflow). Here the runtime is stopped while the parent's
// poll that spawned them still runs, so on one worker none of them is ever polled. Each one
// must be cancelled (its handle reports runtime_shutdown) and its frame freed, handles kept
// or dropped; live_tasks counts them while they wait.
zokio::task<void> never_run_child(zokio::test::tracked keep, std::atomic<int>* polled) {
  polled->fetch_add(1);
  co_await zokio::sleep(1h);
  (void)keep;
}

BOOST_AUTO_TEST_CASE(shutdown_cancels_spawned_children_that_never_ran, *boost::unit_test::timeout(120)) {
  zokio::test::tracked::live = 0;
  constexpr int children = 600;  // beyond the spawn stack (256) and the deque (1024 / 2 spill)
  for (unsigned workers : {1u, 2u}) {
    for (int round = 0; round < 10; ++round) {
      std::atomic<int> polled{0};
      std::atomic<bool> spawned{false}, release{false};
      std::vector<zokio::join_handle<void>> kept;  // half the handles leave the runtime
      {
        auto rt = make_runtime<metrics_rt>(workers);
        rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
          std::vector<zokio::join_handle<void>> hs;
          for (int i = 0; i < children; ++i)
            hs.push_back(zokio::spawn(never_run_child(zokio::test::tracked{}, &polled)));
          for (int i = 0; i < children; i += 2) kept.push_back(std::move(hs[static_cast<std::size_t>(i)]));
          spawned = true;
          while (!release) std::this_thread::yield();  // this poll outlasts the stop request
          co_await zokio::sleep(1h);
        })).detach();
        BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return spawned.load(); }));
        if (workers == 1) BOOST_TEST(rt.metrics().live_tasks == children + 1u);
        BOOST_TEST(!rt.shutdown_timeout(0ms));  // stop requested; the busy worker keeps its poll
        release = true;
        rt.shutdown();  // finishes the teardown here (the destructor would hand it to the worker)
      }
      if (workers == 1) BOOST_TEST(polled.load() == 0);
      BOOST_TEST(zokio::test::tracked::live.load() == 0, "frames left after shutdown");
      for (auto& h : kept) BOOST_TEST(h.is_finished());
      kept.clear();
    }
  }
}

// --- Inline joins (scheduler::run_inline; doc/architecture.md, "Joins run children") -------

// One worker, so nothing can steal the child: it starts only when its parent joins it, on the
// parent's thread, inside the parent's poll.
BOOST_AUTO_TEST_CASE(a_joined_child_that_has_not_started_runs_inline_on_the_joiner) {
  auto rt = make_runtime<metrics_rt>(1);
  std::atomic<bool> joining{false}, ran_before_join{false};
  std::thread::id child_thread, parent_thread;
  int v = rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    parent_thread = std::this_thread::get_id();
    auto h = zokio::spawn(zokio::co_invoke([&]() -> zokio::task<int> {
      if (!joining) ran_before_join = true;
      child_thread = std::this_thread::get_id();
      co_return 41;
    }));
    joining = true;
    co_return co_await std::move(h) + 1;
  })));
  BOOST_TEST(v == 42);
  BOOST_TEST(!ran_before_join.load());
  BOOST_TEST((child_thread == parent_thread));
  BOOST_TEST(rt.metrics().workers[0].inline_runs == 1u);
}

// The inline run ends with the child suspended (a timer): the parent then waits for it like
// any join, and the child finishes from the queue.
BOOST_AUTO_TEST_CASE(an_inline_child_that_suspends_finishes_later) {
  for (unsigned workers : {1u, 2u}) {
    auto rt = make_runtime(workers);
    int v = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
      auto h = zokio::spawn(zokio::co_invoke([]() -> zokio::task<int> {
        co_await zokio::sleep(2ms);
        co_await zokio::yield_now{};
        co_return 7;
      }));
      co_return co_await std::move(h);
    })));
    BOOST_TEST(v == 7);
  }
}

// A child that wakes itself during the inline run is requeued and still finishes once.
BOOST_AUTO_TEST_CASE(an_inline_child_that_yields_is_requeued) {
  auto rt = make_runtime<metrics_rt>(1);
  std::atomic<int> polls_done{0};
  int v = rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    auto h = zokio::spawn(zokio::co_invoke([&]() -> zokio::task<int> {
      for (int i = 0; i < 3; ++i) {
        co_await zokio::yield_now{};
        polls_done.fetch_add(1);
      }
      co_return 3;
    }));
    co_return co_await std::move(h);
  })));
  BOOST_TEST(v == 3);
  BOOST_TEST(polls_done.load() == 3);
  BOOST_TEST(rt.metrics().workers[0].inline_runs >= 1u);
}

// An aborted child is never run by its joiner: the join reports the abort and the body never
// started. A child that throws inline hands the exception to the join.
BOOST_AUTO_TEST_CASE(an_aborted_child_is_not_run_inline_and_a_throw_reaches_the_join) {
  auto rt = make_runtime(1);
  std::atomic<bool> started{false};
  bool aborted = rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<bool> {
    auto h = zokio::spawn(zokio::co_invoke([&]() -> zokio::task<void> {
      started = true;
      co_return;
    }));
    h.abort();
    bool got_abort = false;
    try {
      co_await std::move(h);
    } catch (const zokio::join_error& e) {
      got_abort = e.code() == zokio::make_error_code(zokio::errc::task_aborted);
    }
    co_return got_abort;
  })));
  BOOST_TEST(aborted);
  BOOST_TEST(!started.load());
  BOOST_CHECK_THROW(rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
                      auto h = zokio::spawn(zokio::co_invoke([]() -> zokio::task<int> {
                        throw std::runtime_error("child");
                        co_return 0;
                      }));
                      co_return co_await std::move(h);
                    }))),
                    std::runtime_error);
}

// Two workers: thieves take children before their joins, joins claim children whose entries
// sit in a deque (stale entries), some children are aborted or detached. Every result is
// right and every frame is freed (ASan/TSan in CI).
zokio::task<long> inline_mix(zokio::test::tracked keep, int depth, int salt) {
  if (depth == 0) co_return 1;
  std::vector<zokio::join_handle<long>> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(zokio::spawn(inline_mix(keep, depth - 1, salt * 4 + i)));
  long sum = co_await inline_mix(keep, depth - 1, salt * 4 + 4);
  if (salt % 7 == 3) {
    hs[1].abort();  // counted as lost below, whether it had finished or not
    try {
      sum += co_await std::move(hs[1]);
    } catch (const zokio::join_error&) {
    }
    hs[1] = zokio::join_handle<long>();
  }
  if (salt % 5 == 2) hs[2].detach();
  for (auto& h : hs)
    if (h.valid()) sum += co_await std::move(h);
  co_return sum;
}

BOOST_AUTO_TEST_CASE(inline_joins_racing_thieves_aborts_and_detaches_lose_nothing,
                     *boost::unit_test::timeout(120)) {
  const int rounds = 20 / stress_divisor + 1;
  for (int r = 0; r < rounds; ++r) {
    zokio::test::tracked::live = 0;
    {
      auto rt = make_runtime(2);
      long got = rt.block_on(rt.spawn(inline_mix(zokio::test::tracked{}, 5, 0)));
      BOOST_TEST(got > 0);
      BOOST_TEST(got <= 3125);  // 5^5 leaves, fewer when aborts or detaches dropped some
    }
    BOOST_TEST(zokio::test::tracked::live == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
