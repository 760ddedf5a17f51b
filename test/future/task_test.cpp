// Tests for zokio::task<T>: a coroutine that is a future and awaits any future.
#include <zokio/task.hpp>  // self-contained header check
#include <zokio/block_on.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

namespace {

struct countdown {
  using output = int;
  int n;
  zokio::poll<int> poll(zokio::context& cx) {
    if (n-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return zokio::ready(42);
  }
};

struct throwing_future {
  using output = int;
  int pending_first;
  zokio::poll<int> poll(zokio::context& cx) {
    if (pending_first-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    throw std::runtime_error("future failed");
  }
};

zokio::task<int> add(int a, int b) {
  co_await zokio::yield_now{};
  co_return a + b;
}

zokio::task<int> nested(int depth) {
  if (depth == 0) co_return 0;
  int v = co_await nested(depth - 1);
  co_return v + 1;
}

zokio::task<std::unique_ptr<std::string>> move_only() {
  co_return std::make_unique<std::string>("moved");
}

zokio::task<void> void_task(int& out) {
  out = co_await countdown{2};
}

}  // namespace

static_assert(zokio::future<zokio::task<int>>);
static_assert(zokio::future<zokio::task<void>>);

BOOST_AUTO_TEST_SUITE(task_suite)

BOOST_AUTO_TEST_CASE(lazy_until_polled) {
  bool started = false;
  auto body = [&]() -> zokio::task<int> {
    started = true;
    co_return 1;
  };
  auto t = body();
  BOOST_TEST(!started);
  zokio::context cx(zokio::noop_waker());
  auto r = t.poll(cx);
  BOOST_TEST(started);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value() == 1);
}

BOOST_AUTO_TEST_CASE(awaits_hand_written_future_and_reports_pending) {
  zokio::test::counting_waker cw;
  zokio::waker w = cw.make();
  zokio::context cx(w);
  auto t = zokio::co_invoke([&]() -> zokio::task<int> { co_return co_await countdown{3} + 1; });
  int polls = 0;
  zokio::poll<int> r = zokio::pending;
  while ((r = t.poll(cx)).is_pending()) ++polls;
  BOOST_TEST(polls == 3);
  BOOST_TEST(r.value() == 43);
  BOOST_TEST(cw.wakes_by_ref.load() == 3);  // the inner future got the task's waker
}

BOOST_AUTO_TEST_CASE(block_on_drives_coroutines) {
  BOOST_TEST(zokio::block_on(add(2, 3)) == 5);
  BOOST_TEST(zokio::block_on(nested(1000)) == 1000);
  BOOST_TEST(*zokio::block_on(move_only()) == "moved");
  int out = 0;
  zokio::block_on(void_task(out));
  BOOST_TEST(out == 42);
}

BOOST_AUTO_TEST_CASE(exception_inside_body_rethrown_by_poll) {
  auto t = zokio::co_invoke([]() -> zokio::task<int> {
    co_await zokio::yield_now{};
    throw std::logic_error("boom");
    co_return 0;
  });
  BOOST_CHECK_EXCEPTION(zokio::block_on(std::move(t)), std::logic_error,
                        [](const std::logic_error& e) { return std::string(e.what()) == "boom"; });
}

BOOST_AUTO_TEST_CASE(exception_from_awaited_future_catchable_in_body) {
  // Thrown on the first poll (await_ready) and on a re-poll (after a pending): both must
  // surface at the co_await, inside the coroutine.
  for (int pending_first : {0, 2}) {
    auto t = [](int p) -> zokio::task<std::string> {
      try {
        co_await throwing_future{p};
      } catch (const std::runtime_error& e) {
        co_return std::string("caught: ") + e.what();
      }
      co_return "not caught";
    }(pending_first);
    BOOST_TEST(zokio::block_on(std::move(t)) == "caught: future failed");
  }
}

BOOST_AUTO_TEST_CASE(destroying_suspended_task_destroys_locals) {
  zokio::test::tracked::live = 0;
  {
    auto t = zokio::co_invoke([]() -> zokio::task<int> {
      zokio::test::tracked keep;
      co_return co_await zokio::test::never{};
    });
    zokio::context cx(zokio::noop_waker());
    BOOST_TEST(t.poll(cx).is_pending());
    BOOST_TEST(zokio::test::tracked::live.load() >= 2);  // local + the awaited future
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
