// runtime::get_serial_executor(): the implicit strand of a single-threaded io_context, on a
// multi-worker runtime (issue 11, point 4).
#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(serial_executor_suite)

// Plain non-atomic increments from posted functions (from 4 threads), timer completions and
// coroutines that suspend between increments, all on one serial executor of a 4-worker
// runtime: no increment is lost (and ThreadSanitizer sees no race on the counter).
BOOST_AUTO_TEST_CASE(non_atomic_increments_from_many_handlers_are_not_lost) {
  auto rt = zokio::test::make_runtime(4);
  zokio::serial_executor serial = rt.get_serial_executor();
  static_assert(std::is_convertible_v<zokio::serial_executor, asio::any_io_executor>);
  long counter = 0;  // touched only by handlers of `serial`
  const int posts_per_thread = 20000 / zokio::test::stress_divisor;
  const int timers = 200, coroutines = 50, coroutine_steps = 20;
  const long expected = 4L * posts_per_thread + timers + long(coroutines) * coroutine_steps;
  std::atomic<long> done{0};

  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t)
    posters.emplace_back([&] {
      for (int i = 0; i < posts_per_thread; ++i)
        asio::post(serial, [&] {
          ++counter;
          done.fetch_add(1, std::memory_order_relaxed);
        });
    });
  std::vector<std::unique_ptr<asio::steady_timer>> ts;
  for (int i = 0; i < timers; ++i) {
    ts.push_back(std::make_unique<asio::steady_timer>(serial, std::chrono::microseconds(i * 10)));
    ts.back()->async_wait([&](boost::system::error_code) {
      ++counter;
      done.fetch_add(1, std::memory_order_relaxed);
    });
  }
  for (int c = 0; c < coroutines; ++c)
    asio::co_spawn(
        serial,
        [&]() -> asio::awaitable<void> {
          for (int s = 0; s < coroutine_steps; ++s) {
            long seen = counter;
            co_await asio::post(serial, asio::use_awaitable);  // other handlers run here
            counter = counter + 1;
            (void)seen;
            done.fetch_add(1, std::memory_order_relaxed);
          }
        },
        asio::detached);
  for (auto& p : posters) p.join();
  BOOST_REQUIRE(zokio::test::wait_until([&] { return done.load() == expected; }, 60s));
  // Read on the strand, after every increment.
  std::atomic<long> final_value{-1};
  asio::post(serial, [&] { final_value = counter; });
  BOOST_REQUIRE(zokio::test::wait_until([&] { return final_value.load() >= 0; }));
  BOOST_TEST(final_value.load() == expected);
}

// Handlers posted to a serial executor run in the order they were posted.
BOOST_AUTO_TEST_CASE(posted_in_order_run_in_order) {
  auto rt = zokio::test::make_runtime(3);
  auto serial = rt.get_serial_executor();
  std::vector<int> order;  // touched only on the strand
  std::atomic<bool> finished{false};
  for (int i = 0; i < 1000; ++i) asio::post(serial, [&order, i] { order.push_back(i); });
  asio::post(serial, [&] { finished = true; });
  BOOST_REQUIRE(zokio::test::wait_until([&] { return finished.load(); }));
  BOOST_REQUIRE(order.size() == 1000u);
  bool sorted = true;
  for (int i = 0; i < 1000; ++i) sorted = sorted && order[i] == i;
  BOOST_TEST(sorted);
}

BOOST_AUTO_TEST_SUITE_END()
