// perf_forkjoin: recursive fork-join programs, Zokio against oneTBB (issue 12).
//
// Each program is written the way a user of each library writes it, with the same algorithm:
//   Zokio  zokio::task coroutines: zokio::spawn the first k-1 children, co_await the last one
//          inline, then co_await the join handles.
//   oneTBB tbb::task_group: run() the first k-1 children, call the last one inline, wait(),
//          inside a tbb::task_arena of 2 threads.
//   The root runs on one of the 2 threads in both: oneTBB's arena.execute() makes the main
//   thread one of the arena's two; Zokio spawns the root (rt.block_on(rt.spawn(root))), since
//   a root run by block_on itself would run on a third thread beside the 2 workers.
// Programs (every result is checked):
//   skynet D   a 10-ary tree of depth D; leaf i returns i; the root's sum is known
//   fib N      fork fib(n-1), compute fib(n-2) inline, join
//   nqueens N  one task per legal placement of a queen in the next row; counts solutions
//   matmul N   C = A x B, N x N doubles, recursive 2x2 blocks (two phases of 4 in parallel)
//              down to 32 x 32 blocks multiplied serially
//
// Method: every sample runs in a fresh child process (fork), so that each setup's peak RSS
// (getrusage ru_maxrss of that child) is its own; the runtime or arena is built before the
// clock starts. Rounds are interleaved (round 1: every program and setup once, round 2: ...,
// the setup order alternating). A "fixed" child per setup builds the runtime or arena, runs
// nothing, and reports its peak RSS: the fixed cost that the targets allow on top of 2x.
// Printed: median time, peak RSS and CPU time (user + system, all threads: less moved by
// other load than the wall time) per (program, setup), time ratio Zokio / oneTBB (< 1:
// Zokio faster) and RSS ratio. Targets (issue 12): time ratio <= 1.0 and RSS <= 2x oneTBB's
// plus the fixed cost.
//
// Usage: perf_forkjoin [--samples N] [--only PROGRAM[,...]] [--quick]
//   ZOKIO_FJ_METRICS=1: each Zokio sample prints its workers' metrics to stderr.
//   Sizes: skynet 7 and 8, fib 30 and 35, nqueens 14, matmul 2048 (the issue's).
//   --quick: smaller sizes (skynet 6, fib 27, nqueens 11, matmul 512) for a smoke run.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <zokio/zokio.hpp>

