// Tests for zokio::semaphore: permits, FIFO fairness, cancellation, close, runtime stress.
#include <zokio/semaphore.hpp>  // self-contained header check

#include <algorithm>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::hand;

BOOST_AUTO_TEST_SUITE(semaphore_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(try_acquire_and_permit_release) {
  zokio::semaphore s(2);
  BOOST_TEST(s.available_permits() == 2u);
  auto a = s.try_acquire();
  BOOST_REQUIRE(a);
  BOOST_TEST(a->num_permits() == 1u);
  auto b = s.try_acquire();
  BOOST_REQUIRE(b);
  BOOST_TEST(!s.try_acquire());
  BOOST_TEST(s.available_permits() == 0u);
  a.reset();  // the permit goes back when destroyed
  BOOST_TEST(s.available_permits() == 1u);
  b->release();
  BOOST_TEST(!b->valid());
  BOOST_TEST(s.available_permits() == 2u);
  BOOST_TEST(!s.try_acquire(3));
  auto many = s.try_acquire(2);
  BOOST_REQUIRE(many);
  many->forget();  // gone for good
  BOOST_TEST(s.available_permits() == 0u);
  s.release(5);
  BOOST_TEST(s.available_permits() == 5u);
}

BOOST_AUTO_TEST_CASE(acquire_is_ready_at_once_when_permits_are_free) {
  zokio::semaphore s(3);
  hand h;
  auto f = s.acquire(2);
  auto r = f.poll(h.cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_REQUIRE(r.value().has_value());
  BOOST_TEST(r.value()->num_permits() == 2u);
  BOOST_TEST(s.available_permits() == 1u);
  BOOST_TEST(h.cw.clones.load() == 1);  // no waker was stored on the fast path

  auto zero = s.acquire(0);
  BOOST_TEST(zero.poll(h.cx).is_ready());
  BOOST_CHECK_THROW((void)s.acquire(zokio::semaphore::max_permits + 1), std::invalid_argument);
  BOOST_CHECK_THROW(zokio::semaphore(zokio::semaphore::max_permits + 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(waiter_is_woken_by_release) {
  zokio::semaphore s(1);
  hand h;
  auto held = s.try_acquire();
  auto f = s.acquire();
  BOOST_TEST(f.poll(h.cx).is_pending());
  BOOST_TEST(h.cw.refs() == 2);  // ours and the queued clone
  BOOST_TEST(h.cw.wakes.load() == 0);
  held.reset();
  BOOST_TEST(h.cw.wakes.load() == 1);
  BOOST_TEST(s.available_permits() == 0u);  // handed to the waiter, not to the count
  BOOST_TEST(!s.try_acquire());
  auto r = f.poll(h.cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().has_value());
  BOOST_TEST(h.cw.refs() == 1);
}

BOOST_AUTO_TEST_CASE(fifo_a_big_waiter_blocks_later_ones) {
  zokio::semaphore s(0);
  hand ha, hb;
  auto fa = s.acquire(2);
  auto fb = s.acquire(1);
  BOOST_TEST(fa.poll(ha.cx).is_pending());
  BOOST_TEST(fb.poll(hb.cx).is_pending());
  s.release(1);  // not enough for A, and B must not overtake A
  BOOST_TEST(ha.cw.wakes.load() == 0);
  BOOST_TEST(hb.cw.wakes.load() == 0);
  BOOST_TEST(fb.poll(hb.cx).is_pending());
  BOOST_TEST(!s.try_acquire());  // nor may try_acquire barge in
  auto zero = s.acquire(0);       // but zero permits never wait
  BOOST_TEST(zero.poll(hb.cx).is_ready());
  s.release(1);
  BOOST_TEST(ha.cw.wakes.load() == 1);
  BOOST_TEST(hb.cw.wakes.load() == 0);
  auto ra = fa.poll(ha.cx);
  BOOST_REQUIRE(ra.is_ready());
  BOOST_TEST(fb.poll(hb.cx).is_pending());
  s.release(2);
  BOOST_TEST(hb.cw.wakes.load() == 1);
  auto rb = fb.poll(hb.cx);
  BOOST_TEST(rb.is_ready());
  BOOST_TEST(s.available_permits() == 1u);  // the rest went to the count
}

BOOST_AUTO_TEST_CASE(cancelled_waiter_hands_its_partial_permits_on) {
  zokio::semaphore s(0);
  hand hb;
  std::optional<zokio::semaphore::acquire_future> fa(s.acquire(3));
  auto fb = s.acquire(1);
  {
    hand ha;
    BOOST_TEST(fa->poll(ha.cx).is_pending());
    BOOST_TEST(fb.poll(hb.cx).is_pending());
    s.release(2);  // two of A's three assigned to it
    BOOST_TEST(ha.cw.wakes.load() == 0);
    fa.reset();  // cancelled: its 2 permits go to B (1) and the count (1)
    BOOST_TEST(ha.cw.refs() == 1);  // its queued waker was dropped
  }
  BOOST_TEST(hb.cw.wakes.load() == 1);
  auto rb = fb.poll(hb.cx);
  BOOST_REQUIRE(rb.is_ready());
  BOOST_TEST(s.available_permits() == 1u);
}

BOOST_AUTO_TEST_CASE(cancelled_after_being_granted_returns_the_permits) {
  zokio::semaphore s(1);
  auto held = s.try_acquire();
  hand h;
  {
    auto f = s.acquire();
    BOOST_TEST(f.poll(h.cx).is_pending());
    held.reset();  // granted to f, which is dropped without seeing it
    BOOST_TEST(h.cw.wakes.load() == 1);
    BOOST_TEST(s.available_permits() == 0u);
  }
  BOOST_TEST(s.available_permits() == 1u);
  BOOST_TEST(h.cw.refs() == 1);
}

BOOST_AUTO_TEST_CASE(never_polled_and_moved_futures_are_safe_to_drop) {
  zokio::semaphore s(0);
  {
    auto f = s.acquire();
    auto g = std::move(f);
  }
  s.release(1);
  BOOST_TEST(s.available_permits() == 1u);
}

BOOST_AUTO_TEST_CASE(close_fails_waiters_and_later_acquires) {
  zokio::semaphore s(1);
  auto held = s.try_acquire();
  hand h1, h2;
  auto f1 = s.acquire();
  auto f2 = s.acquire(2);
  BOOST_TEST(f1.poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  s.close();
  BOOST_TEST(s.is_closed());
  BOOST_TEST(h1.cw.wakes.load() == 1);
  BOOST_TEST(h2.cw.wakes.load() == 1);
  auto r1 = f1.poll(h1.cx);
  BOOST_REQUIRE(r1.is_ready());
  BOOST_REQUIRE(r1.value().has_error());
  BOOST_TEST(r1.value().error() == zokio::make_error_code(zokio::sync_errc::closed));
  BOOST_TEST(f2.poll(h2.cx).value().has_error());
  hand h3;
  auto f3 = s.acquire();
  BOOST_TEST(f3.poll(h3.cx).value().has_error());
  BOOST_TEST(!s.try_acquire());
  BOOST_CHECK_THROW((void)f3.poll(h3.cx).value().value(), boost::system::system_error);
  held.reset();  // permits held across close still return
  BOOST_TEST(s.available_permits() == 1u);
}

BOOST_AUTO_TEST_CASE(many_waiters_are_woken_in_batches) {
  // More waiters than one wake batch (32): all must be served by one release.
  zokio::semaphore s(0);
  std::vector<hand> hs(100);
  std::vector<zokio::semaphore::acquire_future> fs;
  fs.reserve(100);
  for (int i = 0; i < 100; ++i) {
    fs.push_back(s.acquire());
    BOOST_TEST(fs.back().poll(hs[i].cx).is_pending());
  }
  s.release(100);
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST(hs[i].cw.wakes.load() == 1);
    BOOST_TEST(fs[i].poll(hs[i].cx).is_ready());
  }
  BOOST_TEST(s.available_permits() == 100u);  // every permit dropped at once above
}

BOOST_AUTO_TEST_CASE(limits_concurrency_on_a_runtime) {
  zokio::semaphore s(3);
  std::atomic<int> in_flight{0}, max_seen{0}, done{0};
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
    std::vector<zokio::join_handle<void>> hs;
    for (int i = 0; i < 200; ++i)
      hs.push_back(zokio::spawn(zokio::co_invoke([&]() -> zokio::task<> {
        auto p = (co_await s.acquire()).value();
        int now = in_flight.fetch_add(1) + 1;
        int m = max_seen.load();
        while (now > m && !max_seen.compare_exchange_weak(m, now)) {
        }
        for (int k = 0; k < 3; ++k) co_await zokio::yield_now{};
        in_flight.fetch_sub(1);
        done.fetch_add(1);
      })));
    for (auto& j : hs) co_await std::move(j);
  }));
  rt.block_on(std::move(h));
  BOOST_TEST(done.load() == 200);
  BOOST_TEST(max_seen.load() <= 3);
  BOOST_TEST(max_seen.load() >= 1);
  BOOST_TEST(s.available_permits() == 3u);
}

BOOST_AUTO_TEST_CASE(aborted_waiters_lose_no_permits_under_stress) {
  // Waiters of 1 or 2 permits, a third of them aborted while they wait or run; at the end
  // every permit must be back and every surviving waiter must have run.
  const int n = 600 / zokio::test::stress_divisor + 60;
  zokio::semaphore s(4);
  std::atomic<int> ran{0};
  {
    auto rt = zokio::runtime::builder().worker_threads(4).build();
    auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
      std::vector<zokio::join_handle<void>> hs;
      for (int i = 0; i < n; ++i)
        hs.push_back(zokio::spawn(zokio::co_invoke([&, i]() -> zokio::task<> {
          auto p = (co_await s.acquire(1 + i % 2)).value();
          co_await zokio::yield_now{};
          ran.fetch_add(1);
        })));
      for (int i = 0; i < n; i += 3) hs[i].abort();
      int finished = 0;
      for (auto& j : hs) {
        try {
          co_await std::move(j);
          ++finished;
        } catch (const zokio::join_error&) {
        }
      }
      co_return finished;
    }));
    int finished = rt.block_on(std::move(h));
    BOOST_TEST(finished == ran.load());
    BOOST_TEST(finished >= n - (n + 2) / 3);
  }
  BOOST_TEST(s.available_permits() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
