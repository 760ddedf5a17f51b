// The worker loop, stealing, parking and shutdown of detail::scheduler.
#ifndef ZOKIO_IMPL_SCHEDULER_IPP
#define ZOKIO_IMPL_SCHEDULER_IPP

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
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

scheduler::placement scheduler::place(const scheduler_options& opts) {
  // Every configuration error is thrown here, before a thread exists.
  placement p;
  if (opts.numa_aware) {
    p.topo = topology::resolve(opts.topology);
  } else {
    p.topo.nodes.push_back({0, allowed_cpus()});
    p.topo.source = "numa_aware off";
  }
  p.plan = plan_workers(p.topo, opts.worker_threads, opts.topology);
  return p;
}

scheduler::scheduler(const scheduler_options& opts) : scheduler(opts, place(opts)) {}

scheduler::scheduler(const scheduler_options& opts, placement where)
    : opts_(opts),
      inject_(1024),
      idle_(where.plan.size()),
      owned_(where.plan.size()),
      topology_(where.topo.describe()),
      blocking_(this, blocking_pool_options{opts.max_blocking_threads, opts.blocking_keep_alive,
                                            opts.thread_name}) {
  const topology& topo = where.topo;
  const std::vector<worker_placement>& plan = where.plan;
  const unsigned n = static_cast<unsigned>(plan.size());
  opts_.worker_threads = n;
  for (unsigned i = 0; i < n; ++i) idle_.set_node(i, plan[i].node_index);
  // A real multi-node machine: unpinned workers still stay on their node's cpus.
  const bool bind_to_node = opts_.numa_aware && !topo.fake && topo.nodes.size() > 1;

  // Each worker thread places itself, then builds its own worker (first touch on its node);
  // they wait for `go` until all are built, since stealing reads the siblings' deques.
  workers_.assign(n, nullptr);
  threads_.reserve(n);
  std::mutex m;
  std::condition_variable cv;
  unsigned built = 0, passed = 0;  // passed: threads out of the gate (m and cv are ours)
  bool go = false, failed = false;
  std::exception_ptr error;
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([&, i, place = plan[i]] {
      worker* w = nullptr;
      try {
        if (place.cpu >= 0)
          pin_current_thread(static_cast<unsigned>(place.cpu));
        else if (bind_to_node)
          bind_current_thread(topo.nodes[place.node_index].cpus);
        w = new worker(this, i, opts_.local_queue_capacity, place);
      } catch (...) {
        std::lock_guard lk(m);
        if (!error) error = std::current_exception();
      }
      {
        std::unique_lock lk(m);
        workers_[i] = w;
        ++built;
        cv.notify_all();
        cv.wait(lk, [&] { return go || failed; });
        ++passed;
        cv.notify_all();
        if (failed) return;
      }
      char name[16];  // the kernel's limit, terminator included
      std::snprintf(name, sizeof name, "%.11s-%u", opts_.thread_name.c_str(), i);
      pthread_setname_np(pthread_self(), name);
      tl_worker = w;
      tl_stack_base = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
      tl_work_slot = work_slot{static_cast<const task_scheduler*>(this), &w->work_started, &w->work_finished};
      {
        // A long-lived Asio thread_info under everything this worker runs: Asio memory taken
        // outside io_context::poll (an operation started in a task, a cancellation slot) is
        // recycled here instead of reaching malloc every time (doc/performance.md).
        boost::asio::detail::thread_info_base asio_info;
        asio_call_stack_key key;
        asio_call_stack::context asio_ctx(&key, asio_info);
        if (opts_.enable_metrics)
          run_worker<true>(*w);
        else
          run_worker<false>(*w);
      }
      tl_worker = nullptr;
      tl_stack_base = 0;
      tl_work_slot = work_slot{};
      worker_exited();  // may delete this scheduler (destroyed from inside): touch nothing after
    });
  }
  {
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return built == n; });
    failed = error != nullptr;
  }
  if (!failed) {
    for (unsigned i = 0; i < n; ++i) {
      for (unsigned j = 0; j < n; ++j) {
        if (j == i) continue;
        (plan[j].node_index == plan[i].node_index ? workers_[i]->near : workers_[i]->far)
            .push_back(j);
      }
    }
    if (opts_.enable_io_uring) setup_io_uring();
  }
  if (!failed) running_workers_ = n;  // before `go`: the workers count down after it
  {
    std::unique_lock lk(m);
    go = !failed;
    cv.notify_all();
    // m and cv live on this stack: return only when no thread can touch them any more.
    cv.wait(lk, [&] { return passed == n; });
  }
  if (failed) {
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (worker* w : workers_) delete w;
    workers_.clear();
    joined_ = true;
    shutdown_ = true;
    std::rethrow_exception(error);
  }
}

