// Tests for zokio::task_scope: waiting for children, error propagation and cancellation.
#include <zokio/task_scope.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include "../support/test_util.hpp"

using zokio::test::tracked;
using namespace std::chrono_literals;

namespace {

using zokio::test::make_runtime;

// Waits for `e`, then adds `v` to `out` (a borrowed reference).
zokio::task<void> add_when(zokio::test::event& e, int& out, int v) {
  co_await e.wait();
  out += v;
}

zokio::task<void> add_after_yields(int& out, int v, int yields) {
  for (int i = 0; i < yields; ++i) co_await zokio::yield_now{};
  out += v;
}

zokio::task<void> throw_after_yields(int yields) {
  for (int i = 0; i < yields; ++i) co_await zokio::yield_now{};
  throw std::runtime_error("child failed");
}

zokio::task<void> wait_forever() {
  co_await zokio::test::never{};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(task_scope_suite)

BOOST_AUTO_TEST_CASE(waits_for_every_child, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(2);
  zokio::test::event e1, e2;
  std::thread notifier([&] {
    std::this_thread::sleep_for(20ms);
    e1.notify();
    std::this_thread::sleep_for(20ms);
    e2.notify();
  });
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    int total = 0;  // borrowed by the children: the scope outlives them
    co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
      s.spawn(add_when(e1, total, 1));
      s.spawn(add_when(e2, total, 10));
      s.spawn(add_after_yields(total, 100, 5));
      co_return;  // the body ends first; the scope still waits
    });
    co_return total;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 111);
  notifier.join();
}

BOOST_AUTO_TEST_CASE(returns_the_body_value, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(1);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    int x = 0;
    int r = co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<int> {
      s.spawn(add_after_yields(x, 5, 3));
      co_return 37;
    });
    co_return r + x;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 42);
}

BOOST_AUTO_TEST_CASE(throwing_child_cancels_siblings_and_rethrows, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(2);
  const long before = tracked::live.load();
  std::atomic<long> live_while_running{0};
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    try {
      co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
        s.spawn(wait_forever());
        s.spawn(wait_forever());
        s.spawn(throw_after_yields(3));
        co_await zokio::yield_now{};
        live_while_running = tracked::live.load() - before;
        co_await zokio::test::never{};  // the body is a sibling too: cancelled
      });
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "child failed" ? 1 : 2;
    }
    co_return 0;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 1);
  BOOST_TEST(live_while_running.load() >= 2);  // the two never{} were alive
  BOOST_TEST(tracked::live.load() == before);  // ... and were destroyed
}

BOOST_AUTO_TEST_CASE(throwing_body_cancels_children, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(2);
  const long before = tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<bool> {
    try {
      co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
        for (int i = 0; i < 10; ++i) s.spawn(wait_forever());
        co_await zokio::yield_now{};
        throw std::logic_error("body failed");
      });
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
  BOOST_TEST(tracked::live.load() == before);
}

BOOST_AUTO_TEST_CASE(first_exception_wins, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(1);
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> {
    try {
      co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
        s.spawn(zokio::co_invoke([]() -> zokio::task<void> {
          co_await zokio::yield_now{};
          throw std::runtime_error("first");
        }));
        s.spawn(zokio::co_invoke([]() -> zokio::task<void> {
          for (int i = 0; i < 3; ++i) co_await zokio::yield_now{};
          throw std::runtime_error("second");
        }));
        co_return;
      });
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "first" ? 1 : 2;
    }
    co_return 0;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 1);
}

BOOST_AUTO_TEST_CASE(dropping_the_scope_destroys_children_synchronously, *boost::unit_test::timeout(60)) {
  const long before = tracked::live.load();
  int x = 0;
  {
    auto f = zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
      s.spawn(wait_forever());
      s.spawn(wait_forever());
      s.spawn(add_after_yields(x, 1, 1));
      co_await zokio::test::never{};
    });
    zokio::context cx(zokio::noop_waker());
    BOOST_TEST(f.poll(cx).is_pending());
    BOOST_TEST(tracked::live.load() >= before + 3);
  }  // no runtime involved: the destructor itself cancels everything
  BOOST_TEST(tracked::live.load() == before);
  BOOST_TEST(x == 0);
}

BOOST_AUTO_TEST_CASE(children_spawn_children_and_join_in_body, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    co_return co_await zokio::task_scope::run([](zokio::task_scope& s) -> zokio::task<int> {
      int local = 0;  // a body local: safe to lend because the body joins before returning
      s.spawn(zokio::co_invoke([&s, &local]() -> zokio::task<void> {
        co_await zokio::yield_now{};
        s.spawn(add_after_yields(local, 1000, 2));  // a grandchild
        local += 1;
      }));
      s.spawn(add_after_yields(local, 10, 4));
      co_await s.join();
      co_return local;
    });
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 1011);
}

BOOST_AUTO_TEST_CASE(spawn_task_runs_in_parallel_and_propagates, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  auto ok = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    auto sum = std::make_shared<std::atomic<int>>(0);
    co_await zokio::task_scope::run([sum](zokio::task_scope& s) -> zokio::task<void> {
      for (int i = 1; i <= 20; ++i)
        s.spawn_task(zokio::co_invoke([sum, i]() -> zokio::task<void> {
          co_await zokio::yield_now{};
          *sum += i;
        }));
      co_return;
    });
    co_return sum->load();  // every spawned task was joined
  }));
  BOOST_TEST(rt.block_on(std::move(ok)) == 210);

  const long before = tracked::live.load();
  auto bad = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    try {
      co_await zokio::task_scope::run([](zokio::task_scope& s) -> zokio::task<void> {
        for (int i = 0; i < 5; ++i) s.spawn_task(wait_forever());
        s.spawn_task(throw_after_yields(2));
        co_return;
      });
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(bad)));
  // The runaway tasks were aborted (asynchronously): their futures go away.
  BOOST_TEST(zokio::test::wait_until([&] { return tracked::live.load() == before; }));
}

BOOST_AUTO_TEST_CASE(scopes_on_four_workers_stress, *boost::unit_test::timeout(60)) {
  auto rt = make_runtime(4);
  const int tasks = 64, children = 50 / zokio::test::stress_divisor + 5;
  std::vector<zokio::join_handle<int>> hs;
  for (int t = 0; t < tasks; ++t)
    hs.push_back(rt.spawn(zokio::co_invoke([children]() -> zokio::task<int> {
      int total = 0;
      co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
        for (int i = 0; i < children; ++i) s.spawn(add_after_yields(total, 1, i % 5));
        co_return;
      });
      co_return total;
    })));
  for (auto& h : hs) BOOST_TEST(rt.block_on(std::move(h)) == children);
}

BOOST_AUTO_TEST_SUITE_END()
