// Tests for zokio::executor: Asio's own facilities (post/dispatch/defer, strand, co_spawn,
// spawn, timers, TCP and UDP sockets, files, signals, channels) run by a Zokio runtime through
// zokio::executor, both directly (I/O objects typed on zokio::executor) and type-erased as
// boost::asio::any_io_executor.
#include <zokio/executor.hpp>  // self-contained header check

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/random_access_file.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_at.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/stream_file.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/write_at.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

#include "../support/stderr_capture.hpp"
#include "../support/test_util.hpp"
#include "io_uring_precondition.hpp"

namespace asio = boost::asio;
namespace execution = boost::asio::execution;
namespace utf = boost::unit_test;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
using std::chrono::steady_clock;
using namespace std::chrono_literals;

// --- compile-time: zokio::executor is a standard executor --------------------------------------

static_assert(execution::is_executor<zokio::executor>::value);
static_assert(std::is_convertible_v<zokio::executor, asio::any_io_executor>);
static_assert(std::is_nothrow_copy_constructible_v<zokio::executor>);
static_assert(asio::can_require<zokio::executor, execution::blocking_t::never_t>::value);
static_assert(asio::can_require<zokio::executor, execution::blocking_t::possibly_t>::value);
static_assert(asio::can_require<zokio::executor, execution::outstanding_work_t::tracked_t>::value);
static_assert(
    asio::can_require<zokio::executor, execution::outstanding_work_t::untracked_t>::value);
static_assert(asio::can_require<zokio::executor, execution::relationship_t::fork_t>::value);
static_assert(
    asio::can_require<zokio::executor, execution::relationship_t::continuation_t>::value);
static_assert(asio::can_prefer<zokio::executor, execution::allocator_t<std::allocator<int>>>::value);
static_assert(asio::can_query<zokio::executor, execution::context_t>::value);
static_assert(std::is_same_v<asio::query_result<zokio::executor, execution::context_t>::type,
                             asio::io_context&>);
static_assert(std::is_same_v<asio::query_result<zokio::executor, execution::allocator_t<void>>::type,
                             zokio::allocator<void>>);
static_assert(zokio::executor::query(execution::mapping) ==
              execution::mapping_t(execution::mapping.thread));
static_assert(execution::is_executor<asio::strand<zokio::executor>>::value);
static_assert(std::is_convertible_v<asio::strand<zokio::executor>, asio::any_io_executor>);

// ThreadSanitizer cannot follow Boost.Context's fcontext fibers (Boost 1.81 has no TSan fiber
// annotations for them): a stackful coroutine started on one thread and resumed on another
// (always the case with asio::spawn on a multi-threaded executor, plain Asio's included)
// unbalances TSan's shadow call stack, which then overflows: "ThreadSanitizer: SEGV ... in
// __tsan_func_entry". The asio::spawn tests are therefore skipped under TSan.
// (ZOKIO_TEST_TSAN: test/support/test_util.hpp)

namespace {

constexpr const char* worker_name = "zxtest";

using zokio::test::make_runtime;

/// The index of the Zokio worker running the caller, read from its thread name
/// ("zxtest-<i>"), or -1 on any other thread.
int current_worker_index() {
  char name[32] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return -1;
  std::string s(name);
  std::string prefix = std::string(worker_name) + "-";
  if (s.rfind(prefix, 0) != 0) return -1;
  return std::stoi(s.substr(prefix.size()));
}

/// Precondition of the asio::spawn tests (see ZOKIO_TEST_TSAN).
boost::test_tools::assertion_result not_under_tsan(utf::test_unit_id) {
  boost::test_tools::assertion_result r(!ZOKIO_TEST_TSAN);
  r.message() << "ThreadSanitizer cannot follow Boost.Context fibers that change threads";
  return r;
}

long ms_since(steady_clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - t).count());
}

/// A file name under /tmp unique to this process and call; the file is removed on scope exit.
struct temp_file {
  std::string path;
  explicit temp_file(const char* tag) {
    static std::atomic<int> n{0};
    path = "/tmp/zokio-executor-test-" + std::to_string(::getpid()) + "-" + tag + "-" +
           std::to_string(n.fetch_add(1));
    ::unlink(path.c_str());
  }
  ~temp_file() { ::unlink(path.c_str()); }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// --- awaitables (state passed as parameters, never captured) ---------------------------------

asio::awaitable<void> sleep_then_flag(std::chrono::milliseconds d, std::atomic<int>* flag,
                                      std::atomic<int>* on_worker) {
  auto exec = co_await asio::this_coro::executor;
  const zokio::executor* z = exec.target<zokio::executor>();
  if (z && z->running_in_this_thread() && current_worker_index() >= 0) on_worker->fetch_add(1);
  asio::steady_timer t(exec, d);
  co_await t.async_wait(asio::use_awaitable);
  if (z && z->running_in_this_thread() && current_worker_index() >= 0) on_worker->fetch_add(1);
  flag->store(1);
}

asio::awaitable<int> add_after(int a, int b, std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  co_return a + b;
}

asio::awaitable<int> fail_after(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  throw std::runtime_error("awaitable failed after its timer");
}

/// Sums (i + 1) for i < n, each computed by a child coroutine co_spawned and awaited.
asio::awaitable<int> sum_of_children(int n) {
  auto exec = co_await asio::this_coro::executor;
  int sum = 0;
  for (int i = 0; i < n; ++i)
    sum += co_await asio::co_spawn(exec, add_after(i, 1, 1ms), asio::use_awaitable);
  co_return sum;
}

/// A 10 s wait cancelled 20 ms in by a sibling timer's handler (run it on a serial executor).
asio::awaitable<error_code> wait_cancelled_by_sibling() {
  auto exec = co_await asio::this_coro::executor;
  asio::steady_timer t(exec, 10s);
  asio::steady_timer killer(exec, 20ms);
  killer.async_wait([&t](error_code) { t.cancel(); });
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

asio::awaitable<void> echo_session(tcp::socket s, std::atomic<int>* finished) {
  std::array<char, 256> buf;
  for (;;) {
    auto [ec, n] =
        co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf.data(), n),
                                                asio::as_tuple(asio::use_awaitable));
    if (wec) break;
  }
  finished->fetch_add(1);
}

/// Connects to an acceptor, accepts onto another worker's io_context, echoes three messages.
/// Returns what came back joined by '|', or what went wrong.
asio::awaitable<std::string> tcp_echo_round_trips(zokio::executor ex, std::atomic<int>* done) {
  zokio::executor other = ex.with_home(ex.home_worker() + 1);
  tcp::acceptor acc(ex, {asio::ip::address_v4::loopback(), 0});
  tcp::socket client(other);
  co_await client.async_connect(acc.local_endpoint(), asio::use_awaitable);
  tcp::socket server = co_await acc.async_accept(other, asio::use_awaitable);
  const zokio::executor* sz = server.get_executor().target<zokio::executor>();
  if (!sz || sz->home_worker() != other.home_worker()) co_return "accepted socket placed wrong";
  asio::co_spawn(server.get_executor(), echo_session(std::move(server), done), asio::detached);
  std::string out;
  for (std::string msg : {"hello", "through", "zokio::executor"}) {
    co_await asio::async_write(client, asio::buffer(msg), asio::use_awaitable);
    std::string back(msg.size(), '\0');
    co_await asio::async_read(client, asio::buffer(back), asio::use_awaitable);
    out += (out.empty() ? "" : "|") + back;
  }
  client.shutdown(tcp::socket::shutdown_send);
  char c;
  auto [ec, n] = co_await client.async_read_some(asio::buffer(&c, 1),
                                                 asio::as_tuple(asio::use_awaitable));
  if (ec != asio::error::eof) co_return "server did not close: " + ec.message();
  co_return out;
}

