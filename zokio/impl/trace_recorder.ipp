// The bodies of trace_ring and trace_recorder (detail/trace_recorder.hpp): the consistent
// copy of a ring and the Chrome Trace Event JSON.
#ifndef ZOKIO_IMPL_TRACE_RECORDER_IPP
#define ZOKIO_IMPL_TRACE_RECORDER_IPP

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <vector>

#include <zokio/detail/trace_recorder.hpp>

namespace zokio::detail {

ZOKIO_DECL void trace_ring::init(std::size_t capacity) {
  mask_ = capacity - 1;
  slots_ = std::make_unique<std::atomic<std::uint64_t>[]>(capacity * 2);
}

ZOKIO_DECL void trace_ring::copy(std::vector<event>& out) const {
  const std::uint64_t cap = mask_ + 1;
  // Acquire: pairs with push's release store; every event below `head` is whole.
  const std::uint64_t head = head_.load(std::memory_order_acquire);
  const std::uint64_t first = head > cap ? head - cap : 0;
  std::vector<event> got;
  got.reserve(static_cast<std::size_t>(head - first));
  for (std::uint64_t n = first; n < head; ++n) {
    const std::size_t i = static_cast<std::size_t>(n & mask_) * 2;
    const std::uint64_t ticks = slots_[i].load(std::memory_order_relaxed);
    const std::uint64_t word = slots_[i + 1].load(std::memory_order_relaxed);
    got.push_back({ticks, static_cast<trace_kind>(word >> 56), word & kValueMask});
  }
  // Acquire fence: pairs with push's release fence; `reserved` then shows every overwrite of
  // a slot read above.
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint64_t reserved = reserved_.load(std::memory_order_relaxed);
  const std::uint64_t keep_from = reserved > cap ? reserved - cap : 0;
  const std::size_t skip = static_cast<std::size_t>(std::min(head, std::max(keep_from, first)) - first);
  out.insert(out.end(), got.begin() + static_cast<std::ptrdiff_t>(skip), got.end());
}

namespace {
std::int64_t trace_steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

ZOKIO_DECL trace_recorder::trace_recorder(unsigned workers, std::size_t capacity)
    : n_(workers), rings_(std::make_unique<trace_ring[]>(workers + 1)) {
  capacity = std::bit_ceil(std::max<std::size_t>(capacity, 16));
  for (unsigned i = 0; i <= workers; ++i) rings_[i].init(capacity);
  const tick_clock_pair p = tick_clock_sample();  // the same moment on both clocks
  ticks0_ = p.ticks;
  ns0_ = p.ns;
}

ZOKIO_DECL std::string trace_recorder::chrome_json() const {
  // Ticks to microseconds since the recorder started, calibrated over its whole life so far
  // (at least 1 ms of it, so that a fresh recorder's rate is not noise).
  tick_clock_pair p1 = tick_clock_sample();
#if ZOKIO_HAS_TSC
  if (p1.ns - ns0_ < 1000000) {
    const std::int64_t until = ns0_ + 1000000;
    while (trace_steady_ns() < until) {
    }
    p1 = tick_clock_sample();
  }
  const double ns_per_tick = ticks_ns_rate_between({ticks0_, ns0_}, p1);
#else
  const double ns_per_tick = 1.0;
#endif
  const std::uint64_t ticks1 = p1.ticks;
  auto us = [&](std::uint64_t t) {
    const double d = static_cast<double>(static_cast<std::int64_t>(t - ticks0_)) * ns_per_tick;
    return d / 1000.0;
  };
  const double end_us = us(ticks1);

  std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
  bool first = true;
  char buf[256];
  auto emit = [&](const char* text) {
    if (!first) out += ",\n";
    first = false;
    out += text;
  };
  std::snprintf(buf, sizeof buf, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"zokio runtime\"}}");
  emit(buf);
  std::vector<trace_ring::event> evs;
  for (unsigned r = 0; r <= n_; ++r) {
    if (r < n_)
      std::snprintf(buf, sizeof buf,
                    "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"name\":\"worker %u\"}}", r, r);
    else
      std::snprintf(buf, sizeof buf,
                    "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"name\":\"other threads\"}}", r);
    emit(buf);
    evs.clear();
    rings_[r].copy(evs);
    // The slices begun and not yet ended, innermost last.
    struct open_slice {
      trace_kind kind;
      std::uint64_t value;
    };
    std::vector<open_slice> open;
    double last_ts = 0;
    for (const auto& e : evs) {
      const double ts = us(e.ticks);
      last_ts = std::max(last_ts, ts);
      switch (e.kind) {
        case trace_kind::poll_begin:
          open.push_back({e.kind, e.value});
          std::snprintf(buf, sizeof buf,
                        "{\"name\":\"task %llu\",\"cat\":\"poll\",\"ph\":\"B\",\"ts\":%.3f,\"pid\":1,\"tid\":%u,\"args\":{\"task\":%llu}}",
                        static_cast<unsigned long long>(e.value), ts, r, static_cast<unsigned long long>(e.value));
          emit(buf);
          break;
        case trace_kind::park:
          open.push_back({e.kind, 0});
          std::snprintf(buf, sizeof buf,
                        "{\"name\":\"parked\",\"cat\":\"park\",\"ph\":\"B\",\"ts\":%.3f,\"pid\":1,\"tid\":%u}", ts, r);
          emit(buf);
          break;
        case trace_kind::poll_end:
        case trace_kind::unpark: {
          const trace_kind begin = e.kind == trace_kind::poll_end ? trace_kind::poll_begin : trace_kind::park;
          // Its begin was overwritten (or it ends a slice that is not the innermost): dropped.
          if (open.empty() || open.back().kind != begin ||
              (begin == trace_kind::poll_begin && open.back().value != e.value))
            break;
          open.pop_back();
          std::snprintf(buf, sizeof buf, "{\"ph\":\"E\",\"ts\":%.3f,\"pid\":1,\"tid\":%u}", ts, r);
          emit(buf);
          break;
        }
        case trace_kind::spawn:
        case trace_kind::wake:
        case trace_kind::steal:
          std::snprintf(buf, sizeof buf,
                        "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":1,\"tid\":%u,\"args\":{\"%s\":%llu}}",
                        e.kind == trace_kind::spawn ? "spawn" : e.kind == trace_kind::wake ? "wake" : "steal",
                        e.kind == trace_kind::steal ? "steal" : "task", ts, r,
                        e.kind == trace_kind::steal ? "tasks" : "task", static_cast<unsigned long long>(e.value));
          emit(buf);
          break;
      }
    }
    // Still open (a poll running, a worker asleep now): ended at the time of this call.
    while (!open.empty()) {
      open.pop_back();
      std::snprintf(buf, sizeof buf,
                    "{\"ph\":\"E\",\"ts\":%.3f,\"pid\":1,\"tid\":%u,\"args\":{\"unfinished\":true}}", std::max(end_us, last_ts), r);
      emit(buf);
    }
  }
  out += "]}";
  return out;
}

}  // namespace zokio::detail

#endif
