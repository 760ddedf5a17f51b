// Shared by the stress programs (test/stress): the command line, the time budget, checks that
// end the run with a message, and the resident set size read from /proc.
#ifndef ZOKIO_TEST_STRESS_COMMON_HPP
#define ZOKIO_TEST_STRESS_COMMON_HPP

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace stress {

struct options {
  double seconds = 10;  // rounds start until this much time has passed (at least one round)
  unsigned workers = 2;
};

inline options parse(int argc, char** argv, const char* name) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--seconds") && has_value) {
      o.seconds = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--workers") && has_value) {
      o.workers = static_cast<unsigned>(std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S] [--workers N]\n", name);
      std::exit(2);
    }
  }
  if (o.seconds <= 0 || o.workers == 0) {
    std::fprintf(stderr, "%s: --seconds and --workers must be positive\n", name);
    std::exit(2);
  }
  return o;
}

// A failed check ends the program with status 1 and says what and where.
#define STRESS_CHECK(cond, ...)                                                   \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
      std::fprintf(stderr, __VA_ARGS__);                                          \
      std::fprintf(stderr, "\n");                                                 \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)

/// Resident set size in KiB (/proc/self/statm), 0 where it cannot be read.
inline long rss_kib() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return resident * 4;
}

using clock = std::chrono::steady_clock;

inline double since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

}  // namespace stress

#endif  // ZOKIO_TEST_STRESS_COMMON_HPP