scheduler::~scheduler() {
  if (workers_.empty()) return;  // the constructor failed and cleaned up
  shutdown_impl(std::chrono::nanoseconds::max(), false);
  // After a shutdown that timed out, jobs finished since may have woken tasks (a waker kept
  // by the job): their queue entries hold references.
  drain_queues();
  for (worker* w : workers_) delete w;
  workers_.clear();
  // Never silent: what the propagate policy kept for a block_on that never came.
  for (auto& e : unhandled_)
    log_unhandled(e, "the runtime (never rethrown: no block_on ran after it)");
}

scheduler::live_token::live_token() noexcept {
  g_live_runtimes.fetch_add(1, std::memory_order_relaxed);
}

scheduler::live_token::~live_token() {
  // Every member is freed (the worker threads empty their own caches when they exit,
  // allocator.hpp): give back what this thread and the allocators still keep of the
  // runtime's bursts (release_memory; doc/performance.md, "Giving memory back").
  release_memory();
  // ZOKIO_DEBUG_ALLOC: once the last runtime is gone (every member of it freed, this is the
  // first member), whatever the runtime allocator still counts as live was leaked: a waker
  // never dropped, a task never joined nor detached...
  if (g_live_runtimes.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (std::string r = leak_report(); !r.empty())
      std::fprintf(stderr,
                   "zokio: leak report: still live after the last runtime was destroyed:\n%s",
                   r.c_str());
  }
}

void scheduler::setup_io_uring() {
#if defined(BOOST_ASIO_HAS_IO_URING)
  // Probe the kernel first: io_uring may be missing, disabled (io_uring_disabled sysctl),
  // filtered by seccomp, or over the memlock limit. ZOKIO_FORCE_NO_IO_URING=1 simulates a
  // refusal, for tests.
  std::string why;
  if (const char* force = std::getenv("ZOKIO_FORCE_NO_IO_URING"); force && *force && *force != '0') {
    why = "refused (forced by ZOKIO_FORCE_NO_IO_URING)";
  } else {
    ::io_uring ring;
    if (int r = ::io_uring_queue_init(8, &ring, 0); r < 0)
      why = std::string("refused by the kernel: ") + std::strerror(-r);
    else
      ::io_uring_queue_exit(&ring);
  }
  if (why.empty()) {
    try {
      // Eagerly, so that a failure shows here and not at the first file operation.
      for (auto& w : workers_) boost::asio::use_service<boost::asio::detail::io_uring_service>(w->io);
      io_uring_active_ = true;
      return;
    } catch (const std::exception& e) {
      why = std::string("failed to start: ") + e.what();
    }
  }
  std::fprintf(stderr,
               "zokio: io_uring %s; falling back to epoll (sockets, timers and signals work; "
               "asio::stream_file and random_access_file are unavailable)\n",
               why.c_str());
#endif
}

scheduler* scheduler::current() noexcept { return tl_worker ? tl_worker->sched : tl_entered; }

worker* scheduler::local_worker() const noexcept {
  return tl_worker && tl_worker->sched == this ? tl_worker : nullptr;
}


scheduler::enter_guard::enter_guard(scheduler* s) noexcept : prev_(tl_entered) { tl_entered = s; }
scheduler::enter_guard::~enter_guard() { tl_entered = prev_; }

