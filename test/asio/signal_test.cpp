// zokio::signal (issue 17, point 3): a listener keeps signals that arrive before recv();
// close ends its waits; ctrl_c() and a task_tracker drain: in-flight requests finish, the
// straggler is reported. Signals are raised in this process only while a listener for them
// exists, so none takes its default action.
#include <zokio/signal.hpp>  // self-contained header check

#include <csignal>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>
#include <zokio/task_tracker.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(signal_suite)

BOOST_AUTO_TEST_CASE(a_listener_keeps_a_signal_until_recv_and_close_ends_it) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  zokio::signal::listener l(rt.get_executor(), {zokio::test::test_signal_1, zokio::test::test_signal_2});
  BOOST_TEST(::raise(zokio::test::test_signal_2) == 0);  // nobody waits yet: kept
  auto r = rt.block_on(l.recv());
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(*r == zokio::test::test_signal_2);
  auto waiting = rt.spawn([](zokio::signal::listener& l) -> zokio::task<int> {
    auto r = co_await l.recv();
    co_return r ? *r : -1;
  }(l));
  std::this_thread::sleep_for(10ms);
  BOOST_TEST(::raise(zokio::test::test_signal_1) == 0);
  BOOST_TEST(rt.block_on(std::move(waiting)) == zokio::test::test_signal_1);
  l.close();
  auto closed = rt.block_on(l.recv());
  BOOST_TEST(closed.error() == boost::asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(listener_outside_a_runtime_says_so) {
  BOOST_CHECK_THROW(zokio::signal::listener({zokio::test::test_signal_1}), boost::system::system_error);
}

// The drain: a server task waits for ctrl_c, then drains its tracker: requests in
// flight finish (they see the token and complete their work), a task that ignores the token
// is reported by id and name.
BOOST_AUTO_TEST_CASE(ctrl_c_drains_in_flight_requests_and_reports_a_straggler) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  zokio::signal::listener guard(rt.get_executor(), {SIGINT});  // SIGINT cannot end the test
  zokio::task_tracker tracker;
  std::atomic<bool> waiting{false};
  auto server = rt.spawn([](zokio::task_tracker& tr, std::atomic<bool>& waiting)
                             -> zokio::task<zokio::drain_report> {
    for (int i = 0; i < 4; ++i)
      tr.spawn([](zokio::cancellation_token stop) -> zokio::task<void> {
        co_await stop.cancelled();  // in flight until the drain begins
        co_await zokio::sleep(20ms);
      }(tr.token()), {.name = "request"}).detach();
    tr.spawn([]() -> zokio::task<void> { co_await zokio::sleep(30s); }(), {.name = "slow-upload"})
        .detach();
    auto c = zokio::signal::ctrl_c();
    waiting = true;
    auto r = co_await std::move(c);
    BOOST_TEST(r.has_value());
    co_return co_await tr.drain(100ms);
  }(tracker, waiting));
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return waiting.load(); }));
  // ctrl_c installs its handler at its first poll: raise until the server has seen one.
  for (int i = 0; i < 2000 && !server.is_finished(); ++i) {
    ::raise(SIGINT);
    std::this_thread::sleep_for(5ms);
  }
  auto report = rt.block_on(std::move(server));
  BOOST_TEST(report.finished == 4u);
  BOOST_TEST_REQUIRE(report.stragglers.size() == 1u);
  BOOST_TEST(report.stragglers[0].name == "slow-upload");
  BOOST_TEST(report.stragglers[0].id.value() != 0u);
}

BOOST_AUTO_TEST_SUITE_END()
