// The type-erased head of every spawned task: state word, vtable, links, join waker.
#ifndef ZOKIO_DETAIL_TASK_HEADER_HPP
#define ZOKIO_DETAIL_TASK_HEADER_HPP

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string_view>
#include <vector>

#include <zokio/allocation.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/task_scheduler.hpp>
#include <zokio/detail/task_state.hpp>
#include <zokio/runtime_hooks.hpp>
#include <zokio/task_id.hpp>
#include <zokio/waker.hpp>

namespace zokio::detail {

struct task_header;

/// Operations that need the concrete future type. All are called with exclusive access
/// (RUNNING held, or the last reference).
struct task_vtable {
  /// Polls the future; on ready (or exception) stores the result and destroys the future.
  bool (*poll)(task_header*, context&);
  /// Destroys the future and stores `errc` as the result (abort or shutdown).
  void (*cancel)(task_header*, int errc);
  /// Destroys a stored result nobody will read; returns the exception it held, if any (the
  /// caller hands it to the runtime's unhandled-exception policy).
  std::exception_ptr (*drop_output)(task_header*);
  /// Destroys whatever is left and frees the memory.
  void (*dealloc)(task_header*);
  /// The await points the future is suspended at, innermost first (zokio::task only; null
  /// for other futures). Called by the task dump with RUNNING held (task_inspect).
  void (*await_chain)(const task_header*, std::vector<source_location>&) = nullptr;
};

/// task_header::owned_shard of a task that is in no owned list yet: the scheduler links it
/// when its first poll leaves it pending (task_scheduler::link_owned).
inline constexpr std::uint16_t owned_unlinked = 0xffff;

/// A new task id: unique in the process. Each thread takes ids in blocks from one counter, so
/// a spawn costs a thread-local increment, not a shared read-modify-write.
inline std::uint64_t next_task_id() noexcept {
  static constinit std::atomic<std::uint64_t> next_block{0};
  constexpr std::uint64_t block = 1024;
  struct range {
    std::uint64_t next = 0, end = 0;
  };
  static constinit thread_local range r;
  if (r.next == r.end) [[unlikely]] {
    r.next = next_block.fetch_add(block, std::memory_order_relaxed) + 1;  // ids start at 1
    r.end = r.next + block;
  }
  return r.next++;
}

/// What a spawn says about the task: its name (copied) and where it was spawned.
struct spawn_meta {
  std::string_view name;
  source_location where;
};

struct task_header {
  std::atomic<std::uint64_t> state;
  const task_vtable* vtable;
  task_scheduler* sched;  // the runtime that runs it (task_scheduler.hpp)
  // Owned-task list links and owner (see owned_tasks.hpp): changed by the owning worker only
  // (or under the shared list's lock for tasks spawned outside the workers).
  task_header* owned_prev = nullptr;
  task_header* owned_next = nullptr;
  task_header* owned_returned_next = nullptr;  // link in the owner's hand-back stack (owned_tasks.hpp)
  // With the latency histograms (runtime_config::enable_latency_histograms): when the task
  // was last queued (ticks_now(), detail/tick_clock.hpp; 0: not stamped), then during a poll
  // when that poll began.
  // Written by whoever queues it (bind, schedule, a requeue) and by the poller. The stamp
  // comes after the state word's transition that made the task runnable, so a stale queue
  // entry (task_state.hpp) may already run it, even to completion: hence a relaxed atomic of
  // its own (it shared a word with owned_returned_next until TSan found the race; a stamp
  // after completion would have overwritten the hand-back link). A sample taken from the
  // other stamp is still a time the task was queued.
  std::atomic<std::uint64_t> queued_at{0};
  std::uint16_t owned_shard = 0;  // owned_unlinked: in no list yet (owned_tasks.hpp)
  // Where the task sits in its worker's spawn stack while it is there (worker::spawn_base):
  // its joiner finds it in O(1). Written by the worker that pushes it; read by a joiner on any
  // worker, which trusts it only if its own stack holds the task at that index (then it wrote
  // it itself). Relaxed atomic: a joiner on another worker may read it while the owner writes
  // (TSan found that race with test/stress's stress_high_perf); a stale value fails the check.
  std::atomic<std::uint16_t> spawn_slot{0};
  // spawn_local: 1 + the index of the worker the task never leaves; 0: any worker. Set
  // before the task is first queued, never changed (scheduler::push_pinned).
  std::uint16_t home = 0;
  // Priority level (runtime_config::priority_levels; 0, the default, is the lowest). A task
  // above 0 is queued on its level's shared queue, which every worker serves first
  // (scheduler::push_high). Set before the task is first queued, never changed.
  std::uint8_t priority = 0;
  // Written by the join_handle while JOIN_WAKER is clear; read by the task side once it set
  // COMPLETE and saw JOIN_WAKER (see task_state.hpp).
  waker join_waker;
  // Identity (zokio::task_id): set at creation, before the task is shared, never changed.
  std::uint64_t id = next_task_id();
  // The spawn call (where()), kept as two fields so that polled_at fills what would be
  // source_location's padding (the header is 112 bytes).
  const char* where_file = "";
  std::uint32_t where_line = 0;
  // With the task dump (runtime_config::enable_task_dump): when its last poll started, in
  // task_registry::now_ms() (0: never polled). Written by the poller, read by the dump,
  // relaxed: a figure for people, ordered with nothing.
  std::atomic<std::uint32_t> polled_at{0};
  char* name = nullptr;        // owned copy of spawn_options::name, or nullptr

