// Tests for zokio::try_join: all values in order, the first error wins and cancels (destroys)
// the rest at once, void values, mixed error types.
#include <zokio/try_join.hpp>  // self-contained header check

#include <chrono>
#include <tuple>
#include <variant>

#include <boost/asio/error.hpp>
#include <boost/system/result.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;
using boost::system::error_code;
using boost::system::result;

namespace {

using zokio::test::make_runtime;

zokio::task<result<int>> ok_after(std::chrono::milliseconds d, int v) {
  co_await zokio::sleep(d);
  co_return v;
}

zokio::task<result<int>> fail_after(std::chrono::milliseconds d, error_code ec) {
  co_await zokio::sleep(d);
  co_return result<int>(boost::system::in_place_error, ec);
}

/// Never completes; holds a tracked object (to see it destroyed).
struct never_result {
  using output = result<int>;
  never_result() noexcept {}
  zokio::test::tracked t;
  zokio::poll<result<int>> poll(zokio::context&) { return zokio::pending; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(try_join_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(all_ok_gives_values_in_order) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto t0 = sclock::now();
    auto r = co_await zokio::try_join(ok_after(30ms, 1), ok_after(10ms, 2),
                                      zokio::timeout(zokio::sleep(5ms), 1s));
    static_assert(std::is_same_v<decltype(r), result<std::tuple<int, int, std::monostate>>>);
    auto took = sclock::now() - t0;
    co_return r && std::get<0>(*r) == 1 && std::get<1>(*r) == 2 && took >= 30ms && took < 500ms;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(first_error_cancels_the_rest_at_once) {
  auto rt = make_runtime(2);
  const long base = zokio::test::tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([base]() -> zokio::task<int> {
    auto t0 = sclock::now();
    auto tj = zokio::try_join(never_result{}, fail_after(10ms, boost::asio::error::eof),
                              ok_after(5ms, 3), fail_after(20ms, boost::asio::error::timed_out));
    if (zokio::test::tracked::live.load() != base + 1) co_return 1;
    auto r = co_await tj;  // tj still alive after this: its children must be gone already
    if (r) co_return 2;
    if (r.error() != boost::asio::error::eof) co_return 3;  // the first error, not the later
    if (zokio::test::tracked::live.load() != base) co_return 4;
    if (sclock::now() - t0 > 500ms) co_return 5;
    co_return 0;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 0);
  BOOST_TEST(zokio::test::tracked::live.load() == base);
}

BOOST_AUTO_TEST_CASE(timeouts_compose_with_try_join) {
  // timeout() outputs result<T>: a timed-out child fails the whole try_join.
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto r = co_await zokio::try_join(zokio::timeout(zokio::test::never{}, 10ms),
                                      zokio::timeout(zokio::sleep(1s), 2s));
    co_return !r && r.error() == zokio::time_errc::timed_out;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(ready_error_on_first_poll_polls_nothing_after_it) {
  zokio::context cx(zokio::noop_waker());
  const long base = zokio::test::tracked::live.load();
  auto tj = zokio::try_join(
      zokio::ready_future<result<int>>(result<int>(boost::system::in_place_error,
                                                   boost::asio::error::eof)),
      never_result{});
  auto r = tj.poll(cx);
  BOOST_TEST_REQUIRE(r.is_ready());
  BOOST_TEST(!r.value());
  BOOST_TEST(zokio::test::tracked::live.load() == base);
}

BOOST_AUTO_TEST_SUITE_END()
