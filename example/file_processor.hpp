// The file processor's work, shared by example/file_processor.cpp and its thread-pool
// baseline in perf/file_processor_bench.cpp: walk directory trees, and per file a SHA-256
// (OpenSSL) plus line, word and byte counts, either on a Zokio runtime (asio::stream_file
// reads, io_uring on Linux, a fixed number of files in flight) or on a plain thread pool
// (blocking read(2)).
#ifndef ZOKIO_EXAMPLE_FILE_PROCESSOR_HPP
#define ZOKIO_EXAMPLE_FILE_PROCESSOR_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/stream_file.hpp>
#include <boost/asio/thread_pool.hpp>
#include <openssl/evp.h>

#include <zokio/zokio.hpp>

namespace file_processor {

namespace asio = boost::asio;
namespace fs = std::filesystem;

/// What one file gave: counts and digest, or the reason it was skipped.
struct file_stats {
  std::string path;
  std::uint64_t bytes = 0, lines = 0, words = 0;
  std::array<unsigned char, 32> sha256{};
  std::string error;  // empty: processed
};

inline std::string hex(const std::array<unsigned char, 32>& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(64, '0');
  for (std::size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = digits[d[i] >> 4];
    s[2 * i + 1] = digits[d[i] & 15];
  }
  return s;
}

/// Counts lines ('\n') and words (runs of non-blanks, as wc in the C locale) and hashes, over
/// a file given in chunks of any size.
class digest {
 public:
  digest() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("file_processor: OpenSSL has no SHA-256");
  }
  void update(const char* p, std::size_t n, file_stats& s) {
    EVP_DigestUpdate(ctx_.get(), p, n);
    count(p, n, s);
  }
  void finish(file_stats& s) {
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), s.sha256.data(), &len);
  }

 private:
  // Not inlined, so that the coroutine and the blocking baseline run the same code; counted
  // in locals: `s` may live in a coroutine frame, and the char reads may alias it, so counting
  // into it directly kept every counter in memory.
  [[gnu::noinline]] void count(const char* p, std::size_t n, file_stats& s) noexcept {
    std::uint64_t lines = 0, words = 0;
    unsigned prev_blank = in_word_ ? 0u : 1u;
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned c = static_cast<unsigned char>(p[i]);
      const unsigned blank = (c == ' ') | (c - '\t' < 5u);  // ' ', \t \n \v \f \r
      lines += c == '\n';
      words += prev_blank & (blank ^ 1u);  // a word starts after a blank
      prev_blank = blank;
    }
    in_word_ = prev_blank == 0;
    s.bytes += n;
    s.lines += lines;
    s.words += words;
  }

  struct free_ctx {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, free_ctx> ctx_;
  bool in_word_ = false;
};

inline constexpr std::size_t chunk_bytes = 256 * 1024;

