// The stall watchdog (runtime_config::enable_stall_watchdog): a thread that reports a task
// poll running longer than a threshold, once per poll, with the task's id, name and spawn place.
//
// Invariants: worker i's poll_watch slot is written by worker i only: at each poll start and
// end, the task being polled (or the parent an inline child returns to, or nullptr) with a
// relaxed store, then the slot's poll number with a release store; the watchdog thread reads
// the number (acquire, pairs with that release store), then the task. A task is alive while
// its poll runs; the watchdog reads its identity only after seeing the same poll number for a
// whole threshold (a poll that has run for 100 ms), then reads the number again and reports
// only if it is unchanged. Nothing of the watchdog runs on a worker but the two stores.
#ifndef ZOKIO_DETAIL_STALL_WATCHDOG_HPP
#define ZOKIO_DETAIL_STALL_WATCHDOG_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

struct task_header;
class scheduler;

/// One worker's current poll, as the watchdog sees it.
struct alignas(ZOKIO_CACHE_LINE) poll_watch {
  std::atomic<task_header*> task{nullptr};
  std::atomic<std::uint64_t> seq{0};
  std::uint64_t started = 0;  // owner only: the last number stored in seq

  /// `t` is polled now (`t`: a task, its parent after an inline child, or nullptr).
  void enter(task_header* t) noexcept {
    task.store(t, std::memory_order_relaxed);
    // Release: pairs with the watchdog's acquire load of seq (it then reads `task`).
    seq.store(++started, std::memory_order_release);
  }
};

class stall_watchdog {
 public:
  /// Starts the thread. `threshold`: a poll that long is reported (at most once).
  ZOKIO_DECL stall_watchdog(scheduler& s, unsigned workers, std::chrono::nanoseconds threshold);
  /// Stops and joins the thread (never called on it).
  ZOKIO_DECL ~stall_watchdog();
  stall_watchdog(const stall_watchdog&) = delete;
  stall_watchdog& operator=(const stall_watchdog&) = delete;

  poll_watch& slot(unsigned worker) noexcept { return slots_[worker]; }

 private:
  struct seen {
    std::uint64_t seq = 0;        // poll number last seen in the slot
    std::int64_t since = 0;       // when it was first seen (steady ns)
    std::uint64_t reported = 0;   // poll number last reported
  };
  void run();
  void check(std::int64_t now);

  scheduler& s_;
  const unsigned n_;
  const std::chrono::nanoseconds threshold_;
  std::unique_ptr<poll_watch[]> slots_;
  std::vector<seen> seen_;  // the watchdog thread's only
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by m_
  std::thread thread_;
};

/// basic_scheduler's member: the watchdog with the feature, nothing without it.
template <bool On>
struct stall_watch_storage {
  void begin(unsigned, task_header*) noexcept {}
};
template <>
struct stall_watch_storage<true> {
  std::unique_ptr<stall_watchdog> dog;  // null when the threshold is 0 (off at run time)
  void begin(unsigned i, task_header* t) noexcept {
    if (dog) dog->slot(i).enter(t);
  }
};

}  // namespace zokio::detail

#endif
