// The cheap clock of the trace and the latency histograms: the TSC where there is one (about
// 10 ns a read on this project's VMs, against about 30 ns for steady_clock), else
// steady_clock's nanoseconds; and its rate in ns per tick, measured once per process.
#ifndef ZOKIO_DETAIL_TICK_CLOCK_HPP
#define ZOKIO_DETAIL_TICK_CLOCK_HPP

#include <chrono>
#include <cstdint>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define ZOKIO_HAS_TSC 1
#else
#define ZOKIO_HAS_TSC 0
#endif

namespace zokio::detail {

/// Ticks now. The TSC is taken as constant-rate and synchronised between cores (what Linux
/// checks before it makes it the clock source, as on this project's machines); a reading
/// taken on another core may still be a little ahead, so differences are clamped at 0.
inline std::uint64_t ticks_now() noexcept {
#if ZOKIO_HAS_TSC
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

/// A steady_clock reading (ns) and the tick count at the same moment: the ticks read between
/// two clock reads, from the narrowest of a few such brackets, against the brackets' middle.
/// A preemption or a slow clock read between the reads only widens a bracket, so it is not
/// picked. (The first version read the ticks before the clock at the start and after it at
/// the end: every delay between the two landed in the tick count, and under ASan in CI the
/// rate came out 3.7 % low, failing tick_clock_suite.)
struct tick_clock_pair {
  std::uint64_t ticks;
  std::int64_t ns;
};
inline tick_clock_pair tick_clock_sample() noexcept {
  using clk = std::chrono::steady_clock;
  tick_clock_pair best{0, 0};
  std::int64_t best_width = -1;
  for (int i = 0; i < 8; ++i) {
    const std::int64_t a = clk::now().time_since_epoch().count();
    const std::uint64_t t = ticks_now();
    const std::int64_t b = clk::now().time_since_epoch().count();
    if (best_width < 0 || b - a < best_width) {
      best_width = b - a;
      best = {t, a + (b - a) / 2};
    }
  }
  return best;
}

/// Nanoseconds per tick between two samples (1 when the ticks or the clock did not advance).
inline double ticks_ns_rate_between(const tick_clock_pair& p0,
                                    const tick_clock_pair& p1) noexcept {
  return p1.ticks > p0.ticks && p1.ns > p0.ns
             ? static_cast<double>(p1.ns - p0.ns) / static_cast<double>(p1.ticks - p0.ticks)
             : 1.0;
}

/// Nanoseconds per tick: measured against steady_clock over 2 ms on the first call (in the
/// process), 1 without a TSC.
inline double ticks_ns_rate() noexcept {
#if ZOKIO_HAS_TSC
  static_assert(std::is_same_v<std::chrono::steady_clock::duration, std::chrono::nanoseconds>,
                "tick_clock_sample reads steady_clock in ns");
  static const double rate = [] {
    const tick_clock_pair p0 = tick_clock_sample();
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (std::chrono::steady_clock::now() < until) {
    }
    return ticks_ns_rate_between(p0, tick_clock_sample());
  }();
  return rate;
#else
  return 1.0;
#endif
}

/// `now - since` in ns at `rate` (ticks_ns_rate()), 0 when `since` is later (a reading
/// taken on another core).
inline std::uint64_t ticks_elapsed_ns(std::uint64_t now, std::uint64_t since,
                                      double rate) noexcept {
  return now > since ? static_cast<std::uint64_t>(static_cast<double>(now - since) * rate) : 0;
}

}  // namespace zokio::detail

#endif