namespace {

// 2 threads; ZOKIO_FJ_THREADS=N for experiments.
const int kThreads = [] {
  const char* e = std::getenv("ZOKIO_FJ_THREADS");
  return e && std::atoi(e) > 0 ? std::atoi(e) : 2;
}();

// --- skynet -------------------------------------------------------------------------------

long skynet_expected(int depth) {
  long n = 1;
  for (int i = 0; i < depth; ++i) n *= 10;
  return n * (n - 1) / 2;
}

zokio::task<long> z_skynet(long num, int depth) {
  if (depth == 0) co_return num;
  std::array<zokio::join_handle<long>, 9> hs;
  for (int i = 0; i < 9; ++i) hs[static_cast<std::size_t>(i)] = zokio::spawn(z_skynet(num * 10 + i, depth - 1));
  long sum = co_await z_skynet(num * 10 + 9, depth - 1);
  for (auto& h : hs) sum += co_await std::move(h);
  co_return sum;
}

long t_skynet(long num, int depth) {
  if (depth == 0) return num;
  std::array<long, 10> part{};
  tbb::task_group g;
  for (int i = 0; i < 9; ++i)
    g.run([&part, num, depth, i] { part[static_cast<std::size_t>(i)] = t_skynet(num * 10 + i, depth - 1); });
  part[9] = t_skynet(num * 10 + 9, depth - 1);
  g.wait();
  long sum = 0;
  for (long p : part) sum += p;
  return sum;
}

// --- fib ----------------------------------------------------------------------------------

long fib_expected(int n) {
  long a = 0, b = 1;
  for (int i = 0; i < n; ++i) b = std::exchange(a, b) + b;
  return a;
}

zokio::task<long> z_fib(int n) {
  if (n < 2) co_return n;
  auto h = zokio::spawn(z_fib(n - 1));
  long b = co_await z_fib(n - 2);
  long a = co_await std::move(h);
  co_return a + b;
}

long t_fib(int n) {
  if (n < 2) return n;
  long a = 0;
  tbb::task_group g;
  g.run([&a, n] { a = t_fib(n - 1); });
  long b = t_fib(n - 2);
  g.wait();
  return a + b;
}

// --- nqueens ------------------------------------------------------------------------------

long nqueens_expected(int n) {
  static const long known[] = {1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184};
  return known[n];
}

struct board {
  unsigned cols, d1, d2;
};

zokio::task<long> z_queens(int n, int row, board b) {
  if (row == n) co_return 1;
  const unsigned all = (1u << n) - 1;
  unsigned free = all & ~(b.cols | b.d1 | b.d2);
  std::vector<zokio::join_handle<long>> hs;
  long sum = 0;
  while (free) {
    unsigned bit = free & (~free + 1);
    free &= free - 1;
    board c{b.cols | bit, ((b.d1 | bit) << 1) & all, (b.d2 | bit) >> 1};
    if (free)
      hs.push_back(zokio::spawn(z_queens(n, row + 1, c)));
    else
      sum += co_await z_queens(n, row + 1, c);  // the last child inline
  }
  for (auto& h : hs) sum += co_await std::move(h);
  co_return sum;
}

long t_queens(int n, int row, board b) {
  if (row == n) return 1;
  const unsigned all = (1u << n) - 1;
  unsigned free = all & ~(b.cols | b.d1 | b.d2);
  std::vector<long> part(static_cast<std::size_t>(__builtin_popcount(free)), 0);
  tbb::task_group g;
  std::size_t k = 0;
  long last = 0;
  while (free) {
    unsigned bit = free & (~free + 1);
    free &= free - 1;
    board c{b.cols | bit, ((b.d1 | bit) << 1) & all, (b.d2 | bit) >> 1};
    if (free) {
      long* slot = &part[k++];
      g.run([slot, n, row, c] { *slot = t_queens(n, row + 1, c); });
    } else {
      last = t_queens(n, row + 1, c);
    }
  }
  g.wait();
  for (long p : part) last += p;
  return last;
}

// --- matmul -------------------------------------------------------------------------------

constexpr int kBlock = 32;

struct mat {
  double* p;
  int stride;
  mat at(int r, int c) const { return {p + static_cast<std::ptrdiff_t>(r) * stride + c, stride}; }
};

// Not inlined: both setups then run the same machine code for the 90 % of matmul's time spent
// here. Inlined, GCC compiled it once into the coroutine (whose parameters live in its heap
// frame) and once into the lambda, and the two copies differed.
[[gnu::noinline]] void serial_mul_add(mat c, mat a, mat b, int n) {
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) {
      const double aik = a.p[static_cast<std::ptrdiff_t>(i) * a.stride + k];
      const double* brow = b.p + static_cast<std::ptrdiff_t>(k) * b.stride;
      double* crow = c.p + static_cast<std::ptrdiff_t>(i) * c.stride;
      for (int j = 0; j < n; ++j) crow[j] += aik * brow[j];
    }
}

// C += A x B on n x n blocks: phase 1 C_ij += A_i0 B_0j, phase 2 C_ij += A_i1 B_1j.
zokio::task<void> z_matmul(mat c, mat a, mat b, int n) {
  if (n <= kBlock) {
    serial_mul_add(c, a, b, n);
    co_return;
  }
  const int h = n / 2;
  for (int phase = 0; phase < 2; ++phase) {
    std::array<zokio::join_handle<void>, 3> hs;
    int k = 0;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        if (i == 1 && j == 1) break;
        hs[static_cast<std::size_t>(k++)] =
            zokio::spawn(z_matmul(c.at(i * h, j * h), a.at(i * h, phase * h), b.at(phase * h, j * h), h));
      }
    co_await z_matmul(c.at(h, h), a.at(h, phase * h), b.at(phase * h, h), h);
    for (auto& hd : hs) co_await std::move(hd);
  }
}

void t_matmul(mat c, mat a, mat b, int n) {
  if (n <= kBlock) {
    serial_mul_add(c, a, b, n);
    return;
  }
  const int h = n / 2;
  for (int phase = 0; phase < 2; ++phase) {
    tbb::task_group g;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        if (i == 1 && j == 1) break;
        g.run([=] { t_matmul(c.at(i * h, j * h), a.at(i * h, phase * h), b.at(phase * h, j * h), h); });
      }
    t_matmul(c.at(h, h), a.at(h, phase * h), b.at(phase * h, h), h);
    g.wait();
  }
}

