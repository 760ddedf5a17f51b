// Compile-time features (runtime_config -> basic_scheduler<Features>): a feature that is off has
// no data (static_asserts below) and no effect at run time (the metrics show it never acted),
// and a runtime built without any of them still runs tasks, fork-join trees, timers and I/O.
// Without the I/O driver it builds no io_context, runs tasks and parks on a flag, and a timer
// or I/O object on it fails with errc::no_io_driver.
#include <zokio/detail/basic_scheduler.hpp>  // self-contained header check
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/future.hpp>
#include <zokio/mpsc.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
using zokio::detail::basic_scheduler;
using zokio::detail::scheduler_features;

namespace features_test {

using with_metrics = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;
using no_lifo = zokio::basic_runtime<
    zokio::runtime_config{.enable_metrics = true, .enable_lifo_slot = false}>;
using no_stealing = zokio::basic_runtime<
    zokio::runtime_config{.enable_work_stealing = false, .enable_metrics = true}>;
// Everything off: what a minimal program gets.
using bare = zokio::basic_runtime<zokio::runtime_config{.enable_work_stealing = false,
                                                         .enable_metrics = false,
                                                         .numa_aware = false,
                                                         .enable_lifo_slot = false}>;

// --- no data -------------------------------------------------------------------------------
// Without metrics the scheduler holds no counters (an empty member) and allocates none.
static_assert(std::is_empty_v<zokio::detail::worker_counters_storage<false>>);
static_assert(!std::is_empty_v<zokio::detail::worker_counters_storage<true>>);
// (The scheduler's own size does not show it: the storage's pointer fits in the padding of
// its cache-line-aligned members. The worker_counters blocks, a cache line each per worker,
// are what a runtime without metrics does not allocate.)
static_assert(sizeof(zokio::detail::worker_counters) >= ZOKIO_CACHE_LINE);
// The runtime's features are its Config's, and nothing else decides them.
static_assert(zokio::runtime::features == scheduler_features{});
static_assert(with_metrics::features == scheduler_features{.metrics = true});
static_assert(!no_lifo::features.lifo_slot && no_lifo::features.work_stealing);
static_assert(!no_stealing::features.work_stealing && no_stealing::features.lifo_slot);
static_assert(bare::features == scheduler_features{.metrics = false,
                                                   .lifo_slot = false,
                                                   .work_stealing = false,
                                                   .numa = false});

// Without the I/O driver (every other feature as by default, but metrics on to see parks).
using no_io = zokio::basic_runtime<
    zokio::runtime_config{.enable_metrics = true, .enable_io_driver = false}>;
static_assert(!no_io::features.io_driver && zokio::runtime::features.io_driver);
// No io_context to hand out: the accessor does not exist.
template <class R>
constexpr bool has_io_context_accessor = requires(R& r) { r.worker_io_context(0); };
static_assert(has_io_context_accessor<zokio::runtime>);
static_assert(!has_io_context_accessor<no_io>);

using zokio::test::fib;

// Open descriptors of this process (Linux; -1 elsewhere): an io_context holds an epoll, an
// eventfd and a timerfd.
int open_fds() {
#if defined(__linux__)
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
#else
  return -1;
#endif
}

// Two tasks handing a turn back and forth `rounds` times: each wakes the other, the LIFO
// slot's case.
zokio::task<long> ping_pong(int rounds) {
  std::atomic<int> turn{0};
  auto side = [&](int me) -> zokio::task<void> {
    for (int i = 0; i < rounds; ++i) {
      while (turn.load() % 2 != me) co_await zokio::yield_now();
      turn.fetch_add(1);
    }
  };
  auto a = zokio::spawn(side(0));
  auto b = zokio::spawn(side(1));
  co_await std::move(a);
  co_await std::move(b);
  co_return turn.load();
}

// Two tasks exchanging `rounds` messages over two channels: every receive is a wake by the
// other task, on whichever worker it runs (the LIFO slot's case: a wake runs next there).
zokio::task<long> channel_ping_pong(int rounds) {
  auto [to_b, b_rx] = zokio::mpsc::channel<int>(1);
  auto [to_a, a_rx] = zokio::mpsc::channel<int>(1);
  auto b = zokio::spawn(zokio::co_invoke(
      [](zokio::mpsc::receiver<int>& rx, zokio::mpsc::sender<int>& tx) -> zokio::task<void> {
        while (auto v = co_await rx.recv()) (void)co_await tx.send(*v + 1);
      },
      std::move(b_rx), std::move(to_a)));
  long last = 0;
  for (int i = 0; i < rounds; ++i) {
    (void)co_await to_b.send(i);
    last = *co_await a_rx.recv();
  }
  { auto done = std::move(to_b); }  // b's recv ends
  co_await std::move(b);
  co_return last;
}

template <class Rt>
std::uint64_t sum(const zokio::runtime_metrics& m, std::uint64_t zokio::worker_metrics::*f) {
  std::uint64_t s = 0;
  for (const auto& w : m.workers) s += w.*f;
  return s;
}

}  // namespace features_test

using namespace features_test;

BOOST_AUTO_TEST_SUITE(features_suite)

