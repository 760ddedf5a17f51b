// Every live spawned task, so that shutdown can find and cancel tasks that sit in no queue
// (Tokio's OwnedTasks), kept in per-worker lists that only their worker mutates.
#ifndef ZOKIO_DETAIL_OWNED_TASKS_HPP
#define ZOKIO_DETAIL_OWNED_TASKS_HPP

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <mutex>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/task_header.hpp>

namespace zokio::detail {

/**
 * Why not one locked list (or sharded locked lists, our first version): every spawn and
 * every completion then takes a lock whose cache line the other workers keep stealing; that
 * was a fifth of spawn_many's profile.
 *
 * Layout: one intrusive list per worker, linked and unlinked only by that worker (no lock), a
 * Treiber stack per worker through which other threads hand back the tasks they completed,
 * and one locked list for tasks spawned from outside the workers.
 *
 *  - insert: a task spawned on a worker is only counted (`owner` = `unlinked`): until its
 *    first poll returns pending it sits in a queue (spawn stack, LIFO slot, deque, injector,
 *    pinned or priority queue) or is being run, and shutdown finds it there
 *    (scheduler::pop_queued). The worker whose poll leaves it pending links it into its own
 *    list before the task goes idle (`link_local`, `owner` = that worker). Most fork-join
 *    children complete in their first poll and never touch a list (the link and unlink were
 *    9 % of skynet's profile). Another thread links at once into the shared list
 *    (`owner` = num_workers).
 *  - remove (at completion): on the owner, unlink at once; elsewhere, push the task on the
 *    owner's `returned` stack (one CAS, release), still holding the list's reference. The owner
 *    drains that stack (exchange, acquire) every event_interval ticks and before parking, and
 *    then unlinks and drops the reference. A parked owner keeps such tasks' memory until it
 *    wakes; shutdown drains every stack.
 *  - live count: per-list inserted/removed counters (owner-written) plus a `returned` counter
 *    the handing-back thread bumps, so metrics see a completion at once, not at the drain.
 *
 * Shutdown protocol: workers are joined first, so no worker inserts any more; `close_and_pin`
 * drains the stacks, closes the shared list under its lock (a racing outside spawn is either
 * listed or refused) and returns every listed task with one extra reference.
 */
class owned_tasks {
 public:
  /// `owner` of a task spawned on a worker that has not been left pending yet.
  static constexpr std::uint16_t unlinked = owned_unlinked;

  explicit owned_tasks(std::size_t workers)
      : n_(check_workers(workers)), lists_(std::make_unique<worker_list[]>(workers)) {}

  /// On worker `i`'s own thread, at spawn: counted, linked later (link_local).
  void insert_local(task_header* t, std::uint32_t i) noexcept {
    t->owned_shard = unlinked;
    bump(lists_[i].inserted);
  }

  /// On worker `i`'s own thread, by the poll that leaves an unlinked task pending, before it
  /// goes idle (while RUNNING is held nobody else can complete it).
  void link_local(task_header* t, std::uint32_t i) noexcept {
    t->owned_shard = static_cast<std::uint16_t>(i);
    link(lists_[i].head, t);
  }

  /// link_local for a poll off the workers (none today; kept for safety): the shared list.
  void link_shared(task_header* t) noexcept {
    std::lock_guard lk(shared_.mu);
    t->owned_shard = static_cast<std::uint16_t>(n_);
    link(shared_.head, t);
    ++shared_.count;
    ++shared_.unlinked_removed;  // counted at spawn already: keep live() exact
  }

  /// From any other thread. False when closed: the caller completes the task at once instead.
  bool insert_shared(task_header* t) noexcept {
    std::lock_guard lk(shared_.mu);
    if (shared_.closed) return false;
    t->owned_shard = static_cast<std::uint16_t>(n_);
    link(shared_.head, t);
    ++shared_.count;
    return true;
  }

  /// insert_shared for `n` tasks under one lock (spawn_many off the workers).
  bool insert_shared_many(task_header* const* ts, std::size_t n) noexcept {
    std::lock_guard lk(shared_.mu);
    if (shared_.closed) return false;
    for (std::size_t i = 0; i < n; ++i) {
      ts[i]->owned_shard = static_cast<std::uint16_t>(n_);
      link(shared_.head, ts[i]);
    }
    shared_.count += n;
    return true;
  }

