// Tests for zokio::join_handle: join, abort, detach, exceptions surfacing at join; on both
// runtime flavours.
#include <zokio/join_handle.hpp>  // self-contained header check
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/block_on.hpp>
#include <zokio/join_all.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;

using zokio::test::flavours;
using zokio::test::make_runtime;

// The suite runs on both runtime flavours (issue 13, point 3): multi_thread, and
// current_thread, where the test's own block_on calls (and settle()) drive the runtime.
namespace {
const auto flavours_x_workers = bdata::make(flavours) * bdata::make({1u, 2u});
}  // namespace

BOOST_AUTO_TEST_SUITE(join_handle_suite)

BOOST_DATA_TEST_CASE(abort_pending_task, flavours_x_workers, flavour, workers) {
  auto rt = make_runtime(flavour, workers);
  zokio::test::tracked::live = 0;
  auto h = rt.spawn(zokio::test::never{});
  BOOST_TEST(!h.is_finished());
  h.abort();
  // The future is dropped on a worker, promptly, even though nothing ever wakes it.
  BOOST_TEST(zokio::test::settle(rt, [&] { return zokio::test::tracked::live.load() == 0; }));
  try {
    rt.block_on(std::move(h));
    BOOST_FAIL("join of an aborted task should throw");
  } catch (const zokio::join_error& e) {
    BOOST_TEST(e.is_cancelled());
    BOOST_TEST(e.code() == zokio::make_error_code(zokio::errc::task_aborted));
  }
}

BOOST_DATA_TEST_CASE(abort_running_self_waking_task, flavours_x_workers, flavour, workers) {
  // A task that keeps yielding is always NOTIFIED or RUNNING when abort arrives.
  auto rt = make_runtime(flavour, workers);
  std::atomic<long> polls{0};
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    for (;;) {
      polls.fetch_add(1);
      co_await zokio::yield_now{};
    }
  }));
  BOOST_REQUIRE(zokio::test::settle(rt, [&] { return polls.load() > 100; }));
  h.abort();
  BOOST_CHECK_THROW(rt.block_on(std::move(h)), zokio::join_error);
  long after = polls.load();
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(polls.load() == after);  // not polled any more
}

BOOST_DATA_TEST_CASE(abort_finished_task_keeps_result, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 2);
  auto h = rt.spawn(zokio::ready_future<int>(3));
  BOOST_REQUIRE(zokio::test::settle(rt, [&] { return h.is_finished(); }));
  h.abort();
  BOOST_TEST(rt.block_on(std::move(h)) == 3);
}

BOOST_DATA_TEST_CASE(exception_rethrows_at_join, flavours_x_workers, flavour, workers) {
  auto rt = make_runtime(flavour, workers);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    co_await zokio::yield_now{};
    throw std::runtime_error("task failed");
    co_return 0;
  }));
  BOOST_CHECK_EXCEPTION(rt.block_on(std::move(h)), std::runtime_error,
                        [](const std::runtime_error& e) {
                          return std::string(e.what()) == "task failed";
                        });
  // The runtime is unharmed.
  BOOST_TEST(rt.block_on(rt.spawn(zokio::ready_future<int>(1))) == 1);
}

BOOST_DATA_TEST_CASE(exception_in_hand_written_future, bdata::make(flavours), flavour) {
  struct thrower {
    using output = void;
    zokio::poll<void> poll(zokio::context&) { throw std::out_of_range("range"); }
  };
  auto rt = make_runtime(flavour, 2);
  BOOST_CHECK_THROW(rt.block_on(rt.spawn(thrower{})), std::out_of_range);
}

BOOST_DATA_TEST_CASE(join_from_another_task, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    auto inner = zokio::spawn([]() -> zokio::task<std::string> {
      for (int i = 0; i < 10; ++i) co_await zokio::yield_now{};
      co_return std::string("inner");
    }());
    auto s = co_await std::move(inner);
    co_return static_cast<int>(s.size());
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 5);
}

BOOST_DATA_TEST_CASE(detach_keeps_running, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 2);
  zokio::test::event ev;
  std::atomic<bool> ran{false};
  auto* evp = &ev;
  rt.spawn(zokio::co_invoke([&ran, evp]() -> zokio::task<void> {
      co_await evp->wait();
      ran = true;
    })).detach();
  ev.notify();
  BOOST_TEST(zokio::test::settle(rt, [&] { return ran.load(); }));
}

