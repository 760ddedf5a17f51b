// Tests for zokio::rwlock: shared and exclusive access, writer fairness, cancellation, stress.
#include <zokio/rwlock.hpp>  // self-contained header check

#include <atomic>
#include <optional>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace {
using zokio::test::hand;
struct pair_value {
  long a = 0, b = 0;
};
}  // namespace

BOOST_AUTO_TEST_SUITE(rwlock_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(readers_share_writers_exclude) {
  zokio::rwlock<int> l(5);
  auto r1 = l.try_read();
  auto r2 = l.try_read();
  BOOST_REQUIRE(r1);
  BOOST_REQUIRE(r2);
  BOOST_TEST(**r1 + **r2 == 10);
  BOOST_TEST(!l.try_write());
  r1.reset();
  BOOST_TEST(!l.try_write());
  r2.reset();
  auto w = l.try_write();
  BOOST_REQUIRE(w);
  **w = 6;
  BOOST_TEST(!l.try_read());
  BOOST_TEST(!l.try_write());
  w->unlock();
  BOOST_TEST(**l.try_read() == 6);
}

BOOST_AUTO_TEST_CASE(waiting_writer_blocks_later_readers) {
  zokio::rwlock<int> l(0);
  hand hw, hr;
  auto r1 = l.try_read();
  auto fw = l.write();
  BOOST_TEST(fw.poll(hw.cx).is_pending());
  auto fr = l.read();
  BOOST_TEST(fr.poll(hr.cx).is_pending());  // behind the writer, though a reader holds
  BOOST_TEST(!l.try_read());
  r1.reset();
  BOOST_TEST(hw.cw.wakes.load() == 1);
  BOOST_TEST(hr.cw.wakes.load() == 0);
  {
    auto w = fw.poll(hw.cx);
    BOOST_REQUIRE(w.is_ready());
    *w.value() = 9;
    BOOST_TEST(fr.poll(hr.cx).is_pending());
  }
  BOOST_TEST(hr.cw.wakes.load() == 1);
  auto r = fr.poll(hr.cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(*r.value() == 9);
}

BOOST_AUTO_TEST_CASE(readers_behind_a_writer_go_together) {
  zokio::rwlock<int> l(0);
  auto w = l.try_write();
  std::vector<hand> hs(40);
  std::vector<zokio::rwlock<int>::read_future> fs;
  fs.reserve(40);
  for (auto& h : hs) {
    fs.push_back(l.read());
    BOOST_TEST(fs.back().poll(h.cx).is_pending());
  }
  w.reset();
  std::vector<zokio::rwlock_read_guard<int>> gs;
  for (int i = 0; i < 40; ++i) {
    BOOST_TEST(hs[i].cw.wakes.load() == 1);
    auto r = fs[i].poll(hs[i].cx);
    BOOST_REQUIRE(r.is_ready());
    gs.push_back(std::move(r).take());
  }
  BOOST_TEST(!l.try_write());
}

BOOST_AUTO_TEST_CASE(cancelled_writer_lets_readers_through) {
  zokio::rwlock<int> l(0);
  hand hr;
  auto r1 = l.try_read();
  std::optional<zokio::rwlock<int>::write_future> fw(l.write());
  auto fr = l.read();
  {
    hand hw;
    BOOST_TEST(fw->poll(hw.cx).is_pending());
    BOOST_TEST(fr.poll(hr.cx).is_pending());
    fw.reset();  // the writer had most permits assigned: they must go to the reader
  }
  BOOST_TEST(hr.cw.wakes.load() == 1);
  auto r = fr.poll(hr.cx);
  BOOST_TEST(r.is_ready());
  r1.reset();
  r = zokio::pending;
  BOOST_TEST(l.try_write().has_value());
}

BOOST_AUTO_TEST_CASE(readers_never_see_a_half_write) {
  // Writers set a and b in two steps with an await in between; readers check a == b and
  // that no writer is inside while they read; writers check they are alone.
  const int writers = 8, readers = 24, iters = 400 / zokio::test::stress_divisor + 20;
  zokio::rwlock<pair_value> l;
  std::atomic<int> active_readers{0}, active_writers{0}, violations{0}, reads{0};
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
    std::vector<zokio::join_handle<void>> hs;
    for (int t = 0; t < writers; ++t)
      hs.push_back(zokio::spawn(zokio::co_invoke([&]() -> zokio::task<> {
        for (int i = 0; i < iters; ++i) {
          auto w = co_await l.write();
          if (active_writers.fetch_add(1) != 0 || active_readers.load() != 0) violations++;
          w->a += 1;
          co_await zokio::yield_now{};
          w->b += 1;
          active_writers.fetch_sub(1);
        }
      })));
    for (int t = 0; t < readers; ++t)
      hs.push_back(zokio::spawn(zokio::co_invoke([&]() -> zokio::task<> {
        for (int i = 0; i < iters; ++i) {
          auto r = co_await l.read();
          active_readers.fetch_add(1);
          if (active_writers.load() != 0) violations++;
          long a = r->a;
          if (i % 4 == 0) co_await zokio::yield_now{};
          if (r->b != a) violations++;
          active_readers.fetch_sub(1);
          reads++;
        }
      })));
    for (auto& j : hs) co_await std::move(j);
  }));
  rt.block_on(std::move(h));
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(reads.load() == readers * iters);
  BOOST_TEST(l.get_mut().a == long(writers) * iters);
  BOOST_TEST(l.get_mut().b == long(writers) * iters);
}

BOOST_AUTO_TEST_SUITE_END()