/// UDP ping-pong between two sockets of the executor's type (any_io_executor).
asio::awaitable<std::string> udp_ping_pong(asio::any_io_executor exec) {
  udp::socket a(exec, {asio::ip::address_v4::loopback(), 0});
  udp::socket b(exec, {asio::ip::address_v4::loopback(), 0});
  std::string ping = "ping", pong = "pong";
  std::array<char, 64> buf;
  udp::endpoint from;
  co_await a.async_send_to(asio::buffer(ping), b.local_endpoint(), asio::use_awaitable);
  std::size_t n = co_await b.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
  if (from != a.local_endpoint()) co_return "wrong sender at b";
  std::string got(buf.data(), n);
  co_await b.async_send_to(asio::buffer(pong), from, asio::use_awaitable);
  n = co_await a.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
  if (from != b.local_endpoint()) co_return "wrong sender at a";
  co_return got + "/" + std::string(buf.data(), n);
}

asio::awaitable<std::string> stream_file_round_trip(asio::any_io_executor exec, std::string path,
                                                    std::string data) {
  {
    asio::stream_file out(exec, path,
                          asio::stream_file::write_only | asio::stream_file::create |
                              asio::stream_file::truncate);
    std::size_t n = co_await asio::async_write(out, asio::buffer(data), asio::use_awaitable);
    if (n != data.size()) co_return "short write";
  }
  asio::stream_file in(exec, path, asio::stream_file::read_only);
  if (in.size() != data.size()) co_return "wrong size " + std::to_string(in.size());
  std::string back(data.size(), '\0');
  co_await asio::async_read(in, asio::buffer(back), asio::use_awaitable);
  char extra;
  auto [ec, n] =
      co_await in.async_read_some(asio::buffer(&extra, 1), asio::as_tuple(asio::use_awaitable));
  if (ec != asio::error::eof) co_return "no eof at the end: " + ec.message();
  co_return back;
}

asio::awaitable<int> wait_signal(asio::signal_set* sigs) {
  int signo = co_await sigs->async_wait(asio::use_awaitable);
  co_return signo;
}

using int_channel = asio::experimental::channel<void(error_code, int)>;
using int_concurrent_channel = asio::experimental::concurrent_channel<void(error_code, int)>;

template <class Channel>
asio::awaitable<void> produce(Channel* ch, int first, int count) {
  for (int i = 0; i < count; ++i)
    co_await ch->async_send(error_code{}, first + i, asio::use_awaitable);
}

/// Receives `expected` values (all of them until an error when negative); the error that
/// ended it, or success.
template <class Channel>
asio::awaitable<std::pair<std::vector<int>, error_code>> consume(Channel* ch, int expected) {
  std::vector<int> got;
  error_code end;
  while (expected < 0 || static_cast<int>(got.size()) < expected) {
    auto [ec, v] = co_await ch->async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      end = ec;
      break;
    }
    got.push_back(v);
  }
  co_return std::make_pair(std::move(got), end);
}

