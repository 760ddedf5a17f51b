// Tests for zokio::join: outputs in argument order whatever the completion order, void as
// monostate, concurrency (not sequential), finished children destroyed early, exceptions.
#include <zokio/join.hpp>  // self-contained header check

#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;

namespace {

using zokio::test::make_runtime;
using zokio::test::value_after;

/// Ready after `n` self-wakes; holds a tracked object while alive.
struct countdown {
  using output = int;
  explicit countdown(int n, int v) noexcept : left(n), value(v) {}
  int left, value;
  zokio::test::tracked t;
  zokio::poll<int> poll(zokio::context& cx) {
    if (left-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return zokio::ready(value);
  }
};

struct throws_after {
  using output = int;
  explicit throws_after(int n) noexcept : left(n) {}
  int left;
  zokio::poll<int> poll(zokio::context& cx) {
    if (left-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    throw std::runtime_error("child failed");
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(join_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(outputs_in_argument_order_and_concurrent) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto t0 = sclock::now();
    // Completion order 3, 2, 1; each sleeps 40 ms at most: concurrent means ~40 ms, not 90.
    auto [a, b, c] = co_await zokio::join(value_after(40ms, 1), value_after(30ms, 2),
                                          value_after(20ms, 3));
    auto took = sclock::now() - t0;
    co_return a == 1 && b == 2 && c == 3 && took >= 40ms && took < 85ms;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(void_outputs_become_monostate_and_types_mix) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto r = co_await zokio::join(zokio::sleep(1ms), zokio::ready_future<std::string>("x"),
                                  zokio::yield_now{});
    static_assert(std::is_same_v<decltype(r), std::tuple<std::monostate, std::string,
                                                         std::monostate>>);
    co_return std::get<1>(r) == "x";
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(polled_by_hand_finished_children_are_destroyed_early) {
  const long base = zokio::test::tracked::live.load();
  zokio::test::counting_waker cw;
  zokio::waker w = cw.make();
  zokio::context cx(w);
  auto j = zokio::join(countdown(0, 1), countdown(2, 2));
  BOOST_TEST(zokio::test::tracked::live.load() == base + 2);
  BOOST_TEST(j.poll(cx).is_pending());
  // The first child completed on that poll: its future is gone, its output kept.
  BOOST_TEST(zokio::test::tracked::live.load() == base + 1);
  BOOST_TEST(j.poll(cx).is_pending());
  auto r = j.poll(cx);
  BOOST_TEST_REQUIRE(r.is_ready());
  BOOST_TEST(std::get<0>(r.value()) == 1);
  BOOST_TEST(std::get<1>(r.value()) == 2);
  BOOST_TEST(zokio::test::tracked::live.load() == base);
  BOOST_TEST(cw.wakes_by_ref.load() == 2);  // the children's wakes went to the parent's waker
}

BOOST_AUTO_TEST_CASE(empty_join_is_ready) {
  zokio::context cx(zokio::noop_waker());
  auto j = zokio::join();
  BOOST_TEST(j.poll(cx).is_ready());
}

BOOST_AUTO_TEST_CASE(exception_propagates_and_the_rest_are_destroyed) {
  auto rt = make_runtime(2);
  const long base = zokio::test::tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([base]() -> zokio::task<bool> {
    try {
      (void)co_await zokio::join(zokio::test::never{}, throws_after(2));
    } catch (const std::runtime_error&) {
      co_return zokio::test::tracked::live.load() == base;  // the never{} is gone
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(dropping_a_pending_join_destroys_every_child) {
  const long base = zokio::test::tracked::live.load();
  {
    zokio::context cx(zokio::noop_waker());
    auto j = zokio::join(zokio::test::never{}, countdown(0, 5), zokio::test::never{});
    BOOST_TEST(j.poll(cx).is_pending());
    BOOST_TEST(zokio::test::tracked::live.load() == base + 2);
  }
  BOOST_TEST(zokio::test::tracked::live.load() == base);
}

BOOST_AUTO_TEST_SUITE_END()
