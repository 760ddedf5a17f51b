// zokio::cancellation_token (issue 17, point 2): sticky, hierarchical, any thread; its
// cancelled() future, run_until_cancelled, on_cancel registrations with a join_set and in
// select; races of cancel against starting, deregistering and dropping children (run under
// TSan and ASan with the suite).
#include <zokio/cancellation_token.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <boost/asio/steady_timer.hpp>

#include <zokio/join_set.hpp>
#include <zokio/runtime.hpp>
#include <zokio/select.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/task_scope.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
namespace asio_error = boost::asio::error;

BOOST_AUTO_TEST_SUITE(cancellation_token_suite)

BOOST_AUTO_TEST_CASE(cancel_is_sticky_and_idempotent) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(1).build();
  zokio::cancellation_token t;
  BOOST_TEST(!t.is_cancelled());
  zokio::cancellation_token copy = t;
  t.cancel();
  t.cancel();
  BOOST_TEST(copy.is_cancelled());
  rt.block_on(copy.cancelled());  // ready at once: created after the cancel
  auto r = rt.block_on(t.run_until_cancelled(zokio::sleep(10s)));
  BOOST_TEST(r.error() == asio_error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(children_follow_parents_and_never_the_reverse) {
  zokio::cancellation_token root;
  zokio::cancellation_token a = root.child_token(), b = root.child_token();
  zokio::cancellation_token a1 = a.child_token();
  {
    zokio::cancellation_token dropped = a.child_token();  // gone before any cancel
  }
  a.cancel();
  BOOST_TEST(a.is_cancelled());
  BOOST_TEST(a1.is_cancelled());
  BOOST_TEST(!root.is_cancelled());
  BOOST_TEST(!b.is_cancelled());
  root.cancel();
  BOOST_TEST(b.is_cancelled());
  BOOST_TEST(root.child_token().is_cancelled());  // born cancelled
  BOOST_TEST(a1.child_token().child_token().is_cancelled());
}

BOOST_AUTO_TEST_CASE(a_waiting_task_is_woken_from_another_thread) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  zokio::cancellation_token parent;
  zokio::cancellation_token t = parent.child_token();
  auto h = rt.spawn([](zokio::cancellation_token t) -> zokio::task<int> {
    co_await t.cancelled();
    co_return 7;
  }(t));
  auto slept = rt.spawn(t.run_until_cancelled(zokio::sleep(10s)));
  auto done = rt.spawn(t.run_until_cancelled([]() -> zokio::task<int> { co_return 5; }()));
  BOOST_TEST(rt.block_on(std::move(done)).value() == 5);  // not cancelled: f's output
  std::thread canceller([&] {
    std::this_thread::sleep_for(10ms);
    parent.cancel();
  });
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(rt.block_on(std::move(h)) == 7);
  BOOST_TEST(rt.block_on(std::move(slept)).error() == asio_error::operation_aborted);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
  canceller.join();
}

BOOST_AUTO_TEST_CASE(on_cancel_runs_once_now_or_later_and_never_after_its_end) {
  zokio::cancellation_token t;
  int before = 0, dropped = 0, after = 0;
  auto r1 = t.on_cancel([&]() noexcept { ++before; });
  {
    auto r2 = t.on_cancel([&]() noexcept { ++dropped; });
  }
  t.cancel();
  t.cancel();
  auto r3 = t.on_cancel([&]() noexcept { ++after; });  // already cancelled: runs here
  BOOST_TEST(before == 1);
  BOOST_TEST(dropped == 0);
  BOOST_TEST(after == 1);

  // A callback may cancel other tokens and register on its own token (no deadlock).
  zokio::cancellation_token u, other;
  int inner = 0;
  std::optional<zokio::cancellation_registration> late;
  auto r4 = u.on_cancel([&]() noexcept {
    other.cancel();
    late.emplace(u, [&]() noexcept { ++inner; });
  });
  u.cancel();
  BOOST_TEST(other.is_cancelled());
  BOOST_TEST(inner == 1);
}

