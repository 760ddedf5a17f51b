// Tests for zokio::task<T>: a coroutine that is a future and awaits any future.
#include <zokio/task.hpp>  // self-contained header check
#include <zokio/block_on.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <zokio/async_generator.hpp>
#include <zokio/stream.hpp>

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

zokio::task<int> slow_value(int v);

// A hand-written future around a task: the task is polled as a root inside it.
// Not an aggregate: g++ 12 destroys the task inside a `co_await aggregate{...}` operand twice
// (doc/architecture.md; gcc's ASan showed the double free once the task frame's size changed).
struct plus_one {
  using output = int;
  explicit plus_one(zokio::task<int> t) noexcept : inner(std::move(t)) {}
  zokio::task<int> inner;
  zokio::poll<int> poll(zokio::context& cx) {
    auto r = inner.poll(cx);
    if (r.is_pending()) return zokio::pending;
    return zokio::ready(r.value() + 1);
  }
};
zokio::task<int> probe_chain_value(int i) {
  co_return co_await slow_value(i) * 10;
}

// --- the frame stack (nested awaits in O(1), issue 12) -----------------------------------------

// Pending `n` times (waking by reference), then ready; records the stack address of each poll
// after the first, and how many polls it got.
struct stack_probe {
  using output = int;
  int n;
  std::vector<std::uintptr_t>* repoll_stack;
  int polls = 0;
  zokio::poll<int> poll(zokio::context& cx) {
    volatile char here = 0;
    if (polls++ > 0) repoll_stack->push_back(reinterpret_cast<std::uintptr_t>(&here));
    if (n-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return zokio::ready(7);
  }
};

zokio::task<int> probe_chain(int depth, std::vector<std::uintptr_t>* st, int pendings) {
  if (depth == 0) co_return co_await stack_probe{pendings, st};
  int v = co_await probe_chain(depth - 1, st, pendings);
  co_return v + 1;
}

// Deepest stack address seen while the root is re-polled (lowest address: stacks grow down).
std::uintptr_t repoll_depth_bytes(int depth) {
  std::vector<std::uintptr_t> st;
  auto t = probe_chain(depth, &st, 20);
  zokio::context cx(zokio::noop_waker());
  volatile char base = 0;
  zokio::poll<int> r = zokio::pending;
  while ((r = t.poll(cx)).is_pending()) {
  }
  BOOST_TEST(r.value() == 7 + depth);
  BOOST_TEST(st.size() == 20u);
  std::uintptr_t lowest = reinterpret_cast<std::uintptr_t>(&base);
  for (auto a : st) lowest = std::min(lowest, a);
  return reinterpret_cast<std::uintptr_t>(&base) - lowest;
}

zokio::task<int> throwing_chain(int depth) {
  if (depth == 0) co_return co_await throwing_future{3};
  co_return co_await throwing_chain(depth - 1) + 1;
}

zokio::task<int> tracked_chain(int depth) {
  zokio::test::tracked keep;
  if (depth == 0) co_return co_await zokio::test::never{};
  co_return co_await tracked_chain(depth - 1);
}

zokio::task<int> slow_value(int v) {
  co_await countdown{2};
  co_return v;
}

zokio::async_generator<int> generator_of_nested_tasks(int n) {
  for (int i = 0; i < n; ++i) co_yield co_await probe_chain_value(i);
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


// A wake at depth 1,000 re-polls the leaf's future from the root's poll directly: the stack
// under the re-poll does not grow with the depth (it grew by every level's poll before).
BOOST_AUTO_TEST_CASE(nested_awaits_repoll_the_leaf_directly) {
  std::uintptr_t shallow = repoll_depth_bytes(1);
  std::uintptr_t deep = repoll_depth_bytes(1000);
  BOOST_TEST_MESSAGE("stack under a re-poll: depth 1 " << shallow << " B, depth 1000 " << deep << " B");
  BOOST_TEST(deep < shallow + 4096);
}

BOOST_AUTO_TEST_CASE(nested_awaits_propagate_exceptions_up_the_stack) {
  BOOST_CHECK_EXCEPTION(zokio::block_on(throwing_chain(200)), std::runtime_error,
                        [](const std::runtime_error& e) { return std::string(e.what()) == "future failed"; });
  // Caught half way up, the outer frames go on.
  auto t = zokio::co_invoke([]() -> zokio::task<int> {
    try {
      co_return co_await throwing_chain(50);
    } catch (const std::runtime_error&) {
      co_return -1;
    }
  });
  BOOST_TEST(zokio::block_on(std::move(t)) == -1);
}

BOOST_AUTO_TEST_CASE(destroying_the_root_destroys_every_frame_of_the_stack) {
  zokio::test::tracked::live = 0;
  {
    auto t = tracked_chain(100);
    zokio::context cx(zokio::noop_waker());
    BOOST_TEST(t.poll(cx).is_pending());
    BOOST_TEST(t.poll(cx).is_pending());
    BOOST_TEST(zokio::test::tracked::live.load() >= 101);
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

// A task already polled as a future (a root of its own), then co_awaited: re-polled as a
// future; an lvalue task; a hand-written future between two task frames.
BOOST_AUTO_TEST_CASE(started_lvalue_and_mixed_awaits) {
  auto t = zokio::co_invoke([]() -> zokio::task<int> {
    auto started = slow_value(5);
    zokio::context cx(zokio::noop_waker());
    if (!started.poll(cx).is_pending()) co_return -1;  // now mid-flight, a root
    int a = co_await started;
    auto lvalue = slow_value(6);
    int b = co_await lvalue;
    // A hand-written future that polls a task inside: the task is a root again there.
    int c = co_await plus_one{probe_chain_value(3)};
    co_return a * 100 + b * 10 + c;
  });
  BOOST_TEST(zokio::block_on(std::move(t)) == 5 * 100 + 6 * 10 + 31);
}

BOOST_AUTO_TEST_CASE(generator_awaits_nested_tasks_that_suspend) {
  auto t = zokio::co_invoke([]() -> zokio::task<int> {
    auto g = generator_of_nested_tasks(5);
    int sum = 0;
    while (auto v = co_await zokio::next(g)) sum += *v;
    co_return sum;
  });
  BOOST_TEST(zokio::block_on(std::move(t)) == 100);
}

BOOST_AUTO_TEST_SUITE_END()
