// The seam between the runtime-independent parts (zokio::spawn, join_set, timers, the clock)
// and the deterministic simulation runtime (zokio/test/sim_runtime.hpp).
//
// Invariant: tl_sim is set only on a thread inside one of a sim_runtime's calls (block_on,
// spawn, its destructor) and restored on the way out; everything it points at is then used
// from that thread alone. Off the simulation the cost is one thread_local load per spawn,
// timer arm and clock read.
#ifndef ZOKIO_DETAIL_SIM_HOOKS_HPP
#define ZOKIO_DETAIL_SIM_HOOKS_HPP

#include <chrono>
#include <type_traits>
#include <utility>

#include <zokio/detail/task_cell.hpp>
#include <zokio/detail/task_scheduler.hpp>
#include <zokio/detail/task_state.hpp>
#include <zokio/error.hpp>
#include <zokio/future.hpp>
#include <zokio/waker.hpp>

namespace zokio::detail {

/// What the simulation offers the rest of Zokio: a task scheduler (the task harness's
/// interface), registration of new tasks, virtual time and a timer queue on it.
class sim_driver : public task_scheduler {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  /// Fires or drops a timer (`ctx` is what arm_timer got); called exactly once per arm.
  using timer_fire = void (*)(void* ctx) noexcept;

  /// Registers a new task; false once the simulation is being torn down (spawn refused).
  virtual bool bind(task_header* t) noexcept = 0;
  /// The virtual clock.
  virtual time_point now() const noexcept = 0;
  /// `fire(ctx)` runs when virtual time reaches `deadline` (or at cancel_timer).
  virtual void arm_timer(time_point deadline, void* ctx, timer_fire fire) = 0;
  /// Removes an armed timer and runs its `fire` at once (the caller took its waker first).
  virtual void cancel_timer(void* ctx) noexcept = 0;

 protected:
  sim_driver() = default;
  ~sim_driver() = default;
};

inline thread_local sim_driver* tl_sim = nullptr;

/// Now, for every Zokio timer: virtual time inside a simulation, the steady clock otherwise.
inline std::chrono::steady_clock::time_point clock_now() noexcept {
  if (sim_driver* s = tl_sim) [[unlikely]]
    return s->now();
  return std::chrono::steady_clock::now();
}

/// scheduler::spawn's counterpart on a simulation: same initial state and references (queue
/// entry, owned list, handle), same refusal after shutdown.
template <future F>
task_core<future_output_t<F>>* sim_spawn(sim_driver* s, F&& f, waker* join_waker = nullptr,
                                         bool* refused = nullptr, const spawn_meta& meta = {}) {
  using cell = task_cell<std::decay_t<F>>;
  using namespace task_state;
  auto* t = cell::create(NOTIFIED | JOIN_INTEREST | (join_waker ? JOIN_WAKER : 0) | 3 * REF_ONE, s,
                         std::forward<F>(f), meta);
  if (join_waker) t->join_waker = std::move(*join_waker);
  const bool bound = s->bind(t);
  if (refused) *refused = !bound;
  if (!bound) {
    if (join_waker) t->join_waker.reset();
    cell::complete_refused(t);
    return t;
  }
  s->schedule(t);
  return t;
}

/// spawn_detached's counterpart: no join interest, two references; false (future dropped)
/// when refused.
template <future F>
bool sim_spawn_detached(sim_driver* s, F&& f, const spawn_meta& meta = {}) {
  using cell = task_cell<std::decay_t<F>>;
  auto* t = cell::create(task_state::NOTIFIED | 2 * task_state::REF_ONE, s, std::forward<F>(f),
                         meta);
  if (!s->bind(t)) {
    cell::dealloc_fn(t);
    return false;
  }
  s->schedule(t);
  return true;
}

}  // namespace zokio::detail

#endif
