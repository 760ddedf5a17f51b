// Tests for zokio::watch: borrow, changed(), coalescing, close rules, cancellation, and a
// waiting receiver on a runtime.
#include <zokio/watch.hpp>  // self-contained header check

#include <atomic>
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
}  // namespace

BOOST_AUTO_TEST_SUITE(watch_suite)

BOOST_AUTO_TEST_CASE(borrow_and_changed, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::watch::channel<std::string>("init");
  BOOST_TEST(*rx.borrow() == "init");
  BOOST_TEST(rx.has_changed().value() == false);
  auto f = rx.changed();
  BOOST_TEST(poll_once(f, cw.make()).is_pending());
  BOOST_TEST(tx.send("one").has_value());
  BOOST_TEST(woken(cw) == 1);
  auto r = poll_once(f, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().has_value());
  BOOST_TEST(*rx.borrow() == "one");
  BOOST_TEST(*tx.borrow() == "one");
  BOOST_TEST(rx.has_changed().value() == false);
  BOOST_TEST(cw.refs() == 0);
}

BOOST_AUTO_TEST_CASE(changes_coalesce, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::watch::channel<int>(0);
  for (int i = 1; i <= 3; ++i) BOOST_TEST(tx.send(i).has_value());
  BOOST_TEST(rx.has_changed().value());
  {
    auto f = rx.changed();
    auto r = poll_once(f, zokio::noop_waker());
    BOOST_REQUIRE(r.is_ready());  // once for three sends
  }
  BOOST_TEST(*rx.borrow() == 3);  // only the latest
  auto g = rx.changed();
  BOOST_TEST(poll_once(g, zokio::noop_waker()).is_pending());
}

BOOST_AUTO_TEST_CASE(borrow_and_update_marks_seen, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::watch::channel<int>(0);
  tx.send_modify([](int& v) { v += 5; });
  {
    auto r = rx.borrow_and_update();
    BOOST_TEST(*r == 5);
    BOOST_TEST(r.has_changed());
  }
  BOOST_TEST(!rx.has_changed().value());
  BOOST_TEST(!tx.send_if_modified([](int&) { return false; }));
  BOOST_TEST(!rx.has_changed().value());  // not modified: no notification
  BOOST_TEST(tx.send_if_modified([](int& v) { return ++v, true; }));
  BOOST_TEST(rx.has_changed().value());
  BOOST_TEST(tx.send_replace(9) == 6);
}

BOOST_AUTO_TEST_CASE(close_rules, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  {
    auto [tx, rx] = zokio::watch::channel<int>(0);
    auto f = rx.changed();
    BOOST_TEST(poll_once(f, cw.make()).is_pending());
    tx = {};
    BOOST_TEST(woken(cw) == 1);
    auto r = poll_once(f, zokio::noop_waker());
    BOOST_REQUIRE(r.is_ready());
    BOOST_TEST(r.value().error() == zokio::channel_errc::closed);
    BOOST_TEST(*rx.borrow() == 0);  // the last value stays readable
  }
  {
    auto [tx, rx] = zokio::watch::channel<int>(0);
    BOOST_TEST(tx.send(1).has_value());
    tx = {};
    auto f = rx.changed();  // an unseen value first, then closed
    BOOST_TEST(poll_once(f, zokio::noop_waker()).value().has_value());
    auto g = rx.changed();
    BOOST_TEST(poll_once(g, zokio::noop_waker()).value().error() == zokio::channel_errc::closed);
    BOOST_TEST(rx.has_changed().error() == zokio::channel_errc::closed);
  }
  {
    auto [tx, rx] = zokio::watch::channel<int>(0);
    auto rx2 = rx;
    BOOST_TEST(tx.receiver_count() == 2u);
    rx = {};
    rx2 = {};
    BOOST_TEST(tx.is_closed());
    auto r = tx.send(4);
    BOOST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().value == 4);
    BOOST_TEST(*tx.borrow() == 0);  // a failed send leaves the value alone
    tx.send_replace(7);                  // send_replace works without receivers
    BOOST_TEST(*tx.borrow() == 7);
    auto rx3 = tx.subscribe();
    BOOST_TEST(*rx3.borrow() == 7);
    BOOST_TEST(!rx3.has_changed().value());
  }
}

BOOST_AUTO_TEST_CASE(dropped_changed_future_deregisters, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::watch::channel<int>(0);
  {
    auto f = rx.changed();
    BOOST_TEST(poll_once(f, cw.make()).is_pending());
  }
  BOOST_TEST(cw.refs() == 0);
  BOOST_TEST(tx.send(1).has_value());
  BOOST_TEST(woken(cw) == 0);
  auto g = rx.changed();  // cancel-safe: the change is still unseen
  BOOST_TEST(poll_once(g, zokio::noop_waker()).is_ready());
}

BOOST_AUTO_TEST_CASE(many_receivers_on_a_runtime, *boost::unit_test::timeout(120)) {
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  constexpr int last = 2000 / zokio::test::stress_divisor;
  auto [tx, rx] = zokio::watch::channel<int>(0);
  std::vector<zokio::join_handle<int>> hs;
  for (int k = 0; k < 8; ++k) {
    hs.push_back(rt.spawn(zokio::co_invoke([rx = rx]() mutable -> zokio::task<int> {
      int prev = -1, wakes = 0;
      while ((co_await rx.changed()).has_value()) {
        int v = *rx.borrow_and_update();
        if (v < prev) co_return -1;  // never goes back
        prev = v;
        ++wakes;
        if (v == last) break;
      }
      co_return prev == last ? wakes : -2;
    })));
  }
  rx = {};
  std::thread t([tx = std::move(tx)]() mutable {
    for (int i = 1; i <= last; ++i) tx.send_replace(i);
  });
  t.join();
  for (auto& h : hs) {
    int wakes = rt.block_on(std::move(h));
    BOOST_TEST(wakes >= 1);
    BOOST_TEST(wakes <= last);  // coalesced: at most one per send
  }
}

BOOST_AUTO_TEST_SUITE_END()
