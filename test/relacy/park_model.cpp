// Relacy model of parking and unparking workers (see doc/relacy.md).
//
// Mirrors, with the same memory orders, as of commit e89a87b:
//   zokio/detail/idle.hpp          transition_to_searching (43-48), transition_from_searching
//                                  (51-53), needs_notify (56-59), pop_sleeper (65-86),
//                                  register_sleeper (88-93), unregister_sleeper (97-108);
//   zokio/impl/scheduler.ipp       schedule (271-290), push_local (292-307), take_injected
//                                  (309-326), push_inject (328-331), notify_parked (333-341),
//                                  unpark (343-351), restart_io (353-360), has_visible_work
//                                  (362-369), run_worker (374-401), poll_io (435-447),
//                                  poll_sibling_io (456-467), next_task (469-521), search
//                                  (523-582), end_search (590-594), park (596-631), run_task
//                                  (633-640), request_stop (645-648); run_io (403-433) is the
//                                  io_context call (poll, or run_one / run_one_for);
//   zokio/detail/inject_queue.hpp  pop / taken / size_hint / empty / push_bits (len_ relaxed;
//                                  Boost.Lockfree's queue: seq_cst CAS, seq_cst empty()).
// A change to any of those needs the same change here.
//
// Checked: no reachable state in which a runnable task sits in a queue (a deque, a LIFO slot,
// the injector) while every worker sleeps for good. Workers start with nothing and park; an
// outside thread injects tasks (push_inject + notify_parked, as spawn or a wake from a
// non-worker thread does); a running task may spawn a child on its worker (LIFO slot,
// displacing into the deque with a notify) or yield (requeued behind with a notify). When the
// last task finishes, request_stop ends the run. A lost wake-up leaves every thread blocked:
// Relacy reports "deadlock". Not claimed, by design: a task put into its worker's empty LIFO
// slot wakes nobody (that worker runs it next; if it is stuck in a long poll, a sibling's
// io_watch_interval sleep bounds the delay); the scripts below never rely on that case.
//
// The io_context is modeled as what park needs of it: stop() sets a flag and wakes a blocked
// run_one(); restart() clears it; stopped() reads it (all under a mutex, as in Asio); run_one()
// blocks until stopped (the worker holds a work guard, and the model has no handlers);
// poll() runs nothing. The real park sleeps with run_one_for(io_watch_interval) while a
// sibling is awake; the model always sleeps without a timeout, so a lost wake-up that the
// timeout would only delay is reported too.
//
// Simplifications: tasks are interchangeable units (queues hold counts); a worker's deque is
// a head/tail pair with the real deque's orders (push: tail release; pop and steal: head CAS
// acq_rel; empty: acquire loads) but steals one task at a time and never overflows (the deque
// itself is deque_model.cpp); the injector is a seq_cst counter pair plus the relaxed len_
// hint; all workers share one NUMA node; next_task's fairness countdowns and the LIFO streak
// limit, which only reorder a worker's own work, are left out.
//
// Seeded bugs (`--seed-bug n`, each must make the model fail):
//   1  notify_parked's seq_cst fence weakened to acq_rel: a producer misses the sleeper that
//      registered just before (store-buffering), and the sleeper missed the work.
//   2  park's seq_cst fence weakened to acq_rel: the same from the sleeper's side.
//   3  unpark calls io.stop() before setting unpark_flag: the worker restarts its io_context
//      between the two, sees no flag and sleeps although it was counted as searching, so no
//      producer wakes anyone any more.
//   4  (untimed_test) run_io raises worker::untimed_sleep after idle::announce_untimed: the
//      waking sibling sees the count but not the flag, and the untimed sleeper is never
//      interrupted.
//   5  (untimed_test) announce_untimed's RMW and load relaxed: both sides miss each other.
//   6  (configs without the I/O driver) park_flag::raise_and_wake wakes before it raises the
//      flag: a sleeper that looked at the flag in between sleeps for good.
//
// Without the I/O driver (runtime_config::enable_io_driver = false; park_config::io_driver):
// basic_scheduler::park_on_flag and interrupt_park, zokio/detail/park_flag.hpp. unpark raises
// worker::unpark (release store) and wakes the sleeper; the sleeper takes the flag (acq_rel
// exchange), then waits until it is raised and takes it again. The futex is modeled as the
// kernel makes it: the waiter's look at the word and its sleep are atomic with respect to a
// wake (a mutex around both, and around the wake), while the raise itself is a plain atomic
// store outside it. No I/O: poll_io and the sibling polls run nothing.
//
// untimed_test, separately: the untimed-sleep handshake (idle.hpp, "Untimed sleep"; io_driver
// run_io and wake_untimed_sleepers; park's unregister_sleeper). Two workers asleep; worker 0
// decides how to sleep while worker 1 leaves the sleepers by itself. Checked: if worker 0
// sleeps without a timeout, worker 1 sees its flag (and interrupts it).
#include <cstdint>