  /// At completion. `current` is the calling worker's index, or num_workers off the workers.
  /// Returns true when the task is unlinked and the caller must drop the list's reference;
  /// false when it was handed back to its owner, who drops it.
  [[nodiscard]] bool remove(task_header* t, std::size_t current) noexcept {
    const std::uint32_t owner = t->owned_shard;
    if (owner == unlinked) {
      // In no list: only the count changes (on this worker's list: live() sums them all).
      if (current < n_) {
        bump(lists_[current].removed);
      } else {
        std::lock_guard lk(shared_.mu);
        ++shared_.unlinked_removed;  // shutdown cancelling a never-polled task
      }
      return true;
    }
    if (owner == n_) {
      {
        std::lock_guard lk(shared_.mu);
        unlink(shared_.head, t);
        --shared_.count;
      }
      return true;
    }
    auto& l = lists_[owner];
    if (owner == current) {
      unlink(l.head, t);
      bump(l.removed);
      return true;
    }
    // Hand it back to its owner; the list keeps its reference until the owner unlinks it.
    l.returned_count.fetch_add(1, std::memory_order_relaxed);
    auto* head = l.returned.load(std::memory_order_relaxed);
    do {
      t->owned_returned_next = head;
      // Ordering: release, so the owner's unlink (after its acquire exchange) sees our writes.
    } while (!l.returned.compare_exchange_weak(head, t, std::memory_order_release,
                                               std::memory_order_relaxed));
    return false;
  }

  /// Owner of list `i` only (or shutdown): unlinks the tasks other threads completed.
  void drain_returned(std::uint32_t i) noexcept {
    auto& l = lists_[i];
    if (!l.returned.load(std::memory_order_relaxed)) return;
    // Ordering: acquire pairs with the release CAS in remove().
    task_header* t = l.returned.exchange(nullptr, std::memory_order_acquire);
    std::size_t n = 0;
    while (t) {
      task_header* next = t->owned_returned_next;
      unlink(l.head, t);
      t->ref_dec();
      t = next;
      ++n;
    }
    l.returned_count.fetch_sub(n, std::memory_order_relaxed);
    l.removed.store(l.removed.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  /// After the workers are joined: closes, and returns every listed task with one extra
  /// reference.
  std::vector<task_header*> close_and_pin() {
    std::vector<task_header*> out;
    for (std::uint32_t i = 0; i < n_; ++i) {
      drain_returned(i);
      for (auto* t = lists_[i].head; t; t = t->owned_next) pin(out, t);
    }
    std::lock_guard lk(shared_.mu);
    shared_.closed = true;
    for (auto* t = shared_.head; t; t = t->owned_next) pin(out, t);
    return out;
  }

  /// Tasks not yet complete (approximate while workers run: a task may be counted in on
  /// one worker's list and out on another's, so a sum read mid-way can fall short; never
  /// below 0).
  std::size_t live() const noexcept {
    std::size_t n = 0;  // modular: the terms are exact only in total
    for (std::size_t i = 0; i < n_; ++i) {
      auto& l = lists_[i];
      n += l.inserted.load(std::memory_order_relaxed) - l.removed.load(std::memory_order_relaxed) -
           l.returned_count.load(std::memory_order_relaxed);
    }
    std::lock_guard lk(shared_.mu);
    n += shared_.count - shared_.unlinked_removed;
    return static_cast<std::int64_t>(n) < 0 ? 0 : n;
  }

 private:
  static std::size_t check_workers(std::size_t n) {
    if (n >= unlinked) throw std::length_error("zokio: at most 65534 workers");
    return n;
  }
  static void pin(std::vector<task_header*>& out, task_header* t) {
    t->ref_inc();
    out.push_back(t);
  }
  static void bump(std::atomic<std::size_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static void link(task_header*& head, task_header* t) noexcept {
    t->owned_prev = nullptr;
    t->owned_next = head;
    if (head) head->owned_prev = t;
    head = t;
  }
  static void unlink(task_header*& head, task_header* t) noexcept {
    if (t->owned_prev)
      t->owned_prev->owned_next = t->owned_next;
    else
      head = t->owned_next;
    if (t->owned_next) t->owned_next->owned_prev = t->owned_prev;
    t->owned_prev = t->owned_next = nullptr;
  }

  struct alignas(ZOKIO_CACHE_LINE) worker_list {
    task_header* head = nullptr;             // owner only
    std::atomic<std::size_t> inserted{0};    // written by the owner only
    std::atomic<std::size_t> removed{0};     // written by the owner only
    alignas(ZOKIO_CACHE_LINE) std::atomic<task_header*> returned{nullptr};  // any thread pushes
    std::atomic<std::size_t> returned_count{0};
  };
  struct shared_list {
    mutable spin_mutex mu;
    bool closed = false;
    task_header* head = nullptr;
    std::size_t count = 0;
    std::size_t unlinked_removed = 0;  // never-linked tasks completed off the workers
  };

  const std::size_t n_;
  std::unique_ptr<worker_list[]> lists_;
  alignas(ZOKIO_CACHE_LINE) shared_list shared_;
};

}  // namespace zokio::detail

#endif