BOOST_DATA_TEST_CASE(dropping_handle_drops_output_once, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 2);
  zokio::test::tracked::live = 0;
  struct make_tracked {
    using output = zokio::test::tracked;
    zokio::poll<zokio::test::tracked> poll(zokio::context&) { return zokio::test::tracked{}; }
  };
  {
    auto h = rt.spawn(make_tracked{});
    BOOST_REQUIRE(zokio::test::settle(rt, [&] { return h.is_finished(); }));
    BOOST_TEST(zokio::test::tracked::live.load() == 1);  // the stored output
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
  rt.spawn(make_tracked{}).detach();  // no handle: dropped at completion
  BOOST_TEST(zokio::test::settle(rt, [&] { return rt.metrics().live_tasks == 0; }));
  BOOST_TEST(zokio::test::settle(rt, [&] { return zokio::test::tracked::live.load() == 0; }));
}

// spawn_detached: runs like a detached spawn, from outside and from a task, and drops its
// output once; after shutdown it is refused and the future dropped on the caller's thread.
zokio::task<zokio::test::tracked> make_tracked_after(std::atomic<int>* ran) {
  co_await zokio::yield_now{};
  ran->fetch_add(1);
  co_return zokio::test::tracked{};
}

BOOST_DATA_TEST_CASE(spawn_detached_runs_and_drops_its_output, bdata::make(flavours), flavour) {
  zokio::test::tracked::live = 0;
  std::atomic<int> ran{0};
  {
    auto rt = make_runtime(flavour, 2);
    for (int i = 0; i < 100; ++i) BOOST_TEST(rt.spawn_detached(make_tracked_after(&ran)));
    auto* ranp = &ran;
    rt.block_on(rt.spawn(zokio::co_invoke([ranp]() -> zokio::task<void> {
      for (int i = 0; i < 100; ++i) BOOST_TEST(zokio::spawn_detached(make_tracked_after(ranp)));
      co_return;
    })));
    BOOST_TEST(zokio::test::settle(rt, [&] { return ran.load() == 200; }));
    BOOST_TEST(zokio::test::settle(rt, [&] { return zokio::test::tracked::live.load() == 0; }));
    rt.shutdown();
    zokio::test::tracked keep;  // the future's parameter: dropped with the refused spawn
    struct holds {
      using output = void;
      zokio::test::tracked t;
      zokio::poll<void> poll(zokio::context&) { return zokio::ready(); }
    };
    BOOST_TEST(zokio::test::tracked::live.load() == 1);
    BOOST_TEST(!rt.spawn_detached(holds{std::move(keep)}));
    BOOST_TEST(zokio::test::tracked::live.load() == 1);  // `keep` itself (moved-from)
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
  BOOST_CHECK_THROW(zokio::spawn_detached(zokio::ready_future<int>(1)), boost::system::system_error);
}

// A child its joiner runs inline and that completes there hands its output over at once;
// the moved-from object left in the task goes with the join, not with the task's last
// reference (here a waker the child kept; in the wild, a stale queue entry on a parked
// worker, which held it for seconds: task_lifecycle/every_combination under ASan).
BOOST_DATA_TEST_CASE(an_inline_join_leaves_no_moved_from_output_behind, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 1);
  zokio::test::tracked::live = 0;
  static zokio::waker kept;
  struct keeps_waker {
    using output = zokio::test::tracked;
    zokio::poll<zokio::test::tracked> poll(zokio::context& cx) {
      kept = cx.waker();  // a reference the join does not own
      return zokio::test::tracked{};
    }
  };
  const long live_after_join = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<long> {
    auto h = zokio::spawn(keeps_waker{});
    { auto v = co_await std::move(h); }  // run inline, then destroyed here
    co_return zokio::test::tracked::live.load();
  })));
  BOOST_TEST(live_after_join == 0);
  kept = zokio::waker{};
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

BOOST_DATA_TEST_CASE(join_waker_replaced_when_polled_from_new_task, bdata::make(flavours), flavour) {
  // Poll a join handle by hand with one waker, then join it with another: the second must be
  // the one woken.
  auto rt = make_runtime(flavour, 2);
  zokio::test::event ev;
  auto* evp = &ev;
  auto h = rt.spawn(zokio::co_invoke([evp]() -> zokio::task<int> {
    co_await evp->wait();
    co_return 7;
  }));
  zokio::test::counting_waker cw;
  {
    zokio::waker w = cw.make();
    zokio::context cx(w);
    BOOST_TEST(h.poll(cx).is_pending());
  }
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    ev.notify();
  });
  BOOST_TEST(rt.block_on(std::move(h)) == 7);
  t.join();
  BOOST_TEST(cw.wakes.load() + cw.wakes_by_ref.load() == 0);
  BOOST_TEST(cw.refs() == 0);  // the replaced waker was dropped
}