#include "model_common.hpp"

namespace {

constexpr int kMaxWorkers = 3;

// How often each interesting path ran (summed over all iterations; printed per run).
struct path_counts {
  unsigned long parks, slept, park_saw_work, woken_before_sleep, flag_kept_awake, unparks,
      notify_skipped_searching, pop_refused_searching, steals, lifo_steals, injector_batches,
      sibling_polls;
};
path_counts paths;

// asio::io_context, as park uses it.
struct io_model {
  rl::mutex mu;
  rl::condition_variable cv;
  rl::var<bool> stopped_;
  void init() { stopped_($) = false; }
  void stop() {
    mu.lock($);
    stopped_($) = true;
    cv.notify_all($);
    mu.unlock($);
  }
  bool stopped() {
    mu.lock($);
    bool s = stopped_($);
    mu.unlock($);
    return s;
  }
  void restart() {
    mu.lock($);
    stopped_($) = false;
    mu.unlock($);
  }
  std::size_t run_one() {
    mu.lock($);
    while (!stopped_($)) cv.wait(mu, $);
    mu.unlock($);
    return 0;
  }
  std::size_t poll() { return 0; }
};

// A worker's deque reduced to counts (see the header comment).
struct deque_model {
  rl::atomic<std::uint32_t> head, tail;
  void init() {
    head.store(0, rl::memory_order_relaxed);
    tail.store(0, rl::memory_order_relaxed);
  }
  void push() {  // owner only
    std::uint32_t t = tail.load(rl::memory_order_relaxed);
    tail.store(t + 1, rl::memory_order_release);
  }
  bool take(bool owner) {  // pop (owner) or steal one
    std::uint32_t h = head.load(rl::memory_order_acquire);
    for (;;) {
      // The owner is tail's only writer (relaxed); a thief acquires the pushed slots.
      std::uint32_t t = owner ? tail.load(rl::memory_order_relaxed)
                              : tail.load(rl::memory_order_acquire);
      if (h == t) return false;
      if (head.compare_exchange_weak(h, h + 1, rl::memory_order_acq_rel,
                                     rl::memory_order_acquire))
        return true;
    }
  }
  bool empty() {
    std::uint32_t h = head.load(rl::memory_order_acquire);
    std::uint32_t t = tail.load(rl::memory_order_acquire);
    return h == t;
  }
  std::uint32_t size() {
    std::uint32_t h = head.load(rl::memory_order_acquire);
    return tail.load(rl::memory_order_acquire) - h;
  }
};

// inject_queue over Boost.Lockfree's queue (see the header comment).
struct inject_model {
  rl::atomic<std::uint32_t> q_head, q_tail;  // the Michael-Scott queue's ends
  rl::atomic<int> len_;
  void init() {
    q_head.store(0, rl::memory_order_relaxed);
    q_tail.store(0, rl::memory_order_relaxed);
    len_.store(0, rl::memory_order_relaxed);
  }
  void push() {
    q_tail.fetch_add(1, rl::memory_order_seq_cst);  // link + swing the tail (seq_cst CAS)
    len_.fetch_add(1, rl::memory_order_relaxed);
  }
  bool q_empty() {
    return q_head.load(rl::memory_order_seq_cst) == q_tail.load(rl::memory_order_seq_cst);
  }
  bool pop() {
    if (len_.load(rl::memory_order_relaxed) <= 0 && q_empty()) return false;
    std::uint32_t h = q_head.load(rl::memory_order_acquire);
    for (;;) {
      std::uint32_t t = q_tail.load(rl::memory_order_acquire);
      if (h == t) return false;
      if (q_head.compare_exchange_weak(h, h + 1, rl::memory_order_seq_cst,
                                       rl::memory_order_seq_cst))
        return true;
    }
  }
  void taken(int n) { len_.fetch_sub(n, rl::memory_order_relaxed); }
  std::size_t size_hint() {
    int n = len_.load(rl::memory_order_relaxed);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  bool empty() { return q_empty(); }
};

struct worker {
  unsigned index;
  rl::atomic<int> lifo;  // 0 or 1 task
  deque_model deque;
  io_model io;
  rl::atomic<int> io_state;  // 0 free, 1 owner sleeping in it, 2 someone polling it
  rl::atomic<bool> unpark_flag;
  // The futex of park_flag (no I/O driver): see the header comment.
  rl::mutex futex_mu;
  rl::condition_variable futex_cv;
  bool searching;  // owner only
};

struct park_config {
  int workers;
  // One character per task the outside thread spawns: how many workers it first waits to
  // see asleep ('0'-'3'; a relaxed read of num_sleeping, which orders nothing).
  const char* inject_waits;
  // What the n-th task run (in the order runs start, over all workers) does:
  //   '.' finish;
  //   'c' spawn a child (schedule on this worker: the LIFO slot), then finish;
  //   'y' yield: woken by itself while running, requeued behind the queued work (a notify);
  //   'b' spawn two children (the second displaces the first from the LIFO slot into the
  //       deque, with a notify), then block until another task run has finished since this
  //       one started: a long poll, so only a sibling can run them.
  // Past the end of the script: finish.
  const char* task_script;
  // false: a runtime without the I/O driver (workers sleep on their unpark flag).
  bool io_driver = true;
};

template <const park_config& C>
struct park_test : rl::test_suite<park_test<C>, C.workers + 1> {
  static constexpr int N = kMaxWorkers;
  const int n_workers = C.workers;
  worker w[N];
  inject_model inject_;
  rl::atomic<bool> shutdown_;
  // idle.hpp
  rl::atomic<std::uint32_t> num_searching_, num_sleeping_;
  rl::mutex idle_mu_;
  rl::var<int> sleepers_[N];  // guarded by idle_mu_
  rl::var<int> n_sleepers_;
  rl::var<int> registered_[N];
  // Tasks spawned and not finished, plus one held by the outside thread until it is done
  // (relaxed: bookkeeping that must not add synchronization; the RMW makes 0 exact).
  rl::atomic<int> outstanding_;
  rl::atomic<int> run_seq_;  // relaxed: picks each run's line of the task script
  // A blocked task ('b') waits here for another run to finish.
  rl::mutex block_mu_;
  rl::condition_variable block_cv_;
  rl::var<int> finished_runs_;

