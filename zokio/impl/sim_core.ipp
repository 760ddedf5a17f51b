// Out-of-line bodies of detail::sim_core (zokio/detail/sim_core.hpp): the simulation's run
// loop, its run queue, owned list, virtual timers and teardown.
#ifndef ZOKIO_IMPL_SIM_CORE_IPP
#define ZOKIO_IMPL_SIM_CORE_IPP

#include <cstdio>
#include <sstream>

#include <zokio/detail/sim_core.hpp>
#include <zokio/detail/wake_gate.hpp>
#include <zokio/test/sim_runtime.hpp>

namespace zokio::detail {

sim_core::sim_core(std::uint64_t seed) : seed_(seed), rng_(seed) {}

sim_core::~sim_core() {
  scope in(*this);
  closed_ = true;  // spawns from the futures dropped below are refused
  std::vector<task_header*> pinned;
  for (task_header* t = owned_head_; t; t = t->owned_next) {
    t->ref_inc();
    pinned.push_back(t);
  }
  // Nothing runs: task_shutdown takes RUNNING of every unfinished task and drops its future,
  // which cancels its timers and may wake (queue) others; those entries are dropped below.
  for (task_header* t : pinned) task_shutdown(t);
  drain_run_queue();
  // Timers armed by nobody's future any more (none expected): their handlers' references.
  while (!timers_.empty()) fire_timer(timers_.begin());
  for (task_header* t : pinned) t->ref_dec();
  drain_run_queue();
  // A wake from another thread may still be inside schedule().
  wake_gate::wait_idle(static_cast<const task_scheduler*>(this));
  drain_run_queue();
}

sim_core::scope::scope(sim_core& c) noexcept : prev_sim_(tl_sim), prev_slot_(tl_work_slot) {
  tl_sim = &c;
  tl_work_slot = {static_cast<const task_scheduler*>(&c), &c.work_started_, &c.work_finished_};
}

sim_core::scope::~scope() {
  tl_sim = prev_sim_;
  tl_work_slot = prev_slot_;
}

std::uint64_t sim_core::next_random() noexcept {
  // splitmix64: the same sequence on every platform and standard library.
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

task_header* sim_core::pick() noexcept {
  std::lock_guard lk(run_mu_);
  if (runnable_.empty()) return nullptr;
  const std::size_t i = static_cast<std::size_t>(next_random() % runnable_.size());
  task_header* t = runnable_[i];
  runnable_[i] = runnable_.back();
  runnable_.pop_back();
  return t;
}

void sim_core::drain_run_queue() noexcept {
  for (;;) {
    std::vector<task_header*> q;
    {
      std::lock_guard lk(run_mu_);
      q.swap(runnable_);
    }
    if (q.empty()) return;
    for (task_header* t : q) t->ref_dec();  // the entry's reference; its task is complete
  }
}

bool sim_core::fire_next_timers() {
  if (timers_.empty()) return false;
  const time_point at = timers_.begin()->first.deadline;
  if (at > now_) now_ = at;  // the jump: nothing else could happen before it
  // Every timer due now, in arm order; a timer armed by a woken task runs in a later step.
  while (!timers_.empty() && timers_.begin()->first.deadline <= now_) fire_timer(timers_.begin());
  return true;
}

void sim_core::fail_deadlock() const {
  std::ostringstream os;
  os << "zokio::test::sim_runtime: every task waits and no timer is armed (deadlock): seed "
     << seed_ << ", step " << steps_ << ", " << live_ << " live task(s), virtual time +"
     << std::chrono::duration_cast<std::chrono::microseconds>(now_ - epoch()).count()
     << " us (replay: ZOKIO_SIM_SEED=" << seed_ << ")";
  throw zokio::test::sim_deadlock(os.str(), seed_);
}

void sim_core::run_until(bool (*done)(void*), void* ctx) {
  while (!done(ctx)) {
    if (task_header* t = pick()) {
      if (++steps_ > step_limit_) {
        schedule(t);  // keep its entry: the task is not lost
        std::ostringstream os;
        os << "zokio::test::sim_runtime: step limit " << step_limit_ << " reached: seed " << seed_
           << " (replay: ZOKIO_SIM_SEED=" << seed_ << ")";
        throw zokio::test::sim_error(os.str(), seed_);
      }
      if (task_run(t)) schedule(t);  // woke itself (yield): a new entry, chosen again later
    } else if (!fire_next_timers()) {
      fail_deadlock();
    }
    if (unhandled_) std::rethrow_exception(std::exchange(unhandled_, nullptr));
  }
}

bool sim_core::bind(task_header* t) noexcept {
  if (closed_) return false;
  t->owned_prev = nullptr;
  t->owned_next = owned_head_;
  if (owned_head_) owned_head_->owned_prev = t;
  owned_head_ = t;
  ++live_;
  return true;
}

bool sim_core::release_owned(task_header* t) noexcept {
  if (t->owned_prev)
    t->owned_prev->owned_next = t->owned_next;
  else
    owned_head_ = t->owned_next;
  if (t->owned_next) t->owned_next->owned_prev = t->owned_prev;
  t->owned_prev = t->owned_next = nullptr;
  --live_;
  return true;  // the caller drops the list's reference
}

void sim_core::schedule(task_header* t) noexcept {
  std::lock_guard lk(run_mu_);
  runnable_.push_back(t);  // may throw bad_alloc: terminate, as any allocation in noexcept
}

void sim_core::arm_timer(time_point deadline, void* ctx, timer_fire fire) {
  const timer_key k{deadline, timer_seq_++};
  timers_.emplace(k, std::make_pair(ctx, fire));
  timer_of_.emplace(ctx, k);
}

void sim_core::cancel_timer(void* ctx) noexcept {
  auto it = timer_of_.find(ctx);
  if (it != timer_of_.end()) fire_timer(timers_.find(it->second));
}

void sim_core::fire_timer(timer_map::iterator it) noexcept {
  auto [ctx, fire] = it->second;
  timer_of_.erase(ctx);
  timers_.erase(it);
  fire(ctx);  // last: it may arm or cancel other timers
}

void sim_core::report_unhandled(std::exception_ptr e, const char* where) noexcept {
  if (!unhandled_) {
    unhandled_ = std::move(e);
  } else {
    log_unhandled(e, where);  // a second one before block_on saw the first
  }
}

}  // namespace zokio::detail

#endif
