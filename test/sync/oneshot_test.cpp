// Tests for zokio::oneshot: send/receive, close and drop rules, wakers, one allocation.
#include <zokio/oneshot.hpp>  // self-contained header check

#include <atomic>
#include <memory>
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
using zokio::test::tracked;
}  // namespace

BOOST_AUTO_TEST_SUITE(oneshot_suite)

BOOST_AUTO_TEST_CASE(send_then_receive, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::oneshot::channel<std::string>();
  BOOST_TEST(!tx.is_closed());
  BOOST_TEST(tx.send("hello").has_value());
  BOOST_TEST(!tx.valid());  // spent
  auto r = poll_once(rx, cw.make());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().value() == "hello");
}

BOOST_AUTO_TEST_CASE(pending_receiver_is_woken_by_send, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::oneshot::channel<int>();
  {
    zokio::waker w = cw.make();
    BOOST_TEST(poll_once(rx, w).is_pending());
    BOOST_TEST(poll_once(rx, w).is_pending());  // same waker: not cloned again
  }
  BOOST_TEST(cw.clones.load() == 2);  // ours + the one stored
  BOOST_TEST(cw.wakes_by_ref.load() == 0);
  BOOST_TEST(tx.send(7).has_value());
  BOOST_TEST(cw.wakes_by_ref.load() + cw.wakes.load() == 1);
  auto r = poll_once(rx, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().value() == 7);
  rx = {};
  BOOST_TEST(cw.refs() == 0);  // the stored waker was dropped with the state
}

BOOST_AUTO_TEST_CASE(replaced_waker_only_the_new_one_wakes, *boost::unit_test::timeout(60)) {
  counting_waker a, b;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::oneshot::channel<int>();
  BOOST_TEST(poll_once(rx, a.make()).is_pending());
  BOOST_TEST(poll_once(rx, b.make()).is_pending());
  BOOST_TEST(a.refs() == 0);  // replaced and dropped
  BOOST_TEST(tx.send(1).has_value());
  BOOST_TEST(a.wakes_by_ref.load() + a.wakes.load() == 0);
  BOOST_TEST(b.wakes_by_ref.load() + b.wakes.load() == 1);
}

BOOST_AUTO_TEST_CASE(dropped_sender_closes_the_receiver, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::oneshot::channel<int>();
  BOOST_TEST(poll_once(rx, cw.make()).is_pending());
  BOOST_TEST(rx.try_recv().error() == zokio::channel_errc::empty);
  tx = {};
  BOOST_TEST(cw.wakes_by_ref.load() == 1);
  auto r = poll_once(rx, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().error() == zokio::channel_errc::closed);
}

BOOST_AUTO_TEST_CASE(send_to_dropped_receiver_hands_value_back, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::oneshot::channel<std::unique_ptr<int>>();
  rx = {};
  BOOST_TEST(tx.is_closed());
  auto r = tx.send(std::make_unique<int>(42));
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().reason == zokio::channel_errc::closed);
  BOOST_REQUIRE(r.error().value);
  BOOST_TEST(*r.error().value == 42);
}

BOOST_AUTO_TEST_CASE(close_refuses_later_sends_keeps_earlier, *boost::unit_test::timeout(60)) {
  {
    auto [tx, rx] = zokio::oneshot::channel<int>();
    rx.close();
    BOOST_TEST(!tx.send(3).has_value());
    auto r = poll_once(rx, zokio::noop_waker());
    BOOST_REQUIRE(r.is_ready());
    BOOST_TEST(r.value().error() == zokio::channel_errc::closed);
  }
  {
    auto [tx, rx] = zokio::oneshot::channel<int>();
    BOOST_TEST(tx.send(4).has_value());
    rx.close();
    auto v = rx.try_recv();
    BOOST_REQUIRE(v.has_value());
    BOOST_TEST(*v == 4);
    BOOST_TEST(rx.try_recv().error() == zokio::channel_errc::closed);  // taken once
  }
}

BOOST_AUTO_TEST_CASE(unreceived_value_is_destroyed, *boost::unit_test::timeout(60)) {
  tracked::live = 0;
  {
    auto [tx, rx] = zokio::oneshot::channel<tracked>();
    BOOST_TEST(tx.send(tracked{}).has_value());
    BOOST_TEST(tracked::live.load() == 1);
  }
  BOOST_TEST(tracked::live.load() == 0);
  {
    auto [tx, rx] = zokio::oneshot::channel<tracked>();
    rx = {};
    BOOST_TEST(!tx.send(tracked{}).has_value());
  }
  BOOST_TEST(tracked::live.load() == 0);
}

namespace {
std::atomic<int> g_channel_allocs{0};
void count_channel(const zokio::alloc_event& e) noexcept {
  if (!e.deallocate && e.category == zokio::alloc_category::channel) ++g_channel_allocs;
}
}  // namespace

BOOST_AUTO_TEST_CASE(one_allocation_per_channel, *boost::unit_test::timeout(60)) {
  g_channel_allocs = 0;
  auto prev = zokio::set_alloc_hook(&count_channel);
  {
    auto [tx, rx] = zokio::oneshot::channel<std::string>();
    BOOST_TEST(tx.send("x").has_value());
    BOOST_TEST(rx.try_recv().value() == "x");
  }
  zokio::set_alloc_hook(prev);
  BOOST_TEST(g_channel_allocs.load() == 1);
}

BOOST_AUTO_TEST_CASE(across_threads_on_a_runtime, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  constexpr int n = 2000 / zokio::test::stress_divisor;
  std::vector<zokio::oneshot::sender<int>> txs;
  std::vector<zokio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) {
    auto [tx, rx] = zokio::oneshot::channel<int>();
    txs.push_back(std::move(tx));
    hs.push_back(rt.spawn(zokio::co_invoke(
        [rx = std::move(rx)]() mutable -> zokio::task<int> {
          auto r = co_await std::move(rx);
          co_return r ? *r : -1;
        })));
  }
  // Send from a foreign thread, half of them after dropping (closing) instead.
  std::thread t([&] {
    for (int i = 0; i < n; ++i) {
      if (i % 2 == 0)
        (void)txs[i].send(i);
      else
        txs[i] = {};
    }
  });
  long sum = 0;
  int closed = 0;
  for (int i = 0; i < n; ++i) {
    int v = rt.block_on(std::move(hs[i]));
    if (v < 0)
      ++closed;
    else
      sum += v;
  }
  t.join();
  BOOST_TEST(closed == n / 2);
  long want = 0;
  for (int i = 0; i < n; i += 2) want += i;
  BOOST_TEST(sum == want);
}

BOOST_AUTO_TEST_SUITE_END()
