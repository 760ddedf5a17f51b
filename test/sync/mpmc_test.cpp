// Tests for zokio::mpmc: FIFO and wake order, each message to exactly one receiver, close and
// drop rules, backpressure, cancel safety of recv and send (a dropped future passes its turn
// on), and producer/consumer stress on the runtime (run under TSan and ASan with the suite).
#include <zokio/mpmc.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/join_all.hpp>
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>

#include "../support/test_util.hpp"

namespace {
using zokio::test::counting_waker;
using zokio::test::poll_once;
using zokio::test::tracked;
using zokio::test::woken;
using namespace std::chrono_literals;
}  // namespace

BOOST_AUTO_TEST_SUITE(mpmc_suite)

BOOST_AUTO_TEST_CASE(fifo_and_one_receiver_woken_at_a_time, *boost::unit_test::timeout(60)) {
  counting_waker a, b;  // outlive the channel that holds their wakers
  auto [tx, rx] = zokio::mpmc::unbounded_channel<int>();
  auto rx2 = rx;
  auto fa = rx.recv();
  auto fb = rx2.recv();
  BOOST_TEST(poll_once(fa, a.make()).is_pending());
  BOOST_TEST(poll_once(fb, b.make()).is_pending());
  BOOST_TEST(tx.try_send(1).has_value());
  // The first that waited is woken; a second message wakes nobody while it is on its way.
  BOOST_TEST(woken(a) == 1);
  BOOST_TEST(woken(b) == 0);
  BOOST_TEST(tx.try_send(2).has_value());
  BOOST_TEST(woken(b) == 0);
  auto ra = poll_once(fa, a.make());
  BOOST_REQUIRE(ra.is_ready());
  BOOST_TEST(*ra.value() == 1);
  BOOST_TEST(woken(b) == 1);  // fa took one and found more: it passed the turn on
  auto rb = poll_once(fb, b.make());
  BOOST_REQUIRE(rb.is_ready());
  BOOST_TEST(*rb.value() == 2);
  // A receiver woken for a message another one took keeps its place at the front.
  auto fc = rx.recv();
  auto fd = rx2.recv();
  BOOST_TEST(poll_once(fc, a.make()).is_pending());
  BOOST_TEST(poll_once(fd, b.make()).is_pending());
  BOOST_TEST(tx.try_send(3).has_value());  // fc woken
  BOOST_TEST(rx2.try_recv().value() == 3);  // taken by someone else
  BOOST_TEST(poll_once(fc, a.make()).is_pending());
  BOOST_TEST(tx.try_send(4).has_value());
  BOOST_TEST(woken(a) == 3);  // fc again, not fd
  BOOST_TEST(woken(b) == 1);
  BOOST_TEST(*poll_once(fc, a.make()).value() == 4);
  for (int i = 0; i < 100; ++i) BOOST_TEST(tx.try_send(i).has_value());
  BOOST_TEST(rx.size() == 100u);
  for (int i = 0; i < 100; ++i) BOOST_TEST(rx.try_recv().value() == i);
  BOOST_TEST((rx2.try_recv().error() == zokio::channel_errc::empty));
}

BOOST_AUTO_TEST_CASE(bounded_backpressure_in_fifo_order, *boost::unit_test::timeout(60)) {
  counting_waker s1, s2;
  auto [tx, rx] = zokio::mpmc::channel<int>(2);
  BOOST_TEST(tx.max_capacity() == 2u);
  BOOST_TEST(tx.try_send(1).has_value());
  BOOST_TEST(tx.try_send(2).has_value());
  BOOST_TEST((tx.try_send(3).error().reason == zokio::channel_errc::full));
  auto f1 = tx.send(3);
  auto f2 = tx.send(4);
  BOOST_TEST(poll_once(f1, s1.make()).is_pending());
  BOOST_TEST(poll_once(f2, s2.make()).is_pending());
  BOOST_TEST(rx.try_recv().value() == 1);  // one slot: the first waiting sender's
  BOOST_TEST(woken(s1) == 1);
  BOOST_TEST(woken(s2) == 0);
  // No barging: the slot is f1's, a sender that did not wait finds the channel full.
  BOOST_TEST((tx.try_send(9).error().reason == zokio::channel_errc::full));
  BOOST_TEST(poll_once(f1, s1.make()).is_ready());
  BOOST_TEST(woken(s2) == 0);
  BOOST_TEST(rx.try_recv().value() == 2);
  BOOST_TEST(woken(s2) == 1);
  BOOST_TEST(poll_once(f2, s2.make()).is_ready());
  BOOST_TEST(rx.try_recv().value() == 3);
  BOOST_TEST(rx.try_recv().value() == 4);
}

