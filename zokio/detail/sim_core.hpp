// The machinery of zokio::test::sim_runtime: one thread, a seeded choice among runnable
// tasks, and virtual time that jumps to the next timer when every task waits.
//
// Invariants: everything here is touched by the thread inside the simulation's call
// (sim_core::scope sets tl_sim and tl_work_slot for it), except schedule(), which a wake from
// another thread may call: the run queue is behind a mutex for that case (such a wake is
// accepted but makes the schedule depend on timing, so it is not deterministic). A task is in
// the owned list from bind() to its completion (release_owned); each run-queue entry holds
// one reference; each armed timer holds its handler's reference until it fires or is cancelled.
#ifndef ZOKIO_DETAIL_SIM_CORE_HPP
#define ZOKIO_DETAIL_SIM_CORE_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/sim_hooks.hpp>
#include <zokio/detail/task_header.hpp>

namespace zokio::detail {

class sim_core final : public sim_driver {
 public:
  ZOKIO_DECL explicit sim_core(std::uint64_t seed);
  /// Cancels every task left (futures dropped on this thread), drops their queue entries and
  /// timers, and frees them.
  ZOKIO_DECL ~sim_core();

  /// Makes the calling thread run this simulation until the scope ends.
  class scope {
   public:
    ZOKIO_DECL explicit scope(sim_core& c) noexcept;
    ZOKIO_DECL ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    sim_driver* prev_sim_;
    work_slot prev_slot_;
  };

  /// Polls runnable tasks, one at a time and chosen by the seed, and advances virtual time
  /// when none is runnable, until `done(ctx)`. Throws zokio::test::sim_deadlock when every
  /// task waits and no timer is armed, sim_error past the step limit; rethrows the first
  /// unhandled exception of a detached task (after the step that raised it).
  ZOKIO_DECL void run_until(bool (*done)(void*), void* ctx);

  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t steps() const noexcept { return steps_; }
  std::size_t live_tasks() const noexcept { return live_; }
  std::size_t armed_timers() const noexcept { return timers_.size(); }
  void set_step_limit(std::uint64_t n) noexcept { step_limit_ = n; }

  // sim_driver / task_scheduler
  ZOKIO_DECL bool bind(task_header* t) noexcept override;
  time_point now() const noexcept override { return now_; }
  ZOKIO_DECL void arm_timer(time_point deadline, void* ctx, timer_fire fire) override;
  ZOKIO_DECL void cancel_timer(void* ctx) noexcept override;
  ZOKIO_DECL void schedule(task_header* t) noexcept override;
  ZOKIO_DECL bool release_owned(task_header* t) noexcept override;
  /// Never called: bind() links every task at once.
  void link_owned(task_header*) noexcept override {}
  ZOKIO_DECL void report_unhandled(std::exception_ptr e, const char* where) noexcept override;
  /// Joins never run a child inline here: which task runs next is the seed's choice.
  inline_run run_inline(task_header*) noexcept override { return inline_run::not_run; }

  /// Where virtual time starts: a fixed point, so that printed times repeat bit for bit.
  static time_point epoch() noexcept { return time_point{} + std::chrono::hours(24); }

 private:
  task_header* pick() noexcept;  // a random runnable task (removed), or null
  bool fire_next_timers();       // advance to the earliest deadline and fire it; false: none
  std::uint64_t next_random() noexcept;
  [[noreturn]] void fail_deadlock() const;
  void drain_run_queue() noexcept;

  const std::uint64_t seed_;
  std::uint64_t rng_;
  std::uint64_t steps_ = 0;
  std::uint64_t step_limit_ = 100'000'000;
  time_point now_ = epoch();
  bool closed_ = false;

  std::mutex run_mu_;
  std::vector<task_header*> runnable_;

  task_header* owned_head_ = nullptr;
  std::size_t live_ = 0;

  struct timer_key {
    time_point deadline;
    std::uint64_t seq;  // arm order breaks ties: equal deadlines fire in the order armed
    bool operator<(const timer_key& o) const noexcept {
      return deadline != o.deadline ? deadline < o.deadline : seq < o.seq;
    }
  };
  using timer_map = std::map<timer_key, std::pair<void*, timer_fire>>;
  void fire_timer(timer_map::iterator it) noexcept;  // removes it, then fires (or drops) it
  timer_map timers_;
  std::unordered_map<void*, timer_key> timer_of_;
  std::uint64_t timer_seq_ = 0;

  std::exception_ptr unhandled_;
  std::atomic<std::uint64_t> work_started_{0}, work_finished_{0};  // tl_work_slot's counters
};

}  // namespace zokio::detail

#endif
