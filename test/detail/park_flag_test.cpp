// detail::park_flag: the flag block_on's parker and the workers of a runtime without the I/O
// driver sleep on. A lost wake-up shows as a hang (ctest's timeout), a spurious return as a
// failed check.
#include <zokio/detail/park_flag.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(park_flag_suite)

BOOST_AUTO_TEST_CASE(take_lowers_what_raise_raised_and_wait_returns_on_a_raised_flag) {
  zokio::detail::park_flag f;
  BOOST_TEST(!f.take());
  f.raise();
  f.wait();  // raised: returns at once, and leaves it raised
  BOOST_TEST(f.take());
  BOOST_TEST(!f.take());
  f.raise_and_wake();  // with nobody waiting
  BOOST_TEST(f.take());
}

BOOST_AUTO_TEST_CASE(wait_sleeps_until_another_thread_raises) {
  zokio::detail::park_flag f;
  std::atomic<bool> raised{false};
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    raised.store(true);
    f.raise_and_wake();
  });
  f.wait();
  BOOST_TEST(raised.load());  // not a spurious return before the raise
  BOOST_TEST(f.take());
  t.join();
}

// Two threads handing a turn back and forth through two flags, as a worker and its waker do:
// each side takes its flag, and sleeps only when it was not raised yet. 20,000 hand-offs.
BOOST_AUTO_TEST_CASE(no_wake_up_is_lost_in_a_ping_pong) {
  zokio::detail::park_flag to_a, to_b;
  constexpr int rounds = 20'000;
  int a_seen = 0, b_seen = 0;  // each written by its own thread only
  std::thread b([&] {
    for (int i = 0; i < rounds; ++i) {
      while (!to_b.take()) to_b.wait();
      ++b_seen;
      to_a.raise_and_wake();
    }
  });
  for (int i = 0; i < rounds; ++i) {
    to_b.raise_and_wake();
    while (!to_a.take()) to_a.wait();
    ++a_seen;
  }
  b.join();
  BOOST_TEST(a_seen == rounds);
  BOOST_TEST(b_seen == rounds);
}

BOOST_AUTO_TEST_SUITE_END()
