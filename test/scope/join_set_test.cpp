// Tests for zokio::join_set: completion order, errors per task, abort, drop, stress.
#include <zokio/join_set.hpp>  // self-contained header check

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/error.hpp>
#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::tracked;

namespace {

using zokio::test::make_runtime;

zokio::task<int> after(std::shared_ptr<zokio::test::event> e, int v) {
  co_await e->wait();
  co_return v;
}

zokio::task<int> fail_after(std::shared_ptr<zokio::test::event> e) {
  co_await e->wait();
  throw std::runtime_error("child failed");
}

zokio::task<int> forever() {
  co_return co_await zokio::test::never{};
}

bool is_aborted(const zokio::join_error& e) { return e.code() == zokio::errc::task_aborted; }

// Runtime allocations made on the counting thread while tl_counting is set (the hook is
// global; workers running other tasks meanwhile are not counted).
thread_local bool tl_counting = false;
thread_local long tl_allocs = 0;
void count_on_this_thread(const zokio::alloc_event& e) noexcept {
  if (tl_counting && !e.deallocate) ++tl_allocs;
}

zokio::task<int> yield_then(int v) {
  co_await zokio::yield_now{};
  co_return v;
}

// A plain (non-coroutine) future: its cell is its only allocation.
struct ready_int {
  using output = int;
  int v;
  explicit ready_int(int x) noexcept : v(x) {}
  zokio::poll<int> poll(zokio::context&) { return zokio::poll<int>(v); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(join_set_suite)

BOOST_AUTO_TEST_CASE(joins_in_completion_order, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  std::vector<std::shared_ptr<zokio::test::event>> ev;
  for (int i = 0; i < 5; ++i) ev.push_back(std::make_shared<zokio::test::event>());
  auto h = rt.spawn(zokio::co_invoke([ev]() -> zokio::task<std::vector<int>> {
    zokio::join_set<int> set;
    for (int i = 0; i < 5; ++i) set.spawn(after(ev[i], i));
    std::vector<int> order;
    const int release[5] = {3, 1, 4, 0, 2};
    for (int k = 0; k < 5; ++k) {
      ev[release[k]]->notify();  // one at a time: the order is decided here
      auto r = co_await set.join_next();
      if (!r) co_return order;
      order.push_back(*r);
    }
    if (co_await set.join_next()) order.push_back(-1);  // empty now
    co_return order;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == (std::vector<int>{3, 1, 4, 0, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_set_joins_nullopt, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(1);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    zokio::join_set<int> set;
    auto r = co_await set.join_next();
    co_return !r.has_value() && set.empty();
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(exceptions_are_reported_per_task, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    auto go = std::make_shared<zokio::test::event>();
    go->notify();
    zokio::join_set<int> set;
    for (int i = 0; i < 6; ++i) {
      if (i == 2 || i == 4)
        set.spawn(fail_after(go));
      else
        set.spawn(after(go, 10));
    }
    int sum = 0, errors = 0;
    for (;;) {
      try {
        auto r = co_await set.join_next();
        if (!r) break;
        sum += *r;
      } catch (const std::runtime_error&) {
        ++errors;  // the failing task left the set; the loop goes on with the others
      }
    }
    co_return sum * 100 + errors;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 40 * 100 + 2);
}

BOOST_AUTO_TEST_CASE(abort_all_reports_aborted_tasks, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  const long before = tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    auto go = std::make_shared<zokio::test::event>();
    zokio::join_set<int> set;
    for (int i = 0; i < 3; ++i) set.spawn(forever());
    set.spawn(after(go, 5));
    go->notify();
    auto first = co_await set.join_next();  // the one that can finish
    if (!first || *first != 5) co_return -1;
    set.abort_all();
    int aborted = 0;
    for (;;) {
      try {
        if (!co_await set.join_next()) break;
      } catch (const zokio::join_error& e) {
        if (is_aborted(e)) ++aborted;
      }
    }
    co_return aborted;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 3);
  BOOST_TEST(tracked::live.load() == before);  // the never{} futures were destroyed
}

BOOST_AUTO_TEST_CASE(dropping_the_set_aborts_its_tasks, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  const long before = tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<std::size_t> {
    zokio::join_set<int> set;
    for (int i = 0; i < 50; ++i) set.spawn(forever());
    for (int i = 0; i < 10; ++i) co_await zokio::yield_now{};  // let them start
    co_return set.size();
  }));  // set destroyed at the end of the task
  BOOST_TEST(rt.block_on(std::move(h)) == 50u);
  BOOST_TEST(zokio::test::wait_until([&] { return tracked::live.load() == before; }));
}

BOOST_AUTO_TEST_CASE(join_next_is_cancellation_safe, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  auto go = std::make_shared<zokio::test::event>();
  auto h = rt.spawn(zokio::co_invoke([go]() -> zokio::task<int> {
    zokio::join_set<int> set;
    set.spawn(after(go, 7));
    {
      auto f = set.join_next();
      zokio::context cx(zokio::noop_waker());
      if (!f.poll(cx).is_pending()) co_return -1;
    }  // dropped while waiting
    go->notify();
    auto r = co_await set.join_next();
    co_return r ? *r : -2;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 7);
}

BOOST_AUTO_TEST_CASE(void_tasks_and_shutdown, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  const long before = tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    std::atomic<int> ran{0};
    zokio::join_set<void> set;
    for (int i = 0; i < 8; ++i)
      set.spawn(zokio::co_invoke([&ran]() -> zokio::task<void> {
        co_await zokio::yield_now{};
        ran++;
      }));
    int joined = 0;
    while (auto r = co_await set.join_next()) ++joined;
    zokio::join_set<void> stuck;
    for (int i = 0; i < 4; ++i)
      stuck.spawn(zokio::co_invoke([]() -> zokio::task<void> { co_await zokio::test::never{}; }));
    co_await stuck.shutdown();
    co_return joined * 10 + ran.load() - 80 + static_cast<int>(stuck.size());
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 8 * 10 - 80 + 8);
  BOOST_TEST(tracked::live.load() == before);
}

BOOST_AUTO_TEST_CASE(outside_a_runtime_spawn_throws, *boost::unit_test::timeout(60)) {
  zokio::join_set<int> set;
  BOOST_CHECK_THROW(set.spawn(forever()), boost::system::system_error);
  BOOST_TEST(set.empty());
}

BOOST_AUTO_TEST_CASE(stress_many_tasks_on_four_workers, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  const int n = 4000 / zokio::test::stress_divisor;
  auto h = rt.spawn(zokio::co_invoke([n]() -> zokio::task<long> {
    zokio::join_set<long> set;
    long sum = 0;
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < n / 4; ++i)
        set.spawn(zokio::co_invoke(
            [](long v) -> zokio::task<long> {
              for (int k = 0; k < 3; ++k) co_await zokio::yield_now{};
              co_return v;
            },
            long(i)));
      // Join half now, the rest with the next round: indices are reused meanwhile.
      for (int i = 0; i < n / 8; ++i) sum += *co_await set.join_next();
    }
    while (auto r = co_await set.join_next()) sum += *r;
    co_return sum;
  }));
  const long quarter = n / 4;
  BOOST_TEST(rt.block_on(std::move(h)) == 4 * quarter * (quarter - 1) / 2);
}

BOOST_AUTO_TEST_CASE(dropped_while_children_complete, *boost::unit_test::timeout(60)) {
  // The children's join wakers outlive the set: completing after it is gone must touch only
  // the shared state they keep alive (ASan/TSan runs check it).
  auto rt = make_runtime(4);
  const long before = tracked::live.load();
  const int rounds = 200 / zokio::test::stress_divisor;
  auto h = rt.spawn(zokio::co_invoke([rounds]() -> zokio::task<long> {
    long joined = 0;
    for (int round = 0; round < rounds; ++round) {
      zokio::join_set<int> set;
      for (int i = 0; i < 50; ++i) set.spawn(yield_then(i));
      for (int i = 0; i < 3; ++i) set.spawn(forever());
      for (int i = 0; i < round % 5; ++i) joined += *co_await set.join_next() >= 0;
    }  // dropped with children running, finishing, or aborted
    co_return joined;
  }));
  long expect = 0;
  for (int round = 0; round < rounds; ++round) expect += round % 5;
  BOOST_TEST(rt.block_on(std::move(h)) == expect);
  BOOST_TEST(zokio::test::wait_until([&] { return tracked::live.load() == before; }));
}

BOOST_AUTO_TEST_CASE(one_allocation_per_child, *boost::unit_test::timeout(60)) {
  // A coroutine child is its frame, with the task cell in the frame's prefix (as with
  // zokio::spawn); a plain future child is its cell. Nothing else is allocated per child: the
  // set's own storage (handle vector, slot chunks) grows geometrically, O(log n) blocks, and
  // is reused once indices are freed.
  auto rt = make_runtime(2);
  struct hook_guard {
    zokio::alloc_hook prev = zokio::set_alloc_hook(&count_on_this_thread);
    ~hook_guard() { zokio::set_alloc_hook(prev); }
  } guard;
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<std::vector<long>> {
    constexpr int n = 64;  // well under the local queue's capacity: no overflow batches
    zokio::join_set<int> set;
    // A new set: the children, plus the set's storage growing to 2n indices.
    tl_allocs = 0;
    tl_counting = true;  // no co_await until it is cleared: all on this thread
    for (int i = 0; i < 2 * n; ++i) set.spawn(yield_then(i));
    tl_counting = false;
    const long cold = tl_allocs;
    long sum = 0;
    while (auto r = co_await set.join_next()) sum += *r;
    // Its indices reused: the children alone.
    tl_allocs = 0;
    tl_counting = true;
    for (int i = 1; i <= n; ++i) set.spawn(yield_then(i));
    tl_counting = false;
    const long coroutine_children = tl_allocs;
    tl_allocs = 0;
    tl_counting = true;
    for (int i = 1; i <= n; ++i) set.spawn(ready_int(i));
    tl_counting = false;
    const long plain_children = tl_allocs;
    while (auto r = co_await set.join_next()) sum += *r;
    co_return std::vector<long>{coroutine_children, plain_children, sum, cold};
  }));
  auto r = rt.block_on(std::move(h));
  BOOST_TEST_MESSAGE("allocations: cold set " << r.at(3) << " for 128 children, warm set "
                                              << r.at(0) << " + " << r.at(1) << " for 64 + 64");
  BOOST_TEST(r.at(0) == 64);  // exactly one per coroutine child
  BOOST_TEST(r.at(1) == 64);  // exactly one per plain future child
  BOOST_TEST(r.at(2) == 128 * 127 / 2 + 2 * (64 * 65 / 2));
  // Cold: 128 children, 4 slot chunks (16, 32, 64, 128 slots), the handle vector growing
  // (8 sizes, 1 to 128, with libstdc++; some slack for another growth policy).
  BOOST_TEST(r.at(3) >= 128);
  BOOST_TEST(r.at(3) <= 128 + 16);
}

BOOST_AUTO_TEST_SUITE_END()
