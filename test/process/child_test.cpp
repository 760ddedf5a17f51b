// zokio::process: output and status, piped stdin and stdout through zokio::io, environment
// and directory, a program not found, kill and try_wait, and no zombie left by a drop, a
// cancelled task or a runtime shut down while a child runs.
#include <zokio/process.hpp>  // self-contained header check

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include <zokio/io.hpp>
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;
namespace zp = zokio::process;

namespace process_test {

// True when `pid` is neither running nor a zombie of ours: reaped and gone.
bool reaped_and_gone(int pid) {
  errno = 0;
  const bool not_ours = ::waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD;
  errno = 0;
  const bool gone = ::kill(pid, 0) == -1 && errno == ESRCH;
  return not_ours && gone;
}

}  // namespace process_test

using namespace process_test;

BOOST_AUTO_TEST_SUITE(process_suite)

BOOST_AUTO_TEST_CASE(output_collects_stdout_stderr_and_the_exit_code, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto [a, b] = rt.block_on(zokio::co_invoke([]() -> zokio::task<std::pair<zp::output, zp::output>> {
    auto a = co_await zp::command("echo").arg("hello").collect_output();
    auto b = co_await zp::command("sh").arg("-c").arg("echo oops >&2; printf out; exit 3").collect_output();
    co_return std::pair{a.value(), b.value()};
  }));
  BOOST_TEST(a.out == "hello\n");
  BOOST_TEST(a.err.empty());
  BOOST_TEST(a.status.success());
  BOOST_TEST(b.out == "out");
  BOOST_TEST(b.err == "oops\n");
  BOOST_TEST(!b.status.success());
  BOOST_TEST((b.status.code() == std::optional<int>(3)));
  BOOST_TEST(!b.status.signal().has_value());
}

BOOST_AUTO_TEST_CASE(piped_stdin_and_stdout_carry_a_mebibyte_through_cat, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = char('a' + (i * 7 + i / 1000) % 26);
  auto [got, ok] = rt.block_on(zokio::co_invoke([&sent]() -> zokio::task<std::pair<std::string, bool>> {
    auto ch = zp::command("cat").std_in(zp::stdio::piped).std_out(zp::stdio::piped).spawn();
    std::string got;
    // Write and read at once: the pipes hold 64 KiB, so a writer alone would block.
    auto writer = [](zp::child& c, const std::string& s) -> zokio::task<bool> {
      auto w = co_await zokio::io::write_all(*c.in, boost::asio::buffer(s));
      c.in.reset();  // end of input: cat exits
      co_return w.has_value();
    };
    auto [w, r] = co_await zokio::join(writer(ch, sent), zokio::io::read_to_end(*ch.out, got));
    auto st = co_await ch.wait();
    co_return std::pair{got, w && r.has_value() && st && st->success()};
  }));
  BOOST_TEST(ok);
  BOOST_TEST(got.size() == sent.size());
  BOOST_TEST((got == sent));
}

BOOST_AUTO_TEST_CASE(environment_and_directory_are_the_childs, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(1);
  auto o = rt.block_on(zokio::co_invoke([]() -> zokio::task<zp::output> {
    auto r = co_await zp::command("sh")
                 .arg("-c")
                 .arg("echo \"$ZOKIO_TEST_VALUE\"; pwd; test -n \"$PATH\" && echo inherited")
                 .env("ZOKIO_TEST_VALUE", "42")
                 .current_dir("/tmp")
                 .collect_output();
    co_return r.value();
  }));
  BOOST_TEST(o.out == "42\n/tmp\ninherited\n");
}

BOOST_AUTO_TEST_CASE(a_program_that_is_not_there_fails_to_spawn, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(1);
  auto msg = rt.block_on(zokio::co_invoke([]() -> zokio::task<std::string> {
    try {
      auto ch = zp::command("zokio-no-such-program").spawn();
    } catch (const boost::system::system_error& e) {
      co_return e.what();
    }
    co_return "";
  }));
  BOOST_TEST(msg.find("zokio-no-such-program") != std::string::npos, msg);
  BOOST_CHECK_THROW(zp::command("echo").spawn(), boost::system::system_error);  // no runtime here
}

