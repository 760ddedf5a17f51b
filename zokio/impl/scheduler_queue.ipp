// Where queued tasks go on a worker: the deque (FIFO for the owner, oldest-first for thieves),
// the spawn stack (owner-only, newest first) and its spills, the injector (tasks from outside
// the workers, batches of overflow and of spawn_many).
//
// Invariants: every queue entry owns one task reference (task_state.hpp); the spawn stack is
// touched by its owner only and its top is never a hole (run_inline may leave holes below it);
// a deque that overflows moves its older half to the injector as one batch, so pushes never
// fail; a push that may have made work visible ends in notify_parked().
#ifndef ZOKIO_IMPL_SCHEDULER_QUEUE_IPP
#define ZOKIO_IMPL_SCHEDULER_QUEUE_IPP

// Part of the scheduler's single translation unit (impl/src.hpp): included after
// impl/scheduler.ipp, whose thread_locals (tl_worker, tl_entered, tl_stack_base) it uses.
#include <zokio/impl/scheduler.ipp>

namespace zokio::detail {

void scheduler::push_woken(worker& w, task_header* t, bool notify) noexcept {
  if (t->home != 0 || t->priority != 0) [[unlikely]] {
    push_routed(t);  // spawn_local's pinned queue, or its priority level's queue
    return;
  }
  ++w.woken_in_deque;
  push_local(w, t, notify);
}

void scheduler::push_spawned(worker& w, task_header* t) noexcept {
  if (w.spawn_top == worker::spawn_stack_capacity) spill_spawned(w, w.spawn_top / 2, false);
  t->spawn_slot.store(static_cast<std::uint16_t>(w.spawn_base + w.spawn_top), std::memory_order_relaxed);
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
  w.spawn_base = static_cast<std::uint16_t>(w.spawn_base + n);
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
  // One worker (current_thread, a thread-per-core shard): the pusher is that worker, awake,
  // so there is nobody to wake, and notify_parked's seq_cst fence was 12 % of a yield there.
  if (notify && !single_worker_) notify_parked();
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

std::uint32_t scheduler::worker_home(const worker& w) noexcept { return w.index + 1; }

void scheduler::push_pinned(task_header* t) noexcept {
  worker& h = *workers_[t->home - 1];
  {
    std::lock_guard lk(h.pinned_mu);
    h.pinned.push_back(t);  // bad_alloc here terminates, as any allocation in a noexcept wake
    h.pinned_count.store(h.pinned_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // The owner may be parked, or about to park having read pinned_count as 0: unpark sets
  // its flag before io.stop(), and park() checks the flag after taking its io_context, so
  // the owner cannot sleep past this task. On the owner's own thread nothing is needed.
  if (local_worker() != &h) unpark(h.index);
}

task_header* scheduler::pop_pinned(worker& w) noexcept {
  std::lock_guard lk(w.pinned_mu);
  if (w.pinned.empty()) return nullptr;
  task_header* t = w.pinned.front();
  w.pinned.pop_front();
  w.pinned_count.store(w.pinned_count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return t;
}

bool scheduler::should_wake(const worker& w) const noexcept {
  // driver_woken: acquire, pairs with driver_signal::wake's release store.
  return has_visible_work() || w.pinned_count.load(std::memory_order_relaxed) != 0 ||
         shutdown_.load(std::memory_order_acquire) ||
         (w.driver_woken && w.driver_woken->load(std::memory_order_acquire));
}

task_header* scheduler::pop_local(worker& w) noexcept {
  return single_worker_ ? w.deque.pop_unshared() : w.deque.pop();
}

task_header* scheduler::take_lifo(worker& w) noexcept {
  if (single_worker_) {  // no thief: the owner's load and store
    task_header* t = w.lifo.load(std::memory_order_relaxed);
    w.lifo.store(nullptr, std::memory_order_relaxed);
    return t;
  }
  // Ordering: acq_rel, pairs with a thief's exchange in search() and the owner's stores.
  return w.lifo.exchange(nullptr, std::memory_order_acq_rel);
}

task_header* scheduler::swap_lifo(worker& w, task_header* t) noexcept {
  if (single_worker_) {
    task_header* old = w.lifo.load(std::memory_order_relaxed);
    w.lifo.store(t, std::memory_order_relaxed);
    return old;
  }
  return w.lifo.exchange(t, std::memory_order_acq_rel);  // same pairing as take_lifo
}

bool scheduler::take_lifo_if(worker& w, task_header* t) noexcept {
  if (single_worker_) {  // no thief can take it meanwhile
    if (w.lifo.load(std::memory_order_relaxed) != t) return false;
    w.lifo.store(nullptr, std::memory_order_relaxed);
    return true;
  }
  // Same pairing as take_lifo: a thief may have taken it since the caller looked.
  return w.lifo.compare_exchange_strong(t, nullptr, std::memory_order_acq_rel,
                                        std::memory_order_relaxed);
}

void scheduler::push_routed(task_header* t) noexcept {
  if (t->home != 0)
    push_pinned(t);
  else
    push_high(t);
}

void scheduler::push_high(task_header* t) noexcept {
  high_[t->priority - 1]->push(t);
  high_pending_.fetch_add(1, std::memory_order_relaxed);  // a hint (see the member)
  if (!shutdown_.load(std::memory_order_relaxed)) notify_parked();
}

task_header* scheduler::pop_high() noexcept {
  for (std::size_t l = high_.size(); l-- > 0;) {
    if (auto e = high_[l]->pop()) {  // only single tasks are pushed there
      high_[l]->taken(1);
      high_pending_.fetch_sub(1, std::memory_order_relaxed);
      return e.task();
    }
  }
  return nullptr;
}

void scheduler::check_priority(unsigned level) const {
  if (level >= opts_.priority_levels)
    throw std::invalid_argument("zokio: priority level " + std::to_string(level) +
                                ": this runtime has " + std::to_string(opts_.priority_levels) +
                                " level(s), 0 to " + std::to_string(opts_.priority_levels - 1) +
                                " (runtime_config::priority_levels)");
}

bool scheduler::has_visible_work() const noexcept {
  if (inject_.size_hint() != 0 || !inject_.empty()) return true;
  if (has_priorities_ && high_pending_.load(std::memory_order_relaxed) > 0) return true;
  for (auto& w : workers_) {
    if (!w->deque.empty()) return true;
    if (w->lifo.load(std::memory_order_acquire)) return true;
  }
  return false;
}

}  // namespace zokio::detail

#endif
