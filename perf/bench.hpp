// A small benchmark harness shared by the perf/ executables: timing, interleaved sampling,
// median and min-max, result checks, a hang watchdog, ratio and target printing.
//
// Usage:
//   bench::runner r;
//   r.add("workload", "setup A", [&] { ...one full workload...; bench::check(ok, "why"); });
//   r.add("workload", "setup B", ...);
//   bool ok = r.run(opts);      // warm-up + calibration round, then opts.samples rounds
//   const bench::summary* s = r.result("workload", "setup A");  // per-workload seconds
//
// Method: a warm-up round runs every (workload, setup) once (three times when it is short; the
// fastest run counts); it also calibrates how many times a sample repeats the workload, so
// that a sample lasts about `target_sample_s` when one run is shorter than `min_single_s`
// (timer noise, wake-up jitter). Then each round runs every
// setup of every workload once, rounds interleaved (round 1: all setups, round 2: all
// setups, ...), with the setup order rotated per round so that no setup always runs first.
// Reported times are per single workload (sample time / repetitions).
#ifndef ZOKIO_PERF_BENCH_HPP
#define ZOKIO_PERF_BENCH_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

using clock = std::chrono::steady_clock;

inline double seconds_since(clock::time_point t0) noexcept {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

struct summary {
  double median = 0, min = 0, max = 0;
  std::size_t n = 0;
};

inline summary summarize(std::vector<double> v) {
  summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  std::size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  return s;
}

/// "812 ns", "12.3 us", "4.56 ms", "1.23 s" (three significant digits).
inline std::string format_duration(double s) {
  const char* unit = "s";
  double v = s;
  if (s < 1e-6) {
    v = s * 1e9, unit = "ns";
  } else if (s < 1e-3) {
    v = s * 1e6, unit = "us";
  } else if (s < 1.0) {
    v = s * 1e3, unit = "ms";
  }
  char buf[32];
  if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f %s", v, unit);
  else if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, unit);
  return buf;
}

/// Speed-up of `candidate` over `baseline` from their medians: > 1 means candidate is faster.
inline double ratio(const summary& baseline, const summary& candidate) noexcept {
  return candidate.median > 0 ? baseline.median / candidate.median : 0.0;
}

inline std::string format_ratio(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", r);
  return buf;
}

/// Left-pads / right-pads to a width (ASCII only).
inline std::string pad(std::string s, std::size_t w, bool left_align = true) {
  if (s.size() >= w) return s;
  return left_align ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
}

/// One line "  <label>: <achieved> (target >= <target>) MET|NOT MET". Returns met.
inline bool print_target(const std::string& label, double achieved, double target) {
  bool met = achieved >= target;
  std::printf("  %s: %s (target >= %s) %s\n", label.c_str(), format_ratio(achieved).c_str(),
              format_ratio(target).c_str(), met ? "MET" : "NOT MET");
  return met;
}

// ---------------------------------------------------------------------------------------------
// Result checks

/// Thrown by a workload whose result is wrong; the runner reports it and the run fails.
class failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void check(bool ok, const std::string& what) {
  if (!ok) throw failure(what);
}

template <class A, class B>
void check_eq(const A& got, const B& want, const char* what) {
  if (!(got == want))
    throw failure(std::string(what) + ": got " + std::to_string(got) + ", expected " +
                  std::to_string(want));
}

// ---------------------------------------------------------------------------------------------
// Cross-thread completion

/**
 * A reusable one-shot event: `set` from any thread, `wait` blocks one thread (futex, through
 * std::atomic::wait) until it was set. Keep it alive across runs (reset() before each): the
 * setter may still be inside notify_one() when the waiter returns.
 */
class event {
 public:
  void reset() noexcept { v_.store(0, std::memory_order_relaxed); }
  void set() noexcept {
    v_.store(1, std::memory_order_release);
    v_.notify_one();
  }
  void wait() noexcept {
    while (v_.load(std::memory_order_acquire) == 0) v_.wait(0, std::memory_order_acquire);
  }
  bool is_set() const noexcept { return v_.load(std::memory_order_acquire) != 0; }

 private:
  std::atomic<std::uint32_t> v_{0};
};

// ---------------------------------------------------------------------------------------------
// Command line

struct options {
  unsigned samples = 11;               ///< measured rounds (>= 5 recommended)
  std::vector<std::string> only;       ///< workloads to run; empty: all
  std::vector<std::string> setups;     ///< substrings of setup names to run; empty: all
  double timeout_s = 30;               ///< a single sample running longer is reported as a hang
  double min_single_s = 1e-3;          ///< runs shorter than this are repeated within a sample
  double target_sample_s = 2e-3;       ///< ... up to about this long
  bool quick = false;                  ///< --quick: smaller sizes, for a smoke run (not speed)