BOOST_AUTO_TEST_CASE(without_metrics_nothing_is_counted) {
  auto rt = zokio::test::make_runtime<zokio::runtime>(2);
  BOOST_TEST(rt.block_on(rt.spawn(fib(15))) == 610);
  const auto m = rt.metrics();
  BOOST_TEST(!m.enabled);
  BOOST_TEST(sum<zokio::runtime>(m, &zokio::worker_metrics::polls) == 0u);
  // The same work with metrics: counted (so the zero above is the feature being absent).
  auto rm = zokio::test::make_runtime<with_metrics>(2);
  BOOST_TEST(rm.block_on(rm.spawn(fib(15))) == 610);
  BOOST_TEST(rm.metrics().enabled);
  BOOST_TEST(sum<with_metrics>(rm.metrics(), &zokio::worker_metrics::polls) > 900u);
}

BOOST_AUTO_TEST_CASE(without_the_lifo_slot_no_task_runs_from_it) {
  auto rt = zokio::test::make_runtime<no_lifo>(2);
  BOOST_TEST(rt.block_on(rt.spawn(ping_pong(2000))) == 4000);
  BOOST_TEST(rt.block_on(rt.spawn(channel_ping_pong(2000))) == 2000);
  BOOST_TEST(rt.block_on(rt.spawn(fib(16))) == 987);
  BOOST_TEST(sum<no_lifo>(rt.metrics(), &zokio::worker_metrics::lifo_polls) == 0u);
  // With the slot, the same wakes run tasks from it.
  auto rl = zokio::test::make_runtime<with_metrics>(2);
  BOOST_TEST(rl.block_on(rl.spawn(channel_ping_pong(2000))) == 2000);
  BOOST_TEST(sum<with_metrics>(rl.metrics(), &zokio::worker_metrics::lifo_polls) > 0u);
}

BOOST_AUTO_TEST_CASE(without_work_stealing_nothing_is_stolen) {
  // A fork-join tree spawned on one worker: with stealing the idle sibling takes part of it
  // (checked below), without it nothing moves (the sibling only serves the injector).
  for (int round = 0; round < 3; ++round) {
    auto rt = zokio::test::make_runtime<no_stealing>(2);
    BOOST_TEST(rt.block_on(rt.spawn(fib(20))) == 6765);
    BOOST_TEST(sum<no_stealing>(rt.metrics(), &zokio::worker_metrics::steals) == 0u);
  }
  std::uint64_t steals = 0;
  for (int round = 0; round < 5 && steals == 0; ++round) {
    auto rs = zokio::test::make_runtime<with_metrics>(2);
    rs.block_on(rs.spawn(fib(22)));
    steals += sum<with_metrics>(rs.metrics(), &zokio::worker_metrics::steals);
  }
  BOOST_TEST(steals > 0u);
}

BOOST_AUTO_TEST_CASE(a_runtime_without_any_feature_runs_everything) {
  for (unsigned workers : {1u, 2u}) {
    auto rt = zokio::test::make_runtime<bare>(workers);
    BOOST_TEST(rt.block_on(rt.spawn(fib(18))) == 2584);
    BOOST_TEST(rt.block_on(rt.spawn(ping_pong(500))) == 1000);
    // Timers and Asio handlers through its executor.
    BOOST_TEST(rt.block_on(rt.spawn(zokio::test::value_after(5ms, 7))) == 7);
    std::atomic<int> fired{0};
    boost::asio::steady_timer t(rt.get_executor(), 2ms);
    t.async_wait([&](boost::system::error_code ec) { fired = ec ? -1 : 1; });
    BOOST_TEST(zokio::test::settle(rt, [&] { return fired.load() != 0; }));
    BOOST_TEST(fired.load() == 1);
    // Many tasks from outside (the injector is how a runtime without stealing shares work).
    std::vector<zokio::join_handle<long>> hs;
    for (int i = 0; i < 200; ++i) hs.push_back(rt.spawn(fib(8)));
    long s = 0;
    for (auto& h : hs) s += rt.block_on(std::move(h));
    BOOST_TEST(s == 200 * 21);
  }
  // The current_thread flavour of the same configuration.
  auto ct = bare::builder().flavour(zokio::runtime_flavour::current_thread).build();
  BOOST_TEST(ct.block_on(ct.spawn(fib(15))) == 610);
}

