// Tests for zokio::broadcast: every receiver sees every message, lag, close rules, waiting
// receivers, value lifetimes, and a multi-receiver run on a runtime.
#include <zokio/broadcast.hpp>  // self-contained header check

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace {
using zokio::test::counting_waker;
using zokio::test::poll_once;
using zokio::test::woken;
using zokio::test::tracked;
}  // namespace

BOOST_AUTO_TEST_SUITE(broadcast_suite)

BOOST_AUTO_TEST_CASE(every_receiver_sees_every_message, *boost::unit_test::timeout(60)) {
  auto [tx, rx1] = zokio::broadcast::channel<std::string>(8);
  auto rx2 = tx.subscribe();
  BOOST_TEST(tx.receiver_count() == 2u);
  BOOST_TEST(tx.send("a").has_value());
  BOOST_TEST(tx.send("b").has_value());
  auto rx3 = rx1.resubscribe();  // sees only what comes next
  BOOST_TEST(tx.send("c").has_value());
  BOOST_TEST(rx1.len() == 3u);
  for (auto* rx : {&rx1, &rx2}) {
    BOOST_TEST(rx->try_recv().value() == "a");
    BOOST_TEST(rx->try_recv().value() == "b");
    BOOST_TEST(rx->try_recv().value() == "c");
    BOOST_TEST(rx->try_recv().error().reason == zokio::channel_errc::empty);
  }
  BOOST_TEST(rx3.try_recv().value() == "c");
  BOOST_TEST(rx3.try_recv().error().reason == zokio::channel_errc::empty);
}

BOOST_AUTO_TEST_CASE(lagging_receiver_skips_to_oldest, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::broadcast::channel<int>(4);
  for (int i = 0; i < 10; ++i) BOOST_TEST(tx.send(i).has_value());
  auto f = rx.recv();
  auto r = poll_once(f, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_REQUIRE(!r.value().has_value());
  BOOST_TEST(r.value().error().reason == zokio::channel_errc::lagged);
  BOOST_TEST(r.value().error().skipped == 6u);
  for (int i = 6; i < 10; ++i) BOOST_TEST(rx.try_recv().value() == i);
  BOOST_TEST(rx.try_recv().error().reason == zokio::channel_errc::empty);
  BOOST_TEST(tx.send(10).has_value());
  BOOST_TEST(rx.try_recv().value() == 10);
}

BOOST_AUTO_TEST_CASE(capacity_rounds_up_to_power_of_two, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::broadcast::channel<int>(3);  // 4 slots
  for (int i = 0; i < 4; ++i) BOOST_TEST(tx.send(i).has_value());
  BOOST_TEST(rx.try_recv().value() == 0);  // nothing lost yet
  BOOST_TEST(tx.send(4).has_value());
  BOOST_TEST(tx.send(5).has_value());
  BOOST_TEST(rx.try_recv().error().skipped == 1u);  // 1 was overwritten
}

BOOST_AUTO_TEST_CASE(waiting_receivers_are_woken, *boost::unit_test::timeout(60)) {
  counting_waker c1, c2;  // outlives the channels that hold its wakers
  auto [tx, rx1] = zokio::broadcast::channel<int>(4);
  auto rx2 = tx.subscribe();
  auto f1 = rx1.recv();
  auto f2 = rx2.recv();
  BOOST_TEST(poll_once(f1, c1.make()).is_pending());
  BOOST_TEST(poll_once(f2, c2.make()).is_pending());
  BOOST_TEST(poll_once(f2, c2.make()).is_pending());  // re-poll: still one waiter
  BOOST_TEST(tx.send(5).has_value());
  BOOST_TEST(woken(c1) == 1);
  BOOST_TEST(woken(c2) == 1);
  auto r1 = poll_once(f1, zokio::noop_waker());
  auto r2 = poll_once(f2, zokio::noop_waker());
  BOOST_REQUIRE(r1.is_ready());
  BOOST_REQUIRE(r2.is_ready());
  BOOST_TEST(r1.value().value() == 5);
  BOOST_TEST(r2.value().value() == 5);
  BOOST_TEST(c1.refs() == 0);
  BOOST_TEST(c2.refs() == 0);
}

BOOST_AUTO_TEST_CASE(dropped_recv_future_deregisters, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::broadcast::channel<int>(4);
  {
    auto f = rx.recv();
    BOOST_TEST(poll_once(f, cw.make()).is_pending());
  }
  BOOST_TEST(cw.refs() == 0);  // its waker was dropped with the node
  BOOST_TEST(tx.send(1).has_value());
  BOOST_TEST(woken(cw) == 0);
  BOOST_TEST(rx.try_recv().value() == 1);  // cancel-safe: nothing lost
}

BOOST_AUTO_TEST_CASE(close_rules, *boost::unit_test::timeout(60)) {
  counting_waker cw, cw2;  // outlives the channels that hold its wakers
  {
    auto [tx, rx] = zokio::broadcast::channel<int>(4);
    auto tx2 = tx;
    BOOST_TEST(tx.send(1).has_value());
    tx = {};  // tx2 keeps it open
    BOOST_TEST(rx.try_recv().value() == 1);
    auto f = rx.recv();
    BOOST_TEST(poll_once(f, cw.make()).is_pending());
    BOOST_TEST(tx2.send(2).has_value());
    tx2 = {};
    BOOST_TEST(woken(cw) == 1);
    BOOST_TEST(poll_once(f, zokio::noop_waker()).value().value() == 2);  // drained first
    BOOST_TEST(rx.try_recv().error().reason == zokio::channel_errc::closed);
  }
  {
    auto [tx, rx] = zokio::broadcast::channel<int>(4);
    auto f = rx.recv();
    BOOST_TEST(poll_once(f, cw2.make()).is_pending());
    tx = {};
    BOOST_TEST(woken(cw2) == 1);
    auto r = poll_once(f, zokio::noop_waker());
    BOOST_REQUIRE(r.is_ready());
    BOOST_TEST(r.value().error().reason == zokio::channel_errc::closed);
  }
  {
    auto [tx, rx] = zokio::broadcast::channel<std::string>(4);
    rx = {};
    BOOST_TEST(tx.receiver_count() == 0u);
    auto r = tx.send("lost?");
    BOOST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().reason == zokio::channel_errc::closed);
    BOOST_TEST(r.error().value == "lost?");
  }
}

