// zokio::test::stderr_capture: redirects fd 2 into a pipe (Windows: a temporary file), for
// tests that check log lines.
#ifndef ZOKIO_TEST_SUPPORT_STDERR_CAPTURE_HPP
#define ZOKIO_TEST_SUPPORT_STDERR_CAPTURE_HPP

#include <fcntl.h>
#if defined(_WIN32)
#include <io.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#else
#include <unistd.h>
#endif

#include <cstdio>
#include <stdexcept>
#include <string>

namespace zokio::test {

#if defined(_WIN32)
/// Captures what is written to stderr (fd 2) while alive; peek() reads what has come so far.
/// Windows has no non-blocking anonymous pipe for a CRT descriptor: fd 2 goes to a temporary
/// file opened for appending, read back through a second descriptor with its own offset.
class stderr_capture {
 public:
  stderr_capture() {
    static std::atomic<unsigned> n{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("zokio-stderr-" + std::to_string(::_getpid()) + "-" + std::to_string(n++)))
                .string();
    write_fd_ = ::_open(path_.c_str(), _O_WRONLY | _O_CREAT | _O_TRUNC | _O_APPEND | _O_BINARY,
                        _S_IREAD | _S_IWRITE);
    read_fd_ = write_fd_ < 0 ? -1 : ::_open(path_.c_str(), _O_RDONLY | _O_BINARY);
    if (read_fd_ < 0) throw std::runtime_error("stderr_capture: " + path_);
    std::fflush(stderr);
    saved_ = ::_dup(2);
    ::_dup2(write_fd_, 2);
  }
  ~stderr_capture() {
    restore();
    ::_close(read_fd_);
    std::remove(path_.c_str());
  }
  const std::string& peek() {
    // The C runtime remembers end-of-file on a descriptor and answers 0 from then on; a seek
    // clears that, so each peek seeks to where the last one stopped.
    ::_lseeki64(read_fd_, static_cast<long long>(text_.size()), SEEK_SET);
    char buf[512];
    for (int n; (n = ::_read(read_fd_, buf, sizeof buf)) > 0;) text_.append(buf, n);
    return text_;
  }
  const std::string& text() {
    restore();
    return peek();
  }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::_dup2(saved_, 2);
    ::_close(saved_);
    ::_close(write_fd_);
    saved_ = -1;
  }

 private:
  std::string path_;
  int write_fd_ = -1, read_fd_ = -1, saved_ = -1;
  std::string text_;
};
#else
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
#endif

}  // namespace zokio::test

#endif
