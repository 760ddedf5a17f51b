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

#include <relacy/relacy.hpp>

#ifndef ZOKIO_RELACY_SEED_BUG
#define ZOKIO_RELACY_SEED_BUG 0
#endif

namespace zokio_relacy {

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

inline int finish(bool ok) {
  std::printf(ok ? "all models passed\n" : "MODEL CHECK FAILED\n");
#if ZOKIO_RELACY_SEED_BUG
  std::printf("(seeded bug %d compiled in: a failure is the expected result)\n",
              ZOKIO_RELACY_SEED_BUG);
#endif
  return ok ? 0 : 1;
}

}  // namespace zokio_relacy

#endif
