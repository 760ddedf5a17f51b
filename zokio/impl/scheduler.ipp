// The public-facing side of detail::scheduler: spawn's registration (bind), schedule,
// placement helpers, outstanding work, shutdown and teardown, unhandled exceptions. The rest
// is split by concern (as Tokio's scheduler is): impl/scheduler_launch.ipp (construction,
// placement), impl/scheduler_worker.ipp (spawn stack pops, searching state, spinning),
// impl/scheduler_queue.ipp (deque, spawn stack, injector), impl/io_driver.ipp (io_context
// running, unparking), impl/scheduler_metrics.ipp; the parts that depend on the compile-time
// features (the worker loop, stealing, parking, schedule, inline joins) are templates of
// basic_scheduler (impl/basic_scheduler.hpp).
#ifndef ZOKIO_IMPL_SCHEDULER_IPP
#define ZOKIO_IMPL_SCHEDULER_IPP

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/detail/call_stack.hpp>
#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/detail/thread_info_base.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>
#include <boost/version.hpp>
#if defined(BOOST_ASIO_HAS_IO_URING)
#include <liburing.h>

#include <boost/asio/detail/io_uring_service.hpp>
#endif

#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/wake_gate.hpp>
#include <zokio/task_local.hpp>
#include <zokio/detail/worker.hpp>
#include <zokio/error.hpp>

