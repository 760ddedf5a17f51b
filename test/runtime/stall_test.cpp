// The stall watchdog (issue 15, point 4): a poll longer than the threshold is reported once,
// with the task's id, name and spawn location; short polls never are.
#include <zokio/detail/stall_watchdog.hpp>  // self-contained header check
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../support/stderr_capture.hpp"
#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace stall_test {

using watched_rt =
    zokio::basic_runtime<zokio::runtime_config{.enable_metrics = true, .enable_stall_watchdog = true}>;
using watched_ct = zokio::basic_runtime<zokio::runtime_config{
    .flavour = zokio::runtime_flavour::current_thread, .enable_stall_watchdog = true}>;

static_assert(!zokio::runtime::features.stall_watch, "off by default");
static_assert(std::is_empty_v<zokio::detail::stall_watch_storage<false>>,
              "without the feature a scheduler keeps nothing for it");

void stall_spin(std::chrono::steady_clock::duration d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

zokio::task<int> block_for(std::chrono::milliseconds d) {
  stall_spin(d);
  co_return 1;
}

// A 1 ms poll that also counts, in `slow`, the times its own spin took at least `slow_at` of
// wall time: on a loaded 2-vCPU machine (CI's, under TSan) the OS may take a worker away in
// the middle of a short poll, and then the watchdog is right to report it.
zokio::task<int> short_poll(std::atomic<unsigned>& slow, std::chrono::milliseconds slow_at) {
  const auto t0 = std::chrono::steady_clock::now();
  stall_spin(std::chrono::milliseconds(1));
  if (std::chrono::steady_clock::now() - t0 >= slow_at) slow.fetch_add(1, std::memory_order_relaxed);
  co_return 1;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace stall_test

using namespace stall_test;

BOOST_AUTO_TEST_SUITE(stall_suite)

BOOST_AUTO_TEST_CASE(a_long_poll_is_reported_once_and_short_ones_never,
                     *boost::unit_test::timeout(60)) {
  zokio::test::stderr_capture err;
  std::uint64_t stalls = 0;
  unsigned line = 0;
  zokio::task_id blocker_id{0};
  std::atomic<unsigned> slow{0};  // short polls that the machine itself stretched
  {
    watched_rt::builder b;
    auto rt = b.worker_threads(2).stall_threshold(150ms).build();
    // 300 short polls of 1 ms each, on both workers, before and beside the long one.
    std::vector<zokio::join_handle<int>> hs;
    for (int i = 0; i < 150; ++i)
      hs.push_back(rt.spawn(short_poll(slow, 75ms), zokio::spawn_options{.name = "short-poll"}));
    line = __LINE__ + 1;
    auto blocker = rt.spawn(block_for(450ms), zokio::spawn_options{.name = "the-blocker"});
    blocker_id = blocker.id();
    for (int i = 0; i < 150; ++i)
      hs.push_back(rt.spawn(short_poll(slow, 75ms), zokio::spawn_options{.name = "short-poll"}));
    BOOST_TEST(rt.block_on(std::move(blocker)) == 1);
    for (auto& h : hs) BOOST_TEST(rt.block_on(std::move(h)) == 1);
    std::this_thread::sleep_for(150ms);  // the watchdog looks again: no second report
    stalls = rt.metrics().stalls;
  }
  const std::string& text = err.text();
  BOOST_TEST_MESSAGE(text);
  // A short poll is reported only if it really ran for the threshold: then its own spin saw
  // at least half of it (the rest may fall between the poll's start and the spin's).
  const unsigned stretched = slow.load();
  if (stretched != 0) BOOST_TEST_MESSAGE(stretched << " short polls were stretched by the machine");
  BOOST_TEST(count_of(text, "short-poll") <= stretched, text);
  BOOST_TEST(stalls == 1u + count_of(text, "short-poll"));
  BOOST_TEST(count_of(text, "zokio: stall:") == stalls, text);
  BOOST_TEST(count_of(text, "\"the-blocker\"") == 1u, text);
  BOOST_TEST(count_of(text, "stall_test.cpp:" + std::to_string(line)) == 1u, text);
  BOOST_TEST(count_of(text, "task " + std::to_string(blocker_id.value())) == 1u, text);
}

BOOST_AUTO_TEST_CASE(a_long_inline_child_is_blamed_not_its_parent, *boost::unit_test::timeout(60)) {
  zokio::test::stderr_capture err;
  std::uint64_t stalls = 0;
  {
    watched_rt::builder b;
    auto rt = b.worker_threads(1).stall_threshold(100ms).build();
    auto parent = zokio::co_invoke([]() -> zokio::task<int> {
      // Joined at once without having started: run inline, inside this poll.
      auto h = zokio::spawn(block_for(250ms), zokio::spawn_options{.name = "inline-child"});
      co_return co_await std::move(h);
    });
    BOOST_TEST(rt.block_on(rt.spawn(std::move(parent), zokio::spawn_options{.name = "parent"})) ==
               1);
    stalls = rt.metrics().stalls;
  }
  const std::string& text = err.text();
  BOOST_TEST(stalls == 1u);
  BOOST_TEST(count_of(text, "\"inline-child\"") == 1u, text);
  BOOST_TEST(count_of(text, "\"parent\"") == 0u, text);
}

BOOST_AUTO_TEST_CASE(current_thread_stalls_are_seen_and_zero_threshold_means_off,
                     *boost::unit_test::timeout(60)) {
  zokio::test::stderr_capture err;
  {
    watched_ct::builder b;
    auto rt = b.stall_threshold(50ms).build();
    BOOST_TEST(rt.block_on(rt.spawn(block_for(200ms))) == 1);
    BOOST_TEST(rt.metrics().stalls == 1u);
  }
  {
    watched_rt::builder b;
    auto rt = b.worker_threads(1).stall_threshold(0ns).build();
    BOOST_TEST(rt.block_on(rt.spawn(block_for(200ms))) == 1);
    BOOST_TEST(rt.metrics().stalls == 0u);
  }
  BOOST_TEST(count_of(err.text(), "zokio: stall:") == 1u, err.text());
}

// Hostile orderings: the runtime destroyed by its own stalled task (the watchdog is joined on
// that worker's thread), and a timed-out shutdown that leaves the stalled poll running (the
// watchdog goes on watching until the last worker tears the runtime down).
BOOST_AUTO_TEST_CASE(destroyed_from_inside_a_stalled_poll, *boost::unit_test::timeout(60)) {
  zokio::test::stderr_capture err;
  for (unsigned workers : {1u, 2u}) {
    watched_rt::builder b;
    auto holder = std::make_shared<std::unique_ptr<watched_rt>>(
        std::make_unique<watched_rt>(b.worker_threads(workers).stall_threshold(30ms).build()));
    auto returned = std::make_shared<std::atomic<bool>>(false);
    (*holder)->spawn([](auto holder, auto returned) -> zokio::task<void> {
      stall_spin(100ms);   // reported meanwhile
      holder->reset();   // ~runtime on its own worker: joins the watchdog thread
      returned->store(true);
      co_return;
    }(holder, returned), zokio::spawn_options{.name = "self-destroyer"}).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] { return returned->load(); }));
  }
  BOOST_TEST(count_of(err.text(), "\"self-destroyer\"") == 2u, err.text());
}

