// Issue 10.4-10.6: shutdown and destruction from inside the runtime, spawn from destructors
// run by the teardown, shutdown_timeout with a stuck poll, concurrent shutdowns.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace {

bool is_shutdown_from_inside(const boost::system::system_error& e) {
  return e.code() == make_error_code(zokio::errc::shutdown_from_inside);
}

// Pending forever; sets `*flag` when destroyed (by the runtime's teardown).
struct flag_on_drop {
  using output = void;
  std::shared_ptr<std::atomic<bool>> flag;
  explicit flag_on_drop(std::shared_ptr<std::atomic<bool>> f) : flag(std::move(f)) {}
  flag_on_drop(flag_on_drop&&) = default;
  ~flag_on_drop() {
    if (flag) flag->store(true);
  }
  zokio::poll<void> poll(zokio::context&) { return zokio::pending; }
};

// 1: f threw shutdown_from_inside, 2: another error, 0: no error. (Not in a coroutine's
// catch block: g++ 12 miscompiles co_return there.)
template <class F>
int refused(F f) {
  try {
    f();
  } catch (const boost::system::system_error& e) {
    return is_shutdown_from_inside(e) ? 1 : 2;
  }
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shutdown_inside)

// Before: "Resource deadlock avoided" thrown into the task, a half shut runtime and
// std::terminate in the destructor.
BOOST_AUTO_TEST_CASE(shutdown_from_a_task_is_refused_and_changes_nothing) {
  for (unsigned workers : {1u, 3u}) {
    auto rt = zokio::test::make_runtime(workers);
    auto* r = &rt;
    // (Coroutine lambdas take what they use as parameters: captures die with the closure.)
    auto h = rt.spawn([](zokio::runtime* r) -> zokio::task<int> {
      co_await zokio::yield_now{};
      co_return refused([r] { r->shutdown(); });
    }(r));
    BOOST_TEST(rt.block_on(std::move(h)) == 1);
    auto h2 = rt.spawn([](zokio::runtime* r) -> zokio::task<int> {
      co_await zokio::yield_now{};
      co_return refused([r] { r->shutdown_timeout(10ms); });
    }(r));
    BOOST_TEST(rt.block_on(std::move(h2)) == 1);
    // Still fully working.
    BOOST_TEST(rt.block_on(rt.spawn(zokio::test::value_after(1ms, 7))) == 7);
    BOOST_TEST(!rt.scheduler().is_shutdown());
  }
}

// From a posted handler: the refusal is an exception nobody joins, so block_on gets it.
BOOST_AUTO_TEST_CASE(shutdown_from_a_handler_is_refused) {
  auto rt = zokio::test::make_runtime(2);
  auto* r = &rt;
  boost::asio::post(rt.get_executor(), [r] { r->shutdown(); });
  try {
    rt.block_on(zokio::sleep(10s));
    BOOST_FAIL("no exception");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST(is_shutdown_from_inside(e));
  }
  BOOST_TEST(rt.block_on(zokio::test::value_after(1ms, 7)) == 7);
}

// Before: a deadlock (the pool waited for its own thread).
BOOST_AUTO_TEST_CASE(shutdown_from_a_blocking_job_is_refused) {
  auto rt = zokio::test::make_runtime(2);
  auto* r = &rt;
  auto h = rt.spawn_blocking([r] {
    try {
      r->shutdown();
    } catch (const boost::system::system_error& e) {
      return is_shutdown_from_inside(e) ? 1 : 2;
    }
    return 0;
  });
  BOOST_TEST(rt.block_on(std::move(h)) == 1);
  BOOST_TEST(rt.block_on(zokio::test::value_after(1ms, 7)) == 7);
}

// Destroying the runtime from one of its tasks: the destructor returns, the runtime stops and
// is torn down (the other tasks' futures destroyed) on the last worker's thread.
BOOST_AUTO_TEST_CASE(destroy_from_a_task) {
  const int rounds = 50 / zokio::test::stress_divisor + 5;
  for (int i = 0; i < rounds; ++i) {
    for (unsigned workers : {1u, 2u}) {
      auto holder = std::make_shared<std::unique_ptr<zokio::runtime>>(
          std::make_unique<zokio::runtime>(zokio::test::make_runtime(workers)));
      auto dropped = std::make_shared<std::atomic<bool>>(false);
      auto returned = std::make_shared<std::atomic<bool>>(false);
      (*holder)->spawn(flag_on_drop(dropped)).detach();
      (*holder)->spawn([](auto holder, auto returned) -> zokio::task<void> {
        co_await zokio::yield_now{};
        holder->reset();  // ~runtime on its own worker
        returned->store(true);
      }(holder, returned)).detach();
      BOOST_REQUIRE(zokio::test::wait_until([&] { return returned->load() && dropped->load(); }));
    }
  }
}

// The same with no yield before the destruction: the task may destroy the runtime while the
// spawn() that queued it is still waking a worker. The spawn holds the wake gate from the
// registration to the end of its wake-up, and teardown waits for it (found by TSan in CI as
// a race between the injector push and the last worker's delete of the scheduler).
BOOST_AUTO_TEST_CASE(destroy_from_a_task_spawned_from_outside_at_once) {
  const int rounds = 200 / zokio::test::stress_divisor + 20;
  for (int i = 0; i < rounds; ++i) {
    const unsigned workers = 1u + static_cast<unsigned>(i % 2);
    auto holder = std::make_shared<std::unique_ptr<zokio::runtime>>(
        std::make_unique<zokio::runtime>(zokio::test::make_runtime(workers)));
    auto returned = std::make_shared<std::atomic<bool>>(false);
    (*holder)->spawn_detached([](auto holder, auto returned) -> zokio::task<void> {
      holder->reset();  // ~runtime on its own worker
      returned->store(true);
      co_return;
    }(holder, returned));
    BOOST_REQUIRE(zokio::test::wait_until([&] { return returned->load(); }));
  }
}

