// Tests for zokio::thread_per_core: shards keep their tasks (and what those spawn) on their own
// thread, submit_to crosses shards, pinning, cross-shard traffic, and teardown with work left.
#include <zokio/thread_per_core.hpp>  // self-contained header check

#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/detail/topology.hpp>
#include <zokio/join_all.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/time.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace {

struct where {
  std::thread::id thread;
  int shard;  // -1: none
};

where here(const zokio::thread_per_core& tpc) {
  auto s = tpc.current_shard();
  return {std::this_thread::get_id(), s ? static_cast<int>(*s) : -1};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(thread_per_core_suite)

BOOST_AUTO_TEST_CASE(tasks_and_their_spawns_stay_on_their_shard) {
  auto tpc = zokio::thread_per_core::builder().shards(3).pin(false).build();
  BOOST_TEST(tpc.shard_count() == 3u);
  BOOST_TEST(!tpc.current_shard().has_value());
  std::vector<zokio::join_handle<std::vector<where>>> hs;
  for (unsigned i = 0; i < 3; ++i)
    hs.push_back(tpc.submit_to(i, zokio::co_invoke([&tpc]() -> zokio::task<std::vector<where>> {
      std::vector<where> seen{here(tpc)};
      // Children spawned here, and what they spawn, run on this shard's thread too (no
      // stealing between shards), also after sleeping on the shard's timers.
      std::vector<zokio::join_handle<where>> kids;
      for (int k = 0; k < 20; ++k)
        kids.push_back(zokio::spawn(zokio::co_invoke([&tpc, k]() -> zokio::task<where> {
          if (k % 2) co_await zokio::sleep(1ms);
          else co_await zokio::yield_now{};
          auto inner = zokio::spawn(zokio::co_invoke([&tpc]() -> zokio::task<where> { co_return here(tpc); }));
          where w = co_await std::move(inner);
          co_return w;
        })));
      for (auto& h : kids) seen.push_back(co_await std::move(h));
      co_return seen;
    })));
  std::set<std::thread::id> threads;
  for (unsigned i = 0; i < 3; ++i) {
    auto seen = tpc.block_on(std::move(hs[i]));
    BOOST_TEST(seen.size() == 21u);
    for (auto& w : seen) {
      BOOST_TEST(w.shard == static_cast<int>(i));
      BOOST_TEST((w.thread == seen[0].thread));
    }
    threads.insert(seen[0].thread);
  }
  BOOST_TEST(threads.size() == 3u);  // one thread per shard
  BOOST_TEST(!threads.count(std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(submit_to_crosses_shards_and_the_result_comes_back) {
  auto tpc = zokio::thread_per_core::builder().shards(2).pin(false).build();
  // A task on shard 0 asks shard 1 for work 1,000 times and checks where each ran.
  const int bad = tpc.block_on(tpc.submit_to(0, zokio::co_invoke([&tpc]() -> zokio::task<int> {
    int wrong = 0;
    for (int i = 0; i < 1000; ++i) {
      const where w = co_await tpc.submit_to(1, zokio::co_invoke([&tpc]() -> zokio::task<where> { co_return here(tpc); }));
      wrong += w.shard != 1;
      wrong += here(tpc).shard != 0;  // and the caller is still on shard 0
    }
    co_return wrong;
  })));
  BOOST_TEST(bad == 0);
  BOOST_CHECK_THROW((void)tpc.submit_to(2, zokio::co_invoke([]() -> zokio::task<void> { co_return; })),
                    std::out_of_range);
}

BOOST_AUTO_TEST_CASE(cross_shard_channel_ping_pong) {
 for (auto spin : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(50us)}) {
  // With spin_before_park the shards spin 50 us before parking: the same messages, fewer parks.
  auto tpc = zokio::thread_per_core::builder().shards(2).pin(false).spin_before_park(spin).build();
  auto [to1, at1] = zokio::mpsc::channel<int>(1);
  auto [to0, at0] = zokio::mpsc::channel<int>(1);
  auto pong = tpc.submit_to(1, zokio::co_invoke([](zokio::mpsc::receiver<int>& in, zokio::mpsc::sender<int>& out) -> zokio::task<int> {
    int n = 0;
    while (auto v = co_await in.recv()) {
      (void)co_await out.send(*v + 1);
      ++n;
    }
    co_return n;
  }, std::move(at1), std::move(to0)));
  auto ping = tpc.submit_to(0, zokio::co_invoke([](zokio::mpsc::sender<int>& out, zokio::mpsc::receiver<int>& in) -> zokio::task<int> {
    int v = 0;
    for (int i = 0; i < 2000; ++i) {
      (void)co_await out.send(v);
      v = *co_await in.recv();
    }
    out = {};  // ends pong's loop
    co_return v;
  }, std::move(to1), std::move(at0)));
  BOOST_TEST(tpc.block_on(std::move(ping)) == 2000);
  BOOST_TEST(tpc.block_on(std::move(pong)) == 2000);
 }
}

BOOST_AUTO_TEST_CASE(pinned_shards_run_on_their_cpu) {
  const auto cpus = zokio::detail::allowed_cpus();
  auto tpc = zokio::thread_per_core::builder().pin(true).build();  // one shard per cpu
  BOOST_TEST(tpc.shard_count() == cpus.size());
  for (unsigned i = 0; i < tpc.shard_count(); ++i) {
    const int cpu = tpc.block_on(tpc.submit_to(i, zokio::co_invoke([]() -> zokio::task<int> {
      co_await zokio::yield_now{};
      co_return zokio::test::current_cpu();
    })));
    BOOST_TEST(cpu == static_cast<int>(cpus[i]));
  }
}

BOOST_AUTO_TEST_CASE(destroyed_with_work_pending_on_every_shard) {
  auto alive = std::make_shared<int>(0);
  {
    auto tpc = zokio::thread_per_core::builder().shards(2).pin(false).build();
    // Each shard holds a task that waits on the other shard's task: destruction must cancel
    // both (shard 1 first, then shard 0) and free everything.
    auto [tx, rx] = zokio::oneshot::channel<int>();
    auto h1 = tpc.submit_to(1, zokio::co_invoke([](std::shared_ptr<int>& a, zokio::oneshot::receiver<int>& r) -> zokio::task<int> {
      auto v = co_await std::move(r);
      co_return *a + (v ? *v : 0);
    }, alive, std::move(rx)));
    tpc.submit_detached_to(0, zokio::co_invoke([](std::shared_ptr<int>& a, zokio::join_handle<int>& other,
                                                  zokio::oneshot::sender<int>& keep) -> zokio::task<void> {
      (void)keep;
      co_await zokio::sleep(1h);
      *a += co_await std::move(other);
    }, alive, std::move(h1), std::move(tx)));
    std::this_thread::sleep_for(10ms);
    BOOST_TEST(alive.use_count() == 3);
  }
  BOOST_TEST(alive.use_count() == 1);
  BOOST_TEST(*alive == 0);
  BOOST_CHECK_THROW(zokio::thread_per_core::builder().shards(0).build(), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
