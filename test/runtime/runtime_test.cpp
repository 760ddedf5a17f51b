// Tests for zokio::basic_runtime: spawn, block_on, shutdown, destruction, idle behaviour. The
// general cases run on both flavours (the test's block_on and settle() drive current_thread).
#include <zokio/runtime.hpp>  // self-contained header check
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/sleep.hpp>

#if defined(_WIN32)
#include <windows.h>
#else
#include <sys/resource.h>
#endif

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;
using zokio::test::stress_divisor;

namespace {

using zokio::test::flavours;
using zokio::test::make_runtime;

// Marks its own slot once and counts completions: a task lost or run twice shows.
struct bump {
  using output = void;
  std::atomic<std::uint8_t>* slot;
  std::atomic<int>* done;
  zokio::poll<void> poll(zokio::context&) {
    slot->fetch_add(1, std::memory_order_relaxed);
    done->fetch_add(1, std::memory_order_release);
    return zokio::ready();
  }
};

double process_cpu_seconds() {
#if defined(_WIN32)
  FILETIME created, exited, kernel, user;
  GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user);
  auto secs = [](FILETIME t) {  // 100 ns units
    return ((static_cast<unsigned long long>(t.dwHighDateTime) << 32) | t.dwLowDateTime) / 1e7;
  };
  return secs(kernel) + secs(user);
#else
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
#endif
}

}  // namespace

BOOST_AUTO_TEST_SUITE(runtime_suite)

BOOST_DATA_TEST_CASE(spawn_and_block_on, bdata::make(flavours) * bdata::make({1u, 2u, 4u}), flavour,
                     workers) {
  auto rt = make_runtime(flavour, workers);
  BOOST_TEST(rt.flavour() == flavour);
  BOOST_TEST(rt.num_workers() == (flavour == zokio::runtime_flavour::current_thread ? 1u : workers));
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    co_await zokio::yield_now{};
    co_return 21 * 2;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 42);
}

BOOST_DATA_TEST_CASE(million_tasks_complete_exactly_once, bdata::make(flavours) * bdata::make({2u, 4u}),
                     flavour, workers) {
  // Each task bumps its own slot: a task lost or run twice shows as a slot != 1.
  const int n = 1'000'000 / stress_divisor;
  auto runs = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  std::atomic<int> done{0};
  {
    auto rt = make_runtime(flavour, workers);
    // Half spawned from outside (injector), half from inside a task (local queues).
    for (int i = 0; i < n / 2; ++i) rt.spawn(bump{&runs[i], &done}).detach();
    rt.block_on(rt.spawn(zokio::co_invoke([&]() -> zokio::task<void> {
      for (int i = n / 2; i < n; ++i) zokio::spawn(bump{&runs[i], &done}).detach();
      co_return;
    })));
    BOOST_REQUIRE(zokio::test::settle(rt, [&] { return done.load() == n; }, 120s));
  }
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += runs[i].load() != 1;
  BOOST_TEST(bad == 0);
  BOOST_TEST(done.load() == n);
}

BOOST_DATA_TEST_CASE(repeated_spawn_bursts_on_one_runtime, bdata::make(flavours), flavour) {
  // One task spawns 100,000 tasks at once, 20 times on the same runtime: overflow to the
  // injector, stealing and parking all interleave. Each task must run exactly once per round.
  // (Regression: an overflow racing with a steal once ran stale tasks twice and hung.)
  const int n = 100'000 / stress_divisor, rounds = 20;
  auto runs = std::make_unique<std::atomic<std::uint8_t>[]>(n);
  std::atomic<int> done{0};
  struct burst {
    using output = void;
    std::atomic<std::uint8_t>* runs;
    int n;
    std::atomic<int>* done;
    zokio::poll<void> poll(zokio::context&) {
      for (int i = 0; i < n; ++i) zokio::spawn(bump{&runs[i], done}).detach();
      return zokio::ready();
    }
  };
  auto rt = make_runtime(flavour, 2);
  for (int r = 1; r <= rounds; ++r) {
    rt.spawn(burst{runs.get(), n, &done}).detach();
    BOOST_REQUIRE(zokio::test::settle(rt, [&] { return done.load() >= r * n; }, 60s));
  }
  std::this_thread::sleep_for(10ms);
  BOOST_TEST(done.load() == rounds * n);
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += runs[i].load() != rounds;
  BOOST_TEST(bad == 0);
}

