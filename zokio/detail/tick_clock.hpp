// The cheap clock of the trace and the latency histograms: the TSC where there is one (about
// 10 ns a read on this project's VMs, against about 30 ns for steady_clock), else
// steady_clock's nanoseconds; and its rate in ns per tick, measured once per process.
#ifndef ZOKIO_DETAIL_TICK_CLOCK_HPP
#define ZOKIO_DETAIL_TICK_CLOCK_HPP

#include <chrono>
#include <cstdint>

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

/// Nanoseconds per tick: measured against steady_clock over 1 ms on the first call (in the
/// process), 1 without a TSC.
inline double ticks_ns_rate() noexcept {
#if ZOKIO_HAS_TSC
  static const double rate = [] {
    using clk = std::chrono::steady_clock;
    const std::uint64_t t0 = ticks_now();
    const clk::time_point c0 = clk::now();
    clk::time_point c1 = c0;
    while (c1 - c0 < std::chrono::milliseconds(1)) c1 = clk::now();
    const std::uint64_t t1 = ticks_now();
    const double ns = static_cast<double>(std::chrono::nanoseconds(c1 - c0).count());
    return t1 > t0 ? ns / static_cast<double>(t1 - t0) : 1.0;
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
