// Tests for the current_thread flavour: the caller of block_on (or run) drives the runtime,
// on its own thread; several callers take turns; shutdown and destruction from outside and
// from inside; Asio I/O and handlers run on the driving thread. The general runtime cases
// run on both flavours in runtime_test.cpp and join_handle_test.cpp.
#include <zokio/runtime.hpp>  // self-contained header check
#include <zokio/oneshot.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

zokio::runtime make_ct() {
  return zokio::runtime::builder().flavour(zokio::runtime_flavour::current_thread).build();
}

bool is_shutdown_error(const boost::system::system_error& e) {
  return e.code() == zokio::make_error_code(zokio::errc::runtime_shutdown);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(current_thread)

BOOST_AUTO_TEST_CASE(the_alias_and_the_builder_choose_the_flavour) {
  zokio::current_thread_runtime a;
  BOOST_TEST(a.flavour() == zokio::runtime_flavour::current_thread);
  BOOST_TEST(a.num_workers() == 1u);
  auto b = zokio::current_thread_runtime::builder()
               .flavour(zokio::runtime_flavour::multi_thread)
               .worker_threads(2)
               .build();
  BOOST_TEST(b.flavour() == zokio::runtime_flavour::multi_thread);
  BOOST_TEST(b.num_workers() == 2u);
}

// Tokio's contract: nothing runs unless a block_on drives the runtime, and everything runs
// on the thread that drives it.
BOOST_AUTO_TEST_CASE(tasks_run_only_inside_block_on_on_the_calling_thread) {
  auto rt = make_ct();
  std::atomic<int> ran{0};
  std::atomic<bool> elsewhere{false};
  const auto me = std::this_thread::get_id();
  for (int i = 0; i < 10; ++i)
    rt.spawn_detached(zokio::co_invoke([&]() -> zokio::task<void> {
      co_await zokio::yield_now{};
      if (std::this_thread::get_id() != me) elsewhere = true;
      ++ran;
    }));
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(ran.load() == 0);  // no thread of its own
  BOOST_TEST(rt.block_on(zokio::test::value_after(2ms, 1)) == 1);
  BOOST_TEST(ran.load() == 10);
  BOOST_TEST(!elsewhere.load());
}

// A block_on future that yields in a loop (its own wake is pending every time the driver is
// entered) still lets spawned tasks run between its polls. It did not: the driver stopped on
// the pending signal before running any task, so the loop below spun to its limit (found
// with the task dump's test, which waited this way).
BOOST_AUTO_TEST_CASE(a_yielding_block_on_future_does_not_starve_spawned_tasks) {
  auto rt = make_ct();
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i)
    rt.spawn_detached(zokio::co_invoke([&]() -> zokio::task<void> {
      ++ran;
      co_await zokio::yield_now{};
      ++ran;
    }));
  const int polls = rt.block_on(zokio::co_invoke([&]() -> zokio::task<int> {
    int n = 0;
    while (ran.load() < 6 && n < 10000) {
      co_await zokio::yield_now{};
      ++n;
    }
    co_return n;
  }));
  BOOST_TEST(ran.load() == 6);
  BOOST_TEST(polls < 10);  // one task turn per poll of the future: a handful of polls
}

// A wake from another thread (a std::thread sending on a oneshot) ends a parked driver's
// wait at once, not at some timeout.
BOOST_AUTO_TEST_CASE(a_wake_from_another_thread_unparks_the_driver) {
  auto rt = make_ct();
  for (int round = 0; round < 20; ++round) {
    auto [tx, rx] = zokio::oneshot::channel<int>();
    std::thread t([tx = std::move(tx), round]() mutable {
      std::this_thread::sleep_for(2ms);
      (void)tx.send(round);
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto r = rt.block_on(std::move(rx));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1s));
    BOOST_TEST((r && *r == round));
    t.join();
  }
}

// Two threads in block_on at once: one drives, the other waits for its future and takes
// over when the first returns. Neither deadlocks when each waits for the other.
BOOST_AUTO_TEST_CASE(two_callers_take_turns) {
  auto rt = make_ct();
  for (int round = 0; round < 20; ++round) {
    auto [tx, rx] = zokio::oneshot::channel<int>();
    auto [tx2, rx2] = zokio::oneshot::channel<int>();
    int got_b = -1;
    std::thread b([&, rx = std::move(rx), tx2 = std::move(tx2)]() mutable {
      auto r = rt.block_on(std::move(rx));  // needs a's task
      got_b = r ? *r : -2;
      (void)tx2.send(2);
    });
    // a's task sends after a timer: whichever thread drives runs it.
    auto h = rt.spawn(zokio::co_invoke([tx = std::move(tx)]() mutable -> zokio::task<void> {
      co_await zokio::sleep(1ms);
      (void)tx.send(1);
    }));
    auto r2 = rt.block_on(std::move(rx2));  // needs b's block_on to have returned
    b.join();
    BOOST_TEST(got_b == 1);
    BOOST_TEST((r2 && *r2 == 2));
    rt.block_on(std::move(h));
  }
}