BOOST_AUTO_TEST_CASE(kill_and_try_wait_report_the_signal, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(1);
  auto r = rt.block_on(zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    auto ch = zp::command("sleep").arg("30").spawn();
    std::vector<int> out;
    out.push_back(ch.try_wait().value().has_value());  // running: nothing yet
    out.push_back(ch.kill().has_value());
    auto st = co_await ch.wait();
    out.push_back(st->signal().value_or(0));
    out.push_back(ch.kill().has_value());  // after the end: no error
    auto quick = zp::command("true").spawn();
    for (int i = 0; i < 2000 && !quick.try_wait().value(); ++i) co_await zokio::sleep(1ms);
    out.push_back(quick.try_wait().value().value_or(zp::exit_status{-1}).success());
    const int pid = quick.id();
    out.push_back(reaped_and_gone(pid));  // try_wait reaped it
    co_return out;
  }));
  BOOST_TEST(r[0] == 0);
  BOOST_TEST(r[1] == 1);
  BOOST_TEST(r[2] == SIGKILL);
  BOOST_TEST(r[3] == 1);
  BOOST_TEST(r[4] == 1);
  BOOST_TEST(r[5] == 1);
}

BOOST_AUTO_TEST_CASE(a_dropped_child_is_killed_and_reaped_no_zombie, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  const int pid = rt.block_on(zokio::co_invoke([]() -> zokio::task<int> {
    auto ch = zp::command("sleep").arg("30").spawn();
    co_return ch.id();
  }));  // the child goes at the end of the task
  BOOST_TEST(pid > 0);
  BOOST_TEST(reaped_and_gone(pid));
}

BOOST_AUTO_TEST_CASE(a_cancelled_wait_and_an_aborted_task_leave_no_zombie, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto pids = rt.block_on(zokio::co_invoke([]() -> zokio::task<std::vector<int>> {
    std::vector<int> pids;
    // A wait given up (timeout) leaves the child running; a later wait still sees its end.
    auto ch = zp::command("sh").arg("-c").arg("sleep 0.2; exit 7").spawn();
    auto early = co_await zokio::timeout(ch.wait(), 20ms);
    zokio::test::must(!early.has_value(), "the first wait timed out");
    auto st = co_await ch.wait();
    zokio::test::must(st && st->code() == 7, "the second wait saw exit 7");
    pids.push_back(ch.id());
    // A task that owns a child and waits on it, aborted: the child is killed and reaped.
    std::atomic<int> owned_pid{0};  // written by the owner task on a worker
    auto owner = zokio::spawn([](std::atomic<int>* out) -> zokio::task<int> {
      auto c = zp::command("sleep").arg("30").spawn();
      out->store(c.id());
      auto r = co_await c.wait();
      co_return r ? 1 : 0;
    }(&owned_pid));
    for (int i = 0; i < 2000 && owned_pid.load() == 0; ++i) co_await zokio::sleep(1ms);
    owner.abort();
    try {
      co_await std::move(owner);
    } catch (const zokio::join_error&) {
    }
    pids.push_back(owned_pid.load());
    co_return pids;
  }));
  BOOST_TEST_REQUIRE(pids.size() == 2u);
  BOOST_TEST(reaped_and_gone(pids[0]));
  BOOST_TEST(reaped_and_gone(pids[1]));
}

BOOST_AUTO_TEST_CASE(a_runtime_shut_down_while_children_run_leaves_no_zombie, *boost::unit_test::timeout(60)) {
  std::array<std::atomic<int>, 4> pids{};  // each written by its task on a worker
  {
    auto rt = zokio::test::make_runtime(2);
    rt.block_on(zokio::co_invoke([&pids]() -> zokio::task<void> {
      for (int i = 0; i < 4; ++i)
        zokio::spawn([](std::atomic<int>* out) -> zokio::task<void> {
          auto c = zp::command("sleep").arg("30").std_out(zp::stdio::piped).spawn();
          out->store(c.id());
          std::string s;
          co_await zokio::io::read_to_end(*c.out, s);  // never ends: sleep writes nothing
        }(&pids[i])).detach();
      auto started = [&pids] {
        for (auto& p : pids)
          if (p.load() == 0) return false;
        return true;
      };
      for (int i = 0; i < 2000 && !started(); ++i) co_await zokio::sleep(1ms);
    }));
  }
  for (auto& pid : pids) {
    BOOST_TEST(pid.load() > 0);
    BOOST_TEST(reaped_and_gone(pid.load()));
  }
}

BOOST_AUTO_TEST_SUITE_END()