BOOST_AUTO_TEST_CASE(a_timed_out_shutdown_leaves_the_watchdog_to_the_last_worker,
                     *boost::unit_test::timeout(60)) {
  zokio::test::stderr_capture err;
  std::atomic<bool> stuck{false}, unstuck{false};
  {
    watched_rt::builder b;
    auto rt = b.worker_threads(2).stall_threshold(50ms).build();
    rt.spawn([](std::atomic<bool>* stuck, std::atomic<bool>* unstuck) -> zokio::task<void> {
      stuck->store(true);
      stall_spin(400ms);
      unstuck->store(true);
      co_return;
    }(&stuck, &unstuck), zokio::spawn_options{.name = "outlives-its-runtime"}).detach();
    BOOST_REQUIRE(zokio::test::wait_until([&] { return stuck.load(); }));
    BOOST_TEST(!rt.shutdown_timeout(20ms));
  }  // the destructor does not wait for the poll either
  BOOST_REQUIRE(zokio::test::wait_until([&] { return unstuck.load(); }));
  std::this_thread::sleep_for(100ms);  // the last worker tears down and joins the watchdog
  BOOST_TEST(count_of(err.text(), "\"outlives-its-runtime\"") == 1u, err.text());
}

BOOST_AUTO_TEST_SUITE_END()
