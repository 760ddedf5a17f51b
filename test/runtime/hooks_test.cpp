// Runtime hooks (issue 15, point 2): thread, park, spawn, terminate and poll callbacks, a
// compile-time feature (runtime_config::enable_hooks), called an exact number of times.
#include <zokio/runtime_hooks.hpp>  // self-contained header check
#include <zokio/blocking.hpp>
#include <zokio/future.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../support/stderr_capture.hpp"
#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace hooks_test {

using hooked_rt = zokio::basic_runtime<zokio::runtime_config{.enable_hooks = true}>;
using hooked_ct = zokio::basic_runtime<zokio::runtime_config{
    .flavour = zokio::runtime_flavour::current_thread, .enable_hooks = true}>;

static_assert(!zokio::runtime::features.hooks, "hooks are off by default");
static_assert(hooked_rt::features.hooks);

// Every hook counts its calls; polls are also counted per task id, and the spawn hook keeps
// what it was told about each task.
struct counts {
  std::atomic<long> thread_start{0}, thread_stop{0}, park{0}, unpark{0}, spawn{0},
      terminate{0}, before{0}, after{0};
  std::atomic<long> in_poll{0}, max_in_poll{0};  // before/after pairs open at once
  std::mutex m;
  std::map<std::uint64_t, int> polls_of;
  std::map<std::uint64_t, std::string> name_of;
  std::map<std::uint64_t, unsigned> line_of;

  template <class Builder>
  Builder& install(Builder& b) {
    b.on_thread_start([this] { ++thread_start; })
        .on_thread_stop([this] { ++thread_stop; })
        .on_thread_park([this] { ++park; })
        .on_thread_unpark([this] { ++unpark; })
        .on_task_spawn([this](const zokio::task_info& i) {
          ++spawn;
          std::lock_guard lk(m);
          name_of[i.id.value()] = std::string(i.name);
          line_of[i.id.value()] = i.where.line();
        })
        .on_task_terminate([this](const zokio::task_info&) { ++terminate; })
        .before_poll([this](const zokio::task_info& i) {
          ++before;
          std::lock_guard lk(m);
          ++polls_of[i.id.value()];
        })
        .after_poll([this](const zokio::task_info&) { ++after; });
    return b;
  }
};

// Polled exactly three times: two yields, then done.
zokio::task<int> yield_twice(int v) {
  co_await zokio::yield_now{};
  co_await zokio::yield_now{};
  co_return v;
}

}  // namespace hooks_test

using namespace hooks_test;

BOOST_AUTO_TEST_SUITE(hooks_suite)

BOOST_AUTO_TEST_CASE(hook_call_counts_are_exact) {
  counts c;
  constexpr int n = 1000;
  std::vector<zokio::task_id> ids;
  {
    hooked_rt::builder b;
    b.worker_threads(2);
    auto rt = c.install(b).build();
    BOOST_REQUIRE(zokio::test::wait_until([&] { return c.thread_start.load() == 2; }));
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(yield_twice(i)));
    long sum = 0;
    for (auto& h : hs) {
      ids.push_back(h.id());
      sum += rt.block_on(std::move(h));
    }
    BOOST_TEST(sum == long(n) * (n - 1) / 2);
    // A completion is published after the terminate hook ran (complete() calls it first).
    BOOST_TEST(c.spawn.load() == n);
    BOOST_TEST(c.terminate.load() == n);
    // One blocking-pool thread (a job, not a task): its start counts too.
    BOOST_TEST(rt.block_on(rt.spawn_blocking([] { return 7; })) == 7);
    BOOST_REQUIRE(zokio::test::wait_until([&] { return c.thread_start.load() == 3; }));
    rt.shutdown();
  }
  BOOST_TEST(c.thread_start.load() == 3);
  BOOST_TEST(c.thread_stop.load() == 3);
  BOOST_TEST(c.spawn.load() == n);
  BOOST_TEST(c.terminate.load() == n);
  BOOST_TEST(c.before.load() == c.after.load());
  BOOST_TEST(c.before.load() == 3 * n);
  for (auto id : ids) BOOST_TEST(c.polls_of[id.value()] == 3);
  BOOST_TEST(c.park.load() >= 1);
  BOOST_TEST(c.park.load() == c.unpark.load());
}