BOOST_AUTO_TEST_CASE(values_are_destroyed, *boost::unit_test::timeout(60)) {
  tracked::live = 0;
  {
    auto [tx, rx] = zokio::broadcast::channel<tracked>(4);
    for (int i = 0; i < 10; ++i) BOOST_TEST(tx.send(tracked{}).has_value());
    BOOST_TEST(tracked::live.load() == 4);  // the ring keeps the last 4
    { auto r = rx.try_recv(); }
  }
  BOOST_TEST(tracked::live.load() == 0);
}

BOOST_AUTO_TEST_CASE(receivers_on_a_runtime, *boost::unit_test::timeout(120)) {
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  constexpr std::uint64_t n = 20'000 / zokio::test::stress_divisor;
  auto [tx, rx0] = zokio::broadcast::channel<std::uint64_t>(64);
  std::vector<zokio::join_handle<bool>> hs;
  for (int k = 0; k < 3; ++k) {
    hs.push_back(rt.spawn(zokio::co_invoke(
        [rx = tx.subscribe()]() mutable -> zokio::task<bool> {
          std::uint64_t expect = 0, seen = 0, skipped = 0;
          for (;;) {
            auto r = co_await rx.recv();
            if (!r) {
              if (r.error().reason == zokio::channel_errc::closed) break;
              skipped += r.error().skipped;  // lagged: jump ahead
              expect += r.error().skipped;
              continue;
            }
            if (*r != expect) co_return false;  // in order, nothing twice
            ++expect;
            ++seen;
          }
          co_return seen + skipped == n && expect == n;
        })));
  }
  rx0 = {};
  std::thread sender([tx = std::move(tx)]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) {
      (void)tx.send(i);
      if (i % 32 == 0) std::this_thread::yield();
    }
  });
  sender.join();
  for (auto& h : hs) BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_SUITE_END()
