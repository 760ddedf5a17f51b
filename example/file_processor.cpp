// file_processor: SHA-256, lines, words and bytes of every file under the given directories,
// processed concurrently on a Zokio runtime (the seed's fourth example).
//
//   file_processor [--jobs N] [--workers N] [--report FILE] [--no-progress] PATH...
//
// Prints one line per file, "sha256  lines words bytes  path" (to FILE with --report), sorted
// by path, and a summary on stderr. A file that cannot be read (removed since the walk, a
// dangling link, no permission, an I/O error) gets a "skipped" message and the run goes on;
// the exit status is then 1 (0: every file processed; 2: bad arguments). On a terminal a
// progress bar shows files and bytes done.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "file_processor.hpp"

namespace {

using namespace std::chrono_literals;
namespace fp = file_processor;

struct options {
  std::size_t jobs = 32;  // files in flight: reads are I/O, so more than the workers
  unsigned workers = 0;   // 0: one per cpu
  std::string report;
  bool progress = true;
  std::vector<std::string> roots;
};

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--jobs N] [--workers N] [--report FILE] [--no-progress] PATH...\n", argv0);
  return 2;
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](auto& out) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 1) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(v);
      return true;
    };
    if (a == "--jobs") {
      if (!number(o.jobs)) return false;
    } else if (a == "--workers") {
      if (!number(o.workers)) return false;
    } else if (a == "--report" && i + 1 < argc) {
      o.report = argv[++i];
    } else if (a == "--no-progress") {
      o.progress = false;
    } else if (!a.empty() && a[0] == '-') {
      return false;
    } else {
      o.roots.push_back(a);
    }
  }
  return !o.roots.empty();
}

// Redraws the progress bar every 100 ms until every file is done.
zokio::task<void> show_progress(std::shared_ptr<fp::run_state> st) {
  for (;;) {
    const std::size_t done = st->done.load(), total = st->files.size();
    constexpr int width = 30;
    const int filled = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r\33[K[%.*s%*s] %zu/%zu files, %.1f MiB", filled,
                 "##############################", width - filled, "", done, total,
                 static_cast<double>(st->bytes.load()) / (1 << 20));
    std::fflush(stderr);
    if (done == total) co_return;
    co_await zokio::sleep(100ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) return usage(argv[0]);

  std::vector<std::string> walk_errors;
  auto st = std::make_shared<fp::run_state>();
  st->files = fp::walk(o.roots, walk_errors);
  for (const auto& e : walk_errors) std::fprintf(stderr, "file_processor: cannot read %s\n", e.c_str());
  const bool bar = o.progress && ::isatty(STDERR_FILENO);
  st->clear_line = bar;

  const auto start = std::chrono::steady_clock::now();
  {
    zokio::runtime::builder b;
    if (o.workers) b.worker_threads(o.workers);
    auto rt = b.build();
    zokio::join_handle<void> bar_task;
    if (bar) bar_task = rt.spawn(show_progress(st));
    rt.block_on(rt.spawn(fp::process_all(rt.get_executor(), st, o.jobs)));
    if (bar) rt.block_on(std::move(bar_task));  // its last redraw shows every file done
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (bar) std::fputc('\n', stderr);

  std::FILE* out = stdout;
  if (!o.report.empty() && !(out = std::fopen(o.report.c_str(), "w"))) {
    std::fprintf(stderr, "file_processor: cannot write %s: %s\n", o.report.c_str(), std::strerror(errno));
    return 1;
  }
  std::uint64_t lines = 0, words = 0, bytes = 0;
  std::size_t processed = 0;
  for (const auto& s : st->results) {
    if (!s.error.empty()) continue;
    ++processed;
    lines += s.lines;
    words += s.words;
    bytes += s.bytes;
    std::fprintf(out, "%s  %llu %llu %llu  %s\n", fp::hex(s.sha256).c_str(),
                 static_cast<unsigned long long>(s.lines), static_cast<unsigned long long>(s.words),
                 static_cast<unsigned long long>(s.bytes), s.path.c_str());
  }
  if (out != stdout && std::fclose(out) != 0) {
    std::fprintf(stderr, "file_processor: cannot write %s\n", o.report.c_str());
    return 1;
  }
  const std::size_t skipped = st->skipped.load();
  std::fprintf(stderr,
               "file_processor: %zu files, %.1f MiB, %llu lines, %llu words in %.3f s (%.0f MiB/s); "
               "%zu skipped\n",
               processed, static_cast<double>(bytes) / (1 << 20), static_cast<unsigned long long>(lines),
               static_cast<unsigned long long>(words), secs,
               secs > 0 ? static_cast<double>(bytes) / (1 << 20) / secs : 0.0, skipped + walk_errors.size());
  return skipped == 0 && walk_errors.empty() ? 0 : 1;
}
