// Allocation counting for the combinators and timers, in steady state on one worker: join,
// select and race allocate nothing at all; timeout around a ready future allocates nothing;
// sleep, a timeout that fires and a select whose loser is a cancelled sleep only use the
// runtime's recycling cache (no upstream allocation, no operator new, no aligned_alloc).
// Counters: alloc_counting.hpp (fed by the replacements in allocation_test.cpp); they count
// only the runtime's workers, and scenarios start once the spawn that started them returned.
#include <chrono>

#include <boost/test/unit_test.hpp>

#include <zokio/join.hpp>
#include <zokio/runtime.hpp>
#include <zokio/select.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>

#include "../support/test_util.hpp"
#include "alloc_counting.hpp"

using namespace zokio::test::alloc_counting;
using namespace std::chrono_literals;

namespace {

/// Pending `remaining` times, waking itself by reference each time.
struct self_wake {
  using output = int;
  explicit self_wake(int n) noexcept : remaining(n) {}
  int remaining;
  zokio::poll<int> poll(zokio::context& cx) {
    if (remaining-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return zokio::ready(7);
  }
};

/// Pending forever, never wakes.
struct forever {
  using output = int;
  forever() noexcept {}
  zokio::poll<int> poll(zokio::context&) { return zokio::pending; }
};

// Timer scenarios wait for real timers (tens of microseconds each): fewer iterations.
constexpr int kTimerWarm = kWarm / 4;
constexpr int kTimerIters = kIters / 4;

/// Runs `body(i)` (a coroutine lambda returning task<bool>) warm + n times in one task on a
/// 1-worker runtime; counts the last n. Fails the test if any body returned false.
template <class Body>
counts steady_state(Body body, int warm, int n) {
  auto rt = make_rt(1);
  std::atomic<long> bad{0};
  counts c = wait_for(rt, spawn_outside(rt, zokio::co_invoke([&]() -> zokio::task<counts> {
    for (int i = 0; i < warm + n; ++i) {
      if (i == warm) counting::start();
      if (!co_await body(i)) bad.fetch_add(1, std::memory_order_relaxed);
    }
    co_return counting::stop();
  })));
  BOOST_TEST(bad.load() == 0);
  return c;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(combinator_allocation_counting, hook_fixture,
                         *boost::unit_test::timeout(120))

BOOST_AUTO_TEST_CASE(join_allocates_nothing) {
  counts c = steady_state(
      [](int i) -> zokio::task<bool> {
        auto [a, b, d] = co_await zokio::join(self_wake(2), self_wake(i % 3),
                                              zokio::ready_future<int>(i));
        co_return a == 7 && b == 7 && d == i;
      },
      kWarm, kIters);
  report("join(3 futures) in a task", c, kIters);
  // The awaited lambda coroutine (task<bool>) is one recycled frame per iteration: the
  // join itself adds nothing.
  BOOST_TEST(c.allocs() == c.allocs(zokio::alloc_category::frame));
  BOOST_TEST(c.allocs(zokio::alloc_category::frame) == kIters);
  BOOST_TEST(c.upstream_allocs() == expected_upstream(c.allocs()));
  BOOST_TEST(c.foreign_news() == 0);
  BOOST_TEST(c.aligned_allocs == 0);
}

BOOST_AUTO_TEST_CASE(join_and_select_by_hand_allocate_nothing_at_all) {
  // Without the per-iteration coroutine frame: the combinators polled inline in one task.
  auto rt = make_rt(1);
  counts c = wait_for(rt, spawn_outside(rt, zokio::co_invoke([]() -> zokio::task<counts> {
    long sum = 0;
    for (int i = 0; i < kWarm + kIters; ++i) {
      if (i == kWarm) counting::start();
      auto [a, b] = co_await zokio::join(self_wake(1), self_wake(2));
      auto s = co_await zokio::select(self_wake(3), self_wake(1), forever{});
      int r = co_await zokio::race(self_wake(2), zokio::ready_future<int>(1));
      sum += a + b + static_cast<long>(s.index()) + r;
    }
    counts out = counting::stop();
    if (sum != (kWarm + kIters) * (7 + 7 + 1 + 1)) out.news += 1000000;  // wrong results
    co_return out;
  })));
  report("join + select + race polled inline", c, kIters);
  BOOST_TEST(c.allocs() == 0);
  BOOST_TEST(c.frees() == 0);
  BOOST_TEST(c.news == 0);
  BOOST_TEST(c.aligned_allocs == 0);
}

BOOST_AUTO_TEST_CASE(timeout_around_a_ready_future_allocates_nothing) {
  auto rt = make_rt(1);
  counts c = wait_for(rt, spawn_outside(rt, zokio::co_invoke([]() -> zokio::task<counts> {
    long sum = 0;
    for (int i = 0; i < kWarm + kIters; ++i) {
      if (i == kWarm) counting::start();
      auto r = co_await zokio::timeout(zokio::ready_future<int>(1), 1s);
      auto s = co_await zokio::timeout(self_wake(1), 1s);  // pending once: arms a timer
      sum += (r ? *r : 0) + (s ? *s : 0);
    }
    counts out = counting::stop();
    if (sum != (kWarm + kIters) * 8L) out.news += 1000000;
    co_return out;
  })));
  report("timeout around ready / soon-ready futures", c, kIters);
  // The ready one arms nothing; the one pending once arms a timer (state block + Asio wait
  // op) and cancels it: recycled, never upstream.
  BOOST_TEST(c.allocs(zokio::alloc_category::timer) == kIters);
  BOOST_TEST(c.upstream_allocs() == expected_upstream(c.allocs()));
  BOOST_TEST(c.foreign_news() == 0);
  BOOST_TEST(c.aligned_allocs == 0);
}

BOOST_AUTO_TEST_CASE(strictly_ready_timeout_allocates_nothing_at_all) {
  auto rt = make_rt(1);
  counts c = wait_for(rt, spawn_outside(rt, zokio::co_invoke([]() -> zokio::task<counts> {
    long sum = 0;
    for (int i = 0; i < kWarm + kIters; ++i) {
      if (i == kWarm) counting::start();
      auto r = co_await zokio::timeout(zokio::ready_future<int>(1), 1s);
      sum += r ? *r : 0;
    }
    counts out = counting::stop();
    if (sum != kWarm + kIters) out.news += 1000000;
    co_return out;
  })));
  report("timeout around a ready future", c, kIters);
  BOOST_TEST(c.allocs() == 0);
  BOOST_TEST(c.news == 0);
  BOOST_TEST(c.aligned_allocs == 0);
}

BOOST_AUTO_TEST_CASE(timeout_that_fires_reaches_no_upstream_allocator) {
  auto rt = make_rt(1);
  counts c = wait_for(rt, spawn_outside(rt, zokio::co_invoke([]() -> zokio::task<counts> {
    long timed_out = 0;
    for (int i = 0; i < kTimerWarm + kTimerIters; ++i) {
      if (i == kTimerWarm) counting::start();
      auto r = co_await zokio::timeout(forever{}, 20us);
      timed_out += !r && r.error() == zokio::time_errc::timed_out;
    }
    counts out = counting::stop();
    if (timed_out != kTimerWarm + kTimerIters) out.news += 1000000;
    co_return out;
  })));
  report("timeout that fires (20 us)", c, kTimerIters);
  // One timer per iteration, none when the 20 us had passed before the first poll (slow
  // sanitizer builds).
  BOOST_TEST(c.allocs(zokio::alloc_category::timer) <= kTimerIters);
  BOOST_TEST(c.allocs(zokio::alloc_category::timer) > 0);
  BOOST_TEST(c.upstream_allocs() == expected_upstream(c.allocs()));
  BOOST_TEST(c.foreign_news() == 0);
  BOOST_TEST(c.aligned_allocs == 0);
}

BOOST_AUTO_TEST_CASE(sleep_and_select_with_cancelled_sleep_reach_no_upstream_allocator) {
  auto rt = make_rt(1);
  counts c = wait_for(rt, spawn_outside(rt, zokio::co_invoke([]() -> zokio::task<counts> {
    long ok = 0;
    for (int i = 0; i < kTimerWarm + kTimerIters; ++i) {
      if (i == kTimerWarm) counting::start();
      co_await zokio::sleep(10us);
      // The loser is a pending one-hour sleep: armed, then cancelled when yield_now wins.
      auto s = co_await zokio::select(zokio::sleep(1h), zokio::yield_now{});
      ok += s.index() == 1;
    }
    counts out = counting::stop();
    if (ok != kTimerWarm + kTimerIters) out.news += 1000000;
    co_return out;
  })));
  report("sleep(10 us) + select(sleep(1 h), yield_now)", c, kTimerIters);
  // The one-hour loser always arms a timer; the 10 us sleep does unless its deadline has
  // already passed at its first poll (slow sanitizer builds), then it completes without one.
  BOOST_TEST(c.allocs(zokio::alloc_category::timer) >= kTimerIters);
  BOOST_TEST(c.allocs(zokio::alloc_category::timer) <= 2L * kTimerIters);
  BOOST_TEST(c.upstream_allocs() == expected_upstream(c.allocs()));
  BOOST_TEST(c.foreign_news() == 0);
  BOOST_TEST(c.aligned_allocs == 0);
}

BOOST_AUTO_TEST_SUITE_END()
