// The stall watchdog's thread (detail/stall_watchdog.hpp): wakes every quarter threshold,
// reports each poll that has run for the threshold once, on stderr and in runtime_metrics.
#ifndef ZOKIO_IMPL_STALL_WATCHDOG_IPP
#define ZOKIO_IMPL_STALL_WATCHDOG_IPP

#include <algorithm>
#include <cstdio>
#include <string>

#include <zokio/detail/platform.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/stall_watchdog.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/error.hpp>

namespace zokio::detail {

stall_watchdog::stall_watchdog(scheduler& s, unsigned workers, std::chrono::nanoseconds threshold)
    : s_(s),
      n_(workers),
      threshold_(threshold),
      slots_(new poll_watch[workers]),
      seen_(workers),
      thread_([this] { run(); }) {}

stall_watchdog::~stall_watchdog() {
  {
    std::lock_guard lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void stall_watchdog::run() {
  set_current_thread_name("zokio-watchdog");
  // A quarter of the threshold: a stall is seen between 1x and 1.25x the threshold.
  const auto period = std::max<std::chrono::nanoseconds>(threshold_ / 4, std::chrono::milliseconds(1));
  std::unique_lock lk(m_);
  while (!cv_.wait_for(lk, period, [this] { return stop_; })) {
    lk.unlock();
    check(steady_ns());
    lk.lock();
  }
}

void stall_watchdog::check(std::int64_t now) {
  for (unsigned i = 0; i < n_; ++i) {
    poll_watch& p = slots_[i];
    seen& v = seen_[i];
    // Acquire: pairs with poll_watch::enter's release store.
    const std::uint64_t seq = p.seq.load(std::memory_order_acquire);
    if (seq != v.seq) {
      v.seq = seq;
      v.since = now;
      continue;
    }
    if (seq == v.reported || now - v.since < threshold_.count()) continue;
    // The same poll for a whole threshold. Its task stays alive while `reading` is up and the
    // number still holds (see the invariants).
    p.reading.store(true, std::memory_order_seq_cst);
    std::string what;
    if (p.seq.load(std::memory_order_seq_cst) == seq) {
      if (task_header* t = p.task.load(std::memory_order_relaxed)) {
        const task_info info = task_info_of(t);
        try {
          what = join_error::describe(info.id, info.name, info.where);
        } catch (...) {
          what = "a task";  // out of memory: still report the stall
        }
      }
    }
    p.reading.store(false, std::memory_order_release);
    if (what.empty()) continue;  // it ended meanwhile, or the worker is between polls
    v.reported = seq;
    s_.stalls_.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr,
                 "zokio: stall: worker %u has been polling %s for more than %lld ms (threshold %lld ms): "
                 "a blocking call in a task? (spawn_blocking)\n",
                 i, what.c_str(), static_cast<long long>((now - v.since) / 1000000),
                 static_cast<long long>(threshold_.count() / 1000000));
    std::fflush(stderr);  // Windows' C runtime may buffer stderr when it is not a console
  }
}

}  // namespace zokio::detail

#endif
