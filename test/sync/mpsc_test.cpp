// Tests for zokio::mpsc: bounded and unbounded channels, close/drop rules, backpressure,
// cancellation of waiting sends, block recycling, and a 4-producer stress on 4 workers.
#include <zokio/mpsc.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace {
using zokio::test::counting_waker;
using zokio::test::poll_once;
using zokio::test::woken;
using zokio::test::tracked;

std::atomic<long> g_channel_allocs{0};
void count_channel(const zokio::alloc_event& e) noexcept {
  if (!e.deallocate && e.category == zokio::alloc_category::channel) ++g_channel_allocs;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(mpsc_suite)

BOOST_AUTO_TEST_CASE(unbounded_fifo_and_wake, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::mpsc::unbounded_channel<int>();
  auto f = rx.recv();
  BOOST_TEST(poll_once(f, cw.make()).is_pending());
  BOOST_TEST(woken(cw) == 0);
  for (int i = 0; i < 100; ++i) BOOST_TEST(tx.send(i).has_value());  // crosses 3 blocks
  BOOST_TEST(woken(cw) == 1);  // consumed by the first wake
  for (int i = 0; i < 100; ++i) {
    auto g = rx.recv();
    auto r = poll_once(g, zokio::noop_waker());
    BOOST_REQUIRE(r.is_ready());
    BOOST_REQUIRE(r.value().has_value());
    BOOST_TEST(*r.value() == i);
  }
  BOOST_TEST(rx.try_recv().error() == zokio::channel_errc::empty);
}

BOOST_AUTO_TEST_CASE(recv_ends_when_all_senders_dropped, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::mpsc::unbounded_channel<std::string>();
  auto tx2 = tx;  // a clone: one more sender
  BOOST_TEST(tx.same_channel(tx2));
  BOOST_TEST(tx.send("a").has_value());
  tx = {};
  BOOST_TEST(tx2.send("b").has_value());
  BOOST_TEST(rx.try_recv().value() == "a");
  BOOST_TEST(rx.try_recv().value() == "b");
  auto f = rx.recv();
  BOOST_TEST(poll_once(f, cw.make()).is_pending());  // tx2 still alive
  tx2 = {};
  BOOST_TEST(woken(cw) == 1);
  auto r = poll_once(f, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(!r.value().has_value());
  BOOST_TEST(rx.try_recv().error() == zokio::channel_errc::closed);
}

BOOST_AUTO_TEST_CASE(queued_messages_drain_before_end, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::mpsc::channel<int>(8);
  for (int i = 0; i < 5; ++i) BOOST_TEST(tx.try_send(i).has_value());
  tx = {};
  for (int i = 0; i < 5; ++i) BOOST_TEST(rx.try_recv().value() == i);
  auto f = rx.recv();
  auto r = poll_once(f, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(!r.value().has_value());
}

BOOST_AUTO_TEST_CASE(send_to_dropped_receiver_fails_with_value, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  {
    auto [tx, rx] = zokio::mpsc::unbounded_channel<std::unique_ptr<int>>();
    rx = {};
    BOOST_TEST(tx.is_closed());
    auto r = tx.send(std::make_unique<int>(5));
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().reason == zokio::channel_errc::closed);
    BOOST_TEST(*r.error().value == 5);
  }
  {
    auto [tx, rx] = zokio::mpsc::channel<std::unique_ptr<int>>(1);
    BOOST_TEST(tx.try_send(std::make_unique<int>(1)).has_value());
    auto f = tx.send(std::make_unique<int>(2));
    BOOST_TEST(poll_once(f, cw.make()).is_pending());  // full
    rx = {};  // closes: the waiting sender wakes with closed
    BOOST_TEST(woken(cw) == 1);
    auto r = poll_once(f, zokio::noop_waker());
    BOOST_REQUIRE(r.is_ready());
    BOOST_REQUIRE(!r.value().has_value());
    BOOST_TEST(r.value().error().reason == zokio::channel_errc::closed);
    BOOST_TEST(*r.value().error().value == 2);
    auto t = tx.try_send(std::make_unique<int>(3));
    BOOST_TEST(t.error().reason == zokio::channel_errc::closed);
  }
}

BOOST_AUTO_TEST_CASE(receiver_close_keeps_queued_messages, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::mpsc::channel<int>(4);
  BOOST_TEST(tx.try_send(1).has_value());
  BOOST_TEST(tx.try_send(2).has_value());
  rx.close();
  BOOST_TEST(tx.is_closed());
  BOOST_TEST(tx.try_send(3).error().reason == zokio::channel_errc::closed);
  BOOST_TEST(rx.try_recv().value() == 1);
  BOOST_TEST(rx.try_recv().value() == 2);
  auto f = rx.recv();
  auto r = poll_once(f, zokio::noop_waker());  // tx alive, but closed and idle: the end
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(!r.value().has_value());
}

BOOST_AUTO_TEST_CASE(bounded_backpressure, *boost::unit_test::timeout(60)) {
  counting_waker cw;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::mpsc::channel<int>(2);
  BOOST_TEST(tx.max_capacity() == 2u);
  BOOST_TEST(tx.try_send(1).has_value());
  BOOST_TEST(tx.try_send(2).has_value());
  BOOST_TEST(tx.capacity() == 0u);
  auto full = tx.try_send(3);
  BOOST_REQUIRE(!full.has_value());
  BOOST_TEST(full.error().reason == zokio::channel_errc::full);
  BOOST_TEST(full.error().value == 3);

  auto f = tx.send(3);
  BOOST_TEST(poll_once(f, cw.make()).is_pending());  // blocks at capacity
  BOOST_TEST(poll_once(f, cw.make()).is_pending());
  BOOST_TEST(woken(cw) == 0);
  BOOST_TEST(rx.try_recv().value() == 1);  // room: the waiting sender gets it
  BOOST_TEST(woken(cw) == 1);
  BOOST_TEST(tx.try_send(99).error().reason == zokio::channel_errc::full);  // no barging
  auto r = poll_once(f, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().has_value());
  BOOST_TEST(rx.try_recv().value() == 2);
  BOOST_TEST(rx.try_recv().value() == 3);
  BOOST_TEST(tx.capacity() == 2u);
  BOOST_TEST(cw.refs() == 0);
}

BOOST_AUTO_TEST_CASE(large_capacity_returns_room_in_batches, *boost::unit_test::timeout(60)) {
  // Capacity 64: the receiver hands room back 4 slots at a time (capacity / 16), or at once
  // when it finds the queue empty while a sender waits.
  counting_waker cw, cg;
  auto [tx, rx] = zokio::mpsc::channel<int>(64);
  for (int i = 0; i < 64; ++i) BOOST_REQUIRE(tx.try_send(i).has_value());
  auto f = tx.send(64);
  BOOST_TEST(poll_once(f, cw.make()).is_pending());
  for (int i = 0; i < 3; ++i) BOOST_TEST(rx.try_recv().value() == i);
  BOOST_TEST(woken(cw) == 0);  // 3 < batch
  BOOST_TEST(rx.try_recv().value() == 3);
  BOOST_TEST(woken(cw) == 1);  // a batch of 4: the waiting sender got one of them
  BOOST_TEST(poll_once(f, zokio::noop_waker()).is_ready());
  BOOST_TEST(tx.capacity() == 3u);
  // Drain: an empty queue with nobody waiting keeps the remainder until a batch or a waiter.
  for (int i = 4; i <= 64; ++i) BOOST_TEST(rx.try_recv().value() == i);
  BOOST_TEST(rx.try_recv().error() == zokio::channel_errc::empty);
  const std::size_t free_now = tx.capacity();
  BOOST_TEST(free_now >= 61u);  // at most batch - 1 = 3 held back
  BOOST_TEST(free_now <= 64u);
  int sent = 0;
  while (tx.try_send(sent).has_value()) ++sent;
  BOOST_TEST(sent == int(free_now));
  // A waiting sender makes the receiver hand back what it holds when it finds the queue empty.
  auto g = tx.send(-1);
  BOOST_TEST(poll_once(g, cg.make()).is_pending());
  for (int i = 0; i < sent; ++i) BOOST_TEST(rx.try_recv().has_value());
  BOOST_TEST(woken(cg) == 1);
  BOOST_TEST(poll_once(g, zokio::noop_waker()).is_ready());
}

BOOST_AUTO_TEST_CASE(dropped_waiting_send_releases_its_place, *boost::unit_test::timeout(60)) {
  counting_waker ca, cb, cc;  // outlives the channels that hold its wakers
  auto [tx, rx] = zokio::mpsc::channel<int>(1);
  BOOST_TEST(tx.try_send(0).has_value());
  std::optional<zokio::mpsc::sender<int>::send_future> a, b, c;
  a.emplace(tx.send(1));
  b.emplace(tx.send(2));
  c.emplace(tx.send(3));
  BOOST_TEST(poll_once(*a, ca.make()).is_pending());
  BOOST_TEST(poll_once(*b, cb.make()).is_pending());
  BOOST_TEST(poll_once(*c, cc.make()).is_pending());
  // a leaves the queue while waiting: b is next in line.
  a.reset();
  BOOST_TEST(ca.refs() == 0);
  BOOST_TEST(rx.try_recv().value() == 0);
  BOOST_TEST(woken(cb) == 1);
  BOOST_TEST(woken(cc) == 0);
  // b was granted the slot but is dropped before using it: the slot passes on to c.
  b.reset();
  BOOST_TEST(woken(cc) == 1);
  auto r = poll_once(*c, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().has_value());
  BOOST_TEST(rx.try_recv().value() == 3);
  BOOST_TEST(tx.capacity() == 1u);  // nothing lost, nothing duplicated
  BOOST_TEST(rx.try_recv().error() == zokio::channel_errc::empty);
}

BOOST_AUTO_TEST_CASE(dropped_recv_future_loses_nothing, *boost::unit_test::timeout(60)) {
  auto [tx, rx] = zokio::mpsc::unbounded_channel<int>();
  {
    auto f = rx.recv();
    BOOST_TEST(poll_once(f, zokio::noop_waker()).is_pending());
  }
  BOOST_TEST(tx.send(11).has_value());
  auto g = rx.recv();
  auto r = poll_once(g, zokio::noop_waker());
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(*r.value() == 11);
}

BOOST_AUTO_TEST_CASE(dropped_channels_destroy_queued_messages, *boost::unit_test::timeout(60)) {
  tracked::live = 0;
  {  // receiver first
    auto [tx, rx] = zokio::mpsc::unbounded_channel<tracked>();
    for (int i = 0; i < 100; ++i) BOOST_TEST(tx.send(tracked{}).has_value());
    BOOST_TEST(tracked::live.load() == 100);
    rx = {};
    BOOST_TEST(tracked::live.load() == 0);
  }
  {  // senders first, some received, some left
    auto [tx, rx] = zokio::mpsc::channel<tracked>(64);
    for (int i = 0; i < 50; ++i) BOOST_TEST(tx.try_send(tracked{}).has_value());
    for (int i = 0; i < 10; ++i) BOOST_TEST(rx.try_recv().has_value());
    tx = {};
    BOOST_TEST(tracked::live.load() == 40);
  }
  BOOST_TEST(tracked::live.load() == 0);
  {  // a pending send future holding its value
    auto [tx, rx] = zokio::mpsc::channel<tracked>(1);
    BOOST_TEST(tx.try_send(tracked{}).has_value());
    auto f = tx.send(tracked{});
    BOOST_TEST(poll_once(f, zokio::noop_waker()).is_pending());
  }
  BOOST_TEST(tracked::live.load() == 0);
}

BOOST_AUTO_TEST_CASE(blocks_are_recycled, *boost::unit_test::timeout(60)) {
  g_channel_allocs = 0;
  auto prev = zokio::set_alloc_hook(&count_channel);
  {
    auto [tx, rx] = zokio::mpsc::channel<std::uint64_t>(16);
    for (std::uint64_t i = 0; i < 100'000; ++i) {
      BOOST_REQUIRE(tx.try_send(i).has_value());
      if (i % 16 == 15)
        for (int k = 0; k < 16; ++k) BOOST_REQUIRE(rx.try_recv().has_value());
    }
  }
  zokio::set_alloc_hook(prev);
  // The channel, and a handful of blocks in steady state (3,125 blocks' worth were used).
  BOOST_TEST(g_channel_allocs.load() <= 8);
}

namespace {
struct msg {
  std::uint32_t producer;
  std::uint32_t seq;
};

// 4 producers x n messages into one channel on a 4-worker runtime; the receiver checks every
// message arrives exactly once and in order per producer.
template <class Make>
void stress(Make make, std::uint32_t n) {
  constexpr std::uint32_t producers = 4;
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  auto [tx, rx] = make();
  using tx_t = std::decay_t<decltype(tx)>;
  std::vector<zokio::join_handle<void>> hs;
  for (std::uint32_t p = 0; p < producers; ++p) {
    hs.push_back(rt.spawn(zokio::co_invoke([tx = tx, p, n]() mutable -> zokio::task<void> {
      for (std::uint32_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<tx_t, zokio::mpsc::sender<msg>>) {
          auto r = co_await tx.send(msg{p, i});
          if (!r) throw std::runtime_error("send failed");
        } else {
          if (!tx.send(msg{p, i})) throw std::runtime_error("send failed");
          if (i % 256 == 0) co_await zokio::yield_now{};
        }
      }
    })));
  }
  tx = {};
  auto consumer = rt.spawn(zokio::co_invoke(
      [rx = std::move(rx)]() mutable -> zokio::task<std::uint64_t> {
        std::vector<std::uint32_t> next(producers, 0);
        std::uint64_t got = 0;
        while (auto m = co_await rx.recv()) {
          if (m->producer >= producers || m->seq != next[m->producer])
            throw std::runtime_error("out of order or duplicated");
          ++next[m->producer];
          ++got;
        }
        co_return got;
      }));
  std::uint64_t got = rt.block_on(std::move(consumer));
  for (auto& h : hs) rt.block_on(std::move(h));
  BOOST_TEST(got == std::uint64_t(producers) * n);
}
}  // namespace

BOOST_AUTO_TEST_CASE(stress_bounded_4_producers, *boost::unit_test::timeout(120)) {
  stress([] { return zokio::mpsc::channel<msg>(64); }, 100'000 / zokio::test::stress_divisor);
}

BOOST_AUTO_TEST_CASE(stress_unbounded_4_producers, *boost::unit_test::timeout(120)) {
  stress([] { return zokio::mpsc::unbounded_channel<msg>(); },
         100'000 / zokio::test::stress_divisor);
}

BOOST_AUTO_TEST_CASE(stress_foreign_threads_small_capacity, *boost::unit_test::timeout(120)) {
  // Senders on plain threads (try_send loops) against a receiver task on a worker, with a
  // tiny capacity so that the receiver parks and is woken from outside the runtime a lot.
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto [tx, rx] = zokio::mpsc::channel<msg>(2);
  constexpr std::uint32_t n = 5'000 / zokio::test::stress_divisor;
  std::vector<std::thread> ts;
  for (std::uint32_t p = 0; p < 2; ++p)
    ts.emplace_back([tx = tx, p] {
      for (std::uint32_t i = 0; i < n;) {
        auto r = tx.try_send(msg{p, i});
        if (r)
          ++i;
        else  // full: let the receiver run (yield alone starves it on a busy 2-core box)
          std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    });
  tx = {};
  auto h = rt.spawn(zokio::co_invoke([rx = std::move(rx)]() mutable -> zokio::task<bool> {
    std::uint32_t next[2] = {0, 0};
    while (auto m = co_await rx.recv()) {
      if (m->seq != next[m->producer]) co_return false;
      ++next[m->producer];
    }
    co_return next[0] == n && next[1] == n;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
  for (auto& t : ts) t.join();
}

namespace {
// Producers send until the channel is closed under them; the receiver closes it midway and
// drains. Every message a producer saw accepted must be received, and recv must end.
template <class Make>
void close_under_load(Make make) {
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  auto [tx, rx] = make();
  using tx_t = std::decay_t<decltype(tx)>;
  std::atomic<std::uint64_t> accepted{0};
  std::vector<zokio::join_handle<void>> hs;
  for (int p = 0; p < 3; ++p)
    hs.push_back(rt.spawn(zokio::co_invoke([tx = tx, &accepted]() mutable -> zokio::task<void> {
      for (std::uint32_t i = 0;; ++i) {
        bool ok;
        if constexpr (std::is_same_v<tx_t, zokio::mpsc::sender<msg>>) {
          auto r = co_await tx.send(msg{0, i});
          ok = r.has_value();
        } else {
          ok = tx.send(msg{0, i}).has_value();
          if (i % 64 == 0) co_await zokio::yield_now{};
        }
        if (!ok) co_return;
        accepted.fetch_add(1);
      }
    })));
  tx = {};
  auto consumer = rt.spawn(zokio::co_invoke(
      [rx = std::move(rx)]() mutable -> zokio::task<std::uint64_t> {
        std::uint64_t got = 0;
        while (auto m = co_await rx.recv()) {
          if (++got == 2000) rx.close();
        }
        co_return got;
      }));
  for (auto& h : hs) rt.block_on(std::move(h));
  std::uint64_t got = rt.block_on(std::move(consumer));
  BOOST_TEST(got >= 2000u);
  BOOST_TEST(got == accepted.load());  // nothing accepted was lost, nothing refused arrived
}
}  // namespace

BOOST_AUTO_TEST_CASE(close_under_load_bounded, *boost::unit_test::timeout(60)) {
  close_under_load([] { return zokio::mpsc::channel<msg>(8); });
}

BOOST_AUTO_TEST_CASE(close_under_load_unbounded, *boost::unit_test::timeout(60)) {
  close_under_load([] { return zokio::mpsc::unbounded_channel<msg>(); });
}

BOOST_AUTO_TEST_SUITE_END()
