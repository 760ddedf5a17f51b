// The leak report (ZOKIO_DEBUG_ALLOC): a program that leaks a task waker is told so, by name,
// when its last runtime is destroyed.
//
// The leak happens in a separate process, leak_report_child (leak_report_child.cpp, built with
// ZOKIO_DEBUG_ALLOC=1 in every translation unit, the library included, whatever this
// executable's NDEBUG says). This test runs it and reads its stderr. The child is found through
// the ZOKIO_LEAK_REPORT_CHILD environment variable (set by ctest, see test/CMakeLists.txt), or
// next to this executable; when neither exists (the b2 build, which does not build the child)
// the tests are skipped.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

extern char** environ;

namespace {

std::string child_path() {
  if (const char* p = std::getenv("ZOKIO_LEAK_REPORT_CHILD"); p && *p) return p;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  std::string s(self, static_cast<std::size_t>(n));
  return s.substr(0, s.rfind('/') + 1) + "leak_report_child";
}

struct child_available {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    std::string p = child_path();
    struct stat st;
    if (std::getenv("ZOKIO_LEAK_REPORT_CHILD") || (!p.empty() && ::stat(p.c_str(), &st) == 0))
      return true;
    boost::test_tools::assertion_result r(false);
    r.message() << "leak_report_child not built (" << p << "); the CMake build has it";
    return r;
  }
};

struct child_result {
  int status = -1;  // exit status, or -1 when it did not exit normally
  std::string out, err;
};

/// Runs the child with `arg`, LeakSanitizer off (the child leaks on purpose), and collects
/// its stdout and stderr.
child_result run_child(const char* arg) {
  child_result r;
  const std::string path = child_path();
  int out[2], err[2];
  BOOST_TEST_REQUIRE(::pipe(out) == 0);
  BOOST_TEST_REQUIRE(::pipe(err) == 0);

  // The child really leaks (the waker object and the task block it keeps alive): under ASan,
  // LeakSanitizer would report that and make it exit non-zero, so it is turned off here (the
  // ctest environment has detect_leaks=1).
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "ASAN_OPTIONS=", 13) != 0) env_store.emplace_back(*e);
  env_store.emplace_back("ASAN_OPTIONS=detect_leaks=0");
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  ::posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  for (int fd : {out[0], out[1], err[0], err[1]}) ::posix_spawn_file_actions_addclose(&fa, fd);
  std::string a0 = path, a1 = arg;
  char* argv[] = {a0.data(), a1.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, path.c_str(), &fa, nullptr, argv, envp.data());
  ::posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  BOOST_TEST_REQUIRE(rc == 0, "posix_spawn " << path << ": " << std::strerror(rc));

  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, 60000) <= 0) break;  // 60 s: a hung child fails the test below
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int st = 0;
  if (open_fds > 0) ::kill(pid, SIGKILL);
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  BOOST_TEST_MESSAGE("leak_report_child " << arg << ": status " << r.status << "\nstdout:\n"
                                          << r.out << "stderr:\n"
                                          << r.err);
  return r;
}

/// The lines of the leak report ("  waker: ...", "  frame: ..."), after its header line.
std::vector<std::string> report_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = text.find("zokio: leak report");
  if (pos == std::string::npos) return lines;
  pos = text.find('\n', pos);
  while (pos != std::string::npos && pos + 1 < text.size() && text.compare(pos + 1, 2, "  ") == 0) {
    std::size_t end = text.find('\n', pos + 1);
    lines.push_back(text.substr(pos + 3, end == std::string::npos ? std::string::npos
                                                                   : end - pos - 3));
    pos = end;
  }
  return lines;
}

bool has_line_starting(const std::string& text, const std::string& prefix) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    std::size_t b = line.find_first_not_of(' ');
    if (b != std::string::npos && line.compare(b, prefix.size(), prefix) == 0) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(leak_report)

BOOST_AUTO_TEST_CASE(leaked_waker_of_a_coroutine_is_reported,
                     *boost::unit_test::precondition(child_available())) {
  child_result r = run_child("coro");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.err.find("zokio: leak report") != std::string::npos);
  BOOST_TEST(has_line_starting(r.err, "waker: 1 "));
  // The leaked reference keeps the task alive: its block, a coroutine frame with the task
  // cell in its prefix (category frame).
  BOOST_TEST(has_line_starting(r.err, "frame: 1 block"));
  BOOST_TEST(r.out.find("live wakers 1") != std::string::npos);
  // And nothing else: every other runtime block was freed with the runtime.
  BOOST_TEST(report_lines(r.err).size() == 2u);
}

BOOST_AUTO_TEST_CASE(leaked_waker_of_a_hand_written_future_is_reported,
                     *boost::unit_test::precondition(child_available())) {
  child_result r = run_child("hand");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.err.find("zokio: leak report") != std::string::npos);
  BOOST_TEST(has_line_starting(r.err, "waker: 1 "));
  BOOST_TEST(has_line_starting(r.err, "task: 1 block"));
  BOOST_TEST(report_lines(r.err).size() == 2u);
}

BOOST_AUTO_TEST_CASE(no_leak_no_report, *boost::unit_test::precondition(child_available())) {
  child_result r = run_child("none");
  BOOST_TEST(r.status == 0);
  // Nothing is live once the runtime is gone: no report at all.
  BOOST_TEST(r.err.find("leak report") == std::string::npos);
  BOOST_TEST(report_lines(r.err).empty());
  BOOST_TEST(r.err.find("waker:") == std::string::npos);
  BOOST_TEST(r.out.find("live wakers 0") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
