// zokio::test::stderr_capture: redirects fd 2 into a pipe, for tests that check log lines.
#ifndef ZOKIO_TEST_SUPPORT_STDERR_CAPTURE_HPP
#define ZOKIO_TEST_SUPPORT_STDERR_CAPTURE_HPP

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace zokio::test {

/// Captures what is written to stderr (fd 2) while alive; peek() reads what has come so far.
class stderr_capture {
 public:
  stderr_capture() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe");
    ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    ::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(fds_[1], 2);
  }
  ~stderr_capture() {
    restore();
    ::close(fds_[0]);
  }
  const std::string& peek() {
    char buf[512];
    for (ssize_t n; (n = ::read(fds_[0], buf, sizeof buf)) > 0;) text_.append(buf, n);
    return text_;
  }
  /// Stops capturing and returns everything captured.
  const std::string& text() {
    restore();
    return peek();
  }
  void restore() {
    if (saved_ < 0) return;
    ::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    ::close(fds_[1]);
    saved_ = -1;
  }

 private:
  int fds_[2] = {-1, -1};
  int saved_ = -1;
  std::string text_;
};

}  // namespace zokio::test

#endif