  task_header(std::uint64_t initial, const task_vtable* vt, task_scheduler* s) noexcept
      : state(initial), vtable(vt), sched(s) {}
  ~task_header() { delete[] name; }
  task_header(const task_header&) = delete;
  task_header& operator=(const task_header&) = delete;

  /// Copies the spawn's name (before the task is shared); may throw std::bad_alloc.
  void set_name(std::string_view n) {
    name = new char[n.size() + 1];
    std::memcpy(name, n.data(), n.size());
    name[n.size()] = '\0';
  }

  /// The spawn call (empty when unknown).
  source_location where() const noexcept { return source_location::current(where_file, where_line); }
  void set_where(source_location l) noexcept {
    where_file = l.file_name();
    where_line = l.line();
  }

  void ref_inc() noexcept { task_state::ref_inc(state); }
  void ref_dec(unsigned n = 1) noexcept {
    if (task_state::ref_dec(state, n)) vtable->dealloc(this);
  }
};

// Defined in impl/task_header.ipp: the harness that runs the state machine's transitions
// (task_state.hpp) and acts on their results, shared by all task types.
/// The task being polled (or cancelled) on this thread, or nullptr (task_id::current()).
inline thread_local task_header* tl_current_task = nullptr;

/// RAII: `t` is the current task for the scope (nested inline runs restore their parent).
class current_task_scope {
 public:
  explicit current_task_scope(task_header* t) noexcept : outer_(tl_current_task) {
    tl_current_task = t;
  }
  ~current_task_scope() { tl_current_task = outer_; }
  task_header* outer() const noexcept { return outer_; }
  current_task_scope(const current_task_scope&) = delete;
  current_task_scope& operator=(const current_task_scope&) = delete;

 private:
  task_header* const outer_;
};

void task_wake_by_ref(task_header* t) noexcept;
void task_wake_by_val(task_header* t) noexcept;
void task_abort(task_header* t) noexcept;
void task_drop_join_handle(task_header* t) noexcept;
/// Registers `w` to be woken at completion. Returns true when the task is already complete.
bool task_set_join_waker(task_header* t, const waker& w) noexcept;
/// Runs one poll of a task popped from a queue (consumes the queue's reference). An entry
/// that finds the task not notified, or running, or complete is stale (its task was claimed
/// by its joiner, task_claim): it only drops its reference.
/// Returns true when the task must be requeued at the back (it woke itself while running).
bool task_run(task_header* t) noexcept;
/// What a runtime hook is told about `t` (valid while `t` is).
inline task_info task_info_of(const task_header* t) noexcept {
  return task_info{task_id(t->id), t->name ? std::string_view(t->name) : std::string_view(),
                   t->where()};
}
/// (With a poll observer for hooks, the stall watchdog or the trace: task_run_with and
/// task_run_joined_with, templates in task_harness.hpp.)
/// The joiner's claim of a task that has not started (NOTIFIED, idle, not aborted): sets
/// RUNNING and takes a reference for the run, leaving its queue entry stale. False: not
/// claimable now.
bool task_claim(task_header* t) noexcept;
/// The joiner's run of its task that has not started: `claimed` (task_claim succeeded) or
/// with the queue entry taken back (its reference becomes the run's). Returns held when the
/// task completed and the joiner must take the result and call task_finish_joined.
inline_run task_run_joined(task_header* t, bool claimed) noexcept;
/// After a held inline run, once the joiner moved the result out: publishes COMPLETE and
/// drops the run's, the handle's (the join interest too) and the owned list's references in
/// one RMW, freeing the task when they were the last. The handle must not touch it after.
void task_finish_joined(task_header* t) noexcept;
/// A join that finds its task not started runs it here, inline, when the calling thread is
/// one of the task's workers with native stack to spare (scheduler::run_inline).
inline_run task_join_inline(task_header* t) noexcept;
/// Shutdown path: cancels the future of a task that is not complete.
void task_shutdown(task_header* t) noexcept;
/// The task dump's look at a task it holds a reference to: when the task is waiting (idle,
/// not notified), takes RUNNING for the read (task_state::to_inspecting), appends its await
/// points to `chain` and hands back any wake or abort that came meanwhile. False: it was not
/// waiting (queued, running or complete), and nothing was read.
bool task_inspect(task_header* t, std::vector<source_location>& chain) noexcept;

inline waker task_waker(task_header* t) noexcept;

namespace task_waker_fns {
// account_waker: ZOKIO_DEBUG_ALLOC counts references held by wakers, so that a leaked one is
// named in the leak report (a no-op otherwise).
inline void clone(void* p) noexcept {
  account_waker(1);
  static_cast<task_header*>(p)->ref_inc();
}
inline void wake(void* p) noexcept {
  account_waker(-1);
  task_wake_by_val(static_cast<task_header*>(p));
}
inline void wake_by_ref(void* p) noexcept { task_wake_by_ref(static_cast<task_header*>(p)); }
inline void drop(void* p) noexcept {
  account_waker(-1);
  static_cast<task_header*>(p)->ref_dec();
}
inline constexpr waker_vtable vtable{&clone, &wake, &wake_by_ref, &drop};
}  // namespace task_waker_fns

}  // namespace zokio::detail

namespace zokio {
inline std::optional<task_id> task_id::current() noexcept {
  if (const detail::task_header* t = detail::tl_current_task) return task_id(t->id);
  return std::nullopt;
}
}  // namespace zokio

#endif