// Asio on the driving thread: an acceptor, a connect, a write and a read in a task, and the
// completion handlers of plain callbacks, all on this thread.
BOOST_AUTO_TEST_CASE(asio_io_runs_on_the_driving_thread) {
  auto rt = make_ct();
  auto ex = rt.get_executor();
  const auto me = std::this_thread::get_id();
  std::atomic<bool> elsewhere{false};
  auto h = rt.spawn(zokio::co_invoke([&, ex]() -> zokio::task<std::string> {
    asio::ip::tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket client(ex);
    auto accepted = acc.async_accept(zokio::use_future);
    auto c = co_await client.async_connect(acc.local_endpoint(), zokio::use_future);
    if (!c) co_return "connect failed";
    auto server = co_await std::move(accepted);
    if (!server) co_return "accept failed";
    std::string msg = "hello";
    auto w = co_await asio::async_write(client, asio::buffer(msg), zokio::use_future);
    if (!w) co_return "write failed";
    char buf[16];
    auto n = co_await server->async_read_some(asio::buffer(buf), zokio::use_future);
    if (!n) co_return "read failed";
    if (std::this_thread::get_id() != me) elsewhere = true;
    co_return std::string(buf, *n);
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == "hello");
  BOOST_TEST(!elsewhere.load());
}

// run(): drives until no Asio work is left (a chain of posted handlers), on this thread,
// then returns; again with no work, it returns at once.
BOOST_AUTO_TEST_CASE(run_drives_until_no_work_is_left) {
  auto rt = make_ct();
  auto ex = rt.get_executor();
  const auto me = std::this_thread::get_id();
  std::atomic<int> ran{0};
  std::atomic<bool> elsewhere{false};
  std::function<void()> step = [&] {
    if (std::this_thread::get_id() != me) elsewhere = true;
    if (++ran < 100) asio::post(ex, step);
  };
  asio::post(ex, step);
  asio::steady_timer t(ex, 5ms);
  bool fired = false;
  t.async_wait([&](boost::system::error_code ec) { fired = !ec; });
  BOOST_TEST(ran.load() == 0);
  rt.run();
  BOOST_TEST(ran.load() == 100);
  BOOST_TEST(fired);
  BOOST_TEST(!elsewhere.load());
  const auto t0 = std::chrono::steady_clock::now();
  rt.run();
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1s));
}

// Exceptions nobody joins leave block_on, as on multi_thread.
BOOST_AUTO_TEST_CASE(an_unhandled_exception_leaves_block_on) {
  auto rt = make_ct();
  asio::post(rt.get_executor(), [] { throw std::runtime_error("posted"); });
  try {
    rt.block_on(zokio::sleep(10s));
    BOOST_FAIL("block_on returned instead of rethrowing");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "posted");
  }
  BOOST_TEST(rt.block_on(zokio::test::value_after(1ms, 3)) == 3);  // and goes on
}

// shutdown() from another thread while block_on drives a future that never ends: block_on
// throws runtime_shutdown promptly, and the tasks are freed.
BOOST_AUTO_TEST_CASE(shutdown_from_outside_ends_a_driving_block_on) {
  zokio::test::tracked::live = 0;
  {
    auto rt = make_ct();
    rt.spawn_detached(zokio::test::never{});
    std::thread stopper([&] {
      std::this_thread::sleep_for(20ms);
      rt.shutdown();
    });
    const auto t0 = std::chrono::steady_clock::now();
    try {
      rt.block_on(zokio::sleep(30s));
      BOOST_FAIL("block_on returned");
    } catch (const boost::system::system_error& e) {
      BOOST_TEST(is_shutdown_error(e));
    }
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 10s));
    stopper.join();
    BOOST_TEST(zokio::test::tracked::live.load() == 0);
    // After shutdown: spawns are refused, and block_on of a pending future says so.
    BOOST_CHECK_THROW(rt.block_on(zokio::sleep(1s)), boost::system::system_error);
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

// From inside: stop() from a task ends the block_on; shutdown() from a task is refused
// (it would wait for itself); a task that destroys the runtime (it holds the last owner)
// ends the block_on, and the runtime is torn down when the driver leaves (ASan: no leak,
// no use after free).
BOOST_AUTO_TEST_CASE(stop_shutdown_and_destroy_from_inside) {
  {
    auto rt = make_ct();
    auto* rtp = &rt;
    rt.spawn_detached(zokio::co_invoke([rtp]() -> zokio::task<void> {
      co_await zokio::yield_now{};
      rtp->stop();
    }));
    BOOST_CHECK_EXCEPTION(rt.block_on(zokio::sleep(30s)), boost::system::system_error,
                          is_shutdown_error);
  }
  {
    auto rt = make_ct();
    auto* rtp = &rt;
    BOOST_TEST(rt.block_on(rt.spawn(zokio::co_invoke([rtp]() -> zokio::task<bool> {
      try {
        rtp->shutdown();
      } catch (const boost::system::system_error& e) {
        co_return e.code() == zokio::make_error_code(zokio::errc::shutdown_from_inside);
      }
      co_return false;
    }))));
  }
  zokio::test::tracked::live = 0;
  for (int round = 0; round < 20; ++round) {
    auto owner = std::make_shared<std::unique_ptr<zokio::runtime>>(
        std::make_unique<zokio::runtime>(make_ct()));
    zokio::runtime& rt = **owner;
    rt.spawn_detached(zokio::test::never{});
    rt.spawn_detached(zokio::co_invoke([owner]() -> zokio::task<void> {
      co_await zokio::sleep(1ms);
      owner->reset();  // the runtime's destructor, on its driving thread
    }));
    try {
      // `rt` dies meanwhile: block_on touches it no more. The future holds nothing of the
      // runtime's (a sleep's timer would outlive its io_context, as an Asio timer would).
      rt.block_on(zokio::test::never{});
      BOOST_FAIL("block_on returned");
    } catch (const boost::system::system_error& e) {
      BOOST_TEST(is_shutdown_error(e));
    }
    BOOST_TEST(!*owner);
  }
  BOOST_TEST(zokio::test::tracked::live.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
