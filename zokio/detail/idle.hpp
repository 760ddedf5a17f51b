// Who is searching for work and who is parked: decides which worker a new task wakes.
#ifndef ZOKIO_DETAIL_IDLE_HPP
#define ZOKIO_DETAIL_IDLE_HPP

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

/**
 * Parking protocol (a lost wake-up would hang a task forever, so it is argued here).
 *
 * A producer makes work visible (deque tail release, injector push), then runs
 * `std::atomic_thread_fence(seq_cst)` and reads `num_searching` and `num_sleeping`
 * (`needs_notify`). A worker about to park registers in `sleepers` (which bumps `num_sleeping`
 * under the mutex), runs the same fence, and re-reads every queue. The two fences are ordered
 * in the single total order S: if the worker's fence comes first, the producer sees
 * num_sleeping > 0 and wakes someone; otherwise the worker's re-read sees the work. Either
 * way nobody sleeps on visible work.
 *
 * The producer skips the wake when a worker is searching: that searcher, before it parks,
 * registers and re-reads the queues under the same rule, so it finds the work or is woken.
 *
 * At most half of the workers search at once (Tokio's rule), which bounds the thundering herd.
 * A woken worker is counted as searching by the waker (`pop_sleeper`), so one notification
 * does not wake a second sleeper before the first has looked.
 *
 * Untimed sleep. A parked worker sleeps without a timeout only when every worker is asleep;
 * otherwise it wakes every io_watch_interval to poll its busy siblings' I/O. A worker that
 * leaves the sleepers by itself (it saw work, or its own I/O woke it) may then start a long
 * poll while a sibling sleeps untimed: nobody would watch its I/O. So the sleeper announces
 * the untimed sleep (`num_untimed` up, seq_cst) and then re-reads num_sleeping (seq_cst);
 * the waking worker lowers num_sleeping (seq_cst RMW in unregister_sleeper) and, when it next
 * runs a task, reads num_untimed (seq_cst). In the total order one of them sees the other: the
 * sleeper takes a timed sleep, or the waker interrupts it (scheduler::wake_untimed_sleepers).
 * The read waits for a task: a worker that woke by itself and found nothing interrupts nobody
 * (two idle workers would otherwise wake each other forever). A worker woken by a producer is
 * searching, and the last searcher to find work wakes a sleeper anyway (end_search).
 */
class idle {
 public:
  explicit idle(std::size_t workers)
      : num_workers_(workers), registered_(workers, 0), node_(workers, 0) {
    sleepers_.reserve(workers);
  }

  /// NUMA node index of worker `i` (before the workers start).
  void set_node(unsigned i, unsigned node) { node_[i] = node; }

  /// True when the caller may start searching (steal); bumps num_searching.
  bool transition_to_searching() noexcept {
    auto s = num_searching_.load(std::memory_order_seq_cst);
    if (2 * s >= num_workers_) return false;
    num_searching_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }

  /// Returns true when the caller was the last searcher.
  bool transition_from_searching() noexcept {
    return num_searching_.fetch_sub(1, std::memory_order_seq_cst) == 1;
  }

  /// After the producer's seq_cst fence: is a wake needed?
  bool needs_notify() const noexcept {
    return num_searching_.load(std::memory_order_seq_cst) == 0 &&
           num_sleeping_.load(std::memory_order_seq_cst) != 0;
  }

  /// Takes one sleeper to wake, counting it as searching; -1 if none. A sleeper on node
  /// `prefer` goes first (work pushed by a worker is stolen inside its node first). `self`
  /// is never taken: a worker running a handler inside park() is still registered, and
  /// waking itself would wake nobody.
  int pop_sleeper(unsigned prefer = ~0u, unsigned self = ~0u) noexcept {
    std::lock_guard lk(mu_);
    if (sleepers_.empty()) return -1;
    // Re-check under the lock: another producer may have woken a searcher meanwhile.
    if (num_searching_.load(std::memory_order_seq_cst) != 0) return -1;
    std::size_t at = sleepers_.size();
    for (std::size_t k = sleepers_.size(); k-- > 0;) {
      if (sleepers_[k] == self) continue;
      if (at == sleepers_.size()) at = k;  // the most recent sleeper, failing a node match
      if (node_[sleepers_[k]] == prefer) {
        at = k;
        break;
      }
    }
    if (at == sleepers_.size()) return -1;
    unsigned i = sleepers_[at];
    sleepers_.erase(sleepers_.begin() + static_cast<std::ptrdiff_t>(at));
    registered_[i] = 0;
    num_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
    num_searching_.fetch_add(1, std::memory_order_seq_cst);
    return static_cast<int>(i);
  }

  void register_sleeper(unsigned i) {
    std::lock_guard lk(mu_);
    sleepers_.push_back(i);
    registered_[i] = 1;
    num_sleeping_.fetch_add(1, std::memory_order_seq_cst);
  }

  /// Returns true when `i` was still registered (nobody woke it: it is not searching).
  /// False means a producer popped it and counted it as searching.
  bool unregister_sleeper(unsigned i) {
    std::lock_guard lk(mu_);
    if (!registered_[i]) return false;
    registered_[i] = 0;
    for (auto it = sleepers_.begin(); it != sleepers_.end(); ++it)
      if (*it == i) {
        sleepers_.erase(it);
        break;
      }
    num_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
    return true;
  }

  std::uint32_t num_sleeping() const noexcept {
    return num_sleeping_.load(std::memory_order_relaxed);
  }

  /// Seq_cst: wake_untimed_sleepers reads it after its own unregister_sleeper, so a sibling
  /// registered before the read is counted and one registered after it sees the caller awake.
  std::uint32_t num_sleeping_ordered() const noexcept {
    return num_sleeping_.load(std::memory_order_seq_cst);
  }

  /// A worker is about to sleep without a timeout; returns false (and takes it back) when a
  /// sibling is awake after all. Ordering: seq_cst RMW then seq_cst load, pairs with
  /// unregister_sleeper's decrement followed by num_untimed() (see the protocol above).
  bool announce_untimed() noexcept {
    num_untimed_.fetch_add(1, std::memory_order_seq_cst);
    if (num_sleeping_.load(std::memory_order_seq_cst) == num_workers_) return true;
    num_untimed_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }

  void retract_untimed() noexcept { num_untimed_.fetch_sub(1, std::memory_order_relaxed); }

  /// Seq_cst: read after the caller left the sleepers (see announce_untimed).
  std::uint32_t num_untimed() const noexcept {
    return num_untimed_.load(std::memory_order_seq_cst);
  }

  std::uint32_t num_searching() const noexcept {
    return num_searching_.load(std::memory_order_relaxed);
  }

 private:
  const std::size_t num_workers_;
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::uint32_t> num_searching_{0};
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::uint32_t> num_sleeping_{0};
  std::atomic<std::uint32_t> num_untimed_{0};  // workers sleeping without a timeout
  alignas(ZOKIO_CACHE_LINE) std::mutex mu_;
  std::vector<unsigned> sleepers_;      // guarded by mu_
  std::vector<char> registered_;        // guarded by mu_
  std::vector<unsigned> node_;          // written before the workers start
};

}  // namespace zokio::detail

#endif