// Cancelling a token cancels every child of a join_set through a registration, and select
// over cancelled() stops a waiting loop.
BOOST_AUTO_TEST_CASE(cancels_a_join_set_and_a_select) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  zokio::cancellation_token stop;
  auto h = rt.spawn([](zokio::cancellation_token stop) -> zokio::task<int> {
    zokio::join_set<int> set;
    for (int i = 0; i < 10; ++i)
      set.spawn([]() -> zokio::task<int> {
        co_await zokio::sleep(10s);
        co_return 1;
      }());
    auto reg = stop.on_cancel([&]() noexcept { set.abort_all(); });
    int failed = 0;
    for (;;) {
      try {
        auto r = co_await set.join_next();
        if (!r) break;
      } catch (const zokio::join_error&) {
        ++failed;
      }
    }
    co_return failed;
  }(stop));
  auto s = rt.spawn([](zokio::cancellation_token stop) -> zokio::task<int> {
    int ticks = 0;
    for (;;) {
      auto v = co_await zokio::select(zokio::sleep(1ms), stop.cancelled());
      if (v.index() == 1) co_return ticks;
      ++ticks;
    }
  }(stop));
  std::this_thread::sleep_for(20ms);
  stop.cancel();
  BOOST_TEST(rt.block_on(std::move(h)) == 10);
  BOOST_TEST(rt.block_on(std::move(s)) >= 1);
}

// The compositions doc/cancellation.md promises: a use_future operation under
// run_until_cancelled is cancelled through Asio (its wait ends at once, not after 10 s), and
// a task_scope under it is dropped with its children (their frames are destroyed).
BOOST_AUTO_TEST_CASE(cancels_a_use_future_operation_and_a_task_scope) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  zokio::cancellation_token stop;
  boost::asio::steady_timer timer(rt.get_executor());
  timer.expires_after(10s);
  auto op = rt.spawn(stop.run_until_cancelled(timer.async_wait(zokio::use_future)));
  auto alive = std::make_shared<int>(0);  // one reference per live child frame
  auto scope = rt.spawn(stop.run_until_cancelled(
      zokio::task_scope::run([alive](zokio::task_scope& s) -> zokio::task<int> {
        for (int i = 0; i < 3; ++i)
          s.spawn([](std::shared_ptr<int> keep) -> zokio::task<void> {
            co_await zokio::sleep(10s);
            (void)keep;
          }(alive));
        co_return 1;
      })));
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(alive.use_count() >= 4);  // the children hold it while they wait
  const auto t0 = std::chrono::steady_clock::now();
  stop.cancel();
  BOOST_TEST(rt.block_on(std::move(op)).error() == asio_error::operation_aborted);
  BOOST_TEST(rt.block_on(std::move(scope)).error() == asio_error::operation_aborted);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return alive.use_count() == 1; }));
}

// Sticky under a race: the cancel and the start of the operation are not ordered. Every
// round's operation ends cancelled, promptly; none waits out its 10 s.
BOOST_AUTO_TEST_CASE(cancel_racing_the_start_is_never_lost) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  const auto t0 = std::chrono::steady_clock::now();
  int aborted = 0;
  for (int round = 0; round < 1000; ++round) {
    zokio::cancellation_token t;
    std::thread canceller([t] { t.cancel(); });
    auto h = rt.spawn(t.child_token().run_until_cancelled(zokio::sleep(10s)));
    aborted += rt.block_on(std::move(h)).error() == asio_error::operation_aborted;
    canceller.join();
  }
  BOOST_TEST(aborted == 1000);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 60s));
}

// Hostile: a registration destroyed, a child token dropped and a waiting future dropped
// while another thread cancels. After the destructor returns the callback neither runs nor
// is running (it touches memory freed right after: ASan would see it).
BOOST_AUTO_TEST_CASE(deregistering_racing_cancel) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  int fired = 0;
  for (int round = 0; round < 500; ++round) {
    zokio::cancellation_token t;
    auto box = std::make_unique<std::atomic<int>>(0);
    auto reg = std::make_unique<zokio::cancellation_registration>(
        t, [p = box.get()]() noexcept { p->fetch_add(1); });
    std::optional<zokio::cancellation_token> child = t.child_token();
    auto waiter = rt.spawn(t.cancelled());
    std::thread canceller([t] { t.cancel(); });
    reg.reset();
    fired += box->load();
    box.reset();
    child.reset();
    rt.block_on(std::move(waiter));
    canceller.join();
  }
  BOOST_TEST(fired <= 500);
}

BOOST_AUTO_TEST_SUITE_END()
