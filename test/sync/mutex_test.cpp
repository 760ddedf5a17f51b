// Tests for zokio::mutex: guards, FIFO hand-off, cancellation, exact counts under contention.
#include <zokio/mutex.hpp>  // self-contained header check

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/block_on.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::hand;

BOOST_AUTO_TEST_SUITE(mutex_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(try_lock_and_guard) {
  zokio::mutex<std::string> m("a");
  {
    auto g = m.try_lock();
    BOOST_REQUIRE(g);
    **g += "b";
    BOOST_TEST((*g)->size() == 2u);
    BOOST_TEST(!m.try_lock());  // held
    g->unlock();
    BOOST_TEST(!g->owns_lock());
    BOOST_TEST(m.try_lock().has_value());  // free again (and released at once)
  }
  BOOST_TEST(m.get_mut() == "ab");
  zokio::mutex<std::vector<int>> v(std::in_place, 3, 7);
  BOOST_TEST(v.get_mut().size() == 3u);
}

BOOST_AUTO_TEST_CASE(lock_hands_off_in_fifo_order) {
  zokio::mutex<int> m(0);
  hand h1, h2;
  auto held = m.try_lock();
  auto f1 = m.lock();
  auto f2 = m.lock();
  BOOST_TEST(f1.poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  held.reset();
  BOOST_TEST(h1.cw.wakes.load() == 1);  // the oldest waiter gets it
  BOOST_TEST(h2.cw.wakes.load() == 0);
  BOOST_TEST(!m.try_lock());  // handed over: no barging
  auto g1 = f1.poll(h1.cx);
  BOOST_REQUIRE(g1.is_ready());
  *g1.value() = 1;
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  g1.value().unlock();
  BOOST_TEST(h2.cw.wakes.load() == 1);
  auto g2 = f2.poll(h2.cx);
  BOOST_REQUIRE(g2.is_ready());
  BOOST_TEST(*g2.value() == 1);
}

BOOST_AUTO_TEST_CASE(cancelled_waiter_passes_the_lock_on) {
  zokio::mutex<int> m(0);
  hand h1, h2;
  auto held = m.try_lock();
  std::optional<zokio::mutex<int>::lock_future> f1(m.lock());
  auto f2 = m.lock();
  BOOST_TEST(f1->poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  f1.reset();  // cancelled while queued: no effect on the holder
  BOOST_TEST(h1.cw.refs() == 1);
  BOOST_TEST(h2.cw.wakes.load() == 0);
  held.reset();
  BOOST_TEST(h2.cw.wakes.load() == 1);
  auto g2 = f2.poll(h2.cx);
  BOOST_TEST(g2.is_ready());
}

BOOST_AUTO_TEST_CASE(lock_granted_to_a_dropped_future_is_not_lost) {
  zokio::mutex<int> m(0);
  hand h1, h2;
  auto held = m.try_lock();
  std::optional<zokio::mutex<int>::lock_future> f1(m.lock());
  auto f2 = m.lock();
  BOOST_TEST(f1->poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  held.reset();  // handed to f1 ...
  BOOST_TEST(h1.cw.wakes.load() == 1);
  f1.reset();    // ... which is dropped before it saw it: f2 must get the lock
  BOOST_TEST(h2.cw.wakes.load() == 1);
  BOOST_TEST(f2.poll(h2.cx).is_ready());
  BOOST_TEST(m.try_lock().has_value());
}

BOOST_AUTO_TEST_CASE(block_on_threads_wait_without_a_runtime) {
  // Plain threads wait with zokio::block_on (a thread parker as waker): the unlock on another
  // thread must wake them, in order, and each must see the previous one's write.
  zokio::mutex<std::vector<int>> m;
  auto held = m.try_lock();
  std::atomic<int> started{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      started++;
      for (int k = 0; k < 100; ++k) {
        auto g = zokio::block_on(m.lock());
        g->push_back(i);
      }
    });
  BOOST_REQUIRE(zokio::test::wait_until([&] { return started.load() == 4; }));
  held.reset();
  for (auto& t : ts) t.join();
  BOOST_TEST(m.get_mut().size() == 400u);
}

BOOST_AUTO_TEST_CASE(exact_total_under_contention) {
  // 64 tasks on 4 workers; the counter is a plain int: any overlap loses increments (and
  // ThreadSanitizer reports it). Every 16th critical section awaits while holding the lock.
  const int tasks = 64, iters = 2000 / zokio::test::stress_divisor;
  zokio::mutex<long> m(0);
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
    std::vector<zokio::join_handle<void>> hs;
    for (int t = 0; t < tasks; ++t)
      hs.push_back(zokio::spawn(zokio::co_invoke([&]() -> zokio::task<> {
        for (int i = 0; i < iters; ++i) {
          auto g = co_await m.lock();
          long v = *g;
          if (i % 16 == 0) co_await zokio::yield_now{};
          *g = v + 1;
        }
      })));
    for (auto& j : hs) co_await std::move(j);
  }));
  rt.block_on(std::move(h));
  BOOST_TEST(m.get_mut() == long(tasks) * iters);
}

BOOST_AUTO_TEST_CASE(aborted_lockers_never_wedge_the_mutex) {
  const int n = 300 / zokio::test::stress_divisor + 30;
  zokio::mutex<long> m(0);
  {
    auto rt = zokio::runtime::builder().worker_threads(4).build();
    auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
      std::vector<zokio::join_handle<void>> hs;
      for (int i = 0; i < n; ++i)
        hs.push_back(zokio::spawn(zokio::co_invoke([&]() -> zokio::task<> {
          for (int k = 0; k < 10; ++k) {
            auto g = co_await m.lock();
            co_await zokio::yield_now{};
            ++*g;
          }
        })));
      for (int i = 0; i < n; i += 2) hs[i].abort();
      for (auto& j : hs) {
        try {
          co_await std::move(j);
        } catch (const zokio::join_error&) {
        }
      }
      // Every lock came back: we can take it.
      auto g = co_await m.lock();
      ++*g;
    }));
    rt.block_on(std::move(h));
  }
  BOOST_TEST(m.try_lock().has_value());
  BOOST_TEST(m.get_mut() >= long(n / 2) * 10 + 1);
}

BOOST_AUTO_TEST_SUITE_END()