/// Closes the channel, then receives: Asio reports channel_closed.
template <class Channel>
asio::awaitable<error_code> close_then_receive(Channel* ch) {
  ch->close();
  auto [ec, v] = co_await ch->async_receive(asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

bool is_iota(const std::vector<int>& v, int first, int n) {
  if (static_cast<int>(v.size()) != n) return false;
  for (int i = 0; i < n; ++i)
    if (v[i] != first + i) return false;
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(executor_suite)

// --- execution properties ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(execution_properties, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  // Pinned to a worker (with_home) so that its io_context is known; get_executor()'s own
  // placement is tested in unplaced_executor_spreads_io_objects_round_robin.
  zokio::executor ex = rt.get_executor().with_home(1);
  BOOST_TEST_REQUIRE(ex.home_worker() == 1u);
  BOOST_TEST(ex.is_placed());
  BOOST_TEST(!ex.running_in_this_thread());

  // Defaults: blocking.possibly, outstanding_work.untracked, relationship.fork.
  BOOST_TEST((asio::query(ex, execution::blocking) == execution::blocking.possibly));
  BOOST_TEST((asio::query(ex, execution::outstanding_work) == execution::outstanding_work.untracked));
  BOOST_TEST((asio::query(ex, execution::relationship) == execution::relationship.fork));
  BOOST_TEST((asio::query(ex, execution::mapping) == execution::mapping.thread));

  auto never = asio::require(ex, execution::blocking.never);
  static_assert(std::is_same_v<decltype(never), zokio::executor>);
  BOOST_TEST((asio::query(never, execution::blocking) == execution::blocking.never));
  BOOST_TEST((asio::query(asio::require(never, execution::blocking.possibly),
                          execution::blocking) == execution::blocking.possibly));

  auto tracked = asio::require(ex, execution::outstanding_work.tracked);
  BOOST_TEST((asio::query(tracked, execution::outstanding_work) ==
              execution::outstanding_work.tracked));
  BOOST_TEST((asio::query(asio::require(tracked, execution::outstanding_work.untracked),
                          execution::outstanding_work) == execution::outstanding_work.untracked));

  auto cont = asio::require(ex, execution::relationship.continuation);
  BOOST_TEST((asio::query(cont, execution::relationship) == execution::relationship.continuation));
  BOOST_TEST((asio::query(asio::require(cont, execution::relationship.fork),
                          execution::relationship) == execution::relationship.fork));

  // The properties are independent; requiring the defaults back gives an equal executor.
  auto all = asio::require(ex, execution::blocking.never, execution::outstanding_work.tracked,
                           execution::relationship.continuation);
  BOOST_TEST((asio::query(all, execution::blocking) == execution::blocking.never));
  BOOST_TEST((asio::query(all, execution::outstanding_work) == execution::outstanding_work.tracked));
  BOOST_TEST((asio::query(all, execution::relationship) == execution::relationship.continuation));
  auto back = asio::require(all, execution::blocking.possibly,
                            execution::outstanding_work.untracked, execution::relationship.fork);
  BOOST_TEST((back == ex));
  // prefer() reaches require() for properties the executor supports.
  auto preferred = asio::prefer(ex, execution::blocking.never, execution::outstanding_work.tracked);
  BOOST_TEST((preferred == asio::require(ex, execution::blocking.never,
                                          execution::outstanding_work.tracked)));

  // context: the home worker's io_context, kept through property changes.
  BOOST_TEST(&asio::query(ex, execution::context) == &rt.worker_io_context(ex.home_worker()));
  BOOST_TEST(&asio::query(all, execution::context) == &rt.worker_io_context(ex.home_worker()));
  BOOST_TEST(&rt.worker_io_context(0) != &rt.worker_io_context(1));
  for (unsigned i = 0; i < rt.num_workers(); ++i) {
    zokio::executor e = ex.with_home(i);
    BOOST_TEST(e.home_worker() == i);
    BOOST_TEST(&asio::query(e, execution::context) == &rt.worker_io_context(i));
  }
  BOOST_TEST(ex.with_home(static_cast<unsigned>(rt.num_workers()) + 1).home_worker() == 1u);

  // on_calling_worker: off the workers, the executor unchanged; on a worker, pinned to it.
  BOOST_TEST(!rt.get_executor().on_calling_worker().is_placed());
  for (int round = 0; round < 20; ++round) {
    auto seen = rt.block_on(rt.spawn(zokio::co_invoke([&rt]() -> zokio::task<std::pair<unsigned, unsigned>> {
      const auto here = static_cast<unsigned>(rt.get_executor().scheduler().current_worker_index());
      co_return std::pair{here, rt.get_executor().on_calling_worker().home_worker()};
    })));
    BOOST_TEST(seen.first == seen.second);
  }

  // allocator: accepted (task memory comes from the runtime), reported as the runtime's.
  zokio::allocator<int> a = asio::query(ex, execution::allocator);
  int* p = a.allocate(4);
  p[3] = 7;
  BOOST_TEST(p[3] == 7);
  a.deallocate(p, 4);
  auto with_alloc = asio::require(ex, execution::allocator(std::allocator<int>()));
  static_assert(std::is_same_v<decltype(with_alloc), zokio::executor>);
  BOOST_TEST((with_alloc == ex));

  // equality: same runtime, home and properties.
  zokio::executor copy = ex;
  BOOST_TEST((copy == ex));
  BOOST_TEST(!(copy != ex));
  BOOST_TEST((never != ex));
  BOOST_TEST((tracked != ex));
  BOOST_TEST((cont != ex));
  BOOST_TEST((ex.with_home(ex.home_worker() + 1) != ex));
  // get_executor() is unplaced (equal to every other unplaced one of this runtime).
  zokio::executor e1 = rt.get_executor(), e2 = rt.get_executor();
  BOOST_TEST(!e1.is_placed());
  BOOST_TEST(e1.home_worker() == zokio::executor::unplaced);
  BOOST_TEST((e1 == e2));
  BOOST_TEST((e1 != ex));
  BOOST_TEST((e1.with_home(ex.home_worker()) == ex));
  // Another runtime's executors are never equal, whatever the home.
  auto rt2 = make_runtime(2, worker_name);
  BOOST_TEST((rt2.get_executor().with_home(0) != ex.with_home(0)));
  BOOST_TEST(&asio::query(rt2.get_executor().with_home(0), execution::context) !=
             &rt.worker_io_context(0));

  // Through any_io_executor.
  asio::any_io_executor any = ex;
  BOOST_TEST_REQUIRE(any.target<zokio::executor>() != nullptr);
  BOOST_TEST((*any.target<zokio::executor>() == ex));
  BOOST_TEST((any == asio::any_io_executor(copy)));
  BOOST_TEST((any != asio::any_io_executor(ex.with_home(ex.home_worker() + 1))));
  BOOST_TEST((any != asio::any_io_executor(never)));
  BOOST_TEST(&asio::query(any, execution::context) ==
             static_cast<asio::execution_context*>(&rt.worker_io_context(ex.home_worker())));
  asio::any_io_executor any_never = asio::require(any, execution::blocking.never);
  BOOST_TEST_REQUIRE(any_never.target<zokio::executor>() != nullptr);
  BOOST_TEST((asio::query(*any_never.target<zokio::executor>(), execution::blocking) ==
              execution::blocking.never));
  asio::any_io_executor any_tracked = asio::prefer(any, execution::outstanding_work.tracked);
  BOOST_TEST_REQUIRE(any_tracked.target<zokio::executor>() != nullptr);
  BOOST_TEST((asio::query(*any_tracked.target<zokio::executor>(), execution::outstanding_work) ==
              execution::outstanding_work.tracked));
  asio::any_io_executor any_cont = asio::prefer(any, execution::relationship.continuation);
  BOOST_TEST_REQUIRE(any_cont.target<zokio::executor>() != nullptr);
  BOOST_TEST((asio::query(*any_cont.target<zokio::executor>(), execution::relationship) ==
              execution::relationship.continuation));
}

// The placement policy (doc/asio_bridge.md): each I/O object made from get_executor(),
// wherever it is made, lives on the next worker round-robin, and the executor stays unplaced;
// everything made from a pinned executor (with_home) lives on its worker; a strand made from
// an unplaced executor keeps the placement of the first I/O object built on it, and so do
// copies of that object's executor (Beast's tcp_stream timers). On the old policy (home = the
// calling worker), get_executor() on a worker was pinned there.
BOOST_AUTO_TEST_CASE(unplaced_executor_spreads_io_objects_round_robin, *utf::timeout(30)) {
  auto rt = make_runtime(4, worker_name);
  auto rt2 = make_runtime(2, worker_name);
  struct seen {
    int index = -2;
    std::vector<int> homes;  // the worker of each of 8 placements in a row
    bool stays_unplaced = false, strand_joined = false, copy_of_socket_executor_joined = false;
    bool twice_in_a_row_pins = false, copy_between_keeps_spreading = false;
    int pinned_home = -1;
    bool running_here = false, other_rt_running_here = true;
  };
  auto worker_of = [&rt](asio::execution_context& c) {
    for (unsigned i = 0; i < rt.num_workers(); ++i)
      if (&c == static_cast<asio::execution_context*>(&rt.worker_io_context(i)))
        return static_cast<int>(i);
    return -1;
  };
  for (int round = 0; round < 10; ++round) {
    auto h = rt.spawn(zokio::co_invoke([&rt, &rt2, &worker_of]() -> zokio::task<seen> {
      seen s;
      s.index = current_worker_index();
      zokio::executor ex = rt.get_executor();
      // Each placement through a fresh copy (as an I/O object's constructor does: it places
      // through the executor it is given, then keeps a copy) goes to the next worker.
      for (int i = 0; i < 8; ++i) {
        zokio::executor copy = ex;
        s.homes.push_back(worker_of(asio::query(copy, execution::context)));
        zokio::executor kept = copy;  // ends the run, like the object's stored copy
      }
      {
        asio::ip::tcp::socket a(ex), b(ex);  // one executor variable for many sockets
        s.stays_unplaced = !ex.is_placed();
      }
      // A strand, then a socket built on it: the strand's inner executor is pinned where the
      // socket went, and the socket's executor (a copy of the strand) stays there.
      {
        auto st = asio::make_strand(ex);
        asio::basic_stream_socket<asio::ip::tcp, asio::strand<zokio::executor>> sock(st);
        s.strand_joined = st.get_inner_executor().is_placed();
        auto sock_ex = sock.get_executor();
        s.copy_of_socket_executor_joined =
            sock_ex.get_inner_executor().is_placed() &&
            sock_ex.get_inner_executor().home_worker() == st.get_inner_executor().home_worker();
      }
      {
        zokio::executor e = rt.get_executor();
        int first = worker_of(asio::query(e, execution::context));
        int second = worker_of(asio::query(e, execution::context));
        BOOST_TEST(first == second);  // the second placement in a row keeps the first's worker
        s.twice_in_a_row_pins = e.is_placed() && static_cast<int>(e.home_worker()) == second;
        zokio::executor f = rt.get_executor();
        (void)asio::query(f, execution::context);
        zokio::executor g = f;  // a copy in between
        (void)asio::query(f, execution::context);
        s.copy_between_keeps_spreading = !f.is_placed() && !g.is_placed();
      }
      asio::steady_timer t(ex.with_home(2));
      s.pinned_home = worker_of(asio::query(t.get_executor(), execution::context));
      s.running_here = ex.running_in_this_thread();
      s.other_rt_running_here = rt2.get_executor().running_in_this_thread();
      co_return s;
    }));
    seen s = rt.block_on(std::move(h));
    BOOST_TEST_REQUIRE(s.index >= 0);
    std::vector<int> per(4, 0);
    for (int w : s.homes) {
      BOOST_TEST_REQUIRE(w >= 0);
      ++per[w];
    }
    // 8 placements in a row: round-robin puts 2 on every worker.
    BOOST_TEST((per == std::vector<int>{2, 2, 2, 2}));
    BOOST_TEST(s.stays_unplaced);
    BOOST_TEST(s.strand_joined);
    BOOST_TEST(s.copy_of_socket_executor_joined);
    BOOST_TEST(s.twice_in_a_row_pins);
    BOOST_TEST(s.copy_between_keeps_spreading);
    BOOST_TEST(s.pinned_home == 2);
    BOOST_TEST(s.running_here);
    BOOST_TEST(!s.other_rt_running_here);
  }
}

// Many threads place I/O objects through one shared executor object (and their own copies)
// at once, workers and foreign threads alike: every object lands on one of the runtime's
// io_contexts, round-robin still reaches every worker, and the shared object stays unplaced
// (a placement run is per object and thread: other threads' placements in between must
// neither pin it nor leave a worker index that is not one).
// Run under TSan in CI (label tsan): the relaxed placement fields must not race on anything else.
BOOST_AUTO_TEST_CASE(concurrent_placements_through_one_shared_executor, *utf::timeout(120)) {
  auto rt = make_runtime(4, worker_name);
  const unsigned n = static_cast<unsigned>(rt.num_workers());
  const int rounds = std::max(2, 20 / zokio::test::stress_divisor);
  constexpr int kThreads = 3, kTasks = 4, kObjects = 64;
  for (int round = 0; round < rounds; ++round) {
    const zokio::executor shared = rt.get_executor();
    std::vector<std::atomic<int>> per(n);
    std::atomic<int> invalid{0};
    auto place_many = [&rt, &per, &invalid, n](const zokio::executor& via) {
      for (int i = 0; i < kObjects; ++i) {
        // Now and then an I/O object built on the shared executor itself (it places through
        // the shared object, then keeps a copy; where it went is not visible from outside)...
        if (i % 4 == 0) {
          asio::steady_timer t(via);
          t.expires_after(std::chrono::hours(1));
        }
        // ...and a placement through a fresh copy, the way the constructor does it, recorded.
        zokio::executor own = via;
        asio::execution_context& c = asio::query(own, execution::context);
        zokio::executor kept = own;  // the object's stored copy ends the run
        int w = -1;
        for (unsigned k = 0; k < n; ++k)
          if (&c == static_cast<asio::execution_context*>(&rt.worker_io_context(k))) w = int(k);
        if (w < 0) ++invalid; else ++per[static_cast<unsigned>(w)];
      }
    };
    std::vector<zokio::join_handle<void>> tasks;
    for (int t = 0; t < kTasks; ++t)
      tasks.push_back(rt.spawn(zokio::co_invoke(
          [](const zokio::executor* via, decltype(place_many)* f) -> zokio::task<void> {
            (*f)(*via);
            co_return;
          },
          &shared, &place_many)));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([&] { place_many(shared); });
    for (auto& t : threads) t.join();
    for (auto& h : tasks) rt.block_on(std::move(h));
    BOOST_TEST(invalid.load() == 0);
    int total = 0;
    for (unsigned k = 0; k < n; ++k) {
      total += per[k].load();
      // Round-robin over 448 placements; a pinned run moves at most a share of them.
      BOOST_TEST(per[k].load() > 0, "worker " << k << " got no I/O object");
    }
    BOOST_TEST(total == (kThreads + kTasks) * kObjects);
    // Each thread's placements through the shared object are followed by a copy: no run can
    // pin it, however the threads interleave.
    BOOST_TEST(!shared.is_placed());
  }
}

// --- post / dispatch / defer -------------------------------------------------------------------

namespace {
struct run_record {
  std::atomic<bool> done{false};
  std::thread::id thread;
  bool running_in_this_thread = false;
  int worker = -1;
};
auto record_into(run_record& r, zokio::executor ex) {
  return [&r, ex] {
    r.thread = std::this_thread::get_id();
    r.running_in_this_thread = ex.running_in_this_thread();
    r.worker = current_worker_index();
    r.done.store(true);
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(post_dispatch_defer_from_outside_run_on_a_worker, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  asio::any_io_executor any = ex;
  auto caller = std::this_thread::get_id();
  run_record posted, dispatched, deferred, any_posted, any_dispatched;
  asio::post(ex, record_into(posted, ex));
  asio::dispatch(ex, record_into(dispatched, ex));  // not on a worker: queued, not inline
  asio::defer(ex, record_into(deferred, ex));
  asio::post(any, record_into(any_posted, ex));
  asio::dispatch(any, record_into(any_dispatched, ex));
  for (run_record* r : {&posted, &dispatched, &deferred, &any_posted, &any_dispatched}) {
    BOOST_TEST_REQUIRE(zokio::test::wait_until([r] { return r->done.load(); }));
    BOOST_TEST((r->thread != caller));
    BOOST_TEST(r->running_in_this_thread);
    BOOST_TEST(r->worker >= 0);
  }
  // post with a completion token: the token's future completes once the runtime ran it.
  // Signature void(): the use_future output is void (this once failed to compile).
  rt.block_on(asio::post(ex, zokio::use_future));
  rt.block_on(asio::post(any, zokio::use_future));
}

BOOST_AUTO_TEST_CASE(dispatch_on_a_worker_runs_inline_post_and_defer_do_not, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  struct state {
    std::thread::id poster;
    std::atomic<bool> in_call{false};
    std::atomic<bool> dispatch_ran{false}, dispatch_inline{false}, any_dispatch_inline{false};
    std::atomic<bool> execute_inline{false}, exception_propagated{false};
    std::atomic<int> post_inline{-1}, defer_inline{-1}, never_inline{-1};
    std::atomic<int> queued_on_worker{0}, finished{0};
  };
  auto st = std::make_shared<state>();
  // A handler that reports whether it ran inside the poster's call, on the poster's thread.
  auto probe = [](std::shared_ptr<state> st, std::atomic<int>* slot) {
    return [st, slot] {
      *slot = (st->in_call.load() && std::this_thread::get_id() == st->poster) ? 1 : 0;
      if (current_worker_index() >= 0) st->queued_on_worker.fetch_add(1);
      st->finished.fetch_add(1);
    };
  };
  auto h = rt.spawn(zokio::co_invoke([ex, st, probe]() -> zokio::task<> {
    st->poster = std::this_thread::get_id();
    // dispatch: inline, before it returns.
    asio::dispatch(ex, [st] { st->dispatch_ran = true; });
    st->dispatch_inline = st->dispatch_ran.load();
    st->dispatch_ran = false;
    asio::dispatch(asio::any_io_executor(ex.with_home(ex.home_worker() + 1)),
                   [st] { st->dispatch_ran = true; });
    st->any_dispatch_inline = st->dispatch_ran.load();
    // execute with blocking.possibly: inline too.
    st->dispatch_ran = false;
    ex.execute([st] { st->dispatch_ran = true; });
    st->execute_inline = st->dispatch_ran.load();
    // An exception from an inline function reaches the caller.
    try {
      asio::dispatch(ex, [] { throw std::runtime_error("thrown inline"); });
    } catch (const std::runtime_error&) {
      st->exception_propagated = true;
    }
    // post, defer, and execute on a blocking.never executor: queued, never inline.
    st->in_call = true;
    asio::post(ex, probe(st, &st->post_inline));
    st->in_call = false;
    st->in_call = true;
    asio::defer(ex, probe(st, &st->defer_inline));
    st->in_call = false;
    st->in_call = true;
    asio::require(ex, execution::blocking.never).execute(probe(st, &st->never_inline));
    st->in_call = false;
    co_return;
  }));
  rt.block_on(std::move(h));
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return st->finished.load() == 3; }));
  BOOST_TEST(st->dispatch_inline.load());
  BOOST_TEST(st->any_dispatch_inline.load());
  BOOST_TEST(st->execute_inline.load());
  BOOST_TEST(st->exception_propagated.load());
  BOOST_TEST(st->post_inline.load() == 0);
  BOOST_TEST(st->defer_inline.load() == 0);
  BOOST_TEST(st->never_inline.load() == 0);
  BOOST_TEST(st->queued_on_worker.load() == 3);
}

// With unhandled_exception_policy::log; the default (rethrown by block_on) is tested in
// test/reliability/unhandled_exception_test.cpp.
BOOST_AUTO_TEST_CASE(exception_from_a_posted_handler_is_reported_and_workers_go_on,
                     *utf::timeout(30)) {
  auto rt = zokio::runtime::builder()
                .worker_threads(2)
                .thread_name(worker_name)
                .unhandled_exception(zokio::unhandled_exception_policy::log)
                .build();
  zokio::executor ex = rt.get_executor();
  zokio::test::stderr_capture cap;
  asio::post(ex, [] { throw std::runtime_error("boom from a posted handler"); });
  bool reported = zokio::test::wait_until(
      [&] { return cap.peek().find("boom from a posted handler") != std::string::npos; });
  std::string log = cap.peek();
  cap.restore();
  BOOST_TEST(reported, "stderr was: " << log);
  BOOST_TEST(log.find("zokio: unhandled exception from a function posted to zokio::executor") !=
             std::string::npos);
  std::atomic<int> ran{0};
  for (int i = 0; i < 16; ++i) asio::post(ex.with_home(i), [&ran] { ran.fetch_add(1); });
  BOOST_TEST(zokio::test::wait_until([&] { return ran.load() == 16; }));
}

// --- strand ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(strand_never_overlaps_and_keeps_fifo_order, *utf::timeout(60)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  asio::strand<zokio::executor> strand = asio::make_strand(ex);
  BOOST_TEST((strand.get_inner_executor() == ex));
  constexpr int posters = 4;  // three std::threads and one Zokio task
  const int per = 4000 / zokio::test::stress_divisor;
  std::atomic<int> inside{0}, max_inside{0}, done{0}, not_in_strand{0}, not_on_worker{0};
  std::vector<std::pair<int, int>> order;  // touched only inside the strand: TSan checks that
  order.reserve(posters * per);
  auto make = [&](int p, int i) {
    return [&, p, i] {
      int now = inside.fetch_add(1) + 1;
      int m = max_inside.load();
      while (now > m && !max_inside.compare_exchange_weak(m, now)) {
      }
      if (!strand.running_in_this_thread()) not_in_strand.fetch_add(1);
      if (!ex.running_in_this_thread()) not_on_worker.fetch_add(1);
      order.emplace_back(p, i);
      if (i % 64 == 0) std::this_thread::yield();  // widen the window for an overlap
      inside.fetch_sub(1);
      done.fetch_add(1);
    };
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < posters - 1; ++p)
    threads.emplace_back([&, p] {
      asio::any_io_executor any_strand = strand;  // some through any_io_executor
      for (int i = 0; i < per; ++i) {
        if (p == 0)
          asio::post(any_strand, make(p, i));
        else
          asio::post(strand, make(p, i));
      }
    });
  auto h = rt.spawn(zokio::co_invoke([&]() -> zokio::task<> {
    for (int i = 0; i < per; ++i) asio::post(strand, make(posters - 1, i));
    co_return;
  }));
  for (auto& t : threads) t.join();
  rt.block_on(std::move(h));
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return done.load() == posters * per; },
                                             std::chrono::milliseconds(40000)));
  BOOST_TEST(max_inside.load() == 1);
  BOOST_TEST(not_in_strand.load() == 0);
  BOOST_TEST(not_on_worker.load() == 0);
  BOOST_TEST(order.size() == static_cast<std::size_t>(posters * per));
  std::vector<int> next(posters, 0);
  int out_of_order = 0;
  for (auto [p, i] : order) {
    if (i != next[p]) ++out_of_order;
    next[p] = i + 1;
  }
  BOOST_TEST(out_of_order == 0);

  // Inside the strand, dispatch to the same strand runs inline; from outside it is queued.
  std::atomic<int> nested{0};
  asio::post(strand, [&] {
    bool ran = false;
    asio::dispatch(strand, [&ran] { ran = true; });
    nested = ran ? 1 : 2;
  });
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return nested.load() != 0; }));
  BOOST_TEST(nested.load() == 1);
}

