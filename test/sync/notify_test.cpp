// Tests for zokio::notify: stored permit, FIFO/LIFO wake, notify_waiters, cancellation,
// and no lost wake-ups between threads.
#include <zokio/notify.hpp>  // self-contained header check

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::hand;

BOOST_AUTO_TEST_SUITE(notify_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(notify_one_before_waiting_stores_one_permit) {
  zokio::notify n;
  hand h;
  n.notify_one();
  n.notify_one();  // permits do not accumulate
  auto f1 = n.notified();
  BOOST_TEST(f1.poll(h.cx).is_ready());
  auto f2 = n.notified();
  BOOST_TEST(f2.poll(h.cx).is_pending());
  n.notify_one();
  BOOST_TEST(h.cw.wakes.load() == 1);
  BOOST_TEST(f2.poll(h.cx).is_ready());
  auto f3 = n.notified();
  BOOST_TEST(f3.poll(h.cx).is_pending());  // the wake was consumed by f2, nothing stored
}

BOOST_AUTO_TEST_CASE(notify_one_wakes_the_oldest_and_notify_last_the_newest) {
  zokio::notify n;
  hand h1, h2, h3;
  auto f1 = n.notified();
  auto f2 = n.notified();
  auto f3 = n.notified();
  BOOST_TEST(f1.poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  BOOST_TEST(f3.poll(h3.cx).is_pending());
  n.notify_one();
  BOOST_TEST(h1.cw.wakes.load() == 1);
  BOOST_TEST(h2.cw.wakes.load() + h3.cw.wakes.load() == 0);
  n.notify_last();
  BOOST_TEST(h3.cw.wakes.load() == 1);
  BOOST_TEST(h2.cw.wakes.load() == 0);
  BOOST_TEST(f1.poll(h1.cx).is_ready());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  BOOST_TEST(f3.poll(h3.cx).is_ready());
  n.notify_one();
  BOOST_TEST(f2.poll(h2.cx).is_ready());
  auto f4 = n.notified();
  BOOST_TEST(f4.poll(h1.cx).is_pending());  // no permit was stored while f2 waited
}

BOOST_AUTO_TEST_CASE(notify_waiters_wakes_all_and_created_futures) {
  zokio::notify n;
  std::vector<hand> hs(40);  // more than one wake batch
  std::vector<zokio::notify::notified_future> fs;
  fs.reserve(41);
  for (auto& h : hs) {
    fs.push_back(n.notified());
    BOOST_TEST(fs.back().poll(h.cx).is_pending());
  }
  auto unpolled = n.notified();  // created before the call, polled after
  n.notify_waiters();
  auto later = n.notified();  // created after: not notified, and no permit was stored
  hand h;
  BOOST_TEST(unpolled.poll(h.cx).is_ready());
  BOOST_TEST(later.poll(h.cx).is_pending());
  for (int i = 0; i < 40; ++i) {
    BOOST_TEST(hs[i].cw.wakes.load() == 1);
    BOOST_TEST(fs[i].poll(hs[i].cx).is_ready());
  }
  n.notify_waiters();  // with nobody queued but `later`
  BOOST_TEST(later.poll(h.cx).is_ready());
}

BOOST_AUTO_TEST_CASE(cancelled_waiter_passes_its_notification_on) {
  zokio::notify n;
  hand h1, h2;
  std::optional<zokio::notify::notified_future> f1(n.notified());
  auto f2 = n.notified();
  BOOST_TEST(f1->poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  n.notify_one();  // picks f1
  BOOST_TEST(h1.cw.wakes.load() == 1);
  f1.reset();  // dropped before it completed: f2 gets the notification
  BOOST_TEST(h2.cw.wakes.load() == 1);
  BOOST_TEST(f2.poll(h2.cx).is_ready());

  // Dropped with nobody else waiting: the notification becomes the stored permit.
  std::optional<zokio::notify::notified_future> f3(n.notified());
  BOOST_TEST(f3->poll(h1.cx).is_pending());
  n.notify_one();
  f3.reset();
  auto f4 = n.notified();
  BOOST_TEST(f4.poll(h2.cx).is_ready());

  // A plain cancelled waiter just leaves the list (no notification, nothing stored).
  std::optional<zokio::notify::notified_future> f5(n.notified());
  BOOST_TEST(f5->poll(h1.cx).is_pending());
  f5.reset();
  n.notify_one();
  auto f6 = n.notified();
  BOOST_TEST(f6.poll(h2.cx).is_ready());  // stored, since nobody was waiting any more
  BOOST_TEST(h1.cw.refs() == 1);
}

BOOST_AUTO_TEST_CASE(no_lost_wakeups_across_threads) {
  // Ping-pong between two tasks through two notifies on 4 workers, plus a foreign thread
  // notifying a task: each notify may land before or after the other side waits. A lost
  // wake-up hangs (and the test times out).
  const int rounds = 20000 / zokio::test::stress_divisor;
  zokio::notify ping, pong;
  std::atomic<int> got{0};
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  auto a = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    int n = 0;
    for (int i = 0; i < rounds; ++i) {
      ping.notify_one();
      co_await pong.notified();
      ++n;
    }
    co_return n;
  }));
  auto b = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    int n = 0;
    for (int i = 0; i < rounds; ++i) {
      co_await ping.notified();
      pong.notify_one();
      ++n;
    }
    co_return n;
  }));
  BOOST_TEST(rt.block_on(std::move(a)) == rounds);
  BOOST_TEST(rt.block_on(std::move(b)) == rounds);

  zokio::notify from_outside;
  std::atomic<int> step{0};
  auto c = rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
    for (int i = 0; i < rounds / 10; ++i) {
      auto f = from_outside.notified();
      step.store(i + 1);
      co_await std::move(f);
      got++;
    }
  }));
  std::thread t([&] {
    for (int i = 0; i < rounds / 10; ++i) {
      while (step.load() <= i) std::this_thread::yield();
      from_outside.notify_one();
    }
  });
  rt.block_on(std::move(c));
  t.join();
  BOOST_TEST(got.load() == rounds / 10);
}

BOOST_AUTO_TEST_CASE(notify_waiters_releases_every_task) {
  zokio::notify go;
  std::atomic<int> waiting{0}, released{0};
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  std::vector<zokio::join_handle<void>> hs;
  for (int i = 0; i < 100; ++i)
    hs.push_back(rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
      auto f = go.notified();
      waiting++;
      co_await std::move(f);
      released++;
    })));
  BOOST_REQUIRE(zokio::test::wait_until([&] { return waiting.load() == 100; }));
  go.notify_waiters();  // futures exist (some may not be polled yet): all complete
  for (auto& h : hs) rt.block_on(std::move(h));
  BOOST_TEST(released.load() == 100);
}

BOOST_AUTO_TEST_SUITE_END()
