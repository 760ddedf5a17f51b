// Tests for zokio::select and zokio::race: the first ready wins (biased order), losers are
// destroyed at once, and a loser waiting on an Asio operation (use_future) really has it
// cancelled: the raw Asio handler is observed completing with operation_aborted.
#include <zokio/select.hpp>  // self-contained header check

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/test_util.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sclock = std::chrono::steady_clock;

namespace {

using zokio::test::make_runtime;
using zokio::test::value_after;

struct throws_now {
  using output = int;
  throws_now() noexcept {}
  zokio::poll<int> poll(zokio::context&) { throw std::logic_error("boom"); }
};

/// What the raw Asio completion handler saw.
struct observed {
  std::atomic<bool> done{false};
  boost::system::error_code ec;  // written before done (release)
};

/// Starts `start(handler)` as a zokio::use_future operation whose raw Asio handler first
/// records its error code in `obs`. The use_future handler's cancellation slot is passed on,
/// so dropping the future emits cancellation into the Asio operation exactly as for a plain
/// `op(..., zokio::use_future)`. get_executor() tells use_future which io_context to emit
/// cancellation on (the I/O object's).
template <class Executor, class Start>
struct observe_init {
  Executor ex;
  Start start;
  std::shared_ptr<observed> obs;
  Executor get_executor() const noexcept { return ex; }
  template <class Handler>
  void operator()(Handler h) {
    auto slot = asio::get_associated_cancellation_slot(h);
    start(asio::bind_cancellation_slot(
        slot, [obs = obs, h = std::move(h)](boost::system::error_code ec, auto... rest) mutable {
          obs->ec = ec;
          obs->done.store(true, std::memory_order_release);
          std::move(h)(ec, rest...);
        }));
  }
};

template <class Signature, class Executor, class Start>
auto observed_op(Executor ex, std::shared_ptr<observed> obs, Start start) {
  return asio::async_initiate<const zokio::use_future_t&, Signature>(
      observe_init<Executor, Start>{ex, std::move(start), std::move(obs)}, zokio::use_future);
}

/// Waits (in a task) until the observed handler ran, at most `limit`.
zokio::task<bool> wait_observed(std::shared_ptr<observed> obs, std::chrono::milliseconds limit) {
  auto end = sclock::now() + limit;
  while (!obs->done.load(std::memory_order_acquire)) {
    if (sclock::now() > end) co_return false;
    co_await zokio::sleep(1ms);
  }
  co_return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(select_suite, *boost::unit_test::timeout(60))

BOOST_AUTO_TEST_CASE(first_ready_wins_by_index) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<bool> {
    auto r = co_await zokio::select(value_after(200ms, 1), value_after(10ms, 2), zokio::sleep(300ms));
    static_assert(std::is_same_v<decltype(r), std::variant<int, int, std::monostate>>);
    co_return r.index() == 1 && std::get<1>(r) == 2;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(biased_when_several_are_ready) {
  zokio::context cx(zokio::noop_waker());
  auto s = zokio::select(zokio::ready_future<int>(1), zokio::ready_future<std::string>("b"));
  auto r = s.poll(cx);
  BOOST_TEST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().index() == 0u);
  BOOST_TEST(std::get<0>(r.value()) == 1);
}

BOOST_AUTO_TEST_CASE(losers_are_destroyed_before_poll_returns) {
  const long base = zokio::test::tracked::live.load();
  zokio::context cx(zokio::noop_waker());
  zokio::test::event ev;
  auto s = zokio::select(zokio::test::never{}, ev.wait(), zokio::test::never{});
  BOOST_TEST(s.poll(cx).is_pending());
  BOOST_TEST(zokio::test::tracked::live.load() == base + 2);
  ev.notify();
  auto r = s.poll(cx);
  BOOST_TEST_REQUIRE(r.is_ready());
  BOOST_TEST(r.value().index() == 1u);
  BOOST_TEST(zokio::test::tracked::live.load() == base);  // `s` still exists, losers do not
}

BOOST_AUTO_TEST_CASE(race_same_type) {
  auto rt = make_runtime(2);
  auto h = rt.spawn(zokio::co_invoke([]() -> zokio::task<int> {
    int v = co_await zokio::race(value_after(100ms, 1), value_after(5ms, 2), value_after(50ms, 3));
    co_await zokio::race(zokio::sleep(1ms), zokio::sleep(1s));  // void race
    co_return v;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 2);
}

BOOST_AUTO_TEST_CASE(exception_propagates) {
  auto rt = make_runtime(2);
  const long base = zokio::test::tracked::live.load();
  auto h = rt.spawn(zokio::co_invoke([base]() -> zokio::task<bool> {
    try {
      (void)co_await zokio::select(zokio::test::never{}, throws_now{});
    } catch (const std::logic_error&) {
      co_return zokio::test::tracked::live.load() == base;
    }
    co_return false;
  }));
  BOOST_TEST(rt.block_on(std::move(h)));
}

BOOST_AUTO_TEST_CASE(losing_timer_wait_is_cancelled_in_asio) {
  // The loser: steady_timer::async_wait(use_future) for 30 s on a zokio executor. After the
  // 10 ms sleep wins, the raw handler must complete with operation_aborted within seconds;
  // without cancellation it would complete after 30 s, with success.
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto h = rt.spawn(zokio::co_invoke([ex]() -> zokio::task<int> {
    asio::steady_timer t(ex, 30s);
    auto obs = std::make_shared<observed>();
    auto r = co_await zokio::select(
        observed_op<void(boost::system::error_code)>(
            ex, obs, [&t](auto handler) { t.async_wait(std::move(handler)); }),
        zokio::sleep(10ms));
    if (r.index() != 1) co_return 1;
    if (!co_await wait_observed(obs, 5000ms)) co_return 2;  // never completed: not cancelled
    co_return obs->ec == asio::error::operation_aborted ? 0 : 3;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 0);
}

BOOST_AUTO_TEST_CASE(losing_socket_read_is_cancelled_in_asio_and_loses_no_data) {
  // The loser: async_read_some on a connected socket that receives nothing. After the sleep
  // wins, the read completes with operation_aborted; bytes sent afterwards are read intact.
  auto rt = make_runtime(2);
  auto ex = rt.get_executor();
  auto h = rt.spawn(zokio::co_invoke([ex]() -> zokio::task<int> {
    asio::ip::tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket client(ex), server(ex);
    auto accepted = acc.async_accept(server, zokio::use_future);
    if (!co_await client.async_connect(acc.local_endpoint(), zokio::use_future)) co_return 10;
    if (!co_await std::move(accepted)) co_return 11;

    std::array<char, 16> buf{};
    auto obs = std::make_shared<observed>();
    auto r = co_await zokio::select(
        observed_op<void(boost::system::error_code, std::size_t)>(
            ex, obs,
            [&server, &buf](auto handler) {
              server.async_read_some(asio::buffer(buf), std::move(handler));
            }),
        zokio::sleep(10ms));
    if (r.index() != 1) co_return 1;
    if (!co_await wait_observed(obs, 5000ms)) co_return 2;
    if (obs->ec != asio::error::operation_aborted) co_return 3;

    // Cancellation safety of a socket read: nothing was consumed.
    if (!co_await asio::async_write(client, asio::buffer("abc", 3), zokio::use_future)) co_return 12;
    auto n = co_await server.async_read_some(asio::buffer(buf), zokio::use_future);
    if (!n || *n != 3 || std::string(buf.data(), 3) != "abc") co_return 4;
    co_return 0;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 0);
}

BOOST_AUTO_TEST_CASE(plain_use_future_loser_leaves_no_pending_wait) {
  // Same as above with a plain timer.async_wait(zokio::use_future) loser, checked from the
  // Asio side: once the cancellation posted to the timer's io_context has run (a post to
  // that io_context queued after it has completed), the timer has no wait left to cancel.
  auto rt = make_runtime(1);
  auto ex = rt.get_executor();
  auto h = rt.spawn(zokio::co_invoke([ex]() -> zokio::task<int> {
    asio::steady_timer t(ex, 30s);
    auto r = co_await zokio::select(t.async_wait(zokio::use_future), zokio::sleep(5ms));
    if (r.index() != 1) co_return 1;
    auto& io = asio::query(ex, asio::execution::context);
    co_await asio::post(io, zokio::use_future);
    co_return static_cast<int>(t.cancel());  // 0: the wait was already cancelled
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