  void before() {
    for (int i = 0; i < N; ++i) {
      w[i].index = static_cast<unsigned>(i);
      w[i].lifo.store(0, rl::memory_order_relaxed);
      w[i].deque.init();
      w[i].io.init();
      w[i].io_state.store(0, rl::memory_order_relaxed);
      w[i].unpark_flag.store(false, rl::memory_order_relaxed);
      w[i].searching = false;
      sleepers_[i]($) = -1;
      registered_[i]($) = 0;
    }
    n_sleepers_($) = 0;
    inject_.init();
    shutdown_.store(false, rl::memory_order_relaxed);
    num_searching_.store(0, rl::memory_order_relaxed);
    num_sleeping_.store(0, rl::memory_order_relaxed);
    outstanding_.store(1, rl::memory_order_relaxed);
    run_seq_.store(0, rl::memory_order_relaxed);
    finished_runs_($) = 0;
  }

  // --- idle.hpp ----------------------------------------------------------------------------

  bool transition_to_searching() {
    auto s = num_searching_.load(rl::memory_order_seq_cst);
    if (2 * s >= static_cast<std::uint32_t>(n_workers)) return false;
    num_searching_.fetch_add(1, rl::memory_order_seq_cst);
    return true;
  }
  bool transition_from_searching() {
    return num_searching_.fetch_sub(1, rl::memory_order_seq_cst) == 1;
  }
  bool needs_notify() {
    return num_searching_.load(rl::memory_order_seq_cst) == 0 &&
           num_sleeping_.load(rl::memory_order_seq_cst) != 0;
  }
  int pop_sleeper(int self) {
    idle_mu_.lock($);
    int n = n_sleepers_($);
    if (n == 0 || num_searching_.load(rl::memory_order_seq_cst) != 0) {
      if (n != 0) ++paths.pop_refused_searching;
      idle_mu_.unlock($);
      return -1;
    }
    int at = -1;
    for (int k = n; k-- > 0;)  // the most recent sleeper that is not the caller
      if (sleepers_[k]($) != self) {
        at = k;
        break;
      }
    if (at < 0) {
      idle_mu_.unlock($);
      return -1;
    }
    int i = sleepers_[at]($);
    for (int k = at; k + 1 < n; ++k) sleepers_[k]($) = static_cast<int>(sleepers_[k + 1]($));
    n_sleepers_($) = n - 1;
    registered_[i]($) = 0;
    num_sleeping_.fetch_sub(1, rl::memory_order_seq_cst);
    num_searching_.fetch_add(1, rl::memory_order_seq_cst);
    idle_mu_.unlock($);
    return i;
  }
  void register_sleeper(int i) {
    idle_mu_.lock($);
    int n = n_sleepers_($);
    sleepers_[n]($) = i;
    n_sleepers_($) = n + 1;
    registered_[i]($) = 1;
    num_sleeping_.fetch_add(1, rl::memory_order_seq_cst);
    idle_mu_.unlock($);
  }
  bool unregister_sleeper(int i) {
    idle_mu_.lock($);
    if (!registered_[i]($)) {
      idle_mu_.unlock($);
      return false;
    }
    registered_[i]($) = 0;
    int n = n_sleepers_($);
    for (int k = 0; k < n; ++k)
      if (sleepers_[k]($) == i) {
        for (int j = k; j + 1 < n; ++j) sleepers_[j]($) = static_cast<int>(sleepers_[j + 1]($));
        break;
      }
    n_sleepers_($) = n - 1;
    num_sleeping_.fetch_sub(1, rl::memory_order_seq_cst);
    idle_mu_.unlock($);
    return true;
  }
  std::uint32_t num_sleeping() { return num_sleeping_.load(rl::memory_order_relaxed); }