// --- co_spawn / awaitable ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(co_spawn_detached_awaitable_with_timer, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  std::atomic<int> flag{0}, on_worker{0};
  auto start = steady_clock::now();
  asio::co_spawn(ex, sleep_then_flag(30ms, &flag, &on_worker), asio::detached);
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return flag.load() == 1; }));
  BOOST_TEST(ms_since(start) >= 29);
  BOOST_TEST(on_worker.load() == 2);  // before and after the timer wait

  // Through any_io_executor.
  std::atomic<int> flag2{0}, on_worker2{0};
  asio::any_io_executor any = ex;
  asio::co_spawn(any, sleep_then_flag(5ms, &flag2, &on_worker2), asio::detached);
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return flag2.load() == 1; }));
  BOOST_TEST(on_worker2.load() == 2);
}

BOOST_AUTO_TEST_CASE(co_spawn_with_completion_handler, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  struct outcome {
    std::atomic<bool> done{false};
    bool error = true;
    int value = -1;
    bool on_worker = false;
  };
  auto handler = [&ex](outcome& o) {
    return [&o, &ex](std::exception_ptr e, int v) {
      o.error = e != nullptr;
      o.value = v;
      o.on_worker = ex.running_in_this_thread();
      o.done = true;
    };
  };
  outcome sum, failed, nested, through_any;
  auto start = steady_clock::now();
  asio::co_spawn(ex, add_after(40, 2, 20ms), handler(sum));
  asio::co_spawn(ex, fail_after(1ms), handler(failed));
  asio::co_spawn(ex, sum_of_children(10), handler(nested));
  asio::co_spawn(asio::any_io_executor(ex), add_after(1, 2, 1ms), handler(through_any));
  for (outcome* o : {&sum, &failed, &nested, &through_any}) {
    BOOST_TEST_REQUIRE(zokio::test::wait_until([o] { return o->done.load(); }));
    BOOST_TEST(o->on_worker);
  }
  BOOST_TEST(ms_since(start) >= 19);
  BOOST_TEST(!sum.error);
  BOOST_TEST(sum.value == 42);
  BOOST_TEST(failed.error);
  BOOST_TEST(!nested.error);
  BOOST_TEST(nested.value == 55);
  BOOST_TEST(!through_any.error);
  BOOST_TEST(through_any.value == 3);

  // A strand<zokio::executor> as the awaitable's executor.
  auto f = asio::co_spawn(asio::make_strand(ex), sum_of_children(4), zokio::use_future);
  BOOST_TEST(rt.block_on(std::move(f)) == 10);
}

