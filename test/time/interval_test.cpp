// Tests for zokio::interval: tick spacing, and the burst / delay / skip behaviours with a slow
// consumer (the task blocks its worker to miss ticks on purpose).
#include <zokio/interval.hpp>  // self-contained header check

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/select.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;

namespace {

using zokio::test::make_runtime;

struct tick_log {
  sclock::time_point start;
  std::vector<zokio::instant> scheduled;  // what tick() returned
  std::vector<sclock::time_point> seen;   // when it returned
};

/// One tick, then a stall of `stall` (the worker is blocked: a slow consumer), then `n` ticks.
zokio::task<tick_log> stalled(zokio::missed_tick_behavior b, std::chrono::milliseconds period,
                              std::chrono::milliseconds stall, int n) {
  tick_log log;
  log.start = sclock::now();
  zokio::interval iv(log.start, period, b);
  log.scheduled.push_back(co_await iv.tick());
  log.seen.push_back(sclock::now());
  std::this_thread::sleep_for(stall);
  for (int i = 0; i < n; ++i) {
    log.scheduled.push_back(co_await iv.tick());
    log.seen.push_back(sclock::now());
  }
  co_return log;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(interval_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(first_tick_is_immediate_then_one_per_period) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<tick_log> {
    tick_log log;
    log.start = sclock::now();
    zokio::interval iv(20ms);
    for (int i = 0; i < 5; ++i) {
      log.scheduled.push_back(co_await iv.tick());
      log.seen.push_back(sclock::now());
    }
    co_return log;
  }));
  tick_log log = rt.block_on(std::move(h));
  BOOST_TEST_REQUIRE(log.scheduled.size() == 5u);
  BOOST_TEST((log.seen[0] - log.start) < 15ms);  // first tick at once
  for (std::size_t i = 1; i < 5; ++i) {
    BOOST_TEST((log.scheduled[i] - log.scheduled[i - 1]) == 20ms);  // the schedule is exact
    BOOST_TEST((log.seen[i] >= log.scheduled[i]));                  // never early
  }
  BOOST_TEST((log.seen[4] - log.start) >= 80ms);
  BOOST_TEST((log.seen[4] - log.start) < 1000ms);
}

BOOST_AUTO_TEST_CASE(burst_fires_missed_ticks_back_to_back) {
  auto rt = make_runtime(1);
  tick_log log = rt.block_on(rt.spawn(stalled(zokio::missed_tick_behavior::burst, 10ms, 55ms, 7)));
  // Missed: +10 .. +50 come at once, in order, on their original schedule.
  for (std::size_t i = 1; i < log.scheduled.size(); ++i)
    BOOST_TEST((log.scheduled[i] - log.scheduled[0]) == std::chrono::milliseconds(10 * i));
  // The five missed ticks (+10..+50) were delivered without waiting.
  BOOST_TEST((log.seen[5] - log.seen[1]) < 10ms);
  // Caught up: +60 and +70 are waited for.
  BOOST_TEST((log.seen[7] >= log.scheduled[7]));
}

BOOST_AUTO_TEST_CASE(skip_drops_missed_ticks_and_stays_aligned) {
  auto rt = make_runtime(1);
  tick_log log = rt.block_on(rt.spawn(stalled(zokio::missed_tick_behavior::skip, 10ms, 55ms, 3)));
  // The first late tick is delivered at once (its scheduled time was +10) ...
  BOOST_TEST((log.scheduled[1] - log.scheduled[0]) == 10ms);
  BOOST_TEST((log.seen[1] - log.seen[0]) < 80ms);
  // ... then the schedule skips to the first multiple of the period after that moment.
  auto off = log.scheduled[2] - log.scheduled[0];
  BOOST_TEST(off.count() % std::chrono::nanoseconds(10ms).count() == 0);
  BOOST_TEST((log.scheduled[2] > log.seen[1]));
  BOOST_TEST((log.scheduled[2] - log.seen[1]) <= 10ms);
  BOOST_TEST((off >= 60ms));  // +20 .. +50 were skipped
  BOOST_TEST((log.scheduled[3] - log.scheduled[2]) == 10ms);
  BOOST_TEST((log.seen[2] >= log.scheduled[2]));
}

BOOST_AUTO_TEST_CASE(delay_restarts_the_schedule_from_now) {
  auto rt = make_runtime(1);
  tick_log log = rt.block_on(rt.spawn(stalled(zokio::missed_tick_behavior::delay, 10ms, 55ms, 3)));
  BOOST_TEST((log.scheduled[1] - log.scheduled[0]) == 10ms);  // the late tick, at once
  // Next: one full period after the late tick was seen, whatever the old alignment.
  BOOST_TEST((log.scheduled[2] >= log.seen[1] + 10ms - 1ms));
  BOOST_TEST((log.scheduled[2] <= log.seen[1] + 10ms + 5ms));
  BOOST_TEST((log.scheduled[3] - log.scheduled[2]) == 10ms);
  BOOST_TEST((log.seen[3] >= log.scheduled[3]));
}

BOOST_AUTO_TEST_CASE(dropped_tick_future_loses_no_tick) {
  // tick() loses against a short sleep in select; the next tick() returns that same tick.
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto t0 = sclock::now();
    zokio::interval iv(t0, 40ms);
    zokio::instant first = co_await iv.tick();
    auto r = co_await zokio::select(iv.tick(), zokio::sleep(5ms));
    if (r.index() != 1) co_return false;
    zokio::instant second = co_await iv.tick();
    co_return first == t0 && second == t0 + 40ms && sclock::now() >= second;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(reset_and_invalid_period) {
  BOOST_CHECK_THROW(zokio::interval(0ms), std::invalid_argument);
  auto rt = make_runtime(1);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    zokio::interval iv(30ms);
    co_await iv.tick();
    auto before = sclock::now();
    iv.reset();  // next tick one period from now
    zokio::instant t = co_await iv.tick();
    co_return t >= before + 30ms && sclock::now() >= t;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_SUITE_END()
