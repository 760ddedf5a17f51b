// Task identity (issue 15, point 1): every task has an id (join_handle::id(),
// task_id::current()), an optional name and its spawn location, all of them in join_error.
#include <zokio/task_id.hpp>  // self-contained header check
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/join_set.hpp>
#include <zokio/task.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../support/stderr_capture.hpp"
#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace task_id_test {

// Returns the id the task sees for itself.
zokio::task<zokio::task_id> own_id() { co_return *zokio::task_id::current(); }

// Polls a join handle where it is (co_await of a handle moves it).
template <class T>
struct in_place {
  using output = T;
  zokio::join_handle<T>* h;
  zokio::poll<T> poll(zokio::context& cx) { return h->poll(cx); }
};

}  // namespace task_id_test

using namespace task_id_test;

BOOST_AUTO_TEST_SUITE(task_id_suite)

BOOST_AUTO_TEST_CASE(ids_are_unique_and_each_task_sees_its_own) {
  auto rt = zokio::test::make_runtime(2);
  std::vector<zokio::join_handle<zokio::task_id>> outside;
  for (int i = 0; i < 5000; ++i) outside.push_back(rt.spawn(own_id()));
  // And 5,000 spawned by tasks on the workers.
  auto inside = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<std::vector<std::pair<zokio::task_id, zokio::task_id>>> {
    std::vector<zokio::join_handle<zokio::task_id>> hs;
    for (int i = 0; i < 5000; ++i) hs.push_back(zokio::spawn(own_id()));
    std::vector<std::pair<zokio::task_id, zokio::task_id>> seen;
    for (auto& h : hs) {
      const zokio::task_id before = h.id();
      seen.emplace_back(before, co_await std::move(h));
    }
    co_return seen;
  })));
  std::unordered_set<zokio::task_id> ids;
  for (auto& h : outside) {
    const zokio::task_id id = h.id();
    const zokio::task_id seen = rt.block_on(std::move(h));
    BOOST_TEST((seen == id));
    ids.insert(id);
  }
  for (auto& [id, seen] : inside) {
    BOOST_TEST((seen == id));
    ids.insert(id);
  }
  BOOST_TEST(ids.size() == 10000u);
  BOOST_TEST(ids.count(zokio::task_id(0)) == 0u);  // ids start at 1
}

BOOST_AUTO_TEST_CASE(current_is_empty_outside_tasks_and_restored_after_inline_joins) {
  BOOST_TEST(!zokio::task_id::current().has_value());
  auto rt = zokio::test::make_runtime(1);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    const auto me = zokio::task_id::current();
    // The child is joined before it ran: it runs inline here, inside this poll, as its own
    // task; afterwards this task is current again.
    auto c = zokio::spawn(own_id());
    const zokio::task_id child = c.id();
    // Polled in place (not moved): after the inline run the handle still knows the id.
    const zokio::task_id seen = co_await in_place<zokio::task_id>{&c};
    co_return me.has_value() && seen == child && !(child == *me) && c.is_finished() &&
        c.id() == child && zokio::task_id::current() == me;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
  BOOST_TEST(!zokio::task_id::current().has_value());  // block_on's thread is no task
}

BOOST_AUTO_TEST_CASE(join_error_names_the_task) {
  auto rt = zokio::test::make_runtime(2);
  std::string name = "sleepy-";
  name += std::to_string(7);  // a temporary string: the runtime keeps its own copy
  const unsigned line = __LINE__ + 1;
  auto h = rt.spawn(zokio::test::value_after(1h, 1), zokio::spawn_options{.name = name});
  name.assign(64, 'x');
  const zokio::task_id id = h.id();
  h.abort();
  try {
    rt.block_on(std::move(h));
    BOOST_FAIL("an aborted task's join must throw");
  } catch (const zokio::join_error& e) {
    BOOST_TEST(e.is_cancelled());
    BOOST_TEST((e.id() == std::optional<zokio::task_id>(id)));
    BOOST_TEST(e.name() == "sleepy-7");
    BOOST_TEST(e.where().line() == line);
    const std::string what = e.what();
    BOOST_TEST_MESSAGE("join_error: " << what);
    BOOST_TEST(what.find("task " + std::to_string(id.value()) + " \"sleepy-7\"") != std::string::npos);
    BOOST_TEST(what.find("task_id_test.cpp:" + std::to_string(line)) != std::string::npos);
    BOOST_TEST(what.find("task aborted") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(join_error_names_a_task_the_runtime_dropped_and_an_inline_join) {
  // Shutdown: the handle outlives its runtime.
  std::optional<zokio::join_handle<int>> h;
  unsigned line = 0;
  {
    auto rt = zokio::test::make_runtime(1);
    line = __LINE__ + 1;
    h.emplace(rt.spawn(zokio::test::value_after(1h, 1), zokio::spawn_options{.name = "orphan"}));
  }
  try {
    (void)zokio::block_on(std::move(*h));
    BOOST_FAIL("a task dropped by shutdown must fail its join");
  } catch (const zokio::join_error& e) {
    BOOST_TEST(!e.is_cancelled());
    BOOST_TEST(e.name() == "orphan");
    BOOST_TEST(e.where().line() == line);
  }
  // A join that finds its child aborted before it ran (the inline path).
  auto rt = zokio::test::make_runtime(1);
  auto msg = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<std::string> {
    auto c = zokio::spawn(own_id(), zokio::spawn_options{.name = "never-ran"});
    c.abort();
    std::string m;
    try {
      (void)co_await std::move(c);
    } catch (const zokio::join_error& e) {
      m = e.what();
    }
    co_return m;
  })));
  BOOST_TEST_MESSAGE("inline join_error: " << msg);
  BOOST_TEST(msg.find("\"never-ran\"") != std::string::npos);
  BOOST_TEST(msg.find("task aborted") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(join_set_children_are_named_and_located) {
  auto rt = zokio::test::make_runtime(2);
  auto r = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<std::pair<std::string, unsigned>> {
    zokio::join_set<int> set;
    const unsigned line = __LINE__ + 1;
    set.spawn(zokio::test::value_after(1h, 1), zokio::spawn_options{.name = "in-set"});
    set.abort_all();
    std::string what;
    try {
      (void)co_await set.join_next();
    } catch (const zokio::join_error& e) {
      what = e.what();
    }
    co_return std::make_pair(what, line);
  })));
  BOOST_TEST_MESSAGE("join_set child: " << r.first);
  BOOST_TEST(r.first.find("\"in-set\" spawned at") != std::string::npos);
  BOOST_TEST(r.first.find("task_id_test.cpp:" + std::to_string(r.second)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unjoined_exception_is_reported_with_the_task) {
  zokio::test::stderr_capture cap;
  {
    auto rt = zokio::runtime::builder()
                  .worker_threads(1)
                  .unhandled_exception(zokio::unhandled_exception_policy::log)
                  .build();
    const unsigned line = __LINE__ + 1;
    rt.spawn(zokio::test::error_after(1ms), zokio::spawn_options{.name = "doomed"}).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] { return cap.peek().find("error_after") != std::string::npos; }));
    const std::string out = cap.peek();
    BOOST_TEST_MESSAGE(out);
    BOOST_TEST(out.find("\"doomed\" spawned at") != std::string::npos);
    BOOST_TEST(out.find("task_id_test.cpp:" + std::to_string(line)) != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
