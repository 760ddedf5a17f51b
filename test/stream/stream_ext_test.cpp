// Tests for the stream adapters: map, filter, take, buffered.
#include <zokio/stream_ext.hpp>  // self-contained header check

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/async_generator.hpp>
#include <zokio/block_on.hpp>
#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::tracked;

namespace {

template <zokio::stream S>
std::vector<zokio::stream_item_t<S>> collect(S s) {
  std::vector<zokio::stream_item_t<S>> out;
  zokio::test::counting_waker cw;
  auto w = cw.make();
  zokio::context cx(w);
  for (int guard = 0; guard < 1000000; ++guard) {
    auto r = s.poll_next(cx);
    if (r.is_pending()) continue;  // every pending source here wakes itself
    auto v = std::move(r).take();
    if (!v) return out;
    out.push_back(std::move(*v));
  }
  BOOST_FAIL("stream never ended");
  return out;
}

std::atomic<int> g_produced{0};
zokio::async_generator<int> naturals(int n) {  // 0..n-1, counting what it produced
  for (int i = 0; i < n; ++i) {
    g_produced++;
    co_yield i;
  }
}

// Always ready, infinite: 1, 2, 3, ...
struct ints {
  using item = int;
  int i = 0;
  zokio::poll<std::optional<int>> poll_next(zokio::context&) { return std::optional<int>(++i); }
};

// A future ready after `polls` polls (waking itself meanwhile); counts live engaged instances
// so that a test can see how many are in flight.
struct gauge_future {
  using output = int;
  static inline std::atomic<int> live{0}, max_live{0};
  int id, polls;
  bool engaged = true;
  bool throws = false;
  gauge_future(int i, int p, bool t = false) : id(i), polls(p), throws(t) { enter(); }
  gauge_future(gauge_future&& o) noexcept
      : id(o.id), polls(o.polls), engaged(std::exchange(o.engaged, false)), throws(o.throws) {}
  ~gauge_future() {
    if (engaged) live--;
  }
  static void enter() {
    int l = ++live;
    int m = max_live.load();
    while (l > m && !max_live.compare_exchange_weak(m, l)) {
    }
  }
  zokio::poll<int> poll(zokio::context& cx) {
    if (throws) throw std::runtime_error("future " + std::to_string(id));
    if (polls-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return id;
  }
};

// Futures 0..n-1; future i needs (n - i) polls, so later ones finish first.
zokio::async_generator<gauge_future> reverse_finishers(int n, int throwing = -1) {
  for (int i = 0; i < n; ++i) co_yield gauge_future(i, n - i, i == throwing);
}

zokio::async_generator<zokio::test::never> nevers(int n) {
  for (int i = 0; i < n; ++i) co_yield zokio::test::never{};
}

std::atomic<long> g_other_allocs{0};
void other_hook(const zokio::alloc_event& e) noexcept {
  if (e.category == zokio::alloc_category::other && !e.deallocate) g_other_allocs++;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_ext_suite)

BOOST_AUTO_TEST_CASE(map_transforms_each_item, *boost::unit_test::timeout(60)) {
  auto s = zokio::map(naturals(4), [](int v) { return std::to_string(v * 10); });
  static_assert(std::is_same_v<zokio::stream_item_t<decltype(s)>, std::string>);
  BOOST_TEST(collect(std::move(s)) == (std::vector<std::string>{"0", "10", "20", "30"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(filter_keeps_matching_items, *boost::unit_test::timeout(60)) {
  auto s = zokio::filter(naturals(10), [](int v) { return v % 3 == 0; });
  BOOST_TEST(collect(std::move(s)) == (std::vector<int>{0, 3, 6, 9}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(filter_yields_after_a_budget_of_rejections, *boost::unit_test::timeout(60)) {
  auto s = zokio::filter(ints{}, [](int v) { return v % 100 == 0; });
  zokio::test::counting_waker cw;
  auto w = cw.make();
  zokio::context cx(w);
  BOOST_TEST(s.poll_next(cx).is_pending());  // 32 rejected: gives the worker back
  BOOST_TEST(cw.wakes_by_ref.load() == 1);   // ... but asks to be polled again
  int polls = 1;
  for (;;) {
    ++polls;
    auto r = s.poll_next(cx);
    if (r.is_ready()) {
      BOOST_TEST(*r.value() == 100);
      break;
    }
  }
  BOOST_TEST(polls == 4);  // 100 = 3 budgets of 32 + 4
}

BOOST_AUTO_TEST_CASE(take_stops_without_pulling_more, *boost::unit_test::timeout(60)) {
  g_produced = 0;
  BOOST_TEST(collect(zokio::take(naturals(100), 3)) == (std::vector<int>{0, 1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(g_produced.load() == 3);
  BOOST_TEST(collect(zokio::take(naturals(2), 5)).size() == 2u);  // shorter source
  BOOST_TEST(collect(zokio::take(ints{}, 0)).empty());
}

BOOST_AUTO_TEST_CASE(adapters_compose, *boost::unit_test::timeout(60)) {
  auto s = zokio::take(
      zokio::map(zokio::filter(ints{}, [](int v) { return v % 2 == 0; }), [](int v) { return v * v; }),
      3);
  BOOST_TEST(collect(std::move(s)) == (std::vector<int>{4, 16, 36}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(buffered_preserves_order_and_bounds_in_flight, *boost::unit_test::timeout(60)) {
  gauge_future::live = 0;
  gauge_future::max_live = 0;
  auto s = zokio::buffered(reverse_finishers(20), 4);
  std::vector<int> out = collect(std::move(s));
  std::vector<int> want(20);
  for (int i = 0; i < 20; ++i) want[i] = i;
  BOOST_TEST(out == want, boost::test_tools::per_element());
  // Exactly 4 alive at the peak: the bound holds and they really ran concurrently (the source
  // is only pulled while the ring has room, so no fifth one exists even briefly).
  BOOST_TEST(gauge_future::max_live.load() == 4);
  BOOST_TEST(gauge_future::live.load() == 0);
}

BOOST_AUTO_TEST_CASE(buffered_in_flight_never_exceeds_n, *boost::unit_test::timeout(60)) {
  auto s = zokio::buffered(reverse_finishers(10), 3);
  zokio::context cx(zokio::noop_waker());
  std::size_t max_in_flight = 0;
  int got = 0;
  for (int i = 0; i < 10000 && got < 10; ++i) {
    auto r = s.poll_next(cx);
    max_in_flight = std::max(max_in_flight, s.in_flight());
    if (r.is_ready() && r.value()) BOOST_TEST(*r.value() == got++);
  }
  BOOST_TEST(got == 10);
  BOOST_TEST(max_in_flight == 3u);
}

BOOST_AUTO_TEST_CASE(buffered_rethrows_in_order, *boost::unit_test::timeout(60)) {
  auto s = zokio::buffered(reverse_finishers(5, /*throwing=*/2), 3);
  zokio::context cx(zokio::noop_waker());
  std::vector<int> out;
  bool threw = false;
  for (int i = 0; i < 10000; ++i) {
    try {
      auto r = s.poll_next(cx);
      if (r.is_pending()) continue;
      auto v = std::move(r).take();
      if (!v) break;
      out.push_back(*v);
    } catch (const std::runtime_error& e) {
      BOOST_TEST(std::string(e.what()) == "future 2");
      BOOST_TEST(out.size() == 2u);  // after 0 and 1, although it failed first
      threw = true;
    }
  }
  BOOST_TEST(threw);
  BOOST_TEST(out == (std::vector<int>{0, 1, 3, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(buffered_drop_cancels_futures_in_flight, *boost::unit_test::timeout(60)) {
  const long before = tracked::live.load();
  {
    auto s = zokio::buffered(nevers(10), 3);
    zokio::context cx(zokio::noop_waker());
    BOOST_TEST(s.poll_next(cx).is_pending());
    BOOST_TEST(s.in_flight() == 3u);
    BOOST_TEST(tracked::live.load() >= before + 3);
  }
  BOOST_TEST(tracked::live.load() == before);
}

BOOST_AUTO_TEST_CASE(buffered_allocates_only_at_construction, *boost::unit_test::timeout(60)) {
  auto s = zokio::buffered(zokio::map(zokio::take(ints{}, 1000), [](int v) {
                             return zokio::ready_future<int>(v);
                           }),
                           8);
  zokio::context cx(zokio::noop_waker());
  g_other_allocs = 0;
  auto prev = zokio::set_alloc_hook(&other_hook);
  long sum = 0;
  for (;;) {
    auto r = s.poll_next(cx);
    BOOST_REQUIRE(r.is_ready());
    auto v = std::move(r).take();
    if (!v) break;
    sum += *v;
  }
  zokio::set_alloc_hook(prev);
  BOOST_TEST(sum == 500500);
  BOOST_TEST(g_other_allocs.load() == 0);
  BOOST_CHECK_THROW(
      zokio::buffered(zokio::map(ints{}, [](int v) { return zokio::ready_future<int>(v); }), 0),
      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(pipeline_in_a_task_on_a_runtime, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<long> {
    auto s = zokio::buffered(
        zokio::map(naturals(200), [](int i) { return gauge_future(i, i % 7); }), 5);
    long sum = 0;
    int expect = 0;
    while (auto v = co_await zokio::next(s)) {
      if (*v != expect++) co_return -1;
      sum += *v;
    }
    co_return sum;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 199L * 200 / 2);
}

BOOST_AUTO_TEST_SUITE_END()