  bool selected(std::string_view w) const {
    return only.empty() || std::find(only.begin(), only.end(), w) != only.end();
  }
  bool setup_selected(std::string_view s) const {
    if (setups.empty()) return true;
    for (auto& sub : setups)
      if (s.find(sub) != std::string_view::npos) return true;
    return false;
  }
};

/// Parses --samples N, --only W (repeatable, or comma-separated), --setup SUBSTRING
/// (repeatable; for profiling one setup), --timeout S, --quick (a benchmark that knows it
/// runs smaller sizes: CI's smoke run checks results, not speed), --help.
/// Exits with status 2 on a usage error, 0 after --help.
inline options parse_options(int argc, char** argv, const std::vector<std::string>& workloads) {
  options o;
  auto usage = [&](FILE* f) {
    std::fprintf(f,
                 "usage: %s [--samples N] [--only WORKLOAD[,WORKLOAD...]] [--setup SUBSTRING]"
                 " [--timeout SEC] [--quick]\n",
                 argv[0]);
    std::fprintf(f, "workloads:");
    for (auto& w : workloads) std::fprintf(f, " %s", w.c_str());
    std::fprintf(f, "\n");
  };
  auto value = [&](int& i) -> std::string {
    std::string a = argv[i];
    if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", argv[i]);
      usage(stderr);
      std::exit(2);
    }
    return argv[++i];
  };
  auto flag_is = [](const char* a, const char* name) {
    std::size_t n = std::strlen(name);
    return std::strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
  };
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (flag_is(a, "--samples")) {
      std::string v = value(i);
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (!end || *end || n < 1 || n > 100000) {
        std::fprintf(stderr, "--samples: expected a positive integer, got '%s'\n", v.c_str());
        std::exit(2);
      }
      o.samples = static_cast<unsigned>(n);
    } else if (flag_is(a, "--only")) {
      std::string v = value(i);
      std::size_t pos = 0;
      while (pos <= v.size()) {
        auto comma = v.find(',', pos);
        std::string w = v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (std::find(workloads.begin(), workloads.end(), w) == workloads.end()) {
          std::fprintf(stderr, "--only: unknown workload '%s'\n", w.c_str());
          usage(stderr);
          std::exit(2);
        }
        o.only.push_back(w);
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (flag_is(a, "--quick")) {
      o.quick = true;
    } else if (flag_is(a, "--setup")) {
      o.setups.push_back(value(i));
    } else if (flag_is(a, "--timeout")) {
      std::string v = value(i);
      o.timeout_s = std::atof(v.c_str());
      if (o.timeout_s <= 0) {
        std::fprintf(stderr, "--timeout: expected seconds > 0\n");
        std::exit(2);
      }
    } else if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
      usage(stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "unknown argument '%s'\n", a);
      usage(stderr);
      std::exit(2);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The runner

class runner {
 public:
  using fn = std::function<void()>;

  /// Registers one (workload, setup) cell; `f` runs the workload once and checks its result
  /// (throws bench::failure, or anything else, when it is wrong).
  void add(std::string workload, std::string setup, fn f) {
    cell c;
    c.workload = std::move(workload);
    c.setup = std::move(setup);
    c.f = std::move(f);
    cells_.push_back(std::move(c));
  }

  /// Warm-up/calibration round, then o.samples interleaved rounds. Returns false when any
  /// cell failed. A sample exceeding o.timeout_s terminates the process with status 3 (a
  /// hung runtime cannot be joined).
  bool run(const options& o) {
    std::vector<cell*> active;
    for (auto& c : cells_)
      if (o.selected(c.workload) && o.setup_selected(c.setup)) active.push_back(&c);
    // Group by workload in registration order, so a round is: workload 1's setups, ...
    std::vector<std::string> order;
    for (auto* c : active)
      if (std::find(order.begin(), order.end(), c->workload) == order.end())
        order.push_back(c->workload);

    watchdog wd(o.timeout_s);
    auto run_cell = [&](cell& c, unsigned reps) -> double {
      wd.arm(c.workload + " / " + c.setup);
      auto t0 = clock::now();
      for (unsigned i = 0; i < reps; ++i) c.f();
      double t = seconds_since(t0) / reps;
      wd.disarm();
      return t;
    };
    auto guarded = [&](cell& c, unsigned reps, double& t) {
      if (c.failed) return false;
      try {
        t = run_cell(c, reps);
        return true;
      } catch (const std::exception& e) {
        wd.disarm();
        c.failed = true;
        c.error = e.what();
      } catch (...) {
        wd.disarm();
        c.failed = true;
        c.error = "unknown exception";
      }
      std::fprintf(stderr, "FAILED: %s / %s: %s\n", c.workload.c_str(), c.setup.c_str(),
                   c.error.c_str());
      return false;
    };

    // Warm-up and calibration: one run each, three for short ones (the fastest counts: a
    // first run pays for cold caches and allocator pools).
    for (auto& w : order)
      for (auto* c : active) {
        if (c->workload != w) continue;
        double t = 0, best = 0;
        if (!guarded(*c, 1, best)) continue;
        for (int k = 0; k < 2 && best < 4 * o.min_single_s; ++k) {
          if (!guarded(*c, 1, t)) break;
          best = std::min(best, t);
        }
        if (c->failed) continue;
        if (best < o.min_single_s) {
          double r = std::ceil(o.target_sample_s / std::max(best, 1e-7));
          c->reps = static_cast<unsigned>(std::clamp(r, 1.0, 1000.0));
        }
      }

    for (unsigned round = 0; round < o.samples; ++round) {
      for (auto& w : order) {
        std::vector<cell*> ws;
        for (auto* c : active)
          if (c->workload == w) ws.push_back(c);
        for (std::size_t k = 0; k < ws.size(); ++k) {
          cell& c = *ws[(k + round) % ws.size()];
          double t = 0;
          if (guarded(c, c.reps, t)) c.samples.push_back(t);
        }
      }
      std::fprintf(stderr, "  round %u/%u done\n", round + 1, o.samples);
    }

    bool ok = true;
    for (auto* c : active) ok = ok && !c->failed;
    return ok;
  }

  /// Per-workload seconds of a cell, or nullptr when it failed, was not selected or not run.
  const summary* result(const std::string& workload, const std::string& setup) {
    for (auto& c : cells_)
      if (c.workload == workload && c.setup == setup) {
        if (c.failed || c.samples.empty()) return nullptr;
        if (!c.stats) c.stats = summarize(c.samples);
        return &*c.stats;
      }
    return nullptr;
  }

  /// The median / min-max table of one workload.
  void print_table(const std::string& workload) {
    std::size_t w = 10;
    for (auto& c : cells_)
      if (c.workload == workload) w = std::max(w, c.setup.size());
    std::printf("  %s  %10s  %21s  %5s  %s\n", pad("setup", w).c_str(), "median",
                "min - max", "reps", "n");
    for (auto& c : cells_) {
      if (c.workload != workload) continue;
      if (c.failed) {
        std::printf("  %s  FAILED: %s\n", pad(c.setup, w).c_str(), c.error.c_str());
        continue;
      }
      const summary* s = result(c.workload, c.setup);
      if (!s) continue;
      std::string range = format_duration(s->min) + " - " + format_duration(s->max);
      std::printf("  %s  %10s  %21s  %5u  %zu\n", pad(c.setup, w).c_str(),
                  format_duration(s->median).c_str(), range.c_str(), c.reps, s->n);
    }
  }

 private:
  struct cell {
    std::string workload, setup;
    fn f;
    unsigned reps = 1;
    std::vector<double> samples;
    bool failed = false;
    std::string error;
    std::optional<summary> stats;
  };

  // Terminates the process when one sample runs past the timeout: a hung workload would
  // otherwise hang the benchmark (and its runtime could not be joined anyway).
  class watchdog {
   public:
    explicit watchdog(double timeout_s) : timeout_(timeout_s), th_([this] { loop(); }) {}
    ~watchdog() {
      {
        std::lock_guard lk(mu_);
        stop_ = true;
      }
      cv_.notify_one();
      th_.join();
    }
    void arm(std::string what) {
      std::lock_guard lk(mu_);
      what_ = std::move(what);
      start_ = clock::now();
      armed_ = true;
    }
    void disarm() {
      std::lock_guard lk(mu_);
      armed_ = false;
    }

   private:
    void loop() {
      std::unique_lock lk(mu_);
      while (!stop_) {
        cv_.wait_for(lk, std::chrono::milliseconds(100));
        if (armed_ && seconds_since(start_) > timeout_) {
          std::fprintf(stderr, "TIMEOUT: %s ran for more than %.1f s (hang?); aborting\n",
                       what_.c_str(), timeout_);
          std::fflush(stderr);
          std::fflush(stdout);
          std::_Exit(3);
        }
      }
    }
    double timeout_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false, armed_ = false;
    std::string what_;
    clock::time_point start_;
    std::thread th_;
  };

  std::vector<cell> cells_;
};

}  // namespace bench

#endif
