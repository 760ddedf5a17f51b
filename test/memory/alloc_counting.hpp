// Allocation counting shared by the memory tests: counters fed by zokio's allocation hook
// and by the replaced operator new / aligned_alloc (defined once, in allocation_test.cpp),
// the counts snapshot, start/stop, the hook fixture, and steady-state helpers.
#ifndef ZOKIO_TEST_MEMORY_ALLOC_COUNTING_HPP
#define ZOKIO_TEST_MEMORY_ALLOC_COUNTING_HPP

#include <execinfo.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/detail/config.hpp>
#include <zokio/runtime.hpp>

#include "../support/test_util.hpp"

// Inline variables and functions in a named namespace: one set of counters for the whole
// memory_tests executable (the operator new replacements feed them from any file).
namespace zokio::test::alloc_counting {

inline constexpr std::size_t kCats = zokio::alloc_category_count;

inline std::atomic<bool> g_counting{false};
inline std::atomic<long> g_news{0};
inline std::atomic<long> g_aligned_allocs{0};
// [deallocate][category][upstream]
inline std::atomic<long> g_events[2][kCats][2];
inline std::atomic<bool> g_trace_new{false};
inline thread_local bool tl_in_trace = false;
inline thread_local bool tl_not_counted = false;  // see wait_for()

inline void note_alloc(std::atomic<long>& counter, const char* what) noexcept {
  if (!g_counting.load(std::memory_order_relaxed) || tl_not_counted) return;
  counter.fetch_add(1, std::memory_order_relaxed);
  if (g_trace_new.load(std::memory_order_relaxed) && !tl_in_trace) {
    tl_in_trace = true;  // backtrace() may allocate the first time; it was primed (fixture)
    void* frames[48];
    int n = ::backtrace(frames, 48);
    (void)!::write(2, "--- counted ", 12);
    (void)!::write(2, what, std::strlen(what));
    (void)!::write(2, ", backtrace:\n", 13);
    ::backtrace_symbols_fd(frames, n, 2);
    tl_in_trace = false;
  }
}
inline void note_new() noexcept { note_alloc(g_news, "operator new"); }

inline void hook(const zokio::alloc_event& e) noexcept {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_events[e.deallocate][static_cast<std::size_t>(e.category)][e.upstream].fetch_add(
      1, std::memory_order_relaxed);
}

/// What was counted between start() and stop().
struct counts {
  long news = 0;
  long aligned_allocs = 0;  // std::aligned_alloc: Asio's recycling allocator's fallback
  long ev[2][kCats][2] = {};

  long allocs(zokio::alloc_category c) const {
    auto i = static_cast<std::size_t>(c);
    return ev[0][i][0] + ev[0][i][1];
  }
  long allocs() const {
    long n = 0;
    for (std::size_t c = 0; c < kCats; ++c) n += ev[0][c][0] + ev[0][c][1];
    return n;
  }
  long frees() const {
    long n = 0;
    for (std::size_t c = 0; c < kCats; ++c) n += ev[1][c][0] + ev[1][c][1];
    return n;
  }
  long upstream_allocs() const {
    long n = 0;
    for (std::size_t c = 0; c < kCats; ++c) n += ev[0][c][1];
    return n;
  }
  long upstream_frees() const {
    long n = 0;
    for (std::size_t c = 0; c < kCats; ++c) n += ev[1][c][1];
    return n;
  }
  /// operator new calls made by anything but Zokio's own upstream allocator (which is
  /// ::operator new in sanitizer builds, oneTBB otherwise).
  long foreign_news() const {
#if ZOKIO_USE_TBB_ALLOCATOR
    return news;
#else
    return news - upstream_allocs();
#endif
  }

