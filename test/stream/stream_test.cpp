// Tests for zokio::stream: the concept, zokio::next, zokio::iter, hand-written streams.
#include <zokio/stream.hpp>  // self-contained header check

#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/block_on.hpp>
#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

namespace {

// Counts down from n, returning pending (and waking itself) before every item.
struct countdown_stream {
  using item = int;
  int n;
  bool yielded = false;
  int polls = 0;
  explicit countdown_stream(int k) noexcept : n(k) {}
  zokio::poll<std::optional<int>> poll_next(zokio::context& cx) {
    ++polls;
    if (n == 0) return std::optional<int>();
    if (!yielded) {
      yielded = true;
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    yielded = false;
    return std::optional<int>(n--);
  }
};

struct not_a_stream {
  using item = int;
  int poll_next(zokio::context&) { return 0; }
};

static_assert(zokio::stream<countdown_stream>);
static_assert(zokio::stream<zokio::iter_stream<std::vector<int>>>);
static_assert(!zokio::stream<not_a_stream>);
static_assert(!zokio::stream<int>);
static_assert(std::is_same_v<zokio::stream_item_t<countdown_stream&>, int>);
static_assert(zokio::future<zokio::next_future<countdown_stream>>);

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_suite)

BOOST_AUTO_TEST_CASE(next_awaits_items_until_the_end, *boost::unit_test::timeout(60)) {
  auto t = zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    countdown_stream s(4);
    std::vector<int> out;
    while (auto v = co_await zokio::next(s)) out.push_back(*v);
    // Ended: stays ended.
    auto again = co_await zokio::next(s);
    if (again) out.push_back(-1);
    co_return out;
  });
  BOOST_TEST(zokio::block_on(std::move(t)) == (std::vector<int>{4, 3, 2, 1}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(iter_yields_range_elements, *boost::unit_test::timeout(60)) {
  auto s = zokio::iter(std::vector<std::string>{"a", "b", "c"});
  zokio::context cx(zokio::noop_waker());
  std::string got;
  for (;;) {
    auto r = s.poll_next(cx);
    BOOST_REQUIRE(r.is_ready());  // always ready
    auto v = std::move(r).take();
    if (!v) break;
    got += *v;
  }
  BOOST_TEST(got == "abc");
  BOOST_TEST(!s.poll_next(cx).value().has_value());
}

BOOST_AUTO_TEST_CASE(dropping_next_loses_nothing, *boost::unit_test::timeout(60)) {
  countdown_stream s(2);
  zokio::context cx(zokio::noop_waker());
  {
    auto f = zokio::next(s);
    BOOST_TEST(f.poll(cx).is_pending());
  }  // cancelled
  auto f2 = zokio::next(s);
  auto r = f2.poll(cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(*r.value() == 2);
}

BOOST_AUTO_TEST_CASE(stream_consumed_on_a_runtime, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    countdown_stream s(100);
    int sum = 0;
    while (auto v = co_await zokio::next(s)) sum += *v;
    co_return sum;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 5050);
}

BOOST_AUTO_TEST_SUITE_END()