struct matrices {
  int n;
  std::vector<double> a, b, c;
  explicit matrices(int size) : n(size), a(std::size_t(size) * size), b(a.size()), c(a.size(), 0.0) {
    // A = I + small pattern, B = pattern: C is checked against a serial product on a few rows.
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        a[std::size_t(i) * n + j] = (i == j ? 1.0 : 0.0) + ((i + j) % 7) * 0.001;
        b[std::size_t(i) * n + j] = ((i * 3 + j) % 11) * 0.01;
      }
  }
  bool check() const {
    for (int i : {0, n / 3, n - 1})
      for (int j : {0, n / 2, n - 1}) {
        double s = 0;
        for (int k = 0; k < n; ++k) s += a[std::size_t(i) * n + k] * b[std::size_t(k) * n + j];
        if (std::abs(s - c[std::size_t(i) * n + j]) > 1e-6 * (1 + std::abs(s))) return false;
      }
    return true;
  }
};

// --- the harness --------------------------------------------------------------------------

struct program {
  std::string name;
  std::function<bool(zokio::runtime&)> zokio_run;  // true: result checked right
  std::function<bool()> tbb_run;                   // run inside the arena
  std::function<void()> prepare;                   // untimed (matmul's matrices)
};

struct sample {
  double seconds = -1;
  double cpu_seconds = 0;  // user + system time of the timed part, all threads
  long maxrss_kb = 0;
  bool ok = false;
};