BOOST_DATA_TEST_CASE(destroyed_with_pending_tasks_frees_everything, bdata::make(flavours), flavour) {
  // 100,000 tasks pending forever, some holding the join handles of others (cycles through
  // wakers and handles). Destruction must destroy every future: tracked::live returns to 0
  // (and LeakSanitizer, in the ASan build, sees no leaked task memory).
  const int n = 100'000 / stress_divisor;
  zokio::test::tracked::live = 0;
  {
    auto rt = make_runtime(flavour, 2);
    std::vector<zokio::join_handle<int>> handles;
    handles.reserve(n / 2);
    for (int i = 0; i < n / 2; ++i) handles.push_back(rt.spawn(zokio::test::never{}));
    for (int i = 0; i < n / 2; ++i) {
      // A task that awaits another pending task's join handle.
      rt.spawn([](zokio::join_handle<int> h) -> zokio::task<int> {
          zokio::test::tracked keep;
          co_return co_await std::move(h);
        }(std::move(handles[i]))).detach();
    }
    BOOST_TEST(zokio::test::tracked::live.load() >= n / 2);
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

BOOST_DATA_TEST_CASE(join_after_destruction_reports_shutdown, bdata::make(flavours), flavour) {
  zokio::join_handle<int> h;
  {
    auto rt = make_runtime(flavour, 2);
    h = rt.spawn(zokio::test::never{});
  }
  BOOST_TEST(h.is_finished());
  try {
    zokio::block_on(std::move(h));
    BOOST_FAIL("join should throw");
  } catch (const zokio::join_error& e) {
    BOOST_TEST(e.code() == zokio::make_error_code(zokio::errc::runtime_shutdown));
    BOOST_TEST(!e.is_cancelled());
  }
}

BOOST_DATA_TEST_CASE(spawn_after_shutdown_fails_cleanly, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 2);
  rt.shutdown();
  zokio::test::tracked::live = 0;
  auto h = rt.spawn(zokio::test::never{});
  BOOST_TEST(zokio::test::tracked::live.load() == 0);  // future destroyed at once
  BOOST_CHECK_THROW(zokio::block_on(std::move(h)), zokio::join_error);
}

BOOST_DATA_TEST_CASE(stop_from_a_task_then_destroy, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 2);
  zokio::test::tracked::live = 0;
  rt.spawn(zokio::test::never{}).detach();
  auto* rtp = &rt;
  rt.spawn(zokio::co_invoke([rtp]() -> zokio::task<void> {
      rtp->stop();
      co_return;
    })).detach();
  BOOST_TEST(zokio::test::settle(rt, [&] { return rt.scheduler().is_shutdown(); }));
  rt.shutdown();
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

BOOST_AUTO_TEST_CASE(zokio_spawn_outside_runtime_throws) {
  try {
    (void)zokio::spawn(zokio::yield_now{});
    BOOST_FAIL("spawn outside a runtime should throw");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST(e.code() == zokio::make_error_code(zokio::errc::no_runtime));
  }
}

BOOST_DATA_TEST_CASE(block_on_inside_worker_throws, bdata::make(flavours), flavour) {
  auto rt = make_runtime(flavour, 1);
  auto* rtp = &rt;
  auto h = rt.spawn(zokio::co_invoke([rtp]() -> zokio::task<bool> {
    try {
      rtp->block_on(zokio::yield_now{});
    } catch (const boost::system::system_error& e) {
      co_return e.code() == zokio::make_error_code(zokio::errc::nested_block_on);
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(compile_time_config_and_builder) {
  using rt_t = zokio::basic_runtime<zokio::runtime_config{.worker_threads = 3,
                                                          .enable_metrics = true}>;
  static_assert(rt_t::config.worker_threads == 3);
  static_assert(rt_t::config.enable_metrics);
  rt_t rt;
  BOOST_TEST(rt.num_workers() == 3u);
  BOOST_TEST(rt.metrics().enabled);
  auto rt2 = rt_t::builder().worker_threads(1).build();
  BOOST_TEST(rt2.num_workers() == 1u);
  zokio::runtime def;
  BOOST_TEST(!def.metrics().enabled);
  BOOST_TEST(def.num_workers() == std::max(1u, std::thread::hardware_concurrency()));
  BOOST_CHECK_THROW(zokio::runtime::builder().local_queue_capacity(0).build(),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(idle_runtime_does_not_spin) {
  // Parked workers block inside their io_context: over 1 s, 4 idle workers must burn far
  // less than 1% of one cpu each. A spinning worker would burn ~1 s.
  auto rt = make_runtime(4);
  rt.block_on(rt.spawn(zokio::yield_now{}));  // workers started and settled
  std::this_thread::sleep_for(100ms);
  double before = process_cpu_seconds();
  std::this_thread::sleep_for(1s);
  double used = process_cpu_seconds() - before;
  BOOST_TEST_MESSAGE("idle cpu over 1 s with 4 workers: " << used * 1000 << " ms");
  BOOST_TEST(used < 0.04);
  // And it still wakes up for new work.
  BOOST_TEST(rt.block_on(rt.spawn(zokio::ready_future<int>(9))) == 9);
}

// Builder options that had no builder method (issue 13, point 1: every option settable and
// with an effect). max_lifo_polls(0): no task is ever taken from the LIFO slot as a LIFO
// hand-off; the default takes the ping-pong partner from it.
zokio::task<void> echo_back(zokio::mpsc::receiver<int> rx, zokio::mpsc::sender<int> tx) {
  while (auto v = co_await rx.recv()) (void)co_await tx.send(*v);
}

zokio::task<void> ping_pong_rounds(int rounds) {
  auto [tx_a, rx_a] = zokio::mpsc::channel<int>(1);
  auto [tx_b, rx_b] = zokio::mpsc::channel<int>(1);
  auto other = zokio::spawn(echo_back(std::move(rx_a), std::move(tx_b)));
  for (int i = 0; i < rounds; ++i) {
    (void)co_await tx_a.send(i);
    (void)co_await rx_b.recv();
  }
  tx_a = zokio::mpsc::sender<int>();
  co_await std::move(other);
}

BOOST_AUTO_TEST_CASE(builder_max_lifo_polls_has_its_effect) {
  using metrics_rt = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;
  std::uint64_t lifo[2];
  unsigned k = 0;
  for (unsigned max : {0u, 3u}) {
    auto rt = metrics_rt::builder().worker_threads(1).max_lifo_polls(max).build();
    rt.block_on(rt.spawn(ping_pong_rounds(200)));
    lifo[k++] = rt.metrics().workers[0].lifo_polls;
  }
  BOOST_TEST(lifo[0] == 0u);
  BOOST_TEST(lifo[1] > 100u);
}

// park_spin: a worker that spins before parking picks up the next outside spawn while
// spinning; without it, every spawn of a sequence finds it parked.
BOOST_AUTO_TEST_CASE(builder_park_spin_has_its_effect, *boost::unit_test::timeout(60)) {
  using metrics_rt = zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true}>;
  // Windows sleeps in whole milliseconds: a 200 us sleep there is a yield, too short for the
  // worker to reach its park between two spawns.
#if defined(_WIN32)
  const auto idle_gap = std::chrono::milliseconds(2);
#else
  const auto idle_gap = std::chrono::microseconds(200);
#endif
  std::uint64_t parks[2];
  unsigned k = 0;
  for (auto spin : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(std::chrono::milliseconds(200))}) {
    auto rt = metrics_rt::builder().worker_threads(1).park_spin(spin).build();
    rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<void> { co_return; })));
    const auto before = rt.metrics().workers[0].parks;
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(idle_gap);  // the worker goes idle
      rt.block_on(rt.spawn(zokio::co_invoke([]() -> zokio::task<void> { co_return; })));
    }
    parks[k++] = rt.metrics().workers[0].parks - before;
  }
  BOOST_TEST_MESSAGE("parks for 50 spawns: " << parks[0] << " without spin, " << parks[1] << " with");
  BOOST_TEST(parks[0] >= 40u);
  BOOST_TEST(parks[1] <= 5u);
  // A spinning worker still sees a shutdown: destroying a runtime whose workers spin for
  // 10 s before parking, from outside and from one of its tasks, does not wait for the spin.
  for (bool from_inside : {false, true}) {
    const auto t0 = std::chrono::steady_clock::now();
    {
      auto rt = std::make_shared<zokio::runtime>(zokio::runtime::builder().worker_threads(2).park_spin(std::chrono::seconds(10)).build());
      rt->block_on(rt->spawn(zokio::co_invoke([]() -> zokio::task<void> { co_return; })));
      if (from_inside) {
        // A task that never ends tells when the teardown (on a worker) has cancelled it.
        struct on_drop {
          std::shared_ptr<std::atomic<bool>> f;
          ~on_drop() {
            if (f) f->store(true);
          }
        };
        auto torn_down = std::make_shared<std::atomic<bool>>(false);
        rt->spawn_detached(zokio::co_invoke([](on_drop& g) -> zokio::task<void> {
          (void)g;
          co_await zokio::sleep(std::chrono::hours(1));
        }, on_drop{torn_down}));
        auto* raw = rt.get();
        raw->spawn_detached(zokio::co_invoke([](std::shared_ptr<zokio::runtime>& self) -> zokio::task<void> {
          self.reset();  // the last owner, destroyed on a worker
          co_return;
        }, std::move(rt)));
        while (!torn_down->load() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        BOOST_TEST(torn_down->load());
      }
    }
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)));
  }
}

