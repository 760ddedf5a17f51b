// detail::tick_clock: the TSC (or steady_clock) ticks of the trace and the latency
// histograms, and their rate in ns per tick.
#include <zokio/detail/tick_clock.hpp>  // self-contained header check

#include <chrono>
#include <cstdint>
#include <thread>

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(tick_clock_suite)

// A steady_clock interval measured in ticks and converted at the measured rate comes out at
// its length (the rate is a property of the clock, so a few per cent is plenty of room; a
// wrong rate, such as 1 ns per TSC tick, is off by the CPU's GHz).
BOOST_AUTO_TEST_CASE(ticks_convert_to_the_nanoseconds_of_steady_clock) {
  namespace zd = zokio::detail;
  const double rate = zd::ticks_ns_rate();
  BOOST_TEST(rate > 0.0);
  BOOST_TEST(rate == zd::ticks_ns_rate());  // measured once
  using clk = std::chrono::steady_clock;
  for (int round = 0; round < 3; ++round) {
    const std::uint64_t t0 = zd::ticks_now();
    const clk::time_point c0 = clk::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::uint64_t t1 = zd::ticks_now();
    const clk::time_point c1 = clk::now();
    const double want = static_cast<double>(std::chrono::nanoseconds(c1 - c0).count());
    const double got = static_cast<double>(zd::ticks_elapsed_ns(t1, t0, rate));
    BOOST_TEST(got > want * 0.97);
    BOOST_TEST(got < want * 1.03);
  }
}

BOOST_AUTO_TEST_CASE(elapsed_is_zero_when_the_start_is_later) {
  BOOST_TEST(zokio::detail::ticks_elapsed_ns(100, 200, 0.5) == 0u);
  BOOST_TEST(zokio::detail::ticks_elapsed_ns(300, 100, 0.5) == 100u);
}

BOOST_AUTO_TEST_SUITE_END()