// --- spawn_many (issue 12, point 4) ---------------------------------------------------------

zokio::task<long> square(zokio::test::tracked, long i) { co_return i * i; }

// From a thread outside the runtime: the tasks reach the workers in batches through the
// injector; the handles come back in the range's order, and join_all joins them.
BOOST_DATA_TEST_CASE(spawn_many_from_outside_runs_every_task_and_keeps_the_order, bdata::make(flavours), flavour) {
  using metrics_rt = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;
  metrics_rt rt = metrics_rt::builder().flavour(flavour).worker_threads(2).build();
  const long n = 20000 / zokio::test::stress_divisor;
  std::vector<zokio::task<long>> fs;
  for (long i = 0; i < n; ++i) fs.push_back(square(zokio::test::tracked{}, i));
  auto hs = rt.spawn_many(std::move(fs));
  BOOST_TEST(hs.size() == static_cast<std::size_t>(n));
  std::vector<long> got = rt.block_on(zokio::join_all(std::move(hs)));
  BOOST_TEST(got.size() == static_cast<std::size_t>(n));
  bool ordered = true;
  for (long i = 0; i < n; ++i) ordered = ordered && got[static_cast<std::size_t>(i)] == i * i;
  BOOST_TEST(ordered);
  std::uint64_t pulled = 0, inline_runs = 0;
  for (auto& w : rt.metrics().workers) {
    pulled += w.injector_pulls;
    inline_runs += w.inline_runs;
  }
  // Every task came through the injector. On current_thread, join_all is polled on the
  // worker (the driving thread), so it may run a child inline before its entry is pulled.
  if (flavour == zokio::runtime_flavour::current_thread) pulled += inline_runs;
  BOOST_TEST(pulled >= static_cast<std::uint64_t>(n));
}

// On a worker: each child is a fork; joined from the same task, the not-started ones run
// inline.
BOOST_DATA_TEST_CASE(spawn_many_on_a_worker_then_join_all, bdata::make(flavours), flavour) {
  auto rt = zokio::runtime::builder().flavour(flavour).worker_threads(2).build();
  long sum = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<long> {
    std::vector<zokio::task<long>> fs;
    for (long i = 0; i < 1000; ++i) fs.push_back(square(zokio::test::tracked{}, i));
    auto squares = co_await zokio::join_all(zokio::spawn_many(std::move(fs)));
    long s = 0;
    for (long v : squares) s += v;
    co_return s;
  })));
  BOOST_TEST(sum == 332833500L);  // sum of i^2, i < 1000
}

// Racing a shutdown from another thread: every handle reports its value or
// runtime_shutdown, and every future is destroyed (nothing leaks, ASan in CI).
BOOST_TEST_DECORATOR(*boost::unit_test::timeout(120))
BOOST_DATA_TEST_CASE(spawn_many_racing_shutdown_loses_nothing, bdata::make(flavours), flavour) {
  const int rounds = 20 / zokio::test::stress_divisor + 1;
  for (int r = 0; r < rounds; ++r) {
    zokio::test::tracked::live = 0;
    {
      auto rt = zokio::runtime::builder().flavour(flavour).worker_threads(2).build();
      std::thread stopper([&] { rt.shutdown(); });
      std::vector<zokio::task<long>> fs;
      for (long i = 0; i < 2000; ++i) fs.push_back(square(zokio::test::tracked{}, i));
      auto hs = rt.spawn_many(std::move(fs));
      stopper.join();
      long ok = 0, refused = 0;
      for (auto& h : hs) {
        BOOST_TEST(h.is_finished());
        try {
          zokio::block_on(std::move(h));  // finished: returns at once, on this thread
          ++ok;
        } catch (const zokio::join_error& e) {
          refused += e.code() == zokio::make_error_code(zokio::errc::runtime_shutdown);
        }
      }
      BOOST_TEST(ok + refused == 2000);
    }
    BOOST_TEST(zokio::test::tracked::live == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
