// Tests for the stream adapters: map, filter, take, buffered, zip, merge, chain, chunks,
// timeout, throttle.
#include <zokio/stream_ext.hpp>  // self-contained header check

#include <algorithm>
#include <chrono>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/async_generator.hpp>
#include <zokio/block_on.hpp>
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
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

// --- zip, merge, chain, chunks, timeout, throttle -------------------------------------------

namespace {
// Pending (waking itself) on every other poll, then 1..n: a source that is sometimes not ready.
struct flaky {
  using item = int;
  int n, i = 0;
  bool wait = false;
  explicit flaky(int count) : n(count) {}
  zokio::poll<std::optional<int>> poll_next(zokio::context& cx) {
    if ((wait = !wait)) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    if (i == n) return std::optional<int>();
    return std::optional<int>(++i);
  }
};

zokio::async_generator<int> one_then_late_two(std::chrono::milliseconds gap) {
  co_yield 1;
  co_await zokio::sleep(gap);
  co_yield 2;
}
}  // namespace

BOOST_AUTO_TEST_CASE(zip_pairs_and_ends_with_the_shorter, *boost::unit_test::timeout(60)) {
  const int before = g_produced.load();
  auto v = collect(zokio::zip(zokio::iter(std::vector<int>{1, 2, 3}), naturals(10)));
  BOOST_REQUIRE(v.size() == 3u);
  BOOST_TEST((v[0] == std::pair<int, int>{1, 0}));
  BOOST_TEST((v[2] == std::pair<int, int>{3, 2}));
  BOOST_TEST(g_produced.load() - before == 3);  // the longer one is not pulled past the end
  // An item that came from one side waits for its partner (ints is not pulled ahead).
  auto w = collect(zokio::zip(flaky(3), ints{}));
  BOOST_REQUIRE(w.size() == 3u);
  for (int i = 0; i < 3; ++i) BOOST_TEST((w[std::size_t(i)] == std::pair<int, int>{i + 1, i + 1}));
}

BOOST_AUTO_TEST_CASE(merge_alternates_and_ends_when_both_end, *boost::unit_test::timeout(60)) {
  auto v = collect(zokio::merge(zokio::iter(std::vector<int>{1, 3, 5}),
                                zokio::iter(std::vector<int>{2, 4, 6, 8, 10})));
  BOOST_TEST(v == (std::vector<int>{1, 2, 3, 4, 5, 6, 8, 10}));
  // Two always-ready streams share the output: neither starves the other.
  auto m = collect(zokio::take(
      zokio::merge(ints{}, zokio::map(ints{}, [](int i) { return -i; })), 10));
  BOOST_TEST(std::count_if(m.begin(), m.end(), [](int i) { return i < 0; }) == 5);
  // A side that is pending does not hold up the other.
  auto f = collect(zokio::merge(flaky(3), zokio::iter(std::vector<int>{7, 8, 9})));
  std::sort(f.begin(), f.end());
  BOOST_TEST(f == (std::vector<int>{1, 2, 3, 7, 8, 9}));
}