boost::asio::io_context& scheduler::worker_io_context(std::size_t i) noexcept {
  return workers_[i]->io;
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

bool scheduler::release_owned(task_header* t) noexcept {
  worker* w = local_worker();
  return owned_.remove(t, w ? w->index : workers_.size());
}

// ---------------------------------------------------------------------------------------------
// Enqueueing

void scheduler::schedule(task_header* t) noexcept {
  worker* w = local_worker();
  if (w && !shutdown_.load(std::memory_order_relaxed)) {
    if (opts_.enable_lifo_slot) {
      // The newest wake runs next on this worker (cache-hot, and a ping-pong between two
      // tasks never leaves the core). The task it displaces goes to the deque, or to the
      // spawn stack when it is a spawned child that has not run yet.
      const bool displaced_spawned = std::exchange(w->lifo_spawned, false);
      if (!w->lifo.load(std::memory_order_relaxed)) {
        // Empty: only this worker ever fills the slot (thieves only empty it), so a plain
        // release store cannot overwrite anyone's task.
        w->lifo.store(t, std::memory_order_release);
        return;  // one task waiting: no need to wake a sibling for it
      }
      t = w->lifo.exchange(t, std::memory_order_acq_rel);
      if (!t) return;
      if (displaced_spawned) {
        push_spawned(*w, t);
        return;
      }
    }
    push_woken(*w, t, true);
    return;
  }
  push_inject(t);
}

void scheduler::schedule_spawned(task_header* t) noexcept {
  worker* w = local_worker();
  if (!w || shutdown_.load(std::memory_order_relaxed) || !opts_.enable_lifo_slot) {
    schedule(t);
    return;
  }
  // An empty LIFO slot takes the child (where a thief can still take it while the parent's
  // poll goes on); else it waits on the spawn stack, newest on top. The slot's task is not
  // displaced: no atomic exchange per spawn, and a woken task there keeps running next.
  if (!w->lifo.load(std::memory_order_relaxed)) {
    w->lifo_spawned = true;
    w->lifo.store(t, std::memory_order_release);  // only this worker fills the slot
    return;
  }
  push_spawned(*w, t);
}

namespace {
std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

task_header* scheduler::pop_spawned(worker& w) noexcept {
  task_header* t = w.spawn_stack[--w.spawn_top];
  while (w.spawn_top != 0 && !w.spawn_stack[w.spawn_top - 1]) --w.spawn_top;
  return t;
}

bool scheduler::run_inline(task_header* t) noexcept {
  worker* w = local_worker();
  if (!w) return false;
  // Stack grows down: a frame outside [base - limit, base] (a fiber's stack, or too deep)
  // makes the unsigned difference exceed the limit.
  const auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (tl_stack_base - sp > inline_stack_limit) return false;
  // The inline time slice: a tree run inline never returns to the worker loop, so the loop's
  // turns (injector, io_context, woken tasks) would wait for all of it.
  if (w->inline_runs == inline_closed) return false;
  if (w->inline_runs == 0) {
    w->inline_since = steady_ns();
  } else if (w->inline_runs % inline_check_every == 0 &&
             steady_ns() - w->inline_since > inline_slice_ns) {
    w->inline_runs = inline_closed;
    w->inject_countdown = 1;  // their turns come first when the loop takes its next task
    w->event_countdown = 1;
    w->spawn_streak = spawn_fairness;
    return false;
  }
  ++w->inline_runs;
  if (opts_.enable_metrics) {
    worker_counters::bump(w->counters.polls);
    worker_counters::bump(w->counters.inline_runs);
  }
  // Its queue entry is usually where this worker's own pushes put it last (the common
  // fork-join join): taken back, it is run as the loop would (task_run consumes the entry's
  // reference and drops it when the task is no longer waiting to start).
  task_header* expected = t;
  bool took_entry = false;
  if (w->lifo.load(std::memory_order_relaxed) == t) {
    took_entry = w->lifo.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel,
                                                 std::memory_order_relaxed);
  } else {
    // The whole stack (at most 256 pointers, contiguous): code that joins in spawn order
    // finds its children at the bottom. Taken from the middle, a slot becomes a hole that
    // pops and spills skip; the top is never a hole.
    for (std::uint32_t i = w->spawn_top; i-- > 0;) {
      if (w->spawn_stack[i] != t) continue;
      if (i + 1 == w->spawn_top)
        pop_spawned(*w);
      else
        w->spawn_stack[i] = nullptr;
      took_entry = true;
      break;
    }
  }
  // The child is its own task: it must not see the parent's task-local values
  // (task_local.hpp keeps the innermost scope in a thread_local while a task is polled).
  task_local_frame*& locals = task_local_top();
  task_local_frame* const parent_locals = std::exchange(locals, nullptr);
  bool requeue;
  if (took_entry) {
    requeue = task_run(t);
  } else {
    // Elsewhere (deque, injector, a sibling's queues): claimed with a reference of its own;
    // the entry goes stale and only drops its reference when popped.
    if (!task_claim(t)) {
      locals = parent_locals;
      return false;
    }
    requeue = task_run_claimed(t);
  }
  locals = parent_locals;
  if (requeue) push_woken(*w, t, true);
  return true;
}

void scheduler::push_woken(worker& w, task_header* t, bool notify) noexcept {
  ++w.woken_in_deque;
  push_local(w, t, notify);
}

void scheduler::push_spawned(worker& w, task_header* t) noexcept {
  if (w.spawn_top == worker::spawn_stack_capacity) spill_spawned(w, w.spawn_top / 2, false);
  w.spawn_stack[w.spawn_top++] = t;
  if (spill_wanted(w)) spill_spawned(w, (w.spawn_top + 1) / 2, true);
}

bool scheduler::spill_wanted(const worker& w) const noexcept {
  // Thieves see only the deque: whenever it is empty, the oldest spawned work goes there
  // (this worker keeps the LIFO slot and the newest half). Not only when a sibling looks
  // idle: a sibling between two states would miss it, and a task that then blocks this
  // worker would keep the stack's tasks from everyone (tasks_of_a_blocked_worker_are_stolen).
  // Spilled tasks are spawned work: the owner takes them only when its stack is empty (no
  // fairness turns for them), so spilling does not make the order breadth-first.
  return workers_.size() > 1 && w.deque.empty();
}

void scheduler::spill_spawned(worker& w, std::uint32_t n, bool notify) noexcept {
  // The n oldest, oldest first (the deque is FIFO for the owner and for thieves).
  for (std::uint32_t i = 0; i < n; ++i)
    if (w.spawn_stack[i]) push_local(w, w.spawn_stack[i], false);  // holes: see run_inline
  std::copy(w.spawn_stack + n, w.spawn_stack + w.spawn_top, w.spawn_stack);
  w.spawn_top -= n;
  if (notify) notify_parked();
}

void scheduler::push_local(worker& w, task_header* t, bool notify) noexcept {
  for (;;) {
    if (w.deque.push(t)) break;
    // Full: move the older half to the injector as one batch, unless a thief is mid-steal.
    inject_batch* batch = inject_batch::create(w.deque.capacity() / 2);
    bool moved = w.deque.push_overflow([batch](task_header* x) { batch->items[batch->n++] = x; });
    if (!moved) {
      // A thief is mid-steal or made room: retry the push once, else use the injector.
      inject_batch::destroy(batch);
      if (!w.deque.push(t)) inject_.push(t);
      break;
    }
    inject_.push(batch);
  }
  if (notify) notify_parked();
}

task_header* scheduler::take_injected(worker& w, std::size_t& taken) noexcept {
  auto e = inject_.pop();
  taken = 0;
  if (!e) return nullptr;
  if (!e.is_batch()) {
    inject_.taken(1);
    taken = 1;
    return e.task();
  }
  // Run the first task now; the rest of the batch joins the local deque.
  inject_batch* b = e.batch();
  task_header* first = b->items[0];
  for (std::uint32_t i = 1; i < b->n; ++i) push_local(w, b->items[i], false);
  taken = b->n;
  inject_.taken(b->n);
  inject_batch::destroy(b);
  return first;
}

void scheduler::push_inject(task_header* t) noexcept {
  inject_.push(t);
  if (!shutdown_.load(std::memory_order_relaxed)) notify_parked();
}

void scheduler::inject_many(task_header* const* ts, std::size_t n) noexcept {
  const std::size_t per = std::max<std::size_t>(1, opts_.local_queue_capacity / 2);
  for (std::size_t i = 0; i < n;) {
    const std::size_t k = std::min(per, n - i);
    if (k == 1) {
      inject_.push(ts[i]);
    } else {
      inject_batch* b = nullptr;
      try {
        b = inject_batch::create(k);
      } catch (...) {
        // No memory for the batch: one push per task, as spawn() does.
        for (std::size_t j = 0; j < k; ++j) inject_.push(ts[i + j]);
      }
      if (b) {
        for (std::size_t j = 0; j < k; ++j) b->items[b->n++] = ts[i + j];
        inject_.push(b);
      }
    }
    i += k;
    if (!shutdown_.load(std::memory_order_relaxed)) notify_parked();
  }
}

void scheduler::notify_parked() noexcept {
  // Ordering: seq_cst fence, pairs with the fence in park(); see idle.hpp.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!idle_.needs_notify()) return;
  // Wake a sleeper on the notifying worker's node first: it steals from its own node.
  worker* self = local_worker();
  int i = self ? idle_.pop_sleeper(self->place.node_index, self->index) : idle_.pop_sleeper();
  if (i >= 0) unpark(static_cast<unsigned>(i));
}

void scheduler::unpark(unsigned i) {
  // The flag first (see worker::unpark_flag), then io_context::stop(), which interrupts the
  // owner's run_one() (eventfd or condition variable) and allocates nothing; a posted no-op
  // handler would cost an allocation per wake. The next thread to take the io_context
  // restarts it (restart_io).
  worker& w = *workers_[i];
  w.unpark_flag.store(true, std::memory_order_release);
  w.io.stop();
}

void scheduler::restart_io(worker& v) noexcept {
  // Called with v.io_state held (no thread is inside v.io), as restart() requires. Asks the
  // io_context itself: a flag set by unpark() after its stop() left a window in which the
  // woken worker ran on a stopped io_context (no completions, no timers) for as long as the
  // waker was preempted between the two. A stop() by request_stop() may be undone here too:
  // park() re-checks shutdown_ after this, and poll() never blocks.
  if (v.io.stopped()) v.io.restart();
}

bool scheduler::has_visible_work() const noexcept {
  if (inject_.size_hint() != 0 || !inject_.empty()) return true;
  for (auto& w : workers_) {
    if (!w->deque.empty()) return true;
    if (w->lifo.load(std::memory_order_acquire)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The worker loop

template <bool Metrics>
void scheduler::run_worker(worker& w) {
  while (!shutdown_.load(std::memory_order_acquire)) {
    if (task_header* t = next_task<Metrics>(w)) {
      // A worker woken as a searcher may find its work here rather than in search(): it
      // must stop counting as searching, or producers would never wake anyone else.
      if (w.searching) end_search(w);
      run_task<Metrics>(w, t);
      continue;
    }
    // Out of local work: drain ready I/O completions and posted handlers without blocking.
    if (poll_io(w) != 0) continue;
    if (opts_.enable_work_stealing || workers_.size() == 1) {
      if (task_header* t = search<Metrics>(w)) {
        run_task<Metrics>(w, t);
        continue;
      }
    } else if (std::size_t taken; task_header* t = take_injected(w, taken)) {
      if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
      if (w.searching) end_search(w);
      run_task<Metrics>(w, t);
      continue;
    }
    // No task anywhere: run I/O completions that busy siblings have not got to yet.
    if (poll_sibling_io(w)) continue;
    park<Metrics>(w);
  }
}

std::size_t scheduler::run_io(worker& v, bool block) {
  // Called with v.io_state held. Handlers run inline here (Asio completions, functions
  // dispatched through zokio::executor); one that throws leaves run_one()/poll() as it would
  // leave io_context::run(), and goes to the unhandled-exception policy. The io_context stays
  // usable (Asio's contract): the handlers left run on the next call.
  try {
    if (!block) return v.io.poll();
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
    // Sockets on Asio 1.81's io_uring backend (BOOST_ASIO_DISABLE_EPOLL, not our default):
    // never a timed wait. io_uring_service::run(usec > 0) (a) submits an IORING_OP_TIMEOUT_
    // REMOVE without io_uring_sqe_set_data, so its completion carries a stale user_data that
    // is then completed as some other operation's io_queue (fixed upstream in Asio 1.27 /
    // Boost 1.82: get_sqe clears it), and (b) labels its timeout with &ts, a local, whose
    // completion can arrive in a later call and write into a dead frame (still in Asio
    // master). run_one_for() here corrupted the heap in perf_tcp_echo_uring 6/6; a plain-Asio
    // repro crashes the same way with one thread (doc/asio_bridge.md). Such builds sleep
    // without the I/O watch: a blocked worker's I/O waits for it.
    return v.io.run_one();
#else
    // Nobody waits in the reactor of a sibling that is awake, so I/O readiness on its
    // io_context would wait until it finishes its current poll, however long. While any
    // sibling is awake, sleep at most io_watch_interval and then poll the busy siblings' I/O
    // (poll_sibling_io). When every worker sleeps, sleep without a timeout (idle costs nothing).
    if (idle_.num_sleeping() < workers_.size()) return v.io.run_one_for(io_watch_interval);
    return v.io.run_one();
#endif
  } catch (...) {
    report_unhandled(std::current_exception(), "an Asio completion handler run by a worker");
    return 1;  // it ran something: the caller looks for more work before sleeping
  }
}

std::size_t scheduler::poll_io(worker& v) {
  // One thread at a time runs an io_context (owner or sibling): I/O objects then see the
  // single-threaded io_context Asio code expects. Busy or sleeping: skip, it is being run.
  int expect = 0;
  if (!v.io_state.compare_exchange_strong(expect, 2, std::memory_order_acq_rel,
                                          std::memory_order_relaxed))
    return 0;
  restart_io(v);
  std::size_t ran = run_io(v, false);
  if (opts_.enable_metrics && ran != 0) count_io(v, ran);
  v.io_state.store(0, std::memory_order_release);
  return ran;
}

void scheduler::count_io(worker& v, std::size_t ran) noexcept {
  // Called with v.io_state held, so these plain read-modify-writes do not race.
  worker_counters::bump(v.counters.io_handlers, ran);
  worker* self = local_worker();
  if (self && self != &v) worker_counters::bump(v.counters.io_handlers_by_siblings, ran);
}

bool scheduler::poll_sibling_io(worker& w) {
  const auto n = static_cast<std::uint32_t>(workers_.size());
  if (n < 2) return false;
  std::uint32_t start = w.rng.next_below(n);
  for (std::uint32_t k = 0; k < n; ++k) {
    worker& v = *workers_[(start + k) % n];
    if (&v == &w) continue;
    // Completions dispatched through zokio::executor run inline here, on this worker.
    if (poll_io(v) != 0) return true;
  }
  return false;
}

template <bool Metrics>
task_header* scheduler::next_task(worker& w) {
  // Fairness: the injector gets a turn even when local work never runs out.
  if (--w.inject_countdown == 0) {
    w.inject_countdown = opts_.global_queue_interval;
    std::size_t taken;
    if (task_header* t = take_injected(w, taken)) {
      if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
      if (taken > 1) notify_parked();
      return t;
    }
  }
  // Completions of this worker's io_context get a turn too, and so do the tasks of ours that
  // other workers completed (owned_tasks.hpp).
  if (--w.event_countdown == 0) {
    w.event_countdown = opts_.event_interval;
    poll_io(w);
    owned_.drain_returned(w.index);
  }

  if (w.lifo.load(std::memory_order_relaxed)) {
    task_header* t = w.lifo.exchange(nullptr, std::memory_order_acq_rel);
    if (t) {
      w.lifo_spawned = false;
      if (w.lifo_streak < opts_.max_lifo_polls) {
        ++w.lifo_streak;
        if constexpr (Metrics) worker_counters::bump(w.counters.lifo_polls);
        return t;
      }
      // Two tasks waking each other would starve the rest: the deque (or else the spawn
      // stack) gets a turn now, and this task runs right after it (on top of the spawn
      // stack). It is not sent behind the whole deque: in a fork-join tree that task is
      // usually a parent just woken by its last child's completion, and parking it behind
      // older work is breadth-first again (fib's live tasks grew from about 24 to 40,000).
      w.lifo_streak = 0;
      task_header* d = w.deque.pop();
      if (d) {
        if (w.woken_in_deque != 0) --w.woken_in_deque;
      } else if (w.spawn_top != 0) {
        d = pop_spawned(w);  // a child spawned and displaced mid-streak
      }
      if (d) {
        push_spawned(w, t);
        return d;
      }
      return t;  // nothing else waits on this worker: nobody to starve
    }
  }
  w.lifo_streak = 0;
  // Spawned children, newest first: depth-first, so a fork-join tree holds about depth x
  // width tasks instead of a whole level. While woken tasks wait in the deque, it still gets
  // one turn in every spawn_fairness pops; spawned work in the deque (spilled, or pulled from
  // the injector) gets none, since starting an old subtree early is breadth again.
  if (w.spawn_top != 0) {
    if (w.spawn_top > 1 && spill_wanted(w)) spill_spawned(w, w.spawn_top / 2, true);
    if (++w.spawn_streak < spawn_fairness || w.woken_in_deque == 0)
      return pop_spawned(w);
    w.spawn_streak = 0;
    if (task_header* t = w.deque.pop()) {
      --w.woken_in_deque;  // most likely that one; an estimate (thieves take some)
      return t;
    }
    w.woken_in_deque = 0;
    return pop_spawned(w);
  }
  w.spawn_streak = 0;
  if (task_header* t = w.deque.pop()) {
    if (w.woken_in_deque != 0) --w.woken_in_deque;
    return t;
  }
  w.woken_in_deque = 0;

  // Local queue empty: take batches from the injector until we hold a fair share (the rest
  // is left for the others; a batch is at most half a deque, so one always fits).
  if (inject_.size_hint() == 0) return nullptr;
  std::size_t share = inject_.size_hint() / workers_.size() + 1;
  std::size_t taken = 0;
  task_header* first = take_injected(w, taken);
  if (!first) return nullptr;
  std::size_t pulled = taken;
  while (pulled < share && w.deque.size() < w.deque.capacity() / 2) {
    task_header* t = take_injected(w, taken);
    if (!t) break;
    push_local(w, t, false);
    pulled += taken;
  }
  if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, pulled);
  if (pulled > 1) notify_parked();
  return first;
}

template <bool Metrics>
task_header* scheduler::search(worker& w) {
  if (!w.searching) {
    if (!idle_.transition_to_searching()) {
      // Enough siblings are searching already; still take from the injector.
      std::size_t taken;
      if (task_header* t = take_injected(w, taken)) {
        if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
        return t;
      }
      return nullptr;
    }
    w.searching = true;
  }
  task_header* found = nullptr;
  // NUMA: the siblings on this node first, the other nodes only when those have nothing.
  for (const std::vector<unsigned>* group : {&w.near, &w.far}) {
    const auto n = static_cast<std::uint32_t>(group->size());
    if (n == 0) continue;
    const bool remote = group == &w.far;
    std::uint32_t start = w.rng.next_below(n);
    for (std::uint32_t k = 0; k < n && !found; ++k) {
      worker& v = *workers_[(*group)[(start + k) % n]];
      std::uint32_t stolen = 0;
      found = v.deque.steal_into(w.deque, stolen);
      if (found) {
        if constexpr (Metrics) {
          worker_counters::bump(w.counters.steals);
          worker_counters::bump(w.counters.stolen_tasks, stolen);
          if (remote) worker_counters::bump(w.counters.remote_steals);
          note_first_steal(w);
        }
      }
    }
    // A sibling stuck in a long poll may hold a task in its LIFO slot.
    for (std::uint32_t k = 0; k < n && !found; ++k) {
      worker& v = *workers_[(*group)[(start + k) % n]];
      if (!v.lifo.load(std::memory_order_relaxed)) continue;
      found = v.lifo.exchange(nullptr, std::memory_order_acq_rel);
      if (found) {
        if constexpr (Metrics) {
          worker_counters::bump(w.counters.steals);
          worker_counters::bump(w.counters.stolen_tasks);
          if (remote) worker_counters::bump(w.counters.remote_steals);
          note_first_steal(w);
        }
      }
    }
    if (found) break;
  }
  if (!found) {
    std::size_t taken;
    found = take_injected(w, taken);
    if (found) {
      if constexpr (Metrics) worker_counters::bump(w.counters.injector_pulls, taken);
    }
  }
  if (found) end_search(w);
  return found;
}

void scheduler::note_first_steal(worker& w) noexcept {
  if (w.counters.first_steal.load(std::memory_order_relaxed) == 0)
    w.counters.first_steal.store(steal_seq_.fetch_add(1, std::memory_order_relaxed) + 1,
                                 std::memory_order_relaxed);
}

void scheduler::end_search(worker& w) noexcept {
  w.searching = false;
  // The last searcher to find work wakes another, in case there is more (Tokio's rule).
  if (idle_.transition_from_searching()) notify_parked();
}

template <bool Metrics>
void scheduler::park(worker& w) {
  if (w.searching) {
    w.searching = false;
    idle_.transition_from_searching();
  }
  owned_.drain_returned(w.index);  // do not keep completed tasks' memory while asleep
  idle_.register_sleeper(w.index);
  // Ordering: seq_cst fence, pairs with the one in notify_parked(); see idle.hpp.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (has_visible_work() || shutdown_.load(std::memory_order_acquire)) {
    if (!idle_.unregister_sleeper(w.index)) w.searching = true;  // a producer woke us already
    return;
  }
  if constexpr (Metrics) worker_counters::bump(w.counters.parks);
  // Blocks in the reactor (or Asio's condition variable) until unpark()'s post, an I/O
  // completion, or stop() at shutdown.
  // Take the io_context for sleeping (a sibling may be polling it for a moment).
  for (int expect = 0; !w.io_state.compare_exchange_weak(expect, 1, std::memory_order_acq_rel,
                                                         std::memory_order_relaxed);
       expect = 0)
    std::this_thread::yield();
  // A notifier that popped us set unpark_flag before posting; if a sibling's poll ran that
  // post, the flag still tells us not to sleep.
  std::size_t ran = 0;
  restart_io(w);
  // After the restart: a shutdown whose stop() it may have undone is seen here (request_stop
  // sets shutdown_ before its stop()).
  if (!w.unpark_flag.exchange(false, std::memory_order_acq_rel) &&
      !shutdown_.load(std::memory_order_acquire))
    ran = run_io(w, true);
  if constexpr (Metrics)
    if (ran != 0) count_io(w, ran);
  w.io_state.store(0, std::memory_order_release);
  if (!idle_.unregister_sleeper(w.index)) w.searching = true;
}

template <bool Metrics>
void scheduler::run_task(worker& w, task_header* t) {
  w.inline_runs = 0;
  if constexpr (Metrics) worker_counters::bump(w.counters.polls);
  if (task_run(t)) {
    // The task woke itself while running (yield): it goes behind the queued work.
    push_woken(w, t, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Shutdown

void scheduler::request_stop() noexcept {
  if (shutdown_.exchange(true, std::memory_order_acq_rel)) return;
  for (auto& w : workers_) w->io.stop();
}

void scheduler::drain_queues() noexcept {
  // Each queued entry owns one reference.
  for (auto& w : workers_) {
    if (task_header* t = w->lifo.exchange(nullptr, std::memory_order_acq_rel)) t->ref_dec();
    while (w->spawn_top != 0)
      if (task_header* t = w->spawn_stack[--w->spawn_top]) t->ref_dec();
    while (task_header* t = w->deque.pop()) t->ref_dec();
  }
  while (auto e = inject_.pop()) {
    if (!e.is_batch()) {
      inject_.taken(1);
      e.task()->ref_dec();
      continue;
    }
    inject_batch* b = e.batch();
    for (std::uint32_t i = 0; i < b->n; ++i) b->items[i]->ref_dec();
    inject_.taken(b->n);
    inject_batch::destroy(b);
  }
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
  // Workers are gone: this thread is the only one touching the queues now.
  auto pinned = owned_.close_and_pin();
  for (task_header* t : pinned) task_shutdown(t);
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
  for (task_header* t : pinned) t->ref_dec();
  drain_queues();
  for (auto& w : workers_) w->guard.reset();
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

runtime_metrics scheduler::metrics() const {
  runtime_metrics m;
  m.enabled = opts_.enable_metrics;
  m.injector_depth = inject_.size_hint();
  m.live_tasks = owned_.live();
  m.topology = topology_;
  for (auto& w : workers_) {
    worker_metrics wm;
    auto& c = w->counters;
    wm.polls = c.polls.load(std::memory_order_relaxed);
    wm.steals = c.steals.load(std::memory_order_relaxed);
    wm.stolen_tasks = c.stolen_tasks.load(std::memory_order_relaxed);
    wm.parks = c.parks.load(std::memory_order_relaxed);
    wm.injector_pulls = c.injector_pulls.load(std::memory_order_relaxed);
    wm.lifo_polls = c.lifo_polls.load(std::memory_order_relaxed);
    wm.inline_runs = c.inline_runs.load(std::memory_order_relaxed);
    wm.io_handlers = c.io_handlers.load(std::memory_order_relaxed);
    wm.io_handlers_by_siblings = c.io_handlers_by_siblings.load(std::memory_order_relaxed);
    wm.local_queue_depth = w->deque.size();
    wm.remote_steals = c.remote_steals.load(std::memory_order_relaxed);
    wm.first_steal = c.first_steal.load(std::memory_order_relaxed);
    wm.numa_node = w->place.node_id;
    wm.cpu = w->place.cpu;
    m.workers.push_back(wm);
  }
  return m;
}

}  // namespace zokio::detail

#endif