double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs one sample in a child process; which: 0 Zokio, 1 oneTBB; fixed: build only.
sample run_child(const program& p, int which, bool fixed) {
  int fd[2];
  if (pipe(fd) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    sample s;
    if (p.prepare && !fixed) p.prepare();
    if (which == 0) {
      zokio::runtime rt = zokio::runtime::builder().worker_threads(static_cast<unsigned>(kThreads)).build();
      if (fixed) {
        s.ok = rt.block_on(zokio::co_invoke([]() -> zokio::task<bool> { co_return true; }));
        s.seconds = 0;
      } else {
        double t0 = now_s(), c0 = cpu_s();
        s.ok = p.zokio_run(rt);
        s.seconds = now_s() - t0;
        s.cpu_seconds = cpu_s() - c0;
        if (std::getenv("ZOKIO_FJ_METRICS")) {
          // Diagnostics: how the tree ran (inline joins, queue pops, steals, parks).
          const auto m = rt.metrics();
          for (std::size_t i = 0; i < m.workers.size(); ++i) {
            const auto& w = m.workers[i];
            std::fprintf(stderr,
                         "  [%s worker %zu] polls %llu inline %llu (unwinds %llu) lifo %llu "
                         "steals %llu (tasks %llu) parks %llu\n",
                         p.name.c_str(), i, static_cast<unsigned long long>(w.polls),
                         static_cast<unsigned long long>(w.inline_runs),
                         static_cast<unsigned long long>(w.inline_unwinds),
                         static_cast<unsigned long long>(w.lifo_polls),
                         static_cast<unsigned long long>(w.steals),
                         static_cast<unsigned long long>(w.stolen_tasks),
                         static_cast<unsigned long long>(w.parks));
          }
        }
      }
    } else {
      tbb::task_arena arena(kThreads);
      if (fixed) {
        arena.execute([&] { s.ok = true; });
        s.seconds = 0;
      } else {
        double t0 = now_s(), c0 = cpu_s();
        arena.execute([&] { s.ok = p.tbb_run(); });
        s.seconds = now_s() - t0;
        s.cpu_seconds = cpu_s() - c0;
      }
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    s.maxrss_kb = ru.ru_maxrss;
    ssize_t w = write(fd[1], &s, sizeof s);
    (void)w;
    _exit(0);
  }
  close(fd[1]);
  sample s;
  ssize_t r = read(fd[0], &s, sizeof s);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (r != sizeof s || !WIFEXITED(status)) return {};
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 5;
  bool quick = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--samples" && i + 1 < argc) {
      samples = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--only" && i + 1 < argc) {
      std::string v = argv[++i];
      for (std::size_t s = 0, e; s <= v.size(); s = e + 1) {
        e = v.find(',', s);
        if (e == std::string::npos) e = v.size();
        only.push_back(v.substr(s, e - s));
      }
    } else if (a == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--samples N] [--only PROGRAM[,...]] [--quick]\n", argv[0]);
      return 2;
    }
  }
  const int sky_d = 6, fib_n = 27, q_n = quick ? 11 : 14, mm_n = quick ? 512 : 2048;
  static matrices* mm = nullptr;  // built in the child, before the clock (prepare)

  std::vector<program> programs;
  auto add = [&](program p) {
    if (only.empty() || std::find(only.begin(), only.end(), p.name.substr(0, p.name.find(' '))) != only.end())
      programs.push_back(std::move(p));
  };
  // The sizes: skynet 7 and 8, fib 30 and 35 (quick: one small size each).
  for (int d : quick ? std::vector<int>{sky_d} : std::vector<int>{7, 8})
    add({"skynet " + std::to_string(d),
         [=](zokio::runtime& rt) { return rt.block_on(rt.spawn(z_skynet(0, d))) == skynet_expected(d); },
         [=] { return t_skynet(0, d) == skynet_expected(d); }, nullptr});
  for (int n : quick ? std::vector<int>{fib_n} : std::vector<int>{30, 35})
    add({"fib " + std::to_string(n),
         [=](zokio::runtime& rt) { return rt.block_on(rt.spawn(z_fib(n))) == fib_expected(n); },
         [=] { return t_fib(n) == fib_expected(n); }, nullptr});
  add({"nqueens " + std::to_string(q_n),
       [=](zokio::runtime& rt) { return rt.block_on(rt.spawn(z_queens(q_n, 0, board{0, 0, 0}))) == nqueens_expected(q_n); },
       [=] { return t_queens(q_n, 0, board{0, 0, 0}) == nqueens_expected(q_n); }, nullptr});
  add({"matmul " + std::to_string(mm_n),
       [](zokio::runtime& rt) {
         rt.block_on(rt.spawn(z_matmul({mm->c.data(), mm->n}, {mm->a.data(), mm->n}, {mm->b.data(), mm->n}, mm->n)));
         return mm->check();
       },
       [] {
         t_matmul({mm->c.data(), mm->n}, {mm->a.data(), mm->n}, {mm->b.data(), mm->n}, mm->n);
         return mm->check();
       },
       [mm_n] { mm = new matrices(mm_n); }});

  std::printf("perf_forkjoin: Zokio (zokio::spawn + co_await) against oneTBB (task_group in a "
              "task_arena), %d threads, %d samples, one process per sample\n", kThreads, samples);
  const char* setup_names[] = {"zokio", "onetbb"};
  std::map<std::pair<std::string, int>, std::vector<sample>> got;
  long fixed_rss[2] = {0, 0};
  for (int w = 0; w < 2; ++w) fixed_rss[w] = run_child(program{"fixed", nullptr, nullptr, nullptr}, w, true).maxrss_kb;
  bool all_ok = true;
  for (int round = 0; round < samples; ++round) {
    for (auto& p : programs)
      for (int k = 0; k < 2; ++k) {
        int w = (k + round) % 2;
        sample s = run_child(p, w, false);
        if (!s.ok) {
          std::fprintf(stderr, "%s / %s: wrong result or crashed\n", p.name.c_str(), setup_names[w]);
          all_ok = false;
        }
        got[{p.name, w}].push_back(s);
      }
    std::fprintf(stderr, "  round %d/%d done\n", round + 1, samples);
  }
  std::printf("fixed cost (runtime or arena, nothing run): zokio %ld KiB, onetbb %ld KiB peak RSS\n",
              fixed_rss[0], fixed_rss[1]);
  std::printf("  %-14s %-7s %10s %10s %10s %12s %10s\n", "program", "setup", "median s", "min s", "max s",
              "peak RSS KiB", "CPU s");
  for (auto& p : programs) {
    double med[2], cpu[2];
    long rss[2];
    for (int w = 0; w < 2; ++w) {
      std::vector<double> t, m, c;
      for (auto& s : got[{p.name, w}]) {
        if (s.ok) t.push_back(s.seconds);
        if (s.ok) c.push_back(s.cpu_seconds);
        m.push_back(static_cast<double>(s.maxrss_kb));
      }
      med[w] = median(t);
      cpu[w] = median(c);
      rss[w] = static_cast<long>(median(m));
      std::printf("  %-14s %-7s %10.3f %10.3f %10.3f %12ld %10.3f\n", p.name.c_str(), setup_names[w], med[w],
                  t.empty() ? 0 : *std::min_element(t.begin(), t.end()),
                  t.empty() ? 0 : *std::max_element(t.begin(), t.end()), rss[w], cpu[w]);
    }
    const double tr = med[1] > 0 ? med[0] / med[1] : 0;
    const double rr = rss[1] > 0 ? double(rss[0]) / double(rss[1]) : 0;
    const bool rss_met = rss[0] <= 2 * rss[1] + (fixed_rss[0] > fixed_rss[1] ? fixed_rss[0] - fixed_rss[1] : 0);
    const double cr = cpu[1] > 0 ? cpu[0] / cpu[1] : 0;
    std::printf("  %-14s zokio/onetbb: time %.2fx (target <= 1.0: %s), peak RSS %.2fx (target <= 2x + fixed: %s), "
                "CPU %.2fx\n",
                p.name.c_str(), tr, tr <= 1.0 ? "met" : "NOT MET", rr, rss_met ? "met" : "NOT MET", cr);
  }
  return all_ok ? 0 : 1;
}