  // --- scheduler.ipp -----------------------------------------------------------------------

  // self: the calling worker, or nullptr outside the workers.
  void schedule(worker* self) {
    if (self && !shutdown_.load(rl::memory_order_relaxed)) {
      if (!self->lifo.load(rl::memory_order_relaxed)) {
        self->lifo.store(1, rl::memory_order_release);
        return;
      }
      if (!self->lifo.exchange(1, rl::memory_order_acq_rel)) return;
      push_local(*self, true);
      return;
    }
    push_inject(self);
  }

  void push_local(worker& v, bool notify) {
    v.deque.push();  // never full in this model
    if (notify) notify_parked(&v);
  }

  bool take_injected(worker&, int& taken) {
    taken = 0;
    if (!inject_.pop()) return false;
    inject_.taken(1);
    taken = 1;
    return true;
  }

  void push_inject(worker* self) {
    inject_.push();
    if (!shutdown_.load(rl::memory_order_relaxed)) notify_parked(self);
  }

  void notify_parked(worker* self) {
    if (seed_bug(1))
      rl::atomic_thread_fence(rl::memory_order_acq_rel);  // BUG: not seq_cst
    else
      rl::atomic_thread_fence(rl::memory_order_seq_cst);
    if (!needs_notify()) {
      ++paths.notify_skipped_searching;
      return;
    }
    int i = pop_sleeper(self ? static_cast<int>(self->index) : -1);
    if (i >= 0) unpark(w[i]);
  }

  // park_flag::raise_and_wake (the futex's wake: see the header comment).
  void raise_and_wake(worker& v) {
    if (seed_bug(6)) {
      v.futex_mu.lock($);  // BUG: the wake before the raise
      v.futex_cv.notify_all($);
      v.futex_mu.unlock($);
      v.unpark_flag.store(true, rl::memory_order_release);
      return;
    }
    v.unpark_flag.store(true, rl::memory_order_release);
    v.futex_mu.lock($);
    v.futex_cv.notify_all($);
    v.futex_mu.unlock($);
  }
  // park_flag::wait: until raised (the look and the sleep atomic against a wake).
  void wait_flag(worker& v) {
    v.futex_mu.lock($);
    while (!v.unpark_flag.load(rl::memory_order_acquire)) v.futex_cv.wait(v.futex_mu, $);
    v.futex_mu.unlock($);
  }

