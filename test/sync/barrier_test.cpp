// Tests for zokio::barrier: one leader per generation, reuse, withdrawal on cancellation.
#include <zokio/barrier.hpp>  // self-contained header check

#include <atomic>
#include <optional>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::hand;

BOOST_AUTO_TEST_SUITE(barrier_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(last_arrival_leads_and_releases_the_rest) {
  zokio::barrier b(3);
  hand h1, h2, h3;
  auto f1 = b.wait();
  auto f2 = b.wait();
  auto f3 = b.wait();
  BOOST_TEST(f1.poll(h1.cx).is_pending());
  BOOST_TEST(f2.poll(h2.cx).is_pending());
  auto r3 = f3.poll(h3.cx);
  BOOST_REQUIRE(r3.is_ready());
  BOOST_TEST(r3.value().is_leader());
  BOOST_TEST(h1.cw.wakes.load() == 1);
  BOOST_TEST(h2.cw.wakes.load() == 1);
  auto r1 = f1.poll(h1.cx);
  auto r2 = f2.poll(h2.cx);
  BOOST_REQUIRE(r1.is_ready());
  BOOST_REQUIRE(r2.is_ready());
  BOOST_TEST(!r1.value().is_leader());
  BOOST_TEST(!r2.value().is_leader());
  // The next generation starts empty.
  auto f4 = b.wait();
  BOOST_TEST(f4.poll(h1.cx).is_pending());
}

BOOST_AUTO_TEST_CASE(size_zero_and_one_never_wait) {
  zokio::barrier b0(0), b1(1);
  hand h;
  BOOST_TEST(b0.size() == 1u);
  auto f = b0.wait();
  BOOST_TEST(f.poll(h.cx).value().is_leader());
  auto g = b1.wait();
  BOOST_TEST(g.poll(h.cx).value().is_leader());
}

BOOST_AUTO_TEST_CASE(cancelled_waiter_withdraws_its_arrival) {
  zokio::barrier b(2);
  hand h1, h2, h3;
  std::optional<zokio::barrier::wait_future> f1(b.wait());
  BOOST_TEST(f1->poll(h1.cx).is_pending());
  f1.reset();
  BOOST_TEST(h1.cw.refs() == 1);
  auto f2 = b.wait();
  BOOST_TEST(f2.poll(h2.cx).is_pending());  // alone again: f1 no longer counts
  auto f3 = b.wait();
  auto r3 = f3.poll(h3.cx);
  BOOST_REQUIRE(r3.is_ready());
  BOOST_TEST(r3.value().is_leader());
  BOOST_TEST(f2.poll(h2.cx).is_ready());

  // Dropped after its generation was released: nothing changes for the next one.
  std::optional<zokio::barrier::wait_future> f4(b.wait());
  BOOST_TEST(f4->poll(h1.cx).is_pending());
  auto f5 = b.wait();
  BOOST_TEST(f5.poll(h2.cx).value().is_leader());
  f4.reset();
  auto f6 = b.wait();
  BOOST_TEST(f6.poll(h3.cx).is_pending());
  auto f7 = b.wait();
  BOOST_TEST(f7.poll(h3.cx).is_ready());
}

BOOST_AUTO_TEST_CASE(generations_on_a_runtime) {
  // 8 tasks meet 200 times: each round, every task must see all 8 arrivals of that round
  // once released, and there must be exactly one leader per round.
  const int tasks = 8, rounds = 200 / zokio::test::stress_divisor + 20;
  zokio::barrier b(tasks);
  std::vector<std::atomic<int>> arrived(rounds);
  std::atomic<int> leaders{0}, violations{0};
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  std::vector<zokio::join_handle<void>> hs;
  for (int t = 0; t < tasks; ++t)
    hs.push_back(rt.spawn(zokio::co_invoke([&, t]() -> zokio::task<> {
      for (int r = 0; r < rounds; ++r) {
        arrived[r].fetch_add(1);
        if ((r + t) % 3 == 0) co_await zokio::yield_now{};
        auto res = co_await b.wait();
        if (arrived[r].load() != tasks) violations++;
        if (r + 1 < rounds && arrived[r + 1].load() > tasks) violations++;
        if (res.is_leader()) leaders++;
      }
    })));
  for (auto& h : hs) rt.block_on(std::move(h));
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(leaders.load() == rounds);
}

BOOST_AUTO_TEST_SUITE_END()