/// The files under `roots` (files given directly are taken as they are), sorted; what could
/// not be read goes to `errors` as "path: reason". Regular files and symbolic links to them
/// are taken; a dangling link is taken too, so that its open reports it like a file removed
/// after the walk. FIFOs, sockets and devices are left out (a FIFO's open would block).
inline std::vector<std::string> walk(const std::vector<std::string>& roots, std::vector<std::string>& errors) {
  std::vector<std::string> files;
  auto take = [&](const fs::directory_entry& e) {
    std::error_code ec;
    const auto st = e.symlink_status(ec);
    if (ec) {
      errors.push_back(e.path().string() + ": " + ec.message());
      return;
    }
    if (fs::is_symlink(st)) {
      const auto target = fs::status(e.path(), ec);
      if (ec || fs::is_regular_file(target)) files.push_back(e.path().string());
      return;
    }
    if (fs::is_regular_file(st)) files.push_back(e.path().string());
  };
  for (const auto& root : roots) {
    std::error_code ec;
    const fs::directory_entry top(root, ec);
    if (!ec && !top.is_directory(ec)) {
      if (!top.exists(ec) && !top.is_symlink(ec)) {
        errors.push_back(root + ": " + std::make_error_code(std::errc::no_such_file_or_directory).message());
        continue;
      }
      take(top);
      continue;
    }
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) {
      errors.push_back(root + ": " + ec.message());
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {  // the iterator is at its end after an error
        errors.push_back(root + ": " + ec.message());
        break;
      }
      take(*it);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// --- On Zokio ----------------------------------------------------------------------------------

/// Shared by the runtime's tasks: the work list, the results (one slot per file, written by
/// the task that took it) and the progress counters.
struct run_state {
  std::vector<std::string> files;
  std::vector<file_stats> results;
  std::atomic<std::size_t> next{0}, done{0}, skipped{0};
  std::atomic<std::uint64_t> bytes{0};
  bool report_skips = true;     // a message on stderr for each file skipped, as it happens
  bool clear_line = false;      // a progress bar is on the terminal's last line
};

/// One file read through asio::stream_file on a worker's io_context (io_uring when the
/// runtime has it), up to its size at open (what is appended meanwhile is not read; a file cut
/// short ends at its end). Open and read errors end up in `error`, never thrown.
inline zokio::task<file_stats> hash_file(zokio::executor ex, std::string path) {
  file_stats s;
  s.path = path;
  try {
    // On this task's worker: its completions come back here (round-robin placement, the
    // default of an unplaced executor, cost 10-15 % in perf/perf_file_processor).
    asio::stream_file f(ex.on_calling_worker(), path, asio::stream_file::read_only);
    const std::uint64_t size = f.size();  // the snapshot: reading stops there (no EOF read)
    digest d;
    std::unique_ptr<char[]> buf(new char[chunk_bytes]);  // on the heap: a small frame
    while (s.bytes < size) {
      auto n = co_await f.async_read_some(asio::buffer(buf.get(), chunk_bytes), zokio::use_future);
      if (!n) {
        if (n.error() != asio::error::eof) s.error = n.error().message();
        break;
      }
      d.update(buf.get(), *n, s);
    }
    if (s.error.empty()) d.finish(s);
  } catch (const boost::system::system_error& e) {
    s.error = e.code().message();  // the open failed: removed, unreadable, a dangling link
  }
  co_return s;
}

/// One of the `jobs` tasks: takes the next file until none is left.
inline zokio::task<void> file_worker(zokio::executor ex, std::shared_ptr<run_state> st) {
  for (std::size_t i; (i = st->next.fetch_add(1)) < st->files.size();) {
    file_stats s = co_await hash_file(ex, st->files[i]);
    if (!s.error.empty()) {
      st->skipped.fetch_add(1);
      if (st->report_skips)
        std::fprintf(stderr, "%sfile_processor: skipped %s: %s\n", st->clear_line ? "\r\33[K" : "",
                     s.path.c_str(), s.error.c_str());
    }
    st->bytes.fetch_add(s.bytes);
    st->results[i] = std::move(s);
    st->done.fetch_add(1);
  }
}

/// Processes st->files with at most `jobs` files open at once (bounded parallelism without a
/// semaphore: `jobs` tasks share one work index).
inline zokio::task<void> process_all(zokio::executor ex, std::shared_ptr<run_state> st, std::size_t jobs) {
  st->results.resize(st->files.size());
  std::vector<zokio::join_handle<void>> hs;
  const std::size_t n = std::min(std::max<std::size_t>(jobs, 1), st->files.size());
  for (std::size_t j = 0; j < n; ++j) hs.push_back(zokio::spawn(file_worker(ex, st)));
  for (auto& h : hs) co_await std::move(h);
}

// --- The baseline: a plain thread pool and blocking reads ---------------------------------------

inline file_stats hash_file_blocking(const std::string& path) {
  file_stats s;
  s.path = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    s.error = std::system_category().message(errno);
    return s;
  }
  struct stat st{};
  const std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : ~std::uint64_t{0};
  digest d;
  std::unique_ptr<char[]> buf(new char[chunk_bytes]);
  while (s.bytes < size) {  // as hash_file: the size at open is the snapshot
    const ssize_t n = ::read(fd, buf.get(), chunk_bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s.error = std::system_category().message(errno);
      break;
    }
    if (n == 0) break;
    d.update(buf.get(), static_cast<std::size_t>(n), s);
  }
  ::close(fd);
  if (s.error.empty()) d.finish(s);
  return s;
}

/// The same work on asio::thread_pool(threads): each thread takes the next file.
inline std::vector<file_stats> process_with_thread_pool(const std::vector<std::string>& files,
                                                        std::size_t threads) {
  std::vector<file_stats> out(files.size());
  std::atomic<std::size_t> next{0};
  asio::thread_pool pool(threads);
  for (std::size_t t = 0; t < threads; ++t)
    asio::post(pool, [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < files.size();) out[i] = hash_file_blocking(files[i]);
    });
  pool.join();
  return out;
}

}  // namespace file_processor

#endif
