// One scheduler worker: its deque, LIFO slot, parking flag, I/O driver part, counters and
// loop-private state.
#ifndef ZOKIO_DETAIL_WORKER_HPP
#define ZOKIO_DETAIL_WORKER_HPP

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <zokio/allocator.hpp>
#include <zokio/detail/config.hpp>
#include <zokio/detail/park_flag.hpp>
#include <zokio/detail/scheduler_features.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/detail/topology.hpp>
#include <zokio/detail/work_stealing_deque.hpp>
#include <zokio/detail/worker_io.hpp>
#include <zokio/detail/xorshift.hpp>

namespace zokio::detail {

class scheduler;

/// Built by its own thread once placed (allocator.hpp, category worker): its memory is first
/// touched on its NUMA node. Cache-line aligned blocks keep the parts other workers write
/// (deque head, LIFO slot, unpark flag) off the lines the owner writes in its loop.
struct alignas(ZOKIO_CACHE_LINE) worker {
  worker(scheduler* s, unsigned i, std::size_t cap, worker_placement p, worker_counters* c)
      : sched(s), index(i), place(p), counters(c), deque(cap), rng(i + 1) {}

  static void* operator new(std::size_t n) {
    return allocate(n, alloc_category::worker, alignof(worker));
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    deallocate(p, n, alloc_category::worker, alignof(worker));
  }

  scheduler* const sched;
  const unsigned index;
  const worker_placement place;  // NUMA node and cpu (-1: not pinned)
  // This worker's counters when the runtime has metrics (basic_scheduler's storage), else
  // nullptr: a runtime without metrics has no counters and no code that updates them.
  worker_counters* const counters;
  // Steal order: siblings on this node first, then the other nodes' (set before the start).
  std::vector<unsigned> near_siblings, far_siblings;  // not near/far: windows.h macros
  work_stealing_deque<task_header> deque;
  // The task woken last by this worker runs next. Thieves may take it (exchange) when the
  // owner is stuck in a long poll, so it is atomic.
  alignas(ZOKIO_CACHE_LINE) std::atomic<task_header*> lifo{nullptr};
  // Raised by unpark() before it interrupts the owner's sleep: the owner takes it before it
  // sleeps, so a wake-up that came first (or whose io_context::stop() a sibling's poll
  // swallowed) is not lost. Without an I/O driver the owner sleeps on it (wait()).
  alignas(ZOKIO_CACHE_LINE) park_flag unpark;
  // The I/O driver's part of this worker (its io_context and who runs it), made by
  // basic_scheduler's make_worker with the feature, else null: a runtime without the I/O
  // driver builds no io_context. Freed through a function pointer (worker_io::destroy), so
  // the code that deletes workers does not name io_context either.
  std::unique_ptr<worker_io, void (*)(worker_io*) noexcept> driver{nullptr, nullptr};

  // Tasks pinned to this worker (spawn_local), FIFO: any thread pushes, only the owner pops,
  // both under pinned_mu (the count is changed under it too). Never stolen, never spilled.
  // The owner reads pinned_count without the lock as a hint; a push from another thread
  // always unparks the owner afterwards (scheduler::push_pinned), so a hint read as 0 just
  // before parking costs no wake-up.
  alignas(ZOKIO_CACHE_LINE) spin_mutex pinned_mu;
  std::atomic<std::uint32_t> pinned_count{0};
  std::deque<task_header*> pinned;

  // Owner-only loop state.
  alignas(ZOKIO_CACHE_LINE) std::uint32_t inject_countdown = 1;  // polls until the injector's turn
  std::uint32_t event_countdown = 1;   // polls until the io_context's turn
  unsigned lifo_streak = 0;
  bool searching = false;
  // Left park() without a producer's wake-up (saw work, or its own I/O woke it) and has not
  // run a task since: its next run_task interrupts untimed sleepers (idle.hpp).
  bool woke_by_itself = false;
  bool pinned_turn = false;  // pinned tasks and the rest take turns while both wait
  std::uint32_t high_streak = 0;  // priority-queue tasks in a row (the starvation guard)
  // Depth-first fork-join (doc/architecture.md, "Scheduling order"). Tasks spawned by this
  // worker's running tasks that the LIFO slot displaced, newest on top: the owner runs them
  // newest first, after the LIFO slot and before the deque. Owner-only, so invisible to
  // thieves: whenever the deque runs empty the oldest half moves there (spill_spawned), where
  // thieves take the oldest work first. `lifo_spawned`: the LIFO slot's task came from a spawn
  // (a displaced wake goes to the deque as before, keeping the fairness of woken tasks).
  static constexpr std::uint32_t spawn_stack_capacity = 256;
  std::uint32_t spawn_top = 0;
  // Entries moved out of the bottom of the stack so far (mod 2^16): the entry at index i
  // records its slot as spawn_base + i, so run_inline finds a child without a scan.
  std::uint16_t spawn_base = 0;
  std::uint32_t spawn_streak = 0;  // spawn-stack pops in a row while the deque waits
  std::uint32_t woken_in_deque = 0;  // woken tasks pushed to the deque and not yet popped
                                     // (an estimate: thieves take some)
  bool lifo_spawned = false;
  // Joins that ran a not-started child inline (scheduler::run_inline) since the loop's last
  // task, and when the first of them began (steady clock, ns): the inline time slice.
  std::uint32_t inline_runs = 0;
  std::uint32_t inline_slices = 0;  // slices renewed since then (the injector was empty)
  std::int64_t inline_since = 0;
  // The busy io_context turn (scheduler::io_turn_min_gap_ns): when the last one began
  // (steady clock, ns) and whether it ran any handler (then the next is not held back).
  std::int64_t last_io_turn = 0;
  bool io_turn_found = false;
  // current_thread: the flag of the future the driving block_on polls (its waker sets it);
  // a set flag ends a park like visible work does. Null on worker threads.
  const std::atomic<bool>* driver_woken = nullptr;
  task_header* spawn_stack[spawn_stack_capacity];
  xorshift32 rng;

  // Outstanding work started / finished on this worker's thread (scheduler::work_started):
  // written by this worker only (relaxed load + release store), read by outstanding_work().
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::uint64_t> work_started{0};
  std::atomic<std::uint64_t> work_finished{0};
};

}  // namespace zokio::detail

#endif