  void unpark(worker& v) {
    ++paths.unparks;
    if (!C.io_driver) {  // raise, then interrupt_park: the flag's own wake
      v.unpark_flag.store(true, rl::memory_order_release);
      raise_and_wake(v);
      return;
    }
    if (seed_bug(3)) {
      v.io.stop();  // BUG: stop before the flag
      v.unpark_flag.store(true, rl::memory_order_release);
    } else {
      v.unpark_flag.store(true, rl::memory_order_release);
      v.io.stop();
    }
  }

  void restart_io(worker& v) {
    if (v.io.stopped()) v.io.restart();
  }

  bool has_visible_work() {
    if (inject_.size_hint() != 0 || !inject_.empty()) return true;
    for (int i = 0; i < n_workers; ++i) {
      if (!w[i].deque.empty()) return true;
      if (w[i].lifo.load(rl::memory_order_acquire)) return true;
    }
    return false;
  }

  void run_worker(worker& v) {
    while (!shutdown_.load(rl::memory_order_acquire)) {
      if (next_task(v)) {
        if (v.searching) end_search(v);
        run_task(v);
        continue;
      }
      if (poll_io(v) != 0) continue;
      if (search(v)) {
        run_task(v);
        continue;
      }
      if (poll_sibling_io(v)) continue;
      park(v);
    }
  }

  std::size_t poll_io(worker& v) {
    if (!C.io_driver) return 0;
    int expect = 0;
    if (!v.io_state.compare_exchange_strong(expect, 2, rl::memory_order_acq_rel,
                                            rl::memory_order_relaxed))
      return 0;
    restart_io(v);
    std::size_t ran = v.io.poll();
    v.io_state.store(0, rl::memory_order_release);
    return ran;
  }

  bool poll_sibling_io(worker& v) {
    if (!C.io_driver || n_workers < 2) return false;
    for (int k = 1; k < n_workers; ++k) {
      worker& u = w[(v.index + k) % n_workers];
      ++paths.sibling_polls;
      if (poll_io(u) != 0) return true;
    }
    return false;
  }

  bool next_task(worker& v) {
    if (v.lifo.load(rl::memory_order_relaxed)) {
      if (v.lifo.exchange(0, rl::memory_order_acq_rel)) return true;
    }
    if (v.deque.take(true)) return true;
    if (inject_.size_hint() == 0) return false;
    std::size_t share = inject_.size_hint() / static_cast<std::size_t>(n_workers) + 1;
    int taken = 0;
    if (!take_injected(v, taken)) return false;
    std::size_t pulled = static_cast<std::size_t>(taken);
    while (pulled < share && v.deque.size() < 2) {  // capacity() / 2 of a 4-slot deque
      if (!take_injected(v, taken)) break;
      push_local(v, false);
      pulled += static_cast<std::size_t>(taken);
    }
    if (pulled > 1) {
      ++paths.injector_batches;
      notify_parked(&v);
    }
    return true;
  }

  bool search(worker& v) {
    if (!v.searching) {
      if (!transition_to_searching()) {
        int taken;
        return take_injected(v, taken);
      }
      v.searching = true;
    }
    bool found = false;
    for (int k = 1; k < n_workers && !found; ++k) {
      worker& u = w[(v.index + k) % n_workers];
      found = u.deque.take(false);  // steal_into, one task
      if (found) ++paths.steals;
    }
    for (int k = 1; k < n_workers && !found; ++k) {
      worker& u = w[(v.index + k) % n_workers];
      if (!u.lifo.load(rl::memory_order_relaxed)) continue;
      found = u.lifo.exchange(0, rl::memory_order_acq_rel) != 0;
      if (found) ++paths.lifo_steals;
    }
    if (!found) {
      int taken;
      found = take_injected(v, taken);
    }
    if (found) end_search(v);
    return found;
  }

  void end_search(worker& v) {
    v.searching = false;
    if (transition_from_searching()) notify_parked(&v);
  }