BOOST_AUTO_TEST_CASE(a_dropped_recv_passes_its_message_on, *boost::unit_test::timeout(60)) {
  counting_waker a, b;
  auto [tx, rx] = zokio::mpmc::unbounded_channel<std::string>();
  auto fb = rx.recv();
  {
    auto fa = rx.recv();
    BOOST_TEST(poll_once(fa, a.make()).is_pending());
    BOOST_TEST(poll_once(fb, b.make()).is_pending());
    BOOST_TEST(tx.try_send("m").has_value());
    BOOST_TEST(woken(a) == 1);  // announced to fa, which is dropped without looking
  }
  BOOST_TEST(woken(b) == 1);  // the announcement moved to fb
  auto r = poll_once(fb, b.make());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(*r.value() == "m");
}

BOOST_AUTO_TEST_CASE(a_dropped_send_passes_its_room_on, *boost::unit_test::timeout(60)) {
  counting_waker a, b;
  auto [tx, rx] = zokio::mpmc::channel<tracked>(1);
  const long live = tracked::live.load();
  BOOST_TEST(tx.try_send(tracked{}).has_value());
  auto fb = tx.send(tracked{});
  {
    auto fa = tx.send(tracked{});
    BOOST_TEST(poll_once(fa, a.make()).is_pending());
    BOOST_TEST(poll_once(fb, b.make()).is_pending());
    BOOST_TEST(rx.try_recv().has_value());
    BOOST_TEST(woken(a) == 1);
  }  // fa's value is dropped with it; its room goes to fb
  BOOST_TEST(woken(b) == 1);
  BOOST_TEST(poll_once(fb, b.make()).is_ready());
  BOOST_TEST(rx.size() == 1u);
  BOOST_TEST(tracked::live.load() == live + 1);  // fb's message, queued; fa's was dropped
}

BOOST_AUTO_TEST_CASE(close_and_drop_rules, *boost::unit_test::timeout(60)) {
  counting_waker r, s;
  {
    // The last sender gone: receivers drain, then end; waiting receivers wake.
    auto [tx, rx] = zokio::mpmc::unbounded_channel<int>();
    auto tx2 = tx;
    BOOST_TEST(tx.try_send(1).has_value());
    auto rx2 = rx;
    auto f = rx2.recv();
    BOOST_TEST(poll_once(f, zokio::noop_waker()).is_ready());  // takes the 1
    auto g = rx2.recv();
    BOOST_TEST(poll_once(g, r.make()).is_pending());
    tx = {};
    BOOST_TEST(woken(r) == 0);  // one sender left
    tx2 = {};
    BOOST_TEST(woken(r) == 1);
    auto e = poll_once(g, r.make());
    BOOST_REQUIRE(e.is_ready());
    BOOST_TEST(!e.value().has_value());
    BOOST_TEST((rx.try_recv().error() == zokio::channel_errc::closed));
  }
  {
    // close() from a receiver: sends fail (the value comes back), queued ones are received,
    // waiting senders wake with closed.
    auto [tx, rx] = zokio::mpmc::channel<std::string>(1);
    BOOST_TEST(tx.try_send("kept").has_value());
    auto f = tx.send("waiting");
    BOOST_TEST(poll_once(f, s.make()).is_pending());
    rx.close();
    BOOST_TEST(woken(s) == 1);
    auto fr = poll_once(f, s.make());
    BOOST_REQUIRE(fr.is_ready());
    BOOST_TEST((fr.value().error().reason == zokio::channel_errc::closed));
    BOOST_TEST(fr.value().error().value == "waiting");
    BOOST_TEST(tx.is_closed());
    BOOST_TEST((tx.try_send("late").error().reason == zokio::channel_errc::closed));
    BOOST_TEST(rx.try_recv().value() == "kept");
    BOOST_TEST((rx.try_recv().error() == zokio::channel_errc::closed));
  }
  {
    // Every receiver gone: what is queued is destroyed at once, sends fail.
    const long live = tracked::live.load();
    auto [tx, rx] = zokio::mpmc::unbounded_channel<tracked>();
    for (int i = 0; i < 10; ++i) BOOST_TEST(tx.try_send(tracked{}).has_value());
    BOOST_TEST(tracked::live.load() == live + 10);
    auto rx2 = rx;
    rx = {};
    BOOST_TEST(tracked::live.load() == live + 10);
    rx2 = {};
    BOOST_TEST(tracked::live.load() == live);
    BOOST_TEST((tx.try_send(tracked{}).error().reason == zokio::channel_errc::closed));
  }
  BOOST_CHECK_THROW(zokio::mpmc::channel<int>(0), std::invalid_argument);
}

