// perf_file_processor: the file processor's work (example/file_processor.hpp: SHA-256, lines
// and words of every file of a tree) on Zokio against a plain thread pool with blocking
// reads, the same tree, results checked equal.
//
//   Zokio        2 workers, 32 files in flight, asio::stream_file reads (io_uring)
//   pool N       asio::thread_pool(N), each thread read(2)s its next file (N = 2 and 8)
//
// The tree (made once in a temporary directory, removed at the end): 2,000 files of 1 to
// 128 KiB of text (about 130 MB), in 20 directories. Reads come from the page cache after the
// warm-up (dropping it needs root and disturbs the machine), so this measures the runtime's
// overhead around CPU-bound hashing plus the read system calls, not the disk.
// Samples interleaved, medians of wall time and of process CPU time (all threads); ratio
// printed as pool time / Zokio time (> 1: Zokio faster).
//
// Usage: perf_file_processor [SAMPLES]   (default 7)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../example/file_processor.hpp"

namespace {

namespace fp = file_processor;
namespace fs = std::filesystem;

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

fs::path make_tree() {
  fs::path root = fs::temp_directory_path() / ("zokio-fp-bench-" + std::to_string(::getpid()));
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> kib(1, 128);
  const std::string line = "the quick brown fox jumps over the lazy dog 0123456789\n";
  for (int d = 0; d < 20; ++d) {
    fs::create_directories(root / ("dir" + std::to_string(d)));
    for (int f = 0; f < 100; ++f) {
      std::ofstream out(root / ("dir" + std::to_string(d)) / ("file" + std::to_string(f) + ".txt"));
      const std::size_t bytes = static_cast<std::size_t>(kib(rng)) * 1024;
      for (std::size_t n = 0; n < bytes; n += line.size()) out << line;
    }
  }
  return root;
}

// Digest of all results (order-independent of the run, since both are sorted by path).
std::string fingerprint(const std::vector<fp::file_stats>& rs) {
  std::string s;
  for (const auto& r : rs) s += fp::hex(r.sha256) + std::to_string(r.lines) + std::to_string(r.words) + r.error;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::max(3, std::atoi(argv[1])) : 7;
  const fs::path root = make_tree();
  std::vector<std::string> errors;
  const std::vector<std::string> files = fp::walk({root.string()}, errors);
  std::uint64_t total = 0;
  for (const auto& f : files) total += fs::file_size(f);

  auto rt = zokio::runtime::builder().worker_threads(2).build();
  auto run_zokio = [&] {
    auto st = std::make_shared<fp::run_state>();
    st->files = files;
    st->report_skips = false;
    rt.block_on(rt.spawn(fp::process_all(rt.get_executor(), st, 32)));
    return std::move(st->results);
  };
  auto run_pool = [&](std::size_t n) { return fp::process_with_thread_pool(files, n); };

  const std::string want = fingerprint(run_pool(2));  // also warms the page cache
  bool ok = fingerprint(run_zokio()) == want;

  struct setup {
    const char* name;
    std::function<std::vector<fp::file_stats>()> run;
    std::vector<double> wall, cpu;
  };
  std::vector<setup> setups;
  setups.push_back({"zokio (2 workers, 32 in flight)", run_zokio, {}, {}});
  setups.push_back({"thread_pool(2)", [&] { return run_pool(2); }, {}, {}});
  setups.push_back({"thread_pool(8)", [&] { return run_pool(8); }, {}, {}});
  for (int round = 0; round < samples && ok; ++round)
    for (std::size_t k = 0; k < setups.size(); ++k) {
      auto& s = setups[(k + static_cast<std::size_t>(round)) % setups.size()];  // rotated order
      const double c0 = cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      auto r = s.run();
      s.wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      s.cpu.push_back(cpu_seconds() - c0);
      ok = ok && fingerprint(r) == want;
    }
  fs::remove_all(root);
  if (!ok) {
    std::fprintf(stderr, "perf_file_processor: results differ between setups\n");
    return 1;
  }

  std::printf("perf_file_processor: %zu files, %.1f MiB (page cache), %d samples, medians\n", files.size(),
              static_cast<double>(total) / (1 << 20), samples);
  std::printf("  %-34s %10s %10s %10s\n", "setup", "wall ms", "cpu ms", "MiB/s");
  for (auto& s : setups)
    std::printf("  %-34s %10.1f %10.1f %10.0f\n", s.name, median(s.wall) * 1e3, median(s.cpu) * 1e3,
                static_cast<double>(total) / (1 << 20) / median(s.wall));
  const double z = median(setups[0].wall);
  const double best = std::min(median(setups[1].wall), median(setups[2].wall));
  std::printf("  speed-up = best thread pool / zokio: %.2fx wall, %.2fx cpu (thread_pool(2))\n", best / z,
              median(setups[1].cpu) / median(setups[0].cpu));
  return 0;
}
