// zokio::test::stderr_capture: redirects fd 2 into a temporary file, for tests that check
// log lines.
#ifndef ZOKIO_TEST_SUPPORT_STDERR_CAPTURE_HPP
#define ZOKIO_TEST_SUPPORT_STDERR_CAPTURE_HPP

#include <fcntl.h>
#include <sys/stat.h>
#if defined(_WIN32)
#include <io.h>
#include <process.h>
#else
#include <unistd.h>
#endif

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace zokio::test {

namespace stderr_capture_os {  // the descriptor calls, by their names on each platform
#if defined(_WIN32)
inline int open_append(const char* p) {
  return ::_open(p, _O_WRONLY | _O_CREAT | _O_TRUNC | _O_APPEND | _O_BINARY, _S_IREAD | _S_IWRITE);
}
inline int open_read(const char* p) { return ::_open(p, _O_RDONLY | _O_BINARY); }
inline int dup(int fd) { return ::_dup(fd); }
inline int dup2(int from, int to) { return ::_dup2(from, to); }
inline int close(int fd) { return ::_close(fd); }
inline void seek(int fd, std::size_t at) { ::_lseeki64(fd, static_cast<long long>(at), SEEK_SET); }
inline int read(int fd, char* buf, unsigned n) { return ::_read(fd, buf, n); }
inline int pid() { return ::_getpid(); }
#else
inline int open_append(const char* p) {
  return ::open(p, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, S_IRUSR | S_IWUSR);
}
inline int open_read(const char* p) { return ::open(p, O_RDONLY | O_CLOEXEC); }
inline int dup(int fd) { return ::dup(fd); }
inline int dup2(int from, int to) { return ::dup2(from, to); }
inline int close(int fd) { return ::close(fd); }
inline void seek(int fd, std::size_t at) { ::lseek(fd, static_cast<off_t>(at), SEEK_SET); }
inline int read(int fd, char* buf, unsigned n) { return static_cast<int>(::read(fd, buf, n)); }
inline int pid() { return static_cast<int>(::getpid()); }
#endif
}  // namespace stderr_capture_os

/// Captures what is written to stderr (fd 2) while alive; peek() reads what has come so far.
/// A file rather than a pipe: nothing blocks however much is written between two peeks, and
/// Windows has no non-blocking anonymous pipe for a C runtime descriptor. fd 2 appends to it;
/// a second descriptor with its own offset reads it back.
class stderr_capture {
 public:
  stderr_capture() {
    namespace os = stderr_capture_os;
    static std::atomic<unsigned> n{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("zokio-stderr-" + std::to_string(os::pid()) + "-" + std::to_string(n++)))
                .string();
    write_fd_ = os::open_append(path_.c_str());
    read_fd_ = write_fd_ < 0 ? -1 : os::open_read(path_.c_str());
    if (read_fd_ < 0) throw std::runtime_error("stderr_capture: " + path_);
    std::fflush(stderr);
    saved_ = os::dup(2);
    os::dup2(write_fd_, 2);
  }
  ~stderr_capture() {
    restore();
    stderr_capture_os::close(read_fd_);
    std::remove(path_.c_str());
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;

  const std::string& peek() {
    namespace os = stderr_capture_os;
    // Windows' C runtime remembers end-of-file on a descriptor and answers 0 from then on; a
    // seek clears that, so each peek seeks to where the last one stopped.
    os::seek(read_fd_, text_.size());
    char buf[512];
    for (int k; (k = os::read(read_fd_, buf, sizeof buf)) > 0;) text_.append(buf, k);
    return text_;
  }
  /// Stops capturing and returns everything captured.
  const std::string& text() {
    restore();
    return peek();
  }
  void restore() {
    namespace os = stderr_capture_os;
    if (saved_ < 0) return;
    std::fflush(stderr);
    os::dup2(saved_, 2);
    os::close(saved_);
    os::close(write_fd_);
    saved_ = -1;
  }

 private:
  std::string path_;
  int write_fd_ = -1, read_fd_ = -1, saved_ = -1;
  std::string text_;
};

}  // namespace zokio::test

#endif