  void park(worker& v) {
    ++paths.parks;
    if (v.searching) {
      v.searching = false;
      transition_from_searching();
    }
    register_sleeper(static_cast<int>(v.index));
    if (seed_bug(2))
      rl::atomic_thread_fence(rl::memory_order_acq_rel);  // BUG: not seq_cst
    else
      rl::atomic_thread_fence(rl::memory_order_seq_cst);
    if (has_visible_work() || shutdown_.load(rl::memory_order_acquire)) {
      ++paths.park_saw_work;
      if (!unregister_sleeper(static_cast<int>(v.index))) v.searching = true;
      return;
    }
    if (!C.io_driver) {  // park_on_flag
      if (!v.unpark_flag.exchange(false, rl::memory_order_acq_rel) &&
          !shutdown_.load(rl::memory_order_acquire)) {
        ++paths.slept;
        wait_flag(v);
        v.unpark_flag.exchange(false, rl::memory_order_acq_rel);
      } else {
        ++paths.flag_kept_awake;
      }
      if (!unregister_sleeper(static_cast<int>(v.index))) {
        ++paths.woken_before_sleep;
        v.searching = true;
      }
      return;
    }
    for (int expect = 0; !v.io_state.compare_exchange_weak(expect, 1, rl::memory_order_acq_rel,
                                                           rl::memory_order_relaxed);
         expect = 0)
      rl::yield(1, $);  // std::this_thread::yield()
    restart_io(v);
    if (!v.unpark_flag.exchange(false, rl::memory_order_acq_rel) &&
        !shutdown_.load(rl::memory_order_acquire)) {
      ++paths.slept;
      v.io.run_one();
    } else {
      ++paths.flag_kept_awake;
    }
    v.io_state.store(0, rl::memory_order_release);
    if (!unregister_sleeper(static_cast<int>(v.index))) {
      ++paths.woken_before_sleep;
      v.searching = true;
    }
  }

  void run_task(worker& v) {
    int seq = run_seq_.fetch_add(1, rl::memory_order_relaxed);
    char what = '.';
    for (int k = 0; C.task_script[k]; ++k)
      if (k == seq) what = C.task_script[k];
    if (what == 'y') {  // task_run returned true: it woke itself
      ran_one();
      push_local(v, true);
      return;
    }
    int seen = 0;
    if (what == 'b') {
      block_mu_.lock($);
      seen = finished_runs_($);
      block_mu_.unlock($);
    }
    if (what == 'c' || what == 'b') {
      outstanding_.fetch_add(1, rl::memory_order_relaxed);
      schedule(&v);
    }
    if (what == 'b') {
      outstanding_.fetch_add(1, rl::memory_order_relaxed);
      schedule(&v);
      block_mu_.lock($);
      while (finished_runs_($) == seen) block_cv_.wait(block_mu_, $);
      block_mu_.unlock($);
    }
    ran_one();
    finish_task();
  }

  void ran_one() {
    block_mu_.lock($);
    finished_runs_($) = finished_runs_($) + 1;
    block_cv_.notify_all($);
    block_mu_.unlock($);
  }

  void finish_task() {
    if (outstanding_.fetch_sub(1, rl::memory_order_relaxed) == 1) request_stop();
  }

  void request_stop() {
    if (shutdown_.exchange(true, rl::memory_order_acq_rel)) return;
    for (int i = 0; i < n_workers; ++i) {  // interrupt_park
      if (C.io_driver)
        w[i].io.stop();
      else
        raise_and_wake(w[i]);
    }
  }

  // --- threads -----------------------------------------------------------------------------

  void thread(unsigned index) {
    if (static_cast<int>(index) < n_workers) return run_worker(w[index]);
    if (static_cast<int>(index) == n_workers) {  // the outside thread: spawns, then lets go
      for (const char* k = C.inject_waits; *k; ++k) {
        while (num_sleeping_.load(rl::memory_order_relaxed) < static_cast<std::uint32_t>(*k - '0'))
          rl::yield(1, $);
        outstanding_.fetch_add(1, rl::memory_order_relaxed);
        schedule(nullptr);
      }
      finish_task();
    }
  }

  void after() {
    RL_ASSERT(outstanding_.load(rl::memory_order_relaxed) == 0);
    RL_ASSERT(!has_visible_work());
  }
};

// Both workers asleep, then a task from outside (and a second one at once).
constexpr park_config inject_to_sleepers{2, "20", "c"};
// A task from outside while the workers go to sleep; it spawns two children and blocks.
constexpr park_config blocked_owner{2, "0", "b"};
// One worker asleep: a task that yields, then blocks on its children.
constexpr park_config yield_then_block{2, "1", "yb"};
// Three workers (at most one searches): children, a blocked task, a yield.
constexpr park_config three_workers{3, "20", "bcy"};
// The same scripts without the I/O driver: workers sleep on their flags.
constexpr park_config inject_to_sleepers_flag{2, "20", "c", false};
constexpr park_config blocked_owner_flag{2, "0", "b", false};
constexpr park_config yield_then_block_flag{2, "1", "yb", false};

struct untimed_test : rl::test_suite<untimed_test, 2> {
  static constexpr std::uint32_t kWorkers = 2;
  rl::atomic<std::uint32_t> num_sleeping_, num_untimed_;
  rl::atomic<bool> untimed_sleep_;  // worker 0's worker::untimed_sleep
  rl::var<int> went_untimed_, interrupted_;

