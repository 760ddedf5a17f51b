// Tests for zokio::task_local: scope, get/try_get/with, shadowing, restoration, isolation.
#include <zokio/task_local.hpp>  // self-contained header check

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/block_on.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/task_scope.hpp>

#include "../support/test_util.hpp"

namespace {

inline zokio::task_local<int> request_id;
inline zokio::task_local<std::string> user;

zokio::task<int> read_id() {
  co_await zokio::yield_now{};
  co_return request_id.get();
}

struct throwing_future {
  using output = int;
  throwing_future() noexcept {}
  zokio::poll<int> poll(zokio::context&) { throw std::runtime_error("boom"); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(task_local_suite)

BOOST_AUTO_TEST_CASE(value_visible_inside_scope_only, *boost::unit_test::timeout(60)) {
  BOOST_TEST(request_id.try_get() == nullptr);
  BOOST_CHECK_THROW(request_id.get(), std::logic_error);
  BOOST_TEST(zokio::block_on(request_id.scope(42, read_id())) == 42);
  BOOST_TEST(!request_id.is_set());  // restored after the scope
}

BOOST_AUTO_TEST_CASE(unset_between_polls, *boost::unit_test::timeout(60)) {
  auto f = request_id.scope(7, read_id());
  zokio::context cx(zokio::noop_waker());
  BOOST_TEST(f.poll(cx).is_pending());  // at the yield
  BOOST_TEST(!request_id.is_set());     // not leaked into the thread between polls
  auto r = f.poll(cx);
  BOOST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value() == 7);
}

BOOST_AUTO_TEST_CASE(nested_scopes_shadow_and_restore, *boost::unit_test::timeout(60)) {
  auto t = zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    std::vector<int> seen;
    seen.push_back(request_id.get());
    seen.push_back(co_await request_id.scope(2, read_id()));  // inner value
    seen.push_back(request_id.get());                         // outer again
    seen.push_back(co_await user.scope("ann", read_id()));    // other key: outer still seen
    co_return seen;
  });
  BOOST_TEST(zokio::block_on(request_id.scope(1, std::move(t))) == (std::vector<int>{1, 2, 1, 1}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(restored_when_poll_throws, *boost::unit_test::timeout(60)) {
  auto f = request_id.scope(5, throwing_future{});
  zokio::context cx(zokio::noop_waker());
  BOOST_CHECK_THROW(f.poll(cx), std::runtime_error);
  BOOST_TEST(!request_id.is_set());
}

BOOST_AUTO_TEST_CASE(with_and_sync_scope, *boost::unit_test::timeout(60)) {
  int len = user.sync_scope("hello", [] { return user.with([](std::string& s) {
    s += "!";  // the value is mutable in place
    return static_cast<int>(s.size());
  }); });
  BOOST_TEST(len == 6);
  BOOST_TEST(!user.is_set());
  BOOST_CHECK_THROW(user.with([](std::string&) { return 0; }), std::logic_error);
}

BOOST_AUTO_TEST_CASE(not_inherited_by_spawn_unless_propagated, *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto h = rt.spawn(request_id.scope(9, zokio::co_invoke([]() -> zokio::task<int> {
    auto plain = zokio::spawn(zokio::co_invoke([]() -> zokio::task<bool> {
      co_return request_id.is_set();
    }));
    auto inherited = zokio::spawn(request_id.propagate(read_id()));
    bool leaked = co_await std::move(plain);
    int got = co_await std::move(inherited);
    co_return leaked ? -1 : got;
  })));
  BOOST_TEST(rt.block_on(std::move(h)) == 9);
}

BOOST_AUTO_TEST_CASE(inline_scope_children_see_the_value, *boost::unit_test::timeout(60)) {
  auto t = zokio::co_invoke([]() -> zokio::task<int> {
    int sum = 0;
    co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
      for (int i = 0; i < 3; ++i)
        s.spawn(zokio::co_invoke([&sum]() -> zokio::task<void> { sum += co_await read_id(); }));
      co_return;
    });
    co_return sum;
  });
  BOOST_TEST(zokio::block_on(request_id.scope(4, std::move(t))) == 12);
}

BOOST_AUTO_TEST_CASE(isolated_between_tasks_on_four_stealing_workers,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::runtime::builder().worker_threads(4).build();
  const int tasks = 200, yields = 500 / zokio::test::stress_divisor;
  std::atomic<int> mismatches{0};
  std::vector<zokio::join_handle<int>> hs;
  for (int t = 0; t < tasks; ++t)
    hs.push_back(rt.spawn(request_id.scope(
        t, zokio::co_invoke(
               [&mismatches, yields](int me) -> zokio::task<int> {
                 for (int i = 0; i < yields; ++i) {
                   co_await zokio::yield_now{};  // may resume on another worker
                   if (request_id.get() != me) mismatches++;
                   // A nested scope in the middle must not disturb the outer value.
                   if (i % 50 == 0 && co_await request_id.scope(-me, read_id()) != -me)
                     mismatches++;
                 }
                 co_return request_id.get();
               },
               t))));
  for (int t = 0; t < tasks; ++t) BOOST_TEST(rt.block_on(std::move(hs[t])) == t);
  BOOST_TEST(mismatches.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
