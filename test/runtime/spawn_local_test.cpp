// Tests for zokio::spawn_local: a pinned task never leaves its worker (through yields, timers,
// wakes and aborts from other threads, joins on other workers, a busy home worker with an idle
// sibling that would steal), pinned and other tasks share the worker fairly, and teardown
// frees pinned tasks wherever they wait.
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/mpsc.hpp>
#include <zokio/mutex.hpp>
#include <zokio/notify.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/time.hpp>

using namespace std::chrono_literals;

namespace {

zokio::runtime two_workers() { return zokio::runtime::builder().worker_threads(2).build(); }

// Records the thread of every step; all must be the home thread.
struct trail {
  std::thread::id home;
  std::atomic<int> away{0}, steps{0};
  void step() {
    steps.fetch_add(1, std::memory_order_relaxed);
    if (std::this_thread::get_id() != home) away.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(spawn_local_suite)

BOOST_AUTO_TEST_CASE(pinned_tasks_never_leave_their_worker) {
  auto rt = two_workers();
  for (int round = 0; round < 5; ++round) {
    auto tr = std::make_shared<trail>();
    auto [tx, rx] = zokio::mpsc::unbounded_channel<int>();
    // The parent spawns 16 pinned tasks, then keeps its worker busy (never yielding for
    // 20 ms) while the sibling is idle: anything stealable would be stolen meanwhile.
    auto parent = rt.spawn(zokio::co_invoke([](std::shared_ptr<trail>& tr, zokio::mpsc::receiver<int>& rx) -> zokio::task<int> {
      tr->home = std::this_thread::get_id();
      std::vector<zokio::join_handle<int>> hs;
      auto shared_rx = std::make_shared<zokio::mutex<zokio::mpsc::receiver<int>>>(std::move(rx));
      for (int k = 0; k < 16; ++k)
        hs.push_back(zokio::spawn_local(zokio::co_invoke([](std::shared_ptr<trail>& tr, int k,
                                                            std::shared_ptr<zokio::mutex<zokio::mpsc::receiver<int>>>& in) -> zokio::task<int> {
          tr->step();
          for (int i = 0; i < 20; ++i) {
            co_await zokio::yield_now{};
            tr->step();
          }
          co_await zokio::sleep(std::chrono::milliseconds(1 + k % 3));  // a timer's wake
          tr->step();
          int got = 0;
          if (k < 4) {  // woken by a message from a plain thread
            auto g = co_await in->lock();
            tr->step();
            auto v = co_await g->recv();
            got = v ? *v : -1;
            tr->step();
          }
          co_return got;
        }, tr, k, shared_rx)));
      const auto until = std::chrono::steady_clock::now() + 20ms;
      while (std::chrono::steady_clock::now() < until) {
      }
      int sum = 0;
      for (auto& h : hs) sum += co_await std::move(h);
      co_return sum;
    }, tr, std::move(rx)));
    std::thread sender([tx = std::move(tx)] {
      std::this_thread::sleep_for(5ms);
      for (int i = 1; i <= 4; ++i) (void)tx.send(i);
    });
    BOOST_TEST(rt.block_on(std::move(parent)) == 10);
    sender.join();
    BOOST_TEST(tr->steps.load() == 16 * 22 + 4 * 2);
    BOOST_TEST(tr->away.load() == 0);
  }
}

BOOST_AUTO_TEST_CASE(joined_from_another_worker_it_still_runs_at_home) {
  auto rt = two_workers();
  // A pinned child handed to a task that the other worker runs: that join waits, the child
  // runs on its home thread.
  auto r = rt.block_on(rt.spawn(zokio::co_invoke([&rt]() -> zokio::task<bool> {
    const auto home = std::this_thread::get_id();
    auto child = zokio::spawn_local(zokio::co_invoke([]() -> zokio::task<std::thread::id> {
      co_await zokio::sleep(2ms);
      co_return std::this_thread::get_id();
    }));
    // The joiner: spawned from outside, so it may land on either worker; it busy-waits
    // before joining so that the home worker is free by then.
    auto joiner = rt.spawn(zokio::co_invoke([](zokio::join_handle<std::thread::id>& c) -> zokio::task<std::thread::id> {
      std::thread::id where = co_await std::move(c);
      co_return where;
    }, std::move(child)));
    const std::thread::id ran_on = co_await std::move(joiner);
    co_return ran_on == home;
  })));
  BOOST_TEST(r);
}

BOOST_AUTO_TEST_CASE(abort_from_another_thread_drops_it_at_home) {
  auto rt = two_workers();
  for (int round = 0; round < 20; ++round) {
    auto dropped_on = std::make_shared<std::atomic<std::thread::id>>();
    std::thread::id home;
    struct on_drop {
      std::shared_ptr<std::atomic<std::thread::id>> at;
      ~on_drop() {
        if (at) at->store(std::this_thread::get_id());
      }
    };
    zokio::join_handle<zokio::join_handle<void>> made = rt.spawn(zokio::co_invoke(
        [](std::shared_ptr<std::atomic<std::thread::id>>& d, std::thread::id* home) -> zokio::task<zokio::join_handle<void>> {
          *home = std::this_thread::get_id();
          co_return zokio::spawn_local(zokio::co_invoke([](on_drop& g) -> zokio::task<void> {
            (void)g;
            co_await zokio::sleep(1h);
          }, on_drop{d}));
        },
        dropped_on, &home));
    auto h = rt.block_on(std::move(made));
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 3)));
    h.abort();  // from the main thread
    BOOST_CHECK_THROW(rt.block_on(std::move(h)), zokio::join_error);
    BOOST_TEST((dropped_on->load() == home));
  }
}