  /// "per iteration (N=...): operator new 0, zokio allocs 1 [frame 1 (upstream 0)], frees 1
  /// (upstream 0)"
  std::string describe(long n) const {
    char buf[256];
    auto per = [n](long v) { return static_cast<double>(v) / static_cast<double>(n); };
    std::snprintf(buf, sizeof buf,
                  "per iteration (N=%ld): operator new %.3f (not zokio's: %.3f), aligned_alloc "
                  "%.3f, zokio allocs %.3f (upstream %.3f), frees %.3f (upstream %.3f)",
                  n, per(news), per(foreign_news()), per(aligned_allocs), per(allocs()),
                  per(upstream_allocs()),
                  per(frees()), per(upstream_frees()));
    std::string s = buf;
    for (std::size_t c = 0; c < kCats; ++c) {
      long a = ev[0][c][0] + ev[0][c][1], f = ev[1][c][0] + ev[1][c][1];
      if (a == 0 && f == 0) continue;
      std::snprintf(buf, sizeof buf, "; %s: alloc %.3f (upstream %.3f) free %.3f (upstream %.3f)",
                    zokio::alloc_category_name(static_cast<zokio::alloc_category>(c)), per(a),
                    per(ev[0][c][1]), per(f), per(ev[1][c][1]));
      s += buf;
    }
    return s;
  }
};

/// Starts and stops the (process-wide) counters. One scenario counts at a time.
struct counting {
  static void start() noexcept {
    g_news.store(0, std::memory_order_relaxed);
    g_aligned_allocs.store(0, std::memory_order_relaxed);
    for (auto& d : g_events)
      for (auto& c : d)
        for (auto& u : c) u.store(0, std::memory_order_relaxed);
    g_counting.store(true, std::memory_order_seq_cst);
  }
  static counts stop() noexcept {
    g_counting.store(false, std::memory_order_seq_cst);
    counts r;
    r.news = g_news.load(std::memory_order_relaxed);
    r.aligned_allocs = g_aligned_allocs.load(std::memory_order_relaxed);
    for (std::size_t d = 0; d < 2; ++d)
      for (std::size_t c = 0; c < kCats; ++c)
        for (std::size_t u = 0; u < 2; ++u)
          r.ev[d][c][u] = g_events[d][c][u].load(std::memory_order_relaxed);
    return r;
  }
};

/// Installs the hook for the suite; ZOKIO_TRACE_NEW=1 turns on backtraces of counted news.
struct hook_fixture {
  hook_fixture() {
    void* f[4];
    (void)::backtrace(f, 4);  // loads libgcc's unwinder now, not inside a counted region
    const char* t = std::getenv("ZOKIO_TRACE_NEW");
    g_trace_new.store(t && *t && *t != '0');
    prev_ = zokio::set_alloc_hook(&hook);
  }
  ~hook_fixture() {
    g_counting.store(false);
    zokio::set_alloc_hook(prev_);
  }
  zokio::alloc_hook prev_;
};

inline void report(const char* scenario, const counts& c, long n) {
  BOOST_TEST_MESSAGE(scenario << ": " << c.describe(n));
}

#if ZOKIO_RECYCLING
constexpr bool kRecycling = true;
#else
constexpr bool kRecycling = false;
#endif

/// Zokio's upstream allocations expected for `allocs` allocations in steady state on one
/// thread: none with the recycling cache, every one without it (sanitizer builds).
constexpr long expected_upstream(long allocs) { return kRecycling ? 0 : allocs; }

// Sizes: big enough that a stray allocation every few iterations shows, small enough for the
// sanitizer builds.
constexpr int kWarm = 2000 / zokio::test::stress_divisor;
constexpr int kIters = 10000 / zokio::test::stress_divisor;
constexpr int kBatch = 64;  // spawned then joined together (well under a local queue)

inline zokio::runtime make_rt(unsigned workers) {
  return zokio::runtime::builder().worker_threads(workers).build();
}

/// rt.block_on(f) on a test thread that only waits for a counted scenario run by the workers.
/// Its own operator news are not counted: block_on allocates a thread parker when called, and
/// the workers may already be counting by then (seen: 1 stray new in 10,000 iterations).
template <class F>
auto wait_for(zokio::runtime& rt, F f) {
  struct scope {
    scope() noexcept { tl_not_counted = true; }
    ~scope() { tl_not_counted = false; }
  } s;
  return rt.block_on(std::move(f));
}

}  // namespace zokio::test::alloc_counting

#endif