// --- spawn (stackful) --------------------------------------------------------------------------
// Not on Windows: the cross build has no Boost.Context library (doc/platforms.md).
#if !defined(_WIN32)

BOOST_AUTO_TEST_CASE(spawn_stackful_coroutine_with_timer_wait,
                     *utf::timeout(30) * utf::precondition(not_under_tsan)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  std::atomic<bool> done{false};
  bool error = true, handler_on_worker = false;
  long result = -100;
  asio::spawn(
      ex,
      [](asio::basic_yield_context<zokio::executor> yield) -> long {
        static_assert(std::is_same_v<decltype(yield.get_executor()), zokio::executor>);
        auto start = steady_clock::now();
        asio::steady_timer t(yield.get_executor(), 25ms);
        t.async_wait(yield);  // throws system_error on failure
        if (!yield.get_executor().running_in_this_thread()) return -1;
        long waited = ms_since(start);
        // yield[ec] reports errors instead of throwing: connect to a closed port.
        tcp::acceptor probe(yield.get_executor());
        probe.open(tcp::v4());
        probe.bind({asio::ip::address_v4::loopback(), 0});
        auto ep = probe.local_endpoint();
        // probe stays bound (not listening) through the connect: closed, its port could become
        // the connecting socket's own source port (a self-connect instead of a refusal).
        tcp::socket s(yield.get_executor());
        error_code ec;
        s.async_connect(ep, yield[ec]);
        if (ec != asio::error::connection_refused) return -2;
        return waited;
      },
      [&](std::exception_ptr e, long v) {
        error = e != nullptr;
        result = v;
        handler_on_worker = ex.running_in_this_thread();
        done = true;
      });
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return done.load(); }));
  BOOST_TEST(!error);
  BOOST_TEST(result >= 24);
  BOOST_TEST(handler_on_worker);

  // Through any_io_executor, with zokio::use_future as the completion token.
  asio::any_io_executor any = ex;
  auto f = asio::spawn(
      any,
      [](asio::yield_context yield) {
        asio::steady_timer t(yield.get_executor(), 5ms);
        t.async_wait(yield);
        return 42;
      },
      zokio::use_future);
  BOOST_TEST(rt.block_on(std::move(f)) == 42);
}

