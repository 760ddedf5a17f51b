// Every live spawned task, in sharded intrusive lists with a closed bit, so that shutdown
// can find and cancel tasks that sit in no queue (Tokio's OwnedTasks).
#ifndef ZOKIO_DETAIL_OWNED_TASKS_HPP
#define ZOKIO_DETAIL_OWNED_TASKS_HPP

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/task_header.hpp>

namespace zokio::detail {

/**
 * Tasks are spread over the shards one by one (a per-worker sequence), not by spawning worker:
 * otherwise one task spawning thousands puts them all in one shard, and the spawner's inserts
 * fight the other workers' removals for that shard's lock.
 *
 * Shutdown protocol: `close_and_pin` sets `closed` on every shard under its lock, so a task is
 * either inserted before (and is collected, pinned with one extra reference) or refused after.
 * The list holds one reference per task; `remove` drops it.
 */
class owned_tasks {
 public:
  explicit owned_tasks(std::size_t shards) {
    std::size_t n = 1;
    while (n < shards) n <<= 1;
    shards_ = std::make_unique<shard[]>(n);
    mask_ = n - 1;
  }

  /// False when closed: the caller cancels the task instead of scheduling it.
  bool insert(task_header* t, std::uint32_t hint) noexcept {
    auto idx = static_cast<std::uint32_t>(hint & mask_);
    auto& s = shards_[idx];
    std::lock_guard lk(s.mu);
    if (s.closed) return false;
    t->owned_shard = idx;
    t->owned_prev = nullptr;
    t->owned_next = s.head;
    if (s.head) s.head->owned_prev = t;
    s.head = t;
    ++s.count;
    return true;
  }

  /// Unlinks a completed task and drops the list's reference.
  void remove(task_header* t) noexcept {
    {
      auto& s = shards_[t->owned_shard];
      std::lock_guard lk(s.mu);
      if (t->owned_prev)
        t->owned_prev->owned_next = t->owned_next;
      else
        s.head = t->owned_next;
      if (t->owned_next) t->owned_next->owned_prev = t->owned_prev;
      t->owned_prev = t->owned_next = nullptr;
      --s.count;
    }
    t->ref_dec();
  }

  /// Closes every shard and returns the tasks still listed, each with one extra reference.
  std::vector<task_header*> close_and_pin() {
    std::vector<task_header*> out;
    for (std::size_t i = 0; i <= mask_; ++i) {
      auto& s = shards_[i];
      std::lock_guard lk(s.mu);
      s.closed = true;
      for (auto* t = s.head; t; t = t->owned_next) {
        t->ref_inc();
        out.push_back(t);
      }
    }
    return out;
  }

  /// Tasks not yet complete (takes every shard lock: for metrics, not hot paths).
  std::size_t live() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i <= mask_; ++i) {
      std::lock_guard lk(shards_[i].mu);
      n += shards_[i].count;
    }
    return n;
  }

 private:
  struct alignas(ZOKIO_CACHE_LINE) shard {
    spin_mutex mu;
    bool closed = false;
    task_header* head = nullptr;
    std::size_t count = 0;
  };
  std::unique_ptr<shard[]> shards_;
  std::size_t mask_ = 0;
};

}  // namespace zokio::detail

#endif