BOOST_AUTO_TEST_CASE(without_the_io_driver_tasks_run_and_no_io_context_is_built) {
  for (unsigned workers : {1u, 2u}) {
    const int before = open_fds();
    auto rt = zokio::test::make_runtime<no_io>(workers);
    // No io_context: no descriptor opened for the workers (a runtime with the driver opens
    // some per worker, checked below).
    if (before >= 0) BOOST_TEST(open_fds() == before);
    BOOST_TEST(rt.block_on(rt.spawn(fib(18))) == 2584);
    BOOST_TEST(rt.block_on(rt.spawn(ping_pong(500))) == 1000);
    BOOST_TEST(rt.block_on(rt.spawn(channel_ping_pong(500))) == 500);
    // Spawns from outside onto parked workers: each must wake one (the flag's futex).
    for (int i = 0; i < 50; ++i) {
      if (i % 10 == 0) std::this_thread::sleep_for(2ms);  // let the workers park
      BOOST_TEST(rt.block_on(rt.spawn(fib(6))) == 8);
    }
    const auto m = rt.metrics();
    BOOST_TEST(sum<no_io>(m, &zokio::worker_metrics::parks) > 0u);
    BOOST_TEST(sum<no_io>(m, &zokio::worker_metrics::io_handlers) == 0u);
    // A wake from a plain thread, while the waiting task's worker sleeps.
    auto [tx, rx] = zokio::mpsc::channel<int>(1);
    auto h = rt.spawn(zokio::co_invoke(
        [](zokio::mpsc::receiver<int>& r) -> zokio::task<int> { co_return *co_await r.recv(); },
        std::move(rx)));
    std::thread sender([to = &tx] {  // (clang 14 captures no structured binding)
      std::this_thread::sleep_for(5ms);
      (void)to->try_send(41);  // capacity 1, empty: taken at once
    });
    BOOST_TEST(rt.block_on(std::move(h)) == 41);
    sender.join();
  }
  const int before = open_fds();
  auto with_io = zokio::test::make_runtime<zokio::runtime>(2);
  if (before >= 0) BOOST_TEST(open_fds() >= before + 2);
}

BOOST_AUTO_TEST_CASE(without_the_io_driver_timers_and_io_objects_fail_clearly) {
  auto rt = zokio::test::make_runtime<no_io>(2);
  const auto no_io_driver = zokio::make_error_code(zokio::errc::no_io_driver);
  // zokio::sleep: its task fails with the error (the join rethrows it); the runtime goes on.
  try {
    rt.block_on(rt.spawn(zokio::test::value_after(1ms, 7)));
    BOOST_FAIL("a timer ran on a runtime without the I/O driver");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == no_io_driver));
  }
  // An Asio I/O object made from its executor: the constructor throws.
  try {
    boost::asio::steady_timer t(rt.get_executor(), 2ms);
    BOOST_FAIL("an Asio timer was built on a runtime without the I/O driver");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == no_io_driver));
  }
  // A strand takes its service from the io_context: the same error.
  try {
    (void)rt.get_serial_executor();
    BOOST_FAIL("a strand was built on a runtime without the I/O driver");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == no_io_driver));
  }
  // Handlers posted through the executor still run (they are tasks).
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) boost::asio::post(rt.get_executor(), [&] { ++ran; });
  BOOST_TEST(zokio::test::settle(rt, [&] { return ran.load() == 10; }));
  BOOST_TEST(rt.block_on(rt.spawn(fib(10))) == 55);
}

BOOST_AUTO_TEST_CASE(without_the_io_driver_shutdown_wakes_parked_and_busy_workers) {
  // Destroyed from outside while workers sleep on their flags and while one spins in tasks
  // that yield for ever; and the current_thread flavour driven by block_on, woken from a
  // plain thread. Bounded: a lost wake-up shows as ctest's timeout.
  for (int round = 0; round < 20; ++round) {
    auto rt = zokio::test::make_runtime<no_io>(2);
    if (round % 2 == 1) {
      rt.spawn(zokio::co_invoke([]() -> zokio::task<void> {
        for (;;) co_await zokio::yield_now();
      })).detach();
    }
    std::this_thread::sleep_for(1ms);
  }
  auto ct = no_io::builder().flavour(zokio::runtime_flavour::current_thread).build();
  BOOST_TEST(ct.block_on(ct.spawn(fib(15))) == 610);
  auto [tx, rx] = zokio::mpsc::channel<int>(1);
  std::thread sender([to = &tx] {
    std::this_thread::sleep_for(5ms);
    (void)to->try_send(5);
  });
  BOOST_TEST(*ct.block_on(rx.recv()) == 5);
  sender.join();
}

// local_queue_capacity (a run-time option): a worker's deque holds at most that many tasks, the
// rest overflow to the injector. One worker, no LIFO slot (spawns go straight to the deque).
BOOST_AUTO_TEST_CASE(local_queue_capacity_bounds_the_deque) {
  for (std::size_t cap : {std::size_t{8}, std::size_t{1024}}) {
    auto rt = no_lifo::builder().worker_threads(1).local_queue_capacity(cap).build();
    std::size_t depth = 0, injected = 0;
    rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
      std::vector<zokio::join_handle<void>> hs;
      for (int i = 0; i < 500; ++i)
        hs.push_back(zokio::spawn(zokio::co_invoke([]() -> zokio::task<void> { co_return; })));
      const auto m = rt.metrics();  // nothing has run yet: this task holds the only worker
      depth = m.workers[0].local_queue_depth;
      injected = m.injector_depth;
      for (auto& h : hs) co_await std::move(h);
    })));
    BOOST_TEST_MESSAGE("capacity " << cap << ": deque " << depth << ", injector " << injected);
    BOOST_TEST(depth <= cap);
    BOOST_TEST(depth + injected == 500u);
    if (cap == 1024) BOOST_TEST(injected == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
