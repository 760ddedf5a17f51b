// Tests for zokio::async_generator: yielding, awaiting, laziness, exceptions, cancellation.
#include <zokio/async_generator.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/block_on.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using zokio::test::tracked;

namespace {

static_assert(zokio::stream<zokio::async_generator<int>>);
static_assert(std::is_same_v<zokio::stream_item_t<zokio::async_generator<std::string>>, std::string>);

zokio::async_generator<int> counting(int n) {
  for (int i = 0; i < n; ++i) {
    co_await zokio::yield_now{};
    co_yield i;
  }
}

template <class T>
std::vector<T> collect(zokio::async_generator<T> g) {
  auto t = zokio::co_invoke(
      [](zokio::async_generator<T>& g) -> zokio::task<std::vector<T>> {
        std::vector<T> out;
        while (auto v = co_await zokio::next(g)) out.push_back(std::move(*v));
        co_return out;
      },
      std::move(g));
  return zokio::block_on(std::move(t));
}

std::atomic<int> g_started{0};
zokio::async_generator<int> records_start() {
  g_started++;
  co_yield 1;
}

zokio::async_generator<int> throws_after(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
  throw std::runtime_error("generator failed");
}

struct throwing_future {
  using output = int;
  throwing_future() noexcept {}
  zokio::poll<int> poll(zokio::context&) { throw std::runtime_error("future failed"); }
};

zokio::async_generator<int> catches_awaited_exception() {
  bool caught = false;
  try {
    co_await throwing_future{};
  } catch (const std::runtime_error&) {
    caught = true;  // (no co_yield inside a handler: C++ forbids it)
  }
  if (caught) co_yield 7;
}

// Suspended on a future that never finishes, with a tracked local.
zokio::async_generator<int> stuck_forever() {
  tracked local;
  co_yield 1;
  co_await zokio::test::never{};
  co_yield 2;
}

zokio::async_generator<std::string> strings(int n) {
  for (int i = 0; i < n; ++i) co_yield std::string(40, static_cast<char>('a' + i));  // a temporary
}

std::atomic<long> g_frame_allocs{0};
void frame_hook(const zokio::alloc_event& e) noexcept {
  if (e.category == zokio::alloc_category::frame && !e.deallocate) g_frame_allocs++;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(async_generator_suite)

BOOST_AUTO_TEST_CASE(yields_values_in_order_across_awaits, *boost::unit_test::timeout(60)) {
  BOOST_TEST(collect(counting(5)) == (std::vector<int>{0, 1, 2, 3, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(collect(counting(0)).empty());
}

BOOST_AUTO_TEST_CASE(lazy_until_first_poll, *boost::unit_test::timeout(60)) {
  g_started = 0;
  auto g = records_start();
  BOOST_TEST(g_started.load() == 0);
  zokio::context cx(zokio::noop_waker());
  auto r = g.poll_next(cx);
  BOOST_TEST(g_started.load() == 1);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(*r.value() == 1);
  BOOST_TEST(!g.poll_next(cx).value().has_value());
  BOOST_TEST(g.done());
}

BOOST_AUTO_TEST_CASE(pending_while_awaiting, *boost::unit_test::timeout(60)) {
  auto g = counting(2);
  zokio::test::counting_waker cw;
  auto w = cw.make();
  zokio::context cx(w);
  BOOST_TEST(g.poll_next(cx).is_pending());  // at the yield_now
  BOOST_TEST(cw.wakes_by_ref.load() == 1);   // yield_now woke us
  auto r = g.poll_next(cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(*r.value() == 0);
}

BOOST_AUTO_TEST_CASE(awaits_asio_timer_on_runtime, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    auto ticks = zokio::co_invoke([]() -> zokio::async_generator<int> {
      auto ex = zokio::detail::scheduler::current();
      asio::steady_timer t(zokio::executor(*ex, ex->pick_home()));
      for (int i = 0; i < 3; ++i) {
        t.expires_after(2ms);
        auto r = co_await t.async_wait(zokio::use_future);
        if (!r) co_return;
        co_yield i;
      }
    });
    std::vector<int> out;
    while (auto v = co_await zokio::next(ticks)) out.push_back(*v);
    co_return out;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == (std::vector<int>{0, 1, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(exception_rethrown_from_poll_next_then_ended, *boost::unit_test::timeout(60)) {
  auto g = throws_after(2);
  zokio::context cx(zokio::noop_waker());
  BOOST_TEST(*g.poll_next(cx).value() == 0);
  BOOST_TEST(*g.poll_next(cx).value() == 1);
  BOOST_CHECK_THROW(g.poll_next(cx), std::runtime_error);
  BOOST_TEST(g.done());
  BOOST_TEST(!g.poll_next(cx).value().has_value());
}

BOOST_AUTO_TEST_CASE(exception_from_awaited_future_surfaces_in_body, *boost::unit_test::timeout(60)) {
  BOOST_TEST(collect(catches_awaited_exception()) == (std::vector<int>{7}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(destroying_mid_stream_destroys_awaited_future, *boost::unit_test::timeout(60)) {
  const long before = tracked::live.load();
  {
    auto g = stuck_forever();
    zokio::context cx(zokio::noop_waker());
    BOOST_TEST(*g.poll_next(cx).value() == 1);
    BOOST_TEST(tracked::live.load() == before + 1);  // the local
    BOOST_TEST(g.poll_next(cx).is_pending());        // now awaiting never{}
    // local + the awaited future (+ its moved-from operand temporary, alive until the end of
    // the co_await's full expression)
    BOOST_TEST(tracked::live.load() >= before + 2);
    BOOST_TEST(g.poll_next(cx).is_pending());        // re-polls the future, not the body
  }
  BOOST_TEST(tracked::live.load() == before);  // both destroyed with the frame
}

BOOST_AUTO_TEST_CASE(destroying_at_a_yield_of_a_temporary, *boost::unit_test::timeout(60)) {
  // g++ 12 mishandles some co_await operand temporaries when a frame is destroyed at that
  // suspension point; a co_yield of a temporary std::string must not be destroyed twice
  // (the ASan build checks).
  auto g = strings(3);
  zokio::context cx(zokio::noop_waker());
  auto v = g.poll_next(cx).take();
  BOOST_REQUIRE(v.has_value());
  BOOST_TEST(*v == std::string(40, 'a'));
  BOOST_TEST(collect(strings(3)).size() == 3u);
}  // g destroyed while suspended at the first co_yield

BOOST_AUTO_TEST_CASE(never_polled_generator_is_destroyed_cleanly, *boost::unit_test::timeout(60)) {
  const long before = tracked::live.load();
  {
    auto g = stuck_forever();
    auto moved = std::move(g);
    BOOST_TEST(!g.valid());
    BOOST_TEST(moved.valid());
  }
  BOOST_TEST(tracked::live.load() == before);
}

BOOST_AUTO_TEST_CASE(frame_comes_from_runtime_allocator, *boost::unit_test::timeout(60)) {
  g_frame_allocs = 0;
  auto prev = zokio::set_alloc_hook(&frame_hook);
  {
    // Moved to the heap so that the frame escapes: clang may otherwise elide the allocation
    // of a coroutine that provably dies in its caller (HALO).
    auto g = std::make_unique<zokio::async_generator<int>>(counting(1));
    BOOST_TEST(g->valid());
  }
  zokio::set_alloc_hook(prev);
  BOOST_TEST(g_frame_allocs.load() == 1);
}

BOOST_AUTO_TEST_CASE(co_invoke_keeps_lambda_captures_alive, *boost::unit_test::timeout(60)) {
  auto words = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"x", "y"});
  auto g = zokio::co_invoke([words]() -> zokio::async_generator<std::string> {
    for (auto& w : *words) {
      co_await zokio::yield_now{};
      co_yield w;
    }
  });
  words.reset();  // only the closure kept in the frame holds it now
  BOOST_TEST(collect(std::move(g)) == (std::vector<std::string>{"x", "y"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(many_generators_on_four_workers, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  constexpr int tasks = 64;
  const int n = 2000 / zokio::test::stress_divisor;
  std::vector<zokio::join_handle<long>> hs;
  for (int i = 0; i < tasks; ++i)
    hs.push_back(rt.spawn(zokio::co_invoke(
        [](int n) -> zokio::task<long> {
          auto g = counting(n);
          long sum = 0;
          while (auto v = co_await zokio::next(g)) sum += *v;
          co_return sum;
        },
        n)));
  for (auto& h : hs) BOOST_TEST(rt.block_on(std::move(h)) == long(n) * (n - 1) / 2);
}

BOOST_AUTO_TEST_SUITE_END()