// The same from a blocking job: the teardown runs, the job's thread deletes the runtime.
BOOST_AUTO_TEST_CASE(destroy_from_a_blocking_job) {
  for (int i = 0; i < 10; ++i) {
    auto holder = std::make_shared<std::unique_ptr<zokio::runtime>>(
        std::make_unique<zokio::runtime>(zokio::test::make_runtime(2)));
    auto dropped = std::make_shared<std::atomic<bool>>(false);
    auto returned = std::make_shared<std::atomic<bool>>(false);
    (*holder)->spawn(flag_on_drop(dropped)).detach();
    auto job = (*holder)->spawn_blocking([holder, returned] {
      holder->reset();
      returned->store(true);
    });
    (void)job;
    BOOST_REQUIRE(zokio::test::wait_until([&] { return returned->load() && dropped->load(); }));
  }
}

// Issue 10.5. Before: zokio::spawn threw no_runtime from the destructor (std::terminate when
// the destructor is noexcept).
BOOST_AUTO_TEST_CASE(spawn_in_destructor_during_teardown_is_refused_cleanly) {
  struct spawns_on_drop {
    using output = void;
    std::atomic<int>* outcome;
    explicit spawns_on_drop(std::atomic<int>* o) : outcome(o) {}
    spawns_on_drop(spawns_on_drop&& o) noexcept : outcome(std::exchange(o.outcome, nullptr)) {}
    ~spawns_on_drop() {
      if (!outcome) return;
      try {
        auto h = zokio::spawn(zokio::test::value_after(1ms, 1));
        zokio::test::hand hd;
        auto r = zokio::test::poll_once(h, hd.w);
        // Refused: the handle is complete at once and reports runtime_shutdown.
        int v = 3;
        if (r.is_ready()) v = 1;
        outcome->store(v);
      } catch (const zokio::join_error& e) {
        outcome->store(e.code() == make_error_code(zokio::errc::runtime_shutdown) ? 1 : 4);
      } catch (...) {
        outcome->store(2);
      }
    }
    zokio::poll<void> poll(zokio::context&) { return zokio::pending; }
  };
  for (int i = 0; i < 20; ++i) {
    std::atomic<int> outcome{0};
    {
      auto rt = zokio::test::make_runtime(2);
      rt.spawn(spawns_on_drop(&outcome)).detach();
      std::this_thread::sleep_for(1ms);
    }
    BOOST_TEST(outcome.load() == 1);
  }
}

// Issue 10.6. Before: true, after the 2 s poll.
BOOST_AUTO_TEST_CASE(shutdown_timeout_with_a_stuck_poll_returns_false_on_time) {
  auto dropped = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool> stuck{false}, unstuck{false};
  {
    auto rt = zokio::test::make_runtime(2);
    rt.spawn(flag_on_drop(dropped)).detach();
    rt.spawn([](std::atomic<bool>* stuck, std::atomic<bool>* unstuck) -> zokio::task<void> {
      stuck->store(true);
      std::this_thread::sleep_for(1500ms);  // a poll that blocks its worker
      unstuck->store(true);
      co_return;
    }(&stuck, &unstuck)).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] { return stuck.load(); }));
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(!rt.shutdown_timeout(100ms));
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took < 1000ms));
    BOOST_TEST(!unstuck.load());
  }  // the destructor does not wait either
  BOOST_TEST(!unstuck.load());
  // The stuck worker finishes its poll, then tears the runtime down.
  BOOST_REQUIRE(zokio::test::wait_until([&] { return unstuck.load() && dropped->load(); }));
}

BOOST_AUTO_TEST_CASE(shutdown_after_a_timed_out_one_finishes_the_teardown) {
  auto dropped = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool> stuck{false};
  auto rt = zokio::test::make_runtime(2);
  rt.spawn(flag_on_drop(dropped)).detach();
  rt.spawn([](std::atomic<bool>* stuck) -> zokio::task<void> {
    stuck->store(true);
    std::this_thread::sleep_for(300ms);
    co_return;
  }(&stuck)).detach();
  BOOST_REQUIRE(zokio::test::wait_until([&] { return stuck.load(); }));
  BOOST_TEST(!rt.shutdown_timeout(20ms));
  BOOST_TEST(!dropped->load());
  rt.shutdown();
  BOOST_TEST(dropped->load());
}

// Issue 10.6. Before: the second call returned while the first was still destroying futures.
BOOST_AUTO_TEST_CASE(concurrent_shutdowns_both_return_after_the_teardown) {
  struct slow_drop {
    using output = void;
    std::atomic<bool>* done;
    explicit slow_drop(std::atomic<bool>* d) : done(d) {}
    slow_drop(slow_drop&& o) noexcept : done(std::exchange(o.done, nullptr)) {}
    ~slow_drop() {
      if (!done) return;
      std::this_thread::sleep_for(100ms);
      done->store(true);
    }
    zokio::poll<void> poll(zokio::context&) { return zokio::pending; }
  };
  for (int i = 0; i < 5; ++i) {
    std::atomic<bool> done{false};
    auto rt = zokio::test::make_runtime(2);
    rt.spawn(slow_drop(&done)).detach();
    std::this_thread::sleep_for(1ms);
    std::atomic<int> saw_done{0};
    std::thread a([&] {
      rt.shutdown();
      saw_done += done.load();
    });
    std::thread b([&] {
      rt.shutdown();
      saw_done += done.load();
    });
    a.join();
    b.join();
    BOOST_TEST(saw_done.load() == 2);
  }
}

BOOST_AUTO_TEST_SUITE_END()