BOOST_AUTO_TEST_CASE(pinned_and_other_tasks_share_the_worker) {
  // One worker: a pinned task that yields forever must not starve an ordinary task, nor the
  // other way round.
  auto rt = zokio::runtime::builder().worker_threads(1).build();
  auto stop = std::make_shared<std::atomic<bool>>(false);
  auto pinned_rounds = std::make_shared<std::atomic<long>>(0);
  auto started = rt.block_on(rt.spawn(zokio::co_invoke([](std::shared_ptr<std::atomic<bool>>& s,
                                                          std::shared_ptr<std::atomic<long>>& n) -> zokio::task<zokio::join_handle<void>> {
    co_return zokio::spawn_local(zokio::co_invoke([](std::shared_ptr<std::atomic<bool>>& s,
                                                     std::shared_ptr<std::atomic<long>>& n) -> zokio::task<void> {
      while (!s->load()) {
        n->fetch_add(1);
        co_await zokio::yield_now{};
      }
    }, s, n));
  }, stop, pinned_rounds)));
  long other_rounds = rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<long> {
    long k = 0;
    for (; k < 1000; ++k) co_await zokio::yield_now{};
    co_return k;
  })));
  BOOST_TEST(other_rounds == 1000);
  BOOST_TEST(pinned_rounds->load() > 100);  // it ran alongside
  stop->store(true);
  rt.block_on(std::move(started));
}

BOOST_AUTO_TEST_CASE(outside_a_worker_it_throws) {
  try {
    (void)zokio::spawn_local(zokio::co_invoke([]() -> zokio::task<void> { co_return; }));
    BOOST_FAIL("spawn_local outside a runtime returned");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == make_error_code(zokio::errc::not_on_worker)));
  }
  auto rt = two_workers();
  // block_on's thread is inside the runtime but no worker: refused too.
  BOOST_CHECK_THROW(rt.block_on(zokio::co_invoke([]() -> zokio::task<void> {
                      (void)zokio::spawn_local(zokio::co_invoke([]() -> zokio::task<void> { co_return; }));
                      co_return;
                    })),
                    boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(destroyed_with_pinned_tasks_everywhere) {
  for (int round = 0; round < 10; ++round) {
    auto alive = std::make_shared<int>(0);
    std::vector<zokio::join_handle<void>> hs;
    {
      auto rt = two_workers();
      hs = rt.block_on(rt.spawn(zokio::co_invoke([](std::shared_ptr<int>& a) -> zokio::task<std::vector<zokio::join_handle<void>>> {
        std::vector<zokio::join_handle<void>> v;
        for (int k = 0; k < 30; ++k)
          v.push_back(zokio::spawn_local(zokio::co_invoke([](std::shared_ptr<int>& a, int k) -> zokio::task<void> {
            if (k % 3 == 0) co_await zokio::sleep(1h);    // waiting on a timer
            if (k % 3 == 1)
              for (;;) co_await zokio::yield_now{};       // always queued
            (void)a;                                      // k % 3 == 2: finished
          }, a, k)));
        co_return v;
      }, alive)));
      std::this_thread::sleep_for(std::chrono::microseconds(300 * (round % 4)));
    }
    BOOST_TEST(alive.use_count() == 1);
    for (auto& h : hs) BOOST_TEST(h.is_finished());
  }
}

BOOST_AUTO_TEST_SUITE_END()
