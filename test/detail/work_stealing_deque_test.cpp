// Tests for detail::work_stealing_deque: order, bounds, overflow, concurrent steal-half.
#include <zokio/detail/work_stealing_deque.hpp>  // self-contained header check

#include <atomic>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

using zokio::detail::work_stealing_deque;

BOOST_AUTO_TEST_SUITE(work_stealing_deque_suite)

BOOST_AUTO_TEST_CASE(fifo_for_owner_and_bounded) {
  work_stealing_deque<int> q(4);
  int v[5] = {0, 1, 2, 3, 4};
  BOOST_TEST(q.capacity() == 4u);
  for (int i = 0; i < 4; ++i) BOOST_TEST(q.push(&v[i]));
  BOOST_TEST(!q.push(&v[4]));  // full
  BOOST_TEST(q.size() == 4u);
  for (int i = 0; i < 4; ++i) BOOST_TEST(q.pop() == &v[i]);
  BOOST_TEST(q.pop() == nullptr);
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(wraps_around) {
  work_stealing_deque<int> q(4);
  std::vector<int> v(1000);
  for (int i = 0; i < 1000; ++i) {
    BOOST_REQUIRE(q.push(&v[i]));
    if (i % 3 == 2) {
      while (q.pop()) {
      }
    }
  }
  BOOST_TEST(q.size() <= 3u);
}

// pop_unshared (a one-worker runtime's owner: no thief) keeps pop()'s contract: FIFO, empty
// at the end, room freed for pushes, across wrap-around and interleaved with pop() and
// push_overflow.
BOOST_AUTO_TEST_CASE(unshared_pop_is_pop_without_thieves) {
  work_stealing_deque<int> q(4);
  std::vector<int> v(1000);
  int next_out = 0;
  for (int i = 0; i < 1000; ++i) {
    if (!q.push(&v[i])) {
      std::vector<int*> moved;
      BOOST_REQUIRE(q.push_overflow([&](int* p) { moved.push_back(p); }));
      for (int* p : moved) BOOST_TEST((p == &v[next_out++]));
      BOOST_REQUIRE(q.push(&v[i]));
    }
    if (i % 5 == 4) {
      for (int k = 0; k < 3; ++k) {
        int* p = k == 1 ? q.pop() : q.pop_unshared();
        if (!p) break;
        BOOST_TEST((p == &v[next_out++]));
      }
    }
  }
  while (int* p = q.pop_unshared()) BOOST_TEST((p == &v[next_out++]));
  BOOST_TEST(next_out == 1000);
  BOOST_TEST(q.empty());
  BOOST_TEST(q.pop_unshared() == nullptr);
}

BOOST_AUTO_TEST_CASE(overflow_moves_older_half) {
  work_stealing_deque<int> q(8);
  std::vector<int> v(8);
  for (auto& x : v) BOOST_REQUIRE(q.push(&x));
  std::vector<int*> moved;
  BOOST_TEST(q.push_overflow([&](int* p) { moved.push_back(p); }));
  BOOST_REQUIRE(moved.size() == 4u);
  for (int i = 0; i < 4; ++i) BOOST_TEST(moved[i] == &v[i]);  // the oldest
  BOOST_TEST(q.size() == 4u);
  BOOST_TEST(q.pop() == &v[4]);
}

BOOST_AUTO_TEST_CASE(overflow_after_a_steal_moves_nothing) {
  // Regression: push() sees the queue full, a thief then takes half, and push_overflow() must
  // not claim slots past the tail (it used to, running stale tasks twice).
  work_stealing_deque<int> q(8), thief(8);
  std::vector<int> v(9);
  for (int i = 0; i < 8; ++i) BOOST_REQUIRE(q.push(&v[i]));
  BOOST_REQUIRE(!q.push(&v[8]));
  std::uint32_t stolen = 0;
  BOOST_REQUIRE(q.steal_into(thief, stolen));
  BOOST_REQUIRE(stolen == 4u);
  int sunk = 0;
  BOOST_TEST(!q.push_overflow([&](int*) { ++sunk; }));
  BOOST_TEST(sunk == 0);
  BOOST_TEST(q.size() == 4u);
  BOOST_TEST(q.push(&v[8]));
  for (int i = 4; i < 9; ++i) BOOST_TEST(q.pop() == &v[i]);
  BOOST_TEST(q.pop() == nullptr);
}

BOOST_AUTO_TEST_CASE(steal_takes_half) {
  work_stealing_deque<int> a(16), b(16);
  std::vector<int> v(10);
  for (auto& x : v) BOOST_REQUIRE(a.push(&x));
  std::uint32_t stolen = 0;
  int* got = a.steal_into(b, stolen);
  BOOST_TEST(stolen == 5u);
  BOOST_TEST(got == &v[4]);      // last stolen returned to run now
  BOOST_TEST(b.size() == 4u);    // the rest published into b
  BOOST_TEST(a.size() == 5u);
  BOOST_TEST(b.pop() == &v[0]);
  BOOST_TEST(a.pop() == &v[5]);
}

BOOST_AUTO_TEST_CASE(concurrent_owner_and_thieves_each_item_once) {
  // The owner pushes and pops; thieves steal into their own queues and drain them. Every item
  // must be taken exactly once.
  const int n = 200'000 / zokio::test::stress_divisor;
  const int thieves = 3;
  std::vector<int> items(n);
  std::vector<std::atomic<int>> taken(n);
  work_stealing_deque<int> owner(64);
  std::atomic<bool> done{false};
  auto take = [&](int* p) { taken[p - items.data()].fetch_add(1, std::memory_order_relaxed); };

  std::vector<std::thread> ts;
  for (int t = 0; t < thieves; ++t)
    ts.emplace_back([&] {
      work_stealing_deque<int> mine(64);
      for (;;) {
        bool finished = done.load(std::memory_order_acquire);
        std::uint32_t stolen = 0;
        if (int* p = owner.steal_into(mine, stolen)) take(p);
        while (int* p = mine.pop()) take(p);
        if (finished && owner.empty()) break;
      }
    });
  std::vector<int*> overflow;
  for (int i = 0; i < n; ++i) {
    while (!owner.push(&items[i])) {
      if (int* p = owner.pop()) take(p);
    }
    if (i % 7 == 0)
      if (int* p = owner.pop()) take(p);
  }
  while (int* p = owner.pop()) take(p);
  done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += taken[i].load() != 1;
  BOOST_TEST(bad == 0);
}

BOOST_AUTO_TEST_SUITE_END()
