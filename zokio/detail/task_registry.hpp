// Every live task of a runtime built with the task dump (runtime_config::enable_task_dump),
// and the dump itself: the registry, its snapshot, and the thread that prints a dump on a
// signal.
//
// Cost with the feature: a spin lock and an open-addressing insert at spawn, the same and an
// erase at completion (no allocation but a shard's occasional growth), and a coarse clock
// read per poll.
//
// Invariants: a task is in the registry from bind (or note_spawned_many) until its
// release_owned, both called once per task; it is alive while listed (release_owned comes
// before any free). Shards are picked by the task's address and guarded by their own mutex.
// The dump pins each listed task (a reference) under the shard's lock, then looks at it
// outside any lock: a waiting task through task_inspect (RUNNING held while its frames are
// read), the others by their state word. dump_mu_ orders dumps with close(): shutdown closes
// the registry once the workers are joined and before it cancels tasks, so no inspection
// holds RUNNING when shutdown takes it (task_shutdown assumes nobody does).
#ifndef ZOKIO_DETAIL_TASK_REGISTRY_HPP
#define ZOKIO_DETAIL_TASK_REGISTRY_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/task_dump.hpp>

namespace zokio::detail {

struct task_header;

class task_registry {
 public:
  ZOKIO_DECL explicit task_registry(unsigned workers);
  ZOKIO_DECL ~task_registry();
  task_registry(const task_registry&) = delete;
  task_registry& operator=(const task_registry&) = delete;

  /// At bind: the task is listed (out of memory: it is not, and `missed` counts it).
  ZOKIO_DECL void insert(task_header* t) noexcept;
  /// At release_owned.
  ZOKIO_DECL void remove(task_header* t) noexcept;
  /// Shutdown, workers joined, before tasks are cancelled: waits for a dump in progress; later
  /// dumps return no tasks.
  ZOKIO_DECL void close() noexcept;
  /// Every listed task (see task_dump).
  ZOKIO_DECL task_dump dump();

  /// Milliseconds of a coarse monotonic clock (a few ns to read), modulo 2^32, never 0: the
  /// unit of task_header::polled_at.
  ZOKIO_DECL static std::uint32_t now_ms() noexcept;


 private:
  // Task pointers by open addressing (linear probing, tombstones, at most half full): a
  // node-based set costs an allocation per spawn, which was most of the feature's cost.
  class ptr_set {
   public:
    /// May throw std::bad_alloc when it must grow (the set is then unchanged).
    void insert(task_header* t);
    void erase(task_header* t) noexcept;
    std::size_t size() const noexcept { return live_; }
    template <class F>
    void for_each(F&& f) const {
      for (task_header* t : slots_)
        if (t && t != tomb()) f(t);
    }

   private:
    static task_header* tomb() noexcept { return reinterpret_cast<task_header*>(std::uintptr_t{1}); }
    static std::size_t hash(const task_header* t) noexcept;
    void rehash(std::size_t capacity);
    std::vector<task_header*> slots_;  // nullptr: empty; tomb(): erased
    std::size_t live_ = 0, filled_ = 0;  // live entries; live + tombstones
  };
  struct alignas(ZOKIO_CACHE_LINE) shard {
    spin_mutex mu;  // held for an insert or an erase, or while the dump pins the shard's tasks
    ptr_set tasks;
  };
  shard& shard_of(const task_header* t) noexcept;

  const std::size_t mask_;
  std::unique_ptr<shard[]> shards_;
  std::mutex dump_mu_;
  bool closed_ = false;  // guarded by dump_mu_
  std::atomic<std::size_t> missed_{0};
  // Every live registry of the process, for debuggers (tools/gdb/zokio.py walks them in a
  // core file from zokio_task_registries); linked under a process-wide mutex.
  task_registry* next_in_process_ = nullptr;
  task_registry* prev_in_process_ = nullptr;
};

}  // namespace zokio::detail

/// The first live task registry of the process (a plain C symbol, so that gdb finds it
/// without debug information for it): tools/gdb/zokio.py's starting point.
extern "C" zokio::detail::task_registry* zokio_task_registries;

namespace zokio::detail {

/// With runtime_options::dump_signal: a thread of its own waits for that signal (Asio's
/// signal_set, so other signal_sets of the process still get it) and prints a dump to stderr
/// each time. A thread, not a worker: the dump still comes when every worker is stuck.
class dump_on_signal {
 public:
  ZOKIO_DECL dump_on_signal(int signo, std::function<void()> print);
  /// Stops and joins the thread (never called on it).
  ZOKIO_DECL ~dump_on_signal();
  dump_on_signal(const dump_on_signal&) = delete;
  dump_on_signal& operator=(const dump_on_signal&) = delete;

 private:
  struct impl;  // io_context, signal_set, thread (impl/task_registry.ipp)
  std::unique_ptr<impl> impl_;
};

/// basic_scheduler's member: the registry with the feature, nothing without it.
template <bool On>
struct task_dump_storage {};
template <>
struct task_dump_storage<true> {
  std::unique_ptr<task_registry> registry;
  std::unique_ptr<dump_on_signal> on_signal;
};

}  // namespace zokio::detail

#endif
