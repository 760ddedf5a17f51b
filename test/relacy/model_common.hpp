// Shared driver for the Relacy models in this folder (see doc/relacy.md).
//
// Relacy (Debian package relacy-dev, headers in /usr/include/relacy) re-runs a test_suite's
// threads as fibers under its own scheduler and memory model: every rl::atomic load may return
// any value the C++ memory model allows, every rl::var access is checked for data races, and
// new/delete are tracked (leaks, double free, use after free). Compile flags it needs with
// g++ 12 (set in test/CMakeLists.txt):
//   -fno-sized-deallocation  Relacy replaces operator new/delete but not the sized delete that
//                            C++14 and later call: without it, free() gets Relacy's pointer.
//   -fno-lifetime-dse        g++ drops the stores in destructors that Relacy uses to mark
//                            freed objects, which hides use-after-free reports.
// Include this header after every standard header: relacy.hpp #defines new, delete and assert.
#ifndef ZOKIO_TEST_RELACY_MODEL_COMMON_HPP
#define ZOKIO_TEST_RELACY_MODEL_COMMON_HPP

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <cstring>

#include <relacy/relacy.hpp>

namespace zokio_relacy {

// The seeded bug this run puts in (`<model> --seed-bug N`; 0: none). One binary per model
// runs every variant (a variant per binary cost a compile each: 17 of them, half the CI's
// Relacy time). Read by the models' code, outside Relacy's view (a plain global).
inline int g_seed_bug = 0;
inline bool seed_bug(int n) { return g_seed_bug == n; }

// Reads `--seed-bug N` (N > 0); false on anything else, after a usage line.
inline bool parse_args(int argc, char** argv) {
  if (argc == 1) return true;
  if (argc == 3 && std::strcmp(argv[1], "--seed-bug") == 0) {
    char* end = nullptr;
    const long n = std::strtol(argv[2], &end, 10);
    if (end != argv[2] && *end == '\0' && n > 0 && n < 100) {
      g_seed_bug = static_cast<int>(n);
      return true;
    }
  }
  std::fprintf(stderr, "usage: %s [--seed-bug N]\n", argv[0]);
  return false;
}

// ZOKIO_RELACY_SCALE=k multiplies every random-scheduler iteration count (deeper local runs).
inline rl::iteration_t scaled(rl::iteration_t n) {
  if (const char* s = std::getenv("ZOKIO_RELACY_SCALE")) {
    double k = std::atof(s);
    if (k > 0) n = static_cast<rl::iteration_t>(static_cast<double>(n) * k);
  }
  return n < 1 ? 1 : n;
}

// Runs one test suite; prints one summary line; false on a failure (Relacy has printed the
// failing execution's history by then).
template <class Test>
bool run(const char* name, rl::scheduler_type_e sched, rl::iteration_t iterations,
         unsigned context_bound = 1) {
  rl::test_params p;
  p.search_type = sched;
  p.iteration_count = sched == rl::sched_random ? scaled(iterations) : iterations;
  p.context_bound = context_bound;
  p.execution_depth_limit = 20000;  // scheduling points per execution before "livelock"
  // Relacy's own report (and, on a failure, the failing execution's history) goes to stdout;
  // its progress lines go nowhere. (No std::ostringstream: a string growing while Relacy owns
  // operator new would be freed through Relacy's heap.)
  std::ostream no_progress(nullptr);
  p.output_stream = &std::cout;
  p.progress_stream = &no_progress;
  auto t0 = std::chrono::steady_clock::now();
  bool ok = rl::simulate<Test>(p);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  std::printf("%-44s %-24s %9llu iterations  %6lld ms  %s\n", name, rl::format(sched),
              static_cast<unsigned long long>(p.stop_iteration), static_cast<long long>(ms),
              ok ? "ok" : rl::test_result_str(p.test_result));
  std::fflush(stdout);
  return ok;
}

// The exit status. With a seeded bug the expected result is a failure the checker found:
// 0 then, 1 when every model passed (the checker missed the bug).
inline int finish(bool ok) {
  std::printf(ok ? "all models passed\n" : "MODEL CHECK FAILED\n");
  if (g_seed_bug == 0) return ok ? 0 : 1;
  std::printf(ok ? "seeded bug %d: NOT caught\n" : "seeded bug %d: caught, as expected\n",
              g_seed_bug);
  return ok ? 1 : 0;
}

}  // namespace zokio_relacy

using zokio_relacy::seed_bug;

#endif