BOOST_AUTO_TEST_CASE(spawn_exception_reaches_the_completion_token,
                     *utf::timeout(30) * utf::precondition(not_under_tsan)) {
  auto rt = make_runtime(2, worker_name);
  auto f = asio::spawn(
      rt.get_executor(),
      [](asio::basic_yield_context<zokio::executor> yield) -> int {
        asio::steady_timer t(yield.get_executor(), 1ms);
        t.async_wait(yield);
        throw std::runtime_error("stackful coroutine failed");
      },
      zokio::use_future);
  BOOST_CHECK_THROW(rt.block_on(std::move(f)), std::runtime_error);
}

#endif  // !_WIN32

// --- steady_timer ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(steady_timers_fire_in_expiry_order, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  using z_timer = asio::basic_waitable_timer<steady_clock, asio::wait_traits<steady_clock>,
                                             zokio::executor>;
  std::mutex m;
  std::vector<int> fired;
  std::vector<long> at(4, -1);
  std::atomic<int> count{0};
  auto start = steady_clock::now();
  auto on_fire = [&](int id) {
    return [&, id](error_code ec) {
      std::lock_guard lk(m);
      fired.push_back(ec ? -id : id);
      at[id] = ms_since(start);
      count.fetch_add(1);
    };
  };
  // One timer typed on zokio::executor, one steady_timer, one built from any_io_executor; all
  // on the same home, so one reactor orders them.
  z_timer t1(ex, 90ms);
  asio::steady_timer t2(ex, 30ms);
  asio::steady_timer t3(asio::any_io_executor(ex), 60ms);
  t1.async_wait(on_fire(1));
  t2.async_wait(on_fire(2));
  t3.async_wait(on_fire(3));
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return count.load() == 3; }));
  std::lock_guard lk(m);
  BOOST_TEST(fired == std::vector<int>({2, 3, 1}), boost::test_tools::per_element());
  BOOST_TEST(at[2] >= 29);
  BOOST_TEST(at[3] >= 59);
  BOOST_TEST(at[1] >= 89);
}

BOOST_AUTO_TEST_CASE(cancelled_timer_completes_with_operation_aborted, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  asio::steady_timer t(ex, 10s);
  std::atomic<int> outcome{0};  // 1 aborted, 2 anything else
  t.async_wait([&](error_code ec) { outcome = ec == asio::error::operation_aborted ? 1 : 2; });
  std::this_thread::sleep_for(10ms);
  auto start = steady_clock::now();
  BOOST_TEST(t.cancel() == 1u);
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return outcome.load() != 0; }));
  BOOST_TEST(outcome.load() == 1);
  BOOST_TEST(ms_since(start) < 5000);

  // Cancelled from a sibling handler, observed by an awaitable (through any_io_executor).
  // The coroutine touches one timer from another's handler, which relies on single-threaded
  // io_context semantics: on a plain get_executor() the two timers live on different workers
  // and the cancel could race the awaited timer's completion and destruction (ASan caught a
  // heap-use-after-free). Such code runs on the serial executor (doc/migrating.md).
  start = steady_clock::now();
  auto f = asio::co_spawn(asio::any_io_executor(rt.get_serial_executor()),
                          wait_cancelled_by_sibling(), zokio::use_future);
  error_code ec = rt.block_on(std::move(f));
  BOOST_TEST((ec == asio::error::operation_aborted), ec.message());
  BOOST_TEST(ms_since(start) < 5000);
}

// --- TCP ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tcp_echo_with_awaitables, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  std::atomic<int> sessions_done{0};
  auto f = asio::co_spawn(ex, tcp_echo_round_trips(ex, &sessions_done), zokio::use_future);
  BOOST_TEST(rt.block_on(std::move(f)) == "hello|through|zokio::executor");
  BOOST_TEST(zokio::test::wait_until([&] { return sessions_done.load() == 1; }));
}

