// The stall watchdog (runtime_config::enable_stall_watchdog): a thread that reports a task
// poll running longer than a threshold, once per poll, with the task's id, name and spawn place.
//
// Invariants: worker i's poll_watch slot is written by worker i only: at each poll start and
// end, the task being polled (or the parent an inline child returns to, or nullptr) with a
// relaxed store, then the slot's poll number (release at a start, seq_cst at an end). A task
// is alive while its poll runs, and may be freed at once after it ends. The watchdog reads a
// task's identity only inside a `reading` window: it raises `reading` (seq_cst), then reads
// the number again (seq_cst) and goes on only if it is still the number of the poll it timed.
// A worker ending a poll stores the new number (seq_cst), then waits while `reading` is up
// (seq_cst load). In the single total order either the watchdog's second read sees the new
// number (it reads nothing), or the worker sees `reading` and waits for the watchdog to be
// done with the task. Cost per poll with the feature: a release store at the start, a seq_cst
// store and a load at the end; without it, nothing.
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
  std::atomic<bool> reading{false};  // the watchdog reads `task`'s identity now
  std::uint64_t started = 0;         // owner only: the last number stored in seq

  /// A poll of `t` starts.
  void begin(task_header* t) noexcept {
    task.store(t, std::memory_order_relaxed);
    // Release: pairs with the watchdog's acquire load of seq (it then reads `task`).
    seq.store(++started, std::memory_order_release);
  }
  /// The poll ends; `outer` (an inline child's parent, whose poll goes on) or nullptr is the
  /// slot's task from now. The ended task may be freed after this returns.
  void end(task_header* outer) noexcept {
    task.store(outer, std::memory_order_relaxed);
    // Seq_cst store, then seq_cst load: pairs with the watchdog's store of `reading` and its
    // load of seq (see the invariants).
    seq.store(++started, std::memory_order_seq_cst);
    while (reading.load(std::memory_order_seq_cst)) std::this_thread::yield();
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

/// basic_scheduler's member: the watchdog with the feature, nothing without it (its poll
/// observer calls begin and end under `if constexpr (F.stall_watch)` only).
template <bool On>
struct stall_watch_storage {};
template <>
struct stall_watch_storage<true> {
  std::unique_ptr<stall_watchdog> dog;  // null when the threshold is 0 (off at run time)
  void begin(unsigned i, task_header* t) noexcept {
    if (dog) dog->slot(i).begin(t);
  }
  void end(unsigned i, task_header* outer) noexcept {
    if (dog) dog->slot(i).end(outer);
  }
};

}  // namespace zokio::detail

#endif