// One options struct: default_options() is Config's, the builder writes the same struct
// (options()), and a runtime is built from a struct directly with the same checks.
BOOST_AUTO_TEST_CASE(one_options_struct) {
  using rt4 = zokio::basic_runtime<zokio::runtime_config{.worker_threads = 3,
                                                          .event_interval = 7,
                                                          .priority_levels = 2}>;
  zokio::runtime_options o = rt4::default_options();
  BOOST_TEST(o.worker_threads == 3u);
  BOOST_TEST(o.event_interval == 7u);
  BOOST_TEST(o.priority_levels == 2u);
  BOOST_TEST(o.global_queue_interval == 61u);  // runtime_config's default
  auto b = rt4::builder(o).worker_threads(2).thread_name("opt").park_spin(std::chrono::microseconds(5));
  BOOST_TEST(b.options().worker_threads == 2u);
  BOOST_TEST(b.options().thread_name == "opt");
  BOOST_TEST((b.options().park_spin == std::chrono::microseconds(5)));
  BOOST_TEST(b.options().event_interval == 7u);  // untouched fields keep the struct's values
  o.worker_threads = 2;
  rt4 rt(o);
  BOOST_TEST(rt.metrics().workers.size() == 2u);
  BOOST_TEST(rt.block_on(rt.spawn(zokio::ready_future<int>(5))) == 5);
  // The same checks as build(); priority levels are the Config's only.
  zokio::runtime_options bad = rt4::default_options();
  bad.event_interval = 0;
  BOOST_CHECK_THROW(rt4{bad}, std::invalid_argument);
  zokio::runtime_options levels = rt4::default_options();
  levels.priority_levels = 3;
  BOOST_CHECK_THROW(rt4{levels}, std::invalid_argument);
}