BOOST_AUTO_TEST_CASE(tcp_echo_with_callbacks_on_zokio_typed_sockets, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  using z_acceptor = asio::basic_socket_acceptor<tcp, zokio::executor>;
  using z_socket = asio::basic_stream_socket<tcp, zokio::executor>;
  struct state {
    state(zokio::executor a, zokio::executor b)
        : acc(a, {asio::ip::address_v4::loopback(), 0}), server(a), client(b) {}
    z_acceptor acc;
    z_socket server, client;
    std::array<char, 64> sbuf{};
    std::string msg = "echo over zokio::executor-typed sockets";
    std::string reply;
    std::atomic<int> server_done{0}, client_done{0};  // 1 ok, -1 error
    std::atomic<int> off_worker{0};
  };
  // Server and client on different workers' io_contexts.
  auto st = std::make_shared<state>(ex.with_home(0), ex.with_home(1));
  auto check_thread = [st, ex] {
    if (!ex.running_in_this_thread()) st->off_worker.fetch_add(1);
  };
  st->acc.async_accept(st->server, [st, check_thread](error_code ec) {
    check_thread();
    if (ec) return void(st->server_done = -1);
    st->server.async_read_some(asio::buffer(st->sbuf), [st, check_thread](error_code ec,
                                                                           std::size_t n) {
      check_thread();
      if (ec) return void(st->server_done = -1);
      asio::async_write(st->server, asio::buffer(st->sbuf.data(), n),
                        [st, check_thread](error_code ec, std::size_t) {
                          check_thread();
                          st->server_done = ec ? -1 : 1;
                        });
    });
  });
  st->client.async_connect(st->acc.local_endpoint(), [st, check_thread](error_code ec) {
    check_thread();
    if (ec) return void(st->client_done = -1);
    asio::async_write(st->client, asio::buffer(st->msg), [st, check_thread](error_code ec,
                                                                            std::size_t) {
      check_thread();
      if (ec) return void(st->client_done = -1);
      st->reply.resize(st->msg.size());
      asio::async_read(st->client, asio::buffer(st->reply),
                       [st, check_thread](error_code ec, std::size_t) {
                         check_thread();
                         st->client_done = ec ? -1 : 1;
                       });
    });
  });
  BOOST_TEST_REQUIRE(zokio::test::wait_until(
      [&] { return st->server_done.load() != 0 && st->client_done.load() != 0; }));
  BOOST_TEST(st->server_done.load() == 1);
  BOOST_TEST(st->client_done.load() == 1);
  BOOST_TEST(st->reply == st->msg);
  BOOST_TEST(st->off_worker.load() == 0);
  BOOST_TEST(&asio::query(st->client.get_executor(), execution::context) ==
             &rt.worker_io_context(1));
}

// --- UDP ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(udp_send_to_receive_from_on_loopback, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  using z_udp = asio::basic_datagram_socket<udp, zokio::executor>;
  struct state {
    state(zokio::executor a, zokio::executor b)
        : a(a, {asio::ip::address_v4::loopback(), 0}), b(b, {asio::ip::address_v4::loopback(), 0}) {}
    z_udp a, b;
    std::array<char, 64> buf{};
    udp::endpoint from;
    std::atomic<long> received{-1}, sent{-1};
  };
  auto st = std::make_shared<state>(ex.with_home(0), ex.with_home(1));
  std::string msg = "datagram via zokio::executor";
  st->b.async_receive_from(asio::buffer(st->buf), st->from, [st](error_code ec, std::size_t n) {
    st->received = ec ? -2 : static_cast<long>(n);
  });
  st->a.async_send_to(asio::buffer(msg), st->b.local_endpoint(),
                      [st](error_code ec, std::size_t n) { st->sent = ec ? -2 : static_cast<long>(n); });
  BOOST_TEST_REQUIRE(zokio::test::wait_until(
      [&] { return st->received.load() != -1 && st->sent.load() != -1; }));
  BOOST_TEST(st->sent.load() == static_cast<long>(msg.size()));
  BOOST_TEST_REQUIRE(st->received.load() == static_cast<long>(msg.size()));
  BOOST_TEST(std::string(st->buf.data(), msg.size()) == msg);
  BOOST_TEST((st->from == st->a.local_endpoint()));

  // Ping-pong in an awaitable, sockets through any_io_executor.
  auto f = asio::co_spawn(ex, udp_ping_pong(ex), zokio::use_future);
  BOOST_TEST(rt.block_on(std::move(f)) == "ping/pong");
}

// --- files (io_uring) --------------------------------------------------------------------------

// Without io_uring (ZOKIO_FORCE_NO_IO_URING=1, a kernel that refuses it) these are reported
// as skipped, with the reason (io_uring_precondition.hpp).

BOOST_AUTO_TEST_CASE(stream_file_write_then_read_back,
                     *utf::timeout(30) * utf::precondition(zokio::test::io_uring_available)) {
  auto rt = make_runtime(2, worker_name);
  BOOST_TEST_REQUIRE(rt.io_uring_active(), "io_uring went away since the precondition");
  zokio::executor ex = rt.get_executor();
  temp_file tmp("stream");
  std::string data = pattern(200 * 1024);
  auto f = asio::co_spawn(ex, stream_file_round_trip(ex, tmp.path, data), zokio::use_future);
  std::string back = rt.block_on(std::move(f));
  BOOST_TEST(back.size() == data.size(), back.substr(0, 80));
  BOOST_TEST((back == data));
}

BOOST_AUTO_TEST_CASE(random_access_file_write_at_then_read_at,
                     *utf::timeout(30) * utf::precondition(zokio::test::io_uring_available)) {
  auto rt = make_runtime(2, worker_name);
  BOOST_TEST_REQUIRE(rt.io_uring_active(), "io_uring went away since the precondition");
  zokio::executor ex = rt.get_executor();
  temp_file tmp("random");
  // A random_access_file typed on zokio::executor, driven from a zokio::task.
  auto h = rt.spawn(zokio::co_invoke([ex, path = tmp.path]() -> zokio::task<std::string> {
    asio::basic_random_access_file<zokio::executor> f(
        ex, path,
        asio::random_access_file::read_write | asio::random_access_file::create |
            asio::random_access_file::truncate);
    std::string tail = "world", head = "hello ";
    auto w1 = co_await asio::async_write_at(f, 6, asio::buffer(tail), zokio::use_future);
    if (!w1 || *w1 != tail.size()) co_return "write_at 6 failed";
    auto w2 = co_await asio::async_write_at(f, 0, asio::buffer(head), zokio::use_future);
    if (!w2 || *w2 != head.size()) co_return "write_at 0 failed";
    if (f.size() != 11) co_return "size " + std::to_string(f.size());
    std::string whole(11, '\0'), middle(5, '\0');
    auto r1 = co_await asio::async_read_at(f, 0, asio::buffer(whole), zokio::use_future);
    if (!r1) co_return "read_at 0 failed: " + r1.error().message();
    auto r2 = co_await asio::async_read_at(f, 3, asio::buffer(middle), zokio::use_future);
    if (!r2) co_return "read_at 3 failed: " + r2.error().message();
    char c;
    auto r3 = co_await f.async_read_some_at(11, asio::buffer(&c, 1), zokio::use_future);
    if (r3 || r3.error() != asio::error::eof) co_return "no eof past the end";
    co_return whole + "|" + middle;
  }));
  BOOST_TEST(rt.block_on(std::move(h)) == "hello world|lo wo");

  // The same file again, through any_io_executor and an asio::awaitable.
  auto f = asio::co_spawn(
      ex,
      [](asio::any_io_executor exec, std::string path) -> asio::awaitable<std::string> {
        asio::random_access_file file(exec, path, asio::random_access_file::read_only);
        std::string s(5, '\0');
        co_await asio::async_read_at(file, 6, asio::buffer(s), asio::use_awaitable);
        co_return s;
      }(ex, tmp.path),
      zokio::use_future);
  BOOST_TEST(rt.block_on(std::move(f)) == "world");
}

