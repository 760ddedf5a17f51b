// Issue 10.1: a waker held outside the runtime fires while the runtime is being destroyed.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>

#include "../support/test_util.hpp"

namespace {

// Pending forever; hands its waker to the shared list on every poll. `alive` is shared by
// every parked future of a round: its use count tells whether the teardown destroyed them.
struct parked_future {
  using output = void;
  std::mutex* m;
  std::vector<zokio::waker>* wakers;
  std::shared_ptr<int> alive;
  zokio::poll<void> poll(zokio::context& cx) {
    std::lock_guard lk(*m);
    wakers->push_back(cx.waker());
    return zokio::pending;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(wake_teardown)

// Before the wake gate: SIGSEGV in 11 of 15 Release runs (schedule() into a scheduler the
// destructor is freeing); on 2 cpus ASan (heap-use-after-free in idle::pop_sleeper) and TSan
// (a race of inject_queue::push with the deleter) saw it in about 1 run of 10.
BOOST_AUTO_TEST_CASE(foreign_wakes_racing_runtime_destruction) {
  const int rounds = 1000 / zokio::test::stress_divisor;
  int survived = 0;  // rounds whose teardown left a parked future alive
  for (int round = 0; round < rounds; ++round) {
    std::mutex m;
    std::vector<zokio::waker> wakers;
    std::atomic<bool> stop{false};
    std::atomic<long> wakes{0};
    std::optional<zokio::runtime> rt(zokio::test::make_runtime(2));
    auto alive = std::make_shared<int>();
    for (int i = 0; i < 4; ++i) rt->spawn(parked_future{&m, &wakers, alive}).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] {
      std::lock_guard lk(m);
      return wakers.size() >= 4;
    }));
    // Wakes by reference and by value, from two foreign threads, until the runtime is gone.
    std::thread by_ref([&] {
      std::vector<zokio::waker> mine;
      while (!stop.load()) {
        {
          std::lock_guard lk(m);
          mine.assign(wakers.begin(), wakers.end());
        }
        for (auto& w : mine) w.wake_by_ref();
        wakes.fetch_add(1);
      }
    });
    std::thread by_val([&] {
      while (!stop.load()) {
        std::vector<zokio::waker> mine;
        {
          std::lock_guard lk(m);
          mine.assign(wakers.begin(), wakers.end());
        }
        for (auto& w : mine) std::move(w).wake();
        wakes.fetch_add(1);
      }
    });
    BOOST_REQUIRE(zokio::test::wait_until([&] { return wakes.load() > 2; }));
    rt.reset();  // while both threads keep waking
    stop = true;
    by_ref.join();
    by_val.join();
    std::lock_guard lk(m);
    // The teardown destroyed every future although wakes kept arriving; the wakers still work
    // (and do nothing) after it.
    survived += alive.use_count() != 1;
    for (auto& w : wakers) w.wake_by_ref();
    wakers.clear();
  }
  BOOST_TEST(survived == 0);
}

// A task of one runtime woken by a task of another, while the first is destroyed. (Coverage
// of the gate from another runtime's worker; it did not catch the old bug on 2 cpus.)
BOOST_AUTO_TEST_CASE(cross_runtime_wakes_racing_destruction) {
  const int rounds = 300 / zokio::test::stress_divisor;
  auto other = zokio::test::make_runtime(1);
  int survived = 0;
  for (int round = 0; round < rounds; ++round) {
    std::mutex m;
    std::vector<zokio::waker> wakers;
    std::atomic<bool> stop{false};
    zokio::join_handle<void> waking;
    auto alive = std::make_shared<int>();
    {
      auto rt = zokio::test::make_runtime(2);
      rt.spawn(parked_future{&m, &wakers, alive}).detach();
      BOOST_REQUIRE(zokio::test::wait_until([&] {
        std::lock_guard lk(m);
        return !wakers.empty();
      }));
      waking = other.spawn([](std::atomic<bool>* stop, std::mutex* m,
                              std::vector<zokio::waker>* wakers) -> zokio::task<void> {
        while (!stop->load()) {
          std::vector<zokio::waker> mine;
          {
            std::lock_guard lk(*m);
            mine.assign(wakers->begin(), wakers->end());
          }
          for (auto& w : mine) w.wake_by_ref();
          co_await zokio::yield_now{};
        }
      }(&stop, &m, &wakers));
    }
    stop = true;
    other.block_on(std::move(waking));  // the waking task of `other` ran to its end
    survived += alive.use_count() != 1;
    std::lock_guard lk(m);
    wakers.clear();
  }
  BOOST_TEST(survived == 0);
}

BOOST_AUTO_TEST_SUITE_END()
