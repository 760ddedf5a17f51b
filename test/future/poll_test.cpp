// Tests for zokio::poll and the future concept.
#include <zokio/poll.hpp>  // self-contained header check
#include <zokio/future.hpp>

#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

BOOST_AUTO_TEST_SUITE(poll_suite)

BOOST_AUTO_TEST_CASE(pending_and_ready) {
  zokio::poll<int> p = zokio::pending;
  BOOST_TEST(p.is_pending());
  BOOST_TEST(!p.is_ready());
  zokio::poll<int> r = zokio::ready(7);
  BOOST_TEST(r.is_ready());
  BOOST_TEST(r.value() == 7);
  zokio::poll<void> v = zokio::ready();
  BOOST_TEST(v.is_ready());
  zokio::poll<void> vp = zokio::pending;
  BOOST_TEST(vp.is_pending());
}

BOOST_AUTO_TEST_CASE(move_only_value) {
  auto r = zokio::ready(std::make_unique<std::string>("x"));
  auto v = std::move(r).take();
  BOOST_TEST(*v == "x");
}

struct hand_written {
  using output = int;
  int n = 2;
  zokio::poll<int> poll(zokio::context& cx) {
    if (n-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return zokio::ready(5);
  }
};
struct not_a_future {
  int poll(zokio::context&) { return 0; }
};

static_assert(zokio::future<hand_written>);
static_assert(zokio::future<hand_written&>);
static_assert(zokio::future<zokio::yield_now>);
static_assert(!zokio::future<not_a_future>);
static_assert(!zokio::future<int>);
static_assert(std::is_same_v<zokio::future_output_t<hand_written&>, int>);

BOOST_AUTO_TEST_CASE(hand_written_future_polled_by_hand) {
  zokio::test::counting_waker cw;
  zokio::waker w = cw.make();
  zokio::context cx(w);
  hand_written f;
  BOOST_TEST(f.poll(cx).is_pending());
  BOOST_TEST(f.poll(cx).is_pending());
  auto r = f.poll(cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value() == 5);
  BOOST_TEST(cw.wakes_by_ref.load() == 2);
}

BOOST_AUTO_TEST_CASE(yield_now_yields_once) {
  zokio::test::counting_waker cw;
  zokio::waker w = cw.make();
  zokio::context cx(w);
  zokio::yield_now y;
  BOOST_TEST(y.poll(cx).is_pending());
  BOOST_TEST(cw.wakes_by_ref.load() == 1);
  BOOST_TEST(y.poll(cx).is_ready());
}

BOOST_AUTO_TEST_SUITE_END()