namespace zokio::detail {

namespace {
// Asio 1.81's per-thread recycling allocator looks up the innermost thread_info on this call
// stack; io_context::poll pushes its own (keyed by its scheduler), a worker pushes one for its
// whole life under a key of its own (detail API, checked against the Boost version).
static_assert(BOOST_VERSION >= 108100, "Boost.Asio's thread_context call stack as in 1.81");
using asio_call_stack = boost::asio::detail::call_stack<boost::asio::detail::thread_context,
                                                        boost::asio::detail::thread_info_base>;
struct asio_call_stack_key : boost::asio::detail::thread_context {};

// The worker running on this thread (any scheduler), and the scheduler entered by block_on.
thread_local worker* tl_worker = nullptr;
thread_local scheduler* tl_entered = nullptr;
// Frame address of the worker loop on this thread (0: not a worker): run_inline's stack bound.
// A fiber's stack lies elsewhere, so a join on a fiber never runs a child inline.
thread_local std::uintptr_t tl_stack_base = 0;
}  // namespace

scheduler* scheduler::current() noexcept { return tl_worker ? tl_worker->sched : tl_entered; }

worker* scheduler::local_worker() const noexcept {
  return tl_worker && tl_worker->sched == this ? tl_worker : nullptr;
}


void scheduler::enter_worker_thread(worker& w, std::uintptr_t stack_base) noexcept {
  tl_worker = &w;
  tl_stack_base = stack_base;
  tl_work_slot =
      work_slot{static_cast<const task_scheduler*>(this), &w.work_started, &w.work_finished};
}

std::uintptr_t scheduler::stack_base() noexcept { return tl_stack_base; }

void scheduler::leave_worker_thread() noexcept {
  tl_worker = nullptr;
  tl_stack_base = 0;
  tl_work_slot = work_slot{};
}

scheduler::enter_guard::enter_guard(scheduler* s) noexcept : prev_(tl_entered) { tl_entered = s; }
scheduler::enter_guard::~enter_guard() { tl_entered = prev_; }

boost::asio::io_context& scheduler::worker_io_context(std::size_t i) {
  if (!workers_[i]->driver) throw boost::system::system_error(make_error_code(errc::no_io_driver));
  return workers_[i]->driver->io;
}

unsigned scheduler::pick_home() noexcept {
  if (worker* w = local_worker()) return w->index;
  return next_home_.fetch_add(1, std::memory_order_relaxed) %
         static_cast<unsigned>(workers_.size());
}

long scheduler::outstanding_work() const noexcept {
  // Every `finished` first, then every `started` (the order the header's argument needs).
  std::uint64_t finished = foreign_work_finished_.load(std::memory_order_acquire);
  for (const worker* w : workers_) finished += w->work_finished.load(std::memory_order_acquire);
  std::uint64_t started = foreign_work_started_.load(std::memory_order_acquire);
  for (const worker* w : workers_) started += w->work_started.load(std::memory_order_acquire);
  return static_cast<long>(started - finished);
}

bool scheduler::wait_for_no_work() {
  if (on_worker_thread() || blocking_.on_pool_thread())
    throw boost::system::system_error(make_error_code(errc::nested_block_on),
                                      "runtime::run() on one of the runtime's own threads");
  // Polled, with a backoff from 20 us to 2 ms: nothing on the workers' hot path tells run()
  // that the last unit ended (that would put a shared write back on every operation), and a
  // waiting run() costs a few hundred cheap scans a second.
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    if (has_unhandled()) return true;
    if (outstanding_work() <= 0 || is_shutdown()) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

unsigned scheduler::place_io() noexcept {
  // Round-robin (measured against calling-worker placement in doc/asio_bridge.md): connections
  // accepted or opened from one executor spread over all workers, whichever thread makes them.
  return next_io_.fetch_add(1, std::memory_order_relaxed) % static_cast<unsigned>(workers_.size());
}

int scheduler::current_worker_index() const noexcept {
  worker* w = local_worker();
  return w ? static_cast<int>(w->index) : -1;
}

bool scheduler::bind(task_header* t) noexcept {
  if (worker* w = local_worker()) {
    // Workers only run before shutdown joins them, so their lists need no closed check.
    owned_.insert_local(t, w->index);
    return true;
  }
  return owned_.insert_shared(t);
}

void scheduler::link_owned(task_header* t) noexcept {
  if (worker* w = local_worker())
    owned_.link_local(t, w->index);
  else
    owned_.link_shared(t);
}

bool scheduler::release_owned(task_header* t) noexcept {
  worker* w = local_worker();
  return owned_.remove(t, w ? w->index : workers_.size());
}

void scheduler::request_stop() noexcept {
  if (shutdown_.exchange(true, std::memory_order_acq_rel)) return;
  for (auto& w : workers_) interrupt_park(*w);
}

template <class F>
void scheduler::pop_queued(F f) noexcept {
  // Each queued entry owns one reference, which goes to f.
  for (auto& w : workers_) {
    if (task_header* t = w->lifo.exchange(nullptr, std::memory_order_acq_rel)) f(t);
    while (w->spawn_top != 0)
      if (task_header* t = w->spawn_stack[--w->spawn_top]) f(t);
    while (task_header* t = w->deque.pop()) f(t);
    while (task_header* t = pop_pinned(*w)) f(t);
  }
  while (task_header* t = pop_high()) f(t);
  while (auto e = inject_.pop()) {
    if (!e.is_batch()) {
      inject_.taken(1);
      f(e.task());
      continue;
    }
    inject_batch* b = e.batch();
    for (std::uint32_t i = 0; i < b->n; ++i) f(b->items[i]);
    inject_.taken(b->n);
    inject_batch::destroy(b);
  }
}

void scheduler::drain_queues() noexcept {
  pop_queued([](task_header* t) noexcept { t->ref_dec(); });
}

void scheduler::delete_or_adopt() noexcept {
  if (blocking_.adopt_owner()) return;  // the last job left running deletes it
  delete this;
}

void scheduler::destroy() noexcept {
  if (blocking_.on_pool_thread()) {
    // A blocking job destroys its runtime: the full teardown but for waiting for the jobs
    // (itself among them); the last job to end deletes the scheduler.
    shutdown_impl(std::chrono::nanoseconds::max(), true);
    delete_or_adopt();
    return;
  }
  if (on_worker_thread()) {
    // A worker cannot join itself, and its loop still uses the scheduler after this poll:
    // stop, and let the last worker to leave its loop tear down and delete (worker_exited).
    request_stop();
    std::lock_guard lk(exit_mu_);
    orphaned_ = true;  // this worker's own loop has not left: running_workers_ > 0
    return;
  }
  {
    std::lock_guard lk(exit_mu_);
    if (workers_abandoned_ && running_workers_ != 0) {
      // A timed shutdown left a worker inside a poll: do not wait for it here either.
      orphaned_ = true;
      return;
    }
  }
  delete_or_adopt();
}

void scheduler::worker_exited() noexcept {
  bool finish;
  {
    std::lock_guard lk(exit_mu_);
    finish = --running_workers_ == 0 && orphaned_;
    // Under the lock: once it is released, a waiting shutdown may free exit_cv_.
    exit_cv_.notify_all();
  }
  if (!finish) return;
  // The runtime was destroyed while this worker ran (from inside, or after a timed shutdown):
  // this thread, no longer a worker (tl_worker is clear), tears it down like a destructor
  // would, without joining itself.
  for (auto& t : threads_)
    if (t.get_id() == std::this_thread::get_id()) t.detach();
  delete_or_adopt();
}

bool scheduler::shutdown(std::chrono::nanoseconds timeout) {
  if (on_worker_thread() || blocking_.on_pool_thread())
    throw boost::system::system_error(make_error_code(errc::shutdown_from_inside));
  return shutdown_impl(timeout, false);
}

bool scheduler::shutdown_impl(std::chrono::nanoseconds timeout, bool from_pool) noexcept {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  // Bounded when the deadline is representable.
  const bool bounded = timeout != std::chrono::nanoseconds::max() &&
                       timeout < clock::time_point::max() - start;
  const auto deadline = bounded ? start + timeout : clock::time_point::max();
  auto left = [&] {
    if (!bounded) return std::chrono::nanoseconds::max();
    const auto now = clock::now();
    return now < deadline ? std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now)
                          : std::chrono::nanoseconds::zero();
  };
  // The pool's wait: none from one of its own jobs (it would wait for itself).
  auto pool_wait = [&] { return from_pool ? std::chrono::nanoseconds::zero() : left(); };
  request_stop();
  // One teardown at a time: a concurrent call returns when the first is over. (A flag and a
  // condition variable rather than std::timed_mutex, whose try_lock_until goes through
  // pthread_mutex_clocklock, which ThreadSanitizer does not intercept.)
  {
    std::unique_lock sl(shutdown_mu_);
    auto free = [&] { return !shutdown_busy_; };
    if (!bounded)
      shutdown_cv_.wait(sl, free);
    else if (!shutdown_cv_.wait_until(sl, deadline, free))
      return false;
    shutdown_busy_ = true;
  }
  struct busy_release {
    scheduler* s;
    ~busy_release() {
      std::lock_guard sl(s->shutdown_mu_);
      s->shutdown_busy_ = false;
      s->shutdown_cv_.notify_all();
    }
  } busy{this};
  // Done before: only the jobs still running are waited for.
  if (joined_.load(std::memory_order_acquire)) return blocking_.shutdown(pool_wait());
  {
    // A worker leaves its loop after its current poll; a poll that blocks past the deadline
    // makes a timed call give up here (nothing torn down yet; destroy() then hands the
    // teardown to the last worker to leave).
    std::unique_lock el(exit_mu_);
    auto gone = [&] { return running_workers_ == 0; };
    if (!bounded) {
      exit_cv_.wait(el, gone);
    } else if (!exit_cv_.wait_until(el, deadline, gone)) {
      workers_abandoned_ = true;
      return false;
    }
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();  // out of their loops: returns at once
  joined_.store(true, std::memory_order_release);
  // Futures are destroyed on this thread from here on: it counts as inside the runtime, so
  // zokio::spawn in a destructor is refused like rt.spawn (a handle that reports
  // runtime_shutdown) instead of throwing no_runtime.
  enter_guard entered(this);
  on_workers_joined();
  // Workers are gone: this thread is the only one touching the queues now.
  auto pinned = owned_.close_and_pin();
  // Tasks spawned on a worker and never left pending are in no owned list but in a queue
  // (owned_tasks.hpp): taken out with their entries' references, and cancelled with the rest.
  std::vector<task_header*> queued;
  pop_queued([&](task_header* t) noexcept { queued.push_back(t); });
  for (task_header* t : pinned) task_shutdown(t);
  for (task_header* t : queued) task_shutdown(t);
  // Blocking pool: queued jobs are dropped (their handles report runtime_shutdown), running
  // ones are waited for. After the tasks are cancelled, so that a job waiting on a task's
  // output sees it end; before the queues are drained, so that a job's wakes land in the
  // injector while it is still drained (and its spawns are refused: the list is closed).
  // Jobs still running after `timeout` keep their threads (detached): see delete_or_adopt.
  const bool all_done = blocking_.shutdown(pool_wait());
  // This thread is no worker: those completions were handed back to the owners' stacks.
  for (unsigned i = 0; i < workers_.size(); ++i) owned_.drain_returned(i);
  // Every task is COMPLETE now; a wake from another thread that saw one before may still be
  // pushing its queue entry: wait for it (wake_gate.hpp), then drop the entries.
  wake_gate::wait_idle(static_cast<const task_scheduler*>(this));  // the tasks' key
  drain_queues();
  for (task_header* t : queued) t->ref_dec();
  for (task_header* t : pinned) t->ref_dec();
  drain_queues();
  for (auto& w : workers_) release_io_work(*w);
  return all_done;
}

ZOKIO_DECL void task_scheduler::log_unhandled(const std::exception_ptr& e, const char* where) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "zokio: unhandled exception from %s: %s\n", where, x.what());
  } catch (...) {
    std::fprintf(stderr, "zokio: unhandled exception from %s (not a std::exception)\n", where);
  }
  std::fflush(stderr);  // Windows' C runtime may buffer stderr when it is not a console
}

