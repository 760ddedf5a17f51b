// What a task needs from the runtime that runs it: the small schedule interface that the task
// state machine's harness (impl/task_header.ipp) calls, instead of a concrete scheduler.
#ifndef ZOKIO_DETAIL_TASK_SCHEDULER_HPP
#define ZOKIO_DETAIL_TASK_SCHEDULER_HPP

#include <atomic>
#include <cstdint>
#include <exception>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

struct task_header;

/// A worker thread's own outstanding-work counters (scheduler::work_started), set while its
/// loop runs: a thread_local, so that the count costs no call and no lookup. `owner` also
/// names the runtime whose worker this thread is (task_scheduler::on_worker_thread).
struct work_slot {
  const void* owner = nullptr;  // the task_scheduler whose worker this thread is
  std::atomic<std::uint64_t>* started = nullptr;
  std::atomic<std::uint64_t>* finished = nullptr;
};
inline thread_local work_slot tl_work_slot;

/// What a join's inline run of its task did (task_join_inline, scheduler::run_inline).
enum class inline_run {
  not_run,  // the runtime does not run it here, or it is not claimable any more
  ran,      // polled (it may have completed, been aborted, or suspended)
  requeue,  // polled and woken during the poll (the harness's result; run_inline requeues it)
  held,     // completed; RUNNING is still held for the joiner, which moves the result out and
            // publishes with task_finish_joined (one RMW for everything)
};

/// Implemented by each runtime flavour's scheduler. All calls come from the task harness
/// with the task's state already changed by a transition (task_state.hpp).
class task_scheduler {
 public:
  /// Queues a task that a transition returned `submit` for (the entry owns one reference).
  virtual void schedule(task_header* t) noexcept = 0;
  /// Completion: unlinks the task from the runtime's owned lists. True: the caller drops the
  /// list's reference (false: handed back to the owning worker, which drops it).
  virtual bool release_owned(task_header* t) noexcept = 0;
  /// A poll left a task whose owned_shard is owned_unlinked pending: link it into the owned
  /// lists, before it goes idle (RUNNING is held). Only runtimes that defer the link at
  /// spawn see it.
  virtual void link_owned(task_header* t) noexcept = 0;
  /// An exception nobody can join (detached task) goes to the runtime's policy.
  /// Call it outside the catch block that caught `e`: leaving that block drops the
  /// handler's reference inside libstdc++, which ThreadSanitizer cannot see, so a drop
  /// after the handover reads as a race with the thread that rethrows and frees it.
  virtual void report_unhandled(std::exception_ptr e, const char* where) noexcept = 0;
  /// A join found `t` not started: run it inline on the calling thread if the runtime
  /// allows it there (never returns requeue: it requeues the task itself).
  virtual inline_run run_inline(task_header* t) noexcept = 0;

  /// True when the calling thread is one of this runtime's workers (their wakes skip the
  /// wake gate, wake_gate.hpp). Not virtual: one thread_local compare on every wake.
  bool on_worker_thread() const noexcept { return tl_work_slot.owner == this; }
  /// The same test on a pointer that may dangle (a foreign wake racing the runtime's
  /// destruction decides with it whether to take the wake gate): a pointer compare, no
  /// member call on an object that may be gone (UBSan's vptr check flags that).
  static bool is_worker_of(const task_scheduler* s) noexcept { return tl_work_slot.owner == s; }

  /// Prints `e` to stderr as an unhandled exception from `where` (no runtime needed: a join
  /// handle may outlive its runtime).
  ZOKIO_DECL static void log_unhandled(const std::exception_ptr& e, const char* where) noexcept;

 protected:
  task_scheduler() = default;
  ~task_scheduler() = default;
  task_scheduler(const task_scheduler&) = delete;
  task_scheduler& operator=(const task_scheduler&) = delete;
};

}  // namespace zokio::detail

#endif
