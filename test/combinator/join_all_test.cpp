// Tests for zokio::join_all: outputs in range order, concurrency, empty range, void outputs,
// exceptions, children destroyed when dropped.
#include <zokio/join_all.hpp>  // self-contained header check

#include <chrono>
#include <stdexcept>
#include <variant>
#include <vector>

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

}  // namespace

BOOST_AUTO_TEST_SUITE(join_all_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(outputs_in_order_and_concurrent) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    std::vector<zokio::task<int>> fs;
    for (int i = 0; i < 50; ++i) fs.push_back(value_after(std::chrono::milliseconds(40 - (i % 40)), i));
    auto t0 = sclock::now();
    std::vector<int> out = co_await zokio::join_all(std::move(fs));
    auto took = sclock::now() - t0;
    bool ordered = out.size() == 50;
    for (int i = 0; ordered && i < 50; ++i) ordered = out[i] == i;
    co_return ordered && took >= 40ms && took < 400ms;  // sequential would be ~1 s
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(empty_range_is_ready_with_empty_vector) {
  zokio::context cx(zokio::noop_waker());
  std::vector<zokio::ready_future<int>> none;
  auto j = zokio::join_all(std::move(none));
  auto r = j.poll(cx);
  BOOST_TEST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().empty());
}

BOOST_AUTO_TEST_CASE(void_outputs_and_pending_count) {
  zokio::context cx(zokio::noop_waker());
  std::vector<zokio::yield_now> ys(3);
  auto j = zokio::join_all(std::move(ys));
  BOOST_TEST(j.pending_count() == 3u);
  BOOST_TEST(j.poll(cx).is_pending());
  auto r = j.poll(cx);
  BOOST_TEST_REQUIRE(r.is_ready());
  static_assert(std::is_same_v<decltype(r)::value_type, std::vector<std::monostate>>);
  BOOST_TEST(r.value().size() == 3u);
}

BOOST_AUTO_TEST_CASE(exception_propagates) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    std::vector<zokio::task<int>> fs;
    fs.push_back(value_after(1s, 1));
    fs.push_back(zokio::test::error_after(1ms));
    auto t0 = sclock::now();
    try {
      (void)co_await zokio::join_all(std::move(fs));
    } catch (const std::runtime_error&) {
      co_return sclock::now() - t0 < 500ms;  // did not wait for the 1 s child
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(dropping_destroys_pending_children) {
  const long base = zokio::test::tracked::live.load();
  {
    zokio::context cx(zokio::noop_waker());
    std::vector<zokio::test::never> ns(4);
    BOOST_TEST(zokio::test::tracked::live.load() == base + 4);
    auto j = zokio::join_all(std::move(ns));
    ns.clear();  // the moved-from originals
    BOOST_TEST(j.poll(cx).is_pending());
    BOOST_TEST(zokio::test::tracked::live.load() == base + 4);
  }
  BOOST_TEST(zokio::test::tracked::live.load() == base);
}

BOOST_AUTO_TEST_SUITE_END()
