// Tests for zokio::waker: reference counting, wake / wake_by_ref, will_wake, thread safety.
#include <zokio/waker.hpp>  // self-contained header check

#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

using zokio::test::counting_waker;

BOOST_AUTO_TEST_SUITE(waker_suite)

BOOST_AUTO_TEST_CASE(copy_clones_and_destroy_drops) {
  counting_waker cw;
  {
    zokio::waker a = cw.make();
    BOOST_TEST(cw.refs() == 1);
    zokio::waker b = a;
    BOOST_TEST(cw.clones.load() == 2);
    zokio::waker c = b.clone();
    BOOST_TEST(cw.refs() == 3);
    zokio::waker d = std::move(c);  // move transfers, no clone
    BOOST_TEST(cw.clones.load() == 3);
    BOOST_TEST(!c.valid());
    BOOST_TEST(d.valid());
  }
  BOOST_TEST(cw.refs() == 0);
  BOOST_TEST(cw.drops.load() == 3);
}

BOOST_AUTO_TEST_CASE(wake_consumes_wake_by_ref_keeps) {
  counting_waker cw;
  zokio::waker a = cw.make();
  a.wake_by_ref();
  a.wake_by_ref();
  BOOST_TEST(cw.wakes_by_ref.load() == 2);
  BOOST_TEST(a.valid());
  std::move(a).wake();
  BOOST_TEST(cw.wakes.load() == 1);
  BOOST_TEST(!a.valid());
  a.wake_by_ref();  // empty waker: no-op
  BOOST_TEST(cw.wakes_by_ref.load() == 2);
  BOOST_TEST(cw.refs() == 0);
}

BOOST_AUTO_TEST_CASE(will_wake_compares_target) {
  counting_waker cw1, cw2;
  zokio::waker a = cw1.make(), b = a, c = cw2.make();
  BOOST_TEST(a.will_wake(b));
  BOOST_TEST(!a.will_wake(c));
  BOOST_TEST(!a.will_wake(zokio::noop_waker()));
}

BOOST_AUTO_TEST_CASE(assignment_drops_old) {
  counting_waker cw1, cw2;
  zokio::waker a = cw1.make();
  zokio::waker b = cw2.make();
  a = b;
  BOOST_TEST(cw1.refs() == 0);
  BOOST_TEST(cw2.refs() == 2);
  a = std::move(b);
  BOOST_TEST(cw2.refs() == 1);
}

BOOST_AUTO_TEST_CASE(concurrent_clone_wake_drop) {
  counting_waker cw;
  zokio::waker root = cw.make();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        zokio::waker c = root;
        c.wake_by_ref();
        if (i % 2) std::move(c).wake();
      }
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(cw.wakes_by_ref.load() == 40000);
  BOOST_TEST(cw.wakes.load() == 20000);
  BOOST_TEST(cw.refs() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