BOOST_AUTO_TEST_CASE(chain_runs_the_second_after_the_first, *boost::unit_test::timeout(60)) {
  const int before = g_produced.load();
  auto s = zokio::chain(flaky(2), naturals(3));
  zokio::context cx(zokio::noop_waker());
  for (int i = 0; i < 4; ++i) (void)s.poll_next(cx);  // flaky's 1 and 2 (and two pendings)
  BOOST_TEST(g_produced.load() == before);             // the second not started yet
  BOOST_TEST(collect(std::move(s)) == (std::vector<int>{0, 1, 2}));
  BOOST_TEST(collect(zokio::chain(zokio::iter(std::vector<int>{1, 2}), zokio::iter(std::vector<int>{3}))) ==
             (std::vector<int>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(chunks_fill_up_and_keep_the_rest_for_the_end, *boost::unit_test::timeout(60)) {
  using vi = std::vector<int>;
  BOOST_TEST((collect(zokio::chunks(zokio::iter(vi{1, 2, 3, 4, 5, 6, 7}), 3)) ==
              std::vector<vi>{{1, 2, 3}, {4, 5, 6}, {7}}));
  BOOST_TEST((collect(zokio::chunks(zokio::iter(vi{1, 2, 3, 4}), 2)) == std::vector<vi>{{1, 2}, {3, 4}}));
  BOOST_TEST(collect(zokio::chunks(zokio::iter(vi{}), 2)).empty());
  // Items that arrived while the source is pending wait inside: only full chunks come out.
  BOOST_TEST((collect(zokio::chunks(flaky(5), 2)) == std::vector<vi>{{1, 2}, {3, 4}, {5}}));
  BOOST_CHECK_THROW(zokio::chunks(ints{}, 0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(timeout_reports_each_late_gap_and_goes_on, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto out = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    // 1 at once, then 2 after 100 ms, with 30 ms allowed per item: 1, timeouts, 2, the end.
    auto s = zokio::timeout(one_then_late_two(std::chrono::milliseconds(100)),
                            std::chrono::milliseconds(30));
    std::vector<int> got;  // the value, or 0 for a timeout
    while (auto v = co_await zokio::next(s)) {
      if (*v)
        got.push_back(**v);
      else if (v->error() == zokio::make_error_code(zokio::time_errc::timed_out))
        got.push_back(0);
      else
        got.push_back(-1);
    }
    co_return got;
  })));
  BOOST_REQUIRE(out.size() >= 3u);
  BOOST_TEST(out.front() == 1);
  BOOST_TEST(out.back() == 2);
  for (std::size_t i = 1; i + 1 < out.size(); ++i) BOOST_TEST(out[i] == 0);
  BOOST_TEST(out.size() <= 5u);  // about 100 / 30 timeouts, each reported once
}

BOOST_AUTO_TEST_CASE(throttle_spaces_items_and_drops_none, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  const auto start = std::chrono::steady_clock::now();
  auto out = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    auto s = zokio::throttle(zokio::iter(std::vector<int>{0, 1, 2, 3, 4}),
                             std::chrono::milliseconds(20));
    std::vector<int> got;
    while (auto v = co_await zokio::next(s)) got.push_back(*v);
    co_return got;
  })));
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(out == (std::vector<int>{0, 1, 2, 3, 4}));
  BOOST_TEST(took >= std::chrono::milliseconds(80));  // 4 gaps of 20 ms
}

namespace {
// Never ready (nothing wakes it): an adapter holding items meanwhile is then dropped.
template <class T>
struct stalled {
  using item = T;
  zokio::poll<std::optional<T>> poll_next(zokio::context&) { return zokio::pending; }
};
struct throwing_source {
  using item = int;
  zokio::poll<std::optional<int>> poll_next(zokio::context&) { throw std::runtime_error("source"); }
};
}  // namespace

// Hostile: adapters dropped while they hold items (a zip's unpaired item, a chunk being
// filled) destroy them; an exception from a source comes out of merge, chain and zip.
BOOST_AUTO_TEST_CASE(adapters_dropped_holding_items_and_throwing_sources,
                     *boost::unit_test::timeout(60)) {
  const long live = tracked::live.load();
  zokio::context cx(zokio::noop_waker());
  {
    auto z = zokio::zip(zokio::iter(std::vector<tracked>(3)), stalled<int>{});
    BOOST_TEST(z.poll_next(cx).is_pending());
    auto c = zokio::chunks(zokio::chain(zokio::iter(std::vector<tracked>(2)), stalled<tracked>{}), 3);
    BOOST_TEST(c.poll_next(cx).is_pending());
    BOOST_TEST(tracked::live.load() > live);  // held inside
  }
  BOOST_TEST(tracked::live.load() == live);
  auto m = zokio::merge(zokio::iter(std::vector<int>{1}), throwing_source{});
  BOOST_TEST(*m.poll_next(cx).value() == 1);  // the first side goes first
  BOOST_CHECK_THROW((void)m.poll_next(cx), std::runtime_error);
  BOOST_CHECK_THROW(collect(zokio::chain(zokio::iter(std::vector<int>{1, 2}), throwing_source{})),
                    std::runtime_error);
  BOOST_CHECK_THROW(collect(zokio::zip(ints{}, throwing_source{})), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
