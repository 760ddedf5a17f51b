// Tests for zokio::timeout: both outcomes, the inner future destroyed at the timeout, the
// timer cancelled when the inner future wins, error codes, exceptions.
#include <zokio/timeout.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <stdexcept>

#include <boost/system/errc.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"
#include "../support/timer_allocs.hpp"

using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;

namespace {

using zokio::test::make_runtime;
using zokio::test::value_after;

struct throws_on_poll {
  using output = int;
  throws_on_poll() noexcept {}
  zokio::poll<int> poll(zokio::context&) { throw std::runtime_error("inner failed"); }
};


}  // namespace

using zokio::test::g_timer_allocs;
using zokio::test::g_timer_frees;
using zokio::test::timer_hook;
using zokio::test::timer_hook_scope;

BOOST_AUTO_TEST_SUITE(timeout_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(inner_completes_first) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    boost::system::result<int> r = co_await zokio::timeout(value_after(5ms, 7), 2s);
    co_return r ? *r : -1;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 7);
}

BOOST_AUTO_TEST_CASE(deadline_first_destroys_the_inner_future_at_once) {
  auto rt = make_runtime(2);
  const long base = zokio::test::tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([base]() -> zokio::task<bool> {
    auto t0 = sclock::now();
    auto t = zokio::timeout(zokio::test::never{}, 20ms);  // an lvalue: still alive below
    bool alive_before = zokio::test::tracked::live.load() == base + 1;
    auto r = co_await t;
    bool gone = zokio::test::tracked::live.load() == base;  // destroyed, while t is alive
    bool waited = sclock::now() - t0 >= 20ms;
    bool is_timeout = !r && r.error() == zokio::time_errc::timed_out &&
                      r.error() == boost::system::errc::timed_out && t.get() == nullptr;
    co_return alive_before && gone && waited && is_timeout;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
  BOOST_TEST(zokio::test::tracked::live.load() == base);
}

BOOST_AUTO_TEST_CASE(ready_inner_wins_even_with_a_past_deadline) {
  // The inner future is polled first; no timer is armed at all.
  auto rt = make_runtime(2);
  auto prev = zokio::set_alloc_hook(&timer_hook);
  g_timer_allocs = 0;
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    auto r = co_await zokio::timeout_at(zokio::ready_future<int>(3), sclock::now() - 1s);
    auto z = co_await zokio::timeout(zokio::ready_future<int>(4), 0ms);
    co_return (r ? *r : -100) + (z ? *z : -100);
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 7);
  BOOST_TEST(g_timer_allocs.load() == 0);
  zokio::set_alloc_hook(prev);
}

BOOST_AUTO_TEST_CASE(void_inner_gives_result_void) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    boost::system::result<void> ok = co_await zokio::timeout(zokio::sleep(1ms), 2s);
    boost::system::result<void> late = co_await zokio::timeout(zokio::sleep(2s), 5ms);
    co_return (ok ? 1 : 0) + (late ? 0 : 2);
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 3);
}

BOOST_AUTO_TEST_CASE(winning_inner_cancels_the_timer_wait) {
  // A 30 s deadline around a 5 ms sleep: the timeout's timer block is freed (its Asio
  // handler ran with operation_aborted) long before 30 s.
  auto rt = make_runtime(2);
  g_timer_allocs = 0;
  g_timer_frees = 0;
  auto prev = zokio::set_alloc_hook(&timer_hook);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto r = co_await zokio::timeout(zokio::sleep(5ms), 30s);
    co_return r.has_value();
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
  BOOST_TEST(g_timer_allocs.load() == 2);  // the inner sleep's block and the deadline's
  BOOST_TEST(zokio::test::wait_until([] { return g_timer_frees.load() == 2; },
                                     std::chrono::milliseconds(5000)));
  zokio::set_alloc_hook(prev);
}

BOOST_AUTO_TEST_CASE(inner_exceptions_propagate) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    try {
      (void)co_await zokio::timeout(throws_on_poll{}, 1s);
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(error_category_and_message) {
  boost::system::error_code ec = zokio::time_errc::timed_out;
  BOOST_TEST(std::string(ec.category().name()) == "zokio.time");
  BOOST_TEST(!ec.message().empty());
  BOOST_TEST((ec == boost::system::errc::timed_out));
  BOOST_TEST((ec != zokio::make_error_code(zokio::errc::task_aborted)));
}

BOOST_AUTO_TEST_SUITE_END()