// --- signal_set --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(signal_set_sees_a_raised_signal, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  {
    asio::basic_signal_set<zokio::executor> sigs(ex, zokio::test::test_signal_1);
    std::atomic<int> got{0};
    std::atomic<bool> on_worker{false};
    sigs.async_wait([&](error_code ec, int signo) {
      on_worker = ex.running_in_this_thread();
      got = ec ? -1 : signo;
    });
    BOOST_TEST(::raise(zokio::test::test_signal_1) == 0);
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return got.load() != 0; }));
    BOOST_TEST(got.load() == zokio::test::test_signal_1);
    BOOST_TEST(on_worker.load());

    // cancel -> operation_aborted
    std::atomic<int> cancelled{0};
    sigs.async_wait([&](error_code ec, int) {
      cancelled = ec == asio::error::operation_aborted ? 1 : 2;
    });
    sigs.cancel();
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return cancelled.load() != 0; }));
    BOOST_TEST(cancelled.load() == 1);
  }
  {
    // Through any_io_executor, awaited by an awaitable; raised before the wait starts (the
    // signal_set keeps it).
    asio::signal_set sigs(asio::any_io_executor(ex), zokio::test::test_signal_2);
    BOOST_TEST(::raise(zokio::test::test_signal_2) == 0);
    auto f = asio::co_spawn(ex, wait_signal(&sigs), zokio::use_future);
    BOOST_TEST(rt.block_on(std::move(f)) == zokio::test::test_signal_2);
  }
}

// --- experimental channels ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(channel_between_two_awaitables_on_a_strand, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  const int n = 500;
  for (std::size_t capacity : {std::size_t(0), std::size_t(4)}) {
    // A channel is not thread-safe: both coroutines share one strand<zokio::executor>.
    auto strand = asio::make_strand(ex);
    int_channel ch(strand, capacity);
    std::atomic<int> produced{0};
    asio::co_spawn(strand, produce(&ch, 0, n),
                   [&](std::exception_ptr e) { produced = e ? -1 : 1; });
    auto f = asio::co_spawn(strand, consume(&ch, n), zokio::use_future);
    auto [got, end] = rt.block_on(std::move(f));
    BOOST_TEST(is_iota(got, 0, n), "capacity " << capacity << ": got " << got.size());
    BOOST_TEST(!end);
    BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return produced.load() != 0; }));
    // (Asio 1.81's close() drops buffered values, so close only once all were received.)
    auto closed = asio::co_spawn(strand, close_then_receive(&ch), zokio::use_future);
    error_code ec = rt.block_on(std::move(closed));
    BOOST_TEST((ec == asio::experimental::error::channel_closed), ec.message());
    BOOST_TEST(produced.load() == 1);
  }
}

BOOST_AUTO_TEST_CASE(concurrent_channel_between_awaitables_on_different_workers,
                     *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  const int n = 1000 / zokio::test::stress_divisor * 2;
  int_concurrent_channel ch(ex, 8);
  std::atomic<int> producers_done{0}, producer_errors{0};
  auto on_done = [&](std::exception_ptr e) {
    if (e) producer_errors.fetch_add(1);
    producers_done.fetch_add(1);
  };
  asio::co_spawn(ex.with_home(0), produce(&ch, 0, n), on_done);
  asio::co_spawn(ex.with_home(1), produce(&ch, n, n), on_done);
  auto f = asio::co_spawn(asio::any_io_executor(ex), consume(&ch, 2 * n), zokio::use_future);
  auto [got, end] = rt.block_on(std::move(f));
  BOOST_TEST(!end);
  BOOST_TEST_REQUIRE(got.size() == static_cast<std::size_t>(2 * n));
  // Each producer's values arrive in the order it sent them.
  std::vector<int> a, b;
  for (int v : got) (v < n ? a : b).push_back(v);
  BOOST_TEST(is_iota(a, 0, n));
  BOOST_TEST(is_iota(b, n, n));
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return producers_done.load() == 2; }));
  BOOST_TEST(producer_errors.load() == 0);
}

// --- where handlers run ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(handlers_posted_from_outside_run_on_runtime_workers, *utf::timeout(30)) {
  auto rt = make_runtime(2, worker_name);
  zokio::executor ex = rt.get_executor();
  // Learn both worker threads: two tasks that wait for each other must run on different
  // workers (the spin blocks a worker).
  std::atomic<int> arrived{0};
  auto meet = [&arrived]() -> zokio::task<std::pair<std::thread::id, int>> {
    arrived.fetch_add(1);
    zokio::test::wait_until([&] { return arrived.load() >= 2; });
    co_return std::make_pair(std::this_thread::get_id(), current_worker_index());
  };
  auto h1 = rt.spawn(zokio::co_invoke(meet));
  auto h2 = rt.spawn(zokio::co_invoke(meet));
  auto w1 = rt.block_on(std::move(h1));
  auto w2 = rt.block_on(std::move(h2));
  BOOST_TEST_REQUIRE(arrived.load() == 2);
  BOOST_TEST_REQUIRE((w1.first != w2.first));
  BOOST_TEST(w1.second >= 0);
  BOOST_TEST(w2.second >= 0);
  BOOST_TEST(w1.second != w2.second);
  std::set<std::thread::id> workers{w1.first, w2.first};
  BOOST_TEST(workers.count(std::this_thread::get_id()) == 0u);

  std::mutex m;
  std::vector<std::thread::id> seen;
  std::atomic<int> not_running_in_this_thread{0}, ran{0};
  auto record = [&] {
    if (!ex.running_in_this_thread()) not_running_in_this_thread.fetch_add(1);
    std::lock_guard lk(m);
    seen.push_back(std::this_thread::get_id());
    ran.fetch_add(1);
  };
  const int per = 200;
  std::thread::id helper_id;
  std::thread helper([&] {
    helper_id = std::this_thread::get_id();
    asio::any_io_executor any = rt.get_executor();
    for (int i = 0; i < per; ++i) asio::post(any, record);
  });
  for (int i = 0; i < per; ++i) asio::post(ex.with_home(i), record);
  helper.join();
  // An I/O completion and an awaitable body run on workers too.
  asio::steady_timer t(ex, 1ms);
  t.async_wait([&](error_code) { record(); });
  asio::co_spawn(
      ex, [](std::function<void()> rec) -> asio::awaitable<void> { rec(); co_return; }(record),
      asio::detached);
  BOOST_TEST_REQUIRE(zokio::test::wait_until([&] { return ran.load() == 2 * per + 2; }));
  std::lock_guard lk(m);
  int outside = 0;
  for (auto id : seen)
    if (!workers.count(id)) ++outside;
  BOOST_TEST(outside == 0);
  BOOST_TEST(not_running_in_this_thread.load() == 0);
  BOOST_TEST(std::count(seen.begin(), seen.end(), helper_id) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