void scheduler::report_unhandled(std::exception_ptr e, const char* where) noexcept {
  switch (opts_.unhandled_exception) {
    case unhandled_exception_policy::log:
      log_unhandled(e, where);
      return;
    case unhandled_exception_policy::terminate:
      log_unhandled(e, where);
      std::fprintf(stderr, "zokio: terminating (unhandled_exception_policy::terminate)\n");
      std::terminate();
    case unhandled_exception_policy::propagate:
      break;
  }
  std::lock_guard lk(unhandled_mu_);
  unhandled_.push_back(std::move(e));
  // Ordering: release, pairs with has_unhandled()'s acquire.
  unhandled_pending_.store(true, std::memory_order_release);
  for (const waker* w : drivers_) w->wake_by_ref();  // a thread_parker: never calls back
}

std::exception_ptr scheduler::take_unhandled() noexcept {
  std::lock_guard lk(unhandled_mu_);
  if (unhandled_.empty()) return nullptr;
  std::exception_ptr e = std::move(unhandled_.front());
  unhandled_.pop_front();
  unhandled_pending_.store(!unhandled_.empty(), std::memory_order_relaxed);
  return e;
}

scheduler::driver_guard::driver_guard(scheduler& s, const waker& w) : s_(s), w_(&w) {
  std::lock_guard lk(s_.unhandled_mu_);
  s_.drivers_.push_back(w_);
}

scheduler::driver_guard::~driver_guard() {
  std::lock_guard lk(s_.unhandled_mu_);
  std::erase(s_.drivers_, w_);
}

}  // namespace zokio::detail

#endif