// Producers and consumers on the runtime: every message arrives exactly once, whatever the
// interleaving; consumers that time out now and then (dropped recv futures) lose nothing.
BOOST_AUTO_TEST_CASE(producers_and_consumers_lose_nothing, *boost::unit_test::timeout(120)) {
  for (std::size_t cap : {std::size_t{1}, std::size_t{16}, std::size_t{0}}) {
    zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
    constexpr int producers = 4, consumers = 3, per = 5'000;
    auto [tx, rx] = cap ? zokio::mpmc::channel<int>(cap) : zokio::mpmc::unbounded_channel<int>();
    std::vector<zokio::join_handle<void>> ps;
    for (int p = 0; p < producers; ++p)
      ps.push_back(rt.spawn([](zokio::mpmc::sender<int> tx, int p) -> zokio::task<void> {
        for (int i = 0; i < per; ++i) {
          auto r = co_await tx.send(p * per + i);
          if (!r) throw std::runtime_error("send failed");
        }
      }(tx, p)));
    tx = {};  // the producers hold the only senders: the channel ends with them
    std::vector<zokio::join_handle<std::vector<int>>> cs;
    for (int c = 0; c < consumers; ++c)
      cs.push_back(rt.spawn([](zokio::mpmc::receiver<int> rx, int c) -> zokio::task<std::vector<int>> {
        std::vector<int> got;
        for (int n = 0;; ++n) {
          if (c == 0 && n % 7 == 0) {
            // A recv that may be dropped pending (its announcement passes on).
            auto r = co_await zokio::timeout(rx.recv(), 0ms);
            if (r && !*r) break;
            if (r) got.push_back(**r);
            continue;
          }
          auto v = co_await rx.recv();
          if (!v) break;
          got.push_back(*v);
        }
        co_return got;
      }(rx, c)));
    rx = {};
    for (auto& h : ps) rt.block_on(std::move(h));
    std::vector<char> seen(producers * per, 0);
    std::size_t total = 0;
    for (auto& h : cs)
      for (int v : rt.block_on(std::move(h))) {
        BOOST_REQUIRE(v >= 0);
        BOOST_REQUIRE(v < producers * per);
        BOOST_REQUIRE(seen[std::size_t(v)] == 0);
        seen[std::size_t(v)] = 1;
        ++total;
      }
    BOOST_TEST(total == std::size_t(producers * per), "capacity " << cap);
  }
}

// Hostile: the runtime is destroyed while producers wait for room and consumers wait for
// messages: every future and every queued message is dropped, nothing leaks or hangs.
BOOST_AUTO_TEST_CASE(shutdown_while_senders_and_receivers_wait, *boost::unit_test::timeout(60)) {
  const long live = tracked::live.load();
  {
    // The channels outlive the runtime: its teardown finds every task waiting on them.
    // (Not structured bindings: clang 14 cannot capture those in the lambda below.)
    auto ch1 = zokio::mpmc::channel<tracked>(2);
    auto ch2 = zokio::mpmc::channel<tracked>(2);
    auto& tx = ch1.first;
    auto& rx2 = ch2.second;
    zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
    for (int i = 0; i < 4; ++i)
      rt.spawn([](zokio::mpmc::sender<tracked> tx) -> zokio::task<void> {
        for (;;)
          if (!co_await tx.send(tracked{})) co_return;
      }(tx)).detach();
    for (int i = 0; i < 4; ++i)
      rt.spawn([](zokio::mpmc::receiver<tracked> rx) -> zokio::task<void> {
        while (co_await rx.recv()) {
        }
      }(rx2)).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] { return tx.size() == 2u; }));
    std::this_thread::sleep_for(10ms);
    BOOST_TEST(tracked::live.load() >= live + 6);  // the full queue and the 4 waiting sends
  }
  BOOST_TEST(tracked::live.load() == live);
}

BOOST_AUTO_TEST_SUITE_END()