  void before() {
    num_sleeping_.store(kWorkers, rl::memory_order_relaxed);  // both registered
    num_untimed_.store(0, rl::memory_order_relaxed);
    untimed_sleep_.store(false, rl::memory_order_relaxed);
    went_untimed_($) = 0;
    interrupted_($) = 0;
  }

  bool announce_untimed() {
    if (seed_bug(5)) {
      num_untimed_.fetch_add(1, rl::memory_order_relaxed);  // BUG: not seq_cst
      if (num_sleeping_.load(rl::memory_order_relaxed) == kWorkers) return true;
    } else {
      num_untimed_.fetch_add(1, rl::memory_order_seq_cst);
      if (num_sleeping_.load(rl::memory_order_seq_cst) == kWorkers) return true;
    }
    num_untimed_.fetch_sub(1, rl::memory_order_relaxed);
    return false;
  }

  void thread(unsigned index) {
    if (index == 0) {  // run_io: every worker was asleep at its relaxed first look
      bool untimed;
      if (seed_bug(4)) {
        untimed = announce_untimed();
        if (untimed) untimed_sleep_.store(true, rl::memory_order_relaxed);  // BUG: too late
      } else {
        untimed_sleep_.store(true, rl::memory_order_relaxed);
        untimed = announce_untimed();
        if (!untimed) untimed_sleep_.store(false, rl::memory_order_relaxed);
      }
      if (untimed) went_untimed_($) = 1;
    } else {  // park: unregister_sleeper returned true, then wake_untimed_sleepers
      std::uint32_t u;
      if (seed_bug(5)) {
        num_sleeping_.fetch_sub(1, rl::memory_order_relaxed);
        u = num_untimed_.load(rl::memory_order_relaxed);
      } else {
        num_sleeping_.fetch_sub(1, rl::memory_order_seq_cst);
        u = num_untimed_.load(rl::memory_order_seq_cst);
      }
      if (u != 0 && untimed_sleep_.load(rl::memory_order_relaxed)) interrupted_($) = 1;
    }
  }

  void after() { RL_ASSERT(!(went_untimed_($) && !interrupted_($))); }
};

template <class Test>
bool run(const char* name, rl::iteration_t iterations) {
  paths = path_counts{};
  bool ok = zokio_relacy::run<Test>(name, rl::sched_random, iterations);
  const path_counts& p = paths;
  std::printf("  paths: parks %lu (slept %lu, saw work %lu, kept awake by the flag %lu, woken "
              "before sleeping %lu); unparks %lu; notify skipped %lu, pop refused (searching) "
              "%lu; steals %lu, LIFO steals %lu; injector batches %lu; sibling polls %lu\n",
              p.parks, p.slept, p.park_saw_work, p.flag_kept_awake, p.woken_before_sleep,
              p.unparks, p.notify_skipped_searching, p.pop_refused_searching, p.steals,
              p.lifo_steals, p.injector_batches, p.sibling_polls);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (!zokio_relacy::parse_args(argc, argv)) return 2;
  bool ok = true;
  ok = ok && run<park_test<blocked_owner>>("park: 2 workers, blocked owner", 40000);
  ok = ok && run<park_test<inject_to_sleepers>>("park: 2 workers asleep, 2 injected", 40000);
  ok = ok && run<park_test<yield_then_block>>("park: 2 workers, yield then block", 40000);
  ok = ok && run<park_test<three_workers>>("park: 3 workers", 20000);
  ok = ok && run<park_test<blocked_owner_flag>>("park, no I/O driver: blocked owner", 40000);
  ok = ok && run<park_test<inject_to_sleepers_flag>>("park, no I/O driver: 2 injected", 40000);
  ok = ok && run<park_test<yield_then_block_flag>>("park, no I/O driver: yield, block", 40000);
  ok = ok && zokio_relacy::run<untimed_test>("park: untimed sleep handshake", rl::sched_full, 0);
  return zokio_relacy::finish(ok);
}