BOOST_AUTO_TEST_CASE(spawn_hook_sees_name_and_location) {
  counts c;
  hooked_rt::builder b;
  b.worker_threads(1);
  auto rt = c.install(b).build();
  const unsigned line = __LINE__ + 1;
  auto h = rt.spawn(yield_twice(1), zokio::spawn_options{.name = "hooked"});
  const auto id = h.id();
  BOOST_TEST(rt.block_on(std::move(h)) == 1);
  std::lock_guard lk(c.m);
  BOOST_TEST(c.name_of[id.value()] == "hooked");
  BOOST_TEST(c.line_of[id.value()] == line);
}

BOOST_AUTO_TEST_CASE(aborted_and_shutdown_tasks_terminate_once) {
  counts c;
  {
    hooked_rt::builder b;
    b.worker_threads(2);
    auto rt = c.install(b).build();
    // Never-ready tasks: half aborted, half cancelled by the shutdown.
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < 100; ++i) hs.push_back(rt.spawn(zokio::test::never{}));
    for (int i = 0; i < 50; ++i) hs[static_cast<std::size_t>(i)].abort();
    for (int i = 0; i < 50; ++i) BOOST_CHECK_THROW(rt.block_on(std::move(hs[static_cast<std::size_t>(i)])), zokio::join_error);
    BOOST_TEST(c.terminate.load() == 50);
    rt.shutdown();
  }
  BOOST_TEST(c.spawn.load() == 100);
  BOOST_TEST(c.terminate.load() == 100);
}

BOOST_AUTO_TEST_CASE(current_thread_polls_are_hooked_without_thread_events) {
  counts c;
  hooked_ct::builder b;
  auto rt = c.install(b).build();
  std::vector<zokio::join_handle<int>> hs;
  for (int i = 0; i < 10; ++i) hs.push_back(rt.spawn(yield_twice(i)));
  for (auto& h : hs) rt.block_on(std::move(h));
  BOOST_TEST(c.spawn.load() == 10);
  BOOST_TEST(c.terminate.load() == 10);
  BOOST_TEST(c.before.load() == 30);
  BOOST_TEST(c.after.load() == 30);
  BOOST_TEST(c.thread_start.load() == 0);  // the driver is block_on's caller
}

// Destroyed from one of its own tasks: the last worker tears the runtime down, and still
// every worker's thread stops through its hook and every task terminates once.
BOOST_AUTO_TEST_CASE(destroyed_from_inside_every_thread_and_task_ends_once,
                     *boost::unit_test::timeout(60)) {
  for (unsigned workers : {1u, 2u}) {
    auto c = std::make_shared<counts>();
    hooked_rt::builder b;
    b.worker_threads(workers);
    auto holder = std::make_shared<std::unique_ptr<hooked_rt>>(
        std::make_unique<hooked_rt>(c->install(b).build()));
    for (int i = 0; i < 20; ++i) (*holder)->spawn(zokio::test::never{}).detach();
    (*holder)->spawn([](auto holder) -> zokio::task<void> {
      co_await zokio::yield_now{};
      holder->reset();  // ~runtime on its own worker
    }(holder)).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] {
      return c->thread_stop.load() == long(workers) && c->terminate.load() == 21;
    }));
    BOOST_TEST(c->thread_start.load() == long(workers));
    BOOST_TEST(c->spawn.load() == 21);
    BOOST_TEST(c->before.load() == c->after.load());
  }
}

BOOST_AUTO_TEST_CASE(hooks_need_the_feature) {
  zokio::runtime::builder b;
  b.worker_threads(1).before_poll([](const zokio::task_info&) {});
  BOOST_CHECK_THROW(b.build(), std::invalid_argument);
  zokio::runtime_options o = zokio::runtime::default_options();
  o.hooks.on_thread_start = [] {};
  BOOST_CHECK_THROW(zokio::runtime{o}, std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_throwing_hook_is_reported_and_the_runtime_goes_on) {
  zokio::test::stderr_capture err;
  std::atomic<int> polls{0};
  {
    hooked_rt::builder b;
    b.worker_threads(1)
        .unhandled_exception(zokio::unhandled_exception_policy::log)
        .before_poll([&](const zokio::task_info&) {
          if (polls.fetch_add(1) == 0) throw std::runtime_error("hook failed");
        });
    auto rt = b.build();
    BOOST_TEST(rt.block_on(rt.spawn(yield_twice(5))) == 5);
    BOOST_TEST(rt.block_on(rt.spawn(yield_twice(6))) == 6);
  }
  BOOST_TEST(polls.load() == 6);
  const std::string& text = err.text();
  BOOST_TEST(text.find("a runtime hook") != std::string::npos, text);
  BOOST_TEST(text.find("hook failed") != std::string::npos, text);
}

BOOST_AUTO_TEST_SUITE_END()