// How long after it was spawned `probe` (a task returning the time it ran) runs on a runtime
// whose one worker never runs out of local tasks for 100 ms (a task that keeps yielding), ms.
template <class Probe>
double late_beside_a_spinner(zokio::runtime& rt, Probe probe) {
  std::atomic<bool> stop{false}, spinning{false};
  auto spinner = rt.spawn(zokio::co_invoke([](std::atomic<bool>* s, std::atomic<bool>* on) -> zokio::task<void> {
    on->store(true);
    while (!s->load()) co_await zokio::yield_now{};
  }, &stop, &spinning));
  while (!spinning.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto t0 = std::chrono::steady_clock::now();
  auto probed = rt.spawn(std::move(probe));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  rt.block_on(std::move(spinner));
  return std::chrono::duration<double, std::milli>(rt.block_on(std::move(probed)) - t0).count();
}

// event_interval: a 2 ms timer is seen within a few ms with the default, and only when the
// worker runs out of tasks with an interval no busy stretch reaches.
BOOST_AUTO_TEST_CASE(builder_event_interval_has_its_effect, *boost::unit_test::timeout(60)) {
  double late[2];
  unsigned k = 0;
  for (unsigned interval : {61u, 1'000'000'000u}) {
    auto rt = zokio::runtime::builder().worker_threads(1).event_interval(interval).build();
    late[k++] = late_beside_a_spinner(rt, zokio::co_invoke([]() -> zokio::task<std::chrono::steady_clock::time_point> {
      co_await zokio::sleep(std::chrono::milliseconds(2));
      co_return std::chrono::steady_clock::now();
    }));
  }
  BOOST_TEST_MESSAGE("2 ms timer fired after " << late[0] << " ms (interval 61), " << late[1]
                                               << " ms (interval 10^9)");
  BOOST_TEST(late[0] < 50.0);
  BOOST_TEST(late[1] >= 90.0);  // only once the spinner stopped (after 100 ms)
  BOOST_CHECK_THROW(zokio::runtime::builder().event_interval(0).build(), std::invalid_argument);
}

// global_queue_interval: a task spawned from another thread (the injector) runs within a few
// ms with the default, and only once the worker runs out of local work with an interval
// never reached.
BOOST_AUTO_TEST_CASE(builder_global_queue_interval_has_its_effect, *boost::unit_test::timeout(60)) {
  double late[2];
  unsigned k = 0;
  for (unsigned interval : {61u, 1'000'000'000u}) {
    auto rt = zokio::runtime::builder().worker_threads(1).global_queue_interval(interval).build();
    late[k++] = late_beside_a_spinner(rt, zokio::co_invoke([]() -> zokio::task<std::chrono::steady_clock::time_point> {
      co_return std::chrono::steady_clock::now();
    }));
  }
  BOOST_TEST_MESSAGE("outside spawn ran after " << late[0] << " ms (interval 61), " << late[1]
                                                << " ms (interval 10^9)");
  BOOST_TEST(late[0] < 50.0);
  BOOST_TEST(late[1] >= 90.0);  // only once the spinner stopped (after 100 ms)
  BOOST_CHECK_THROW(zokio::runtime::builder().global_queue_interval(0).build(),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
