// zokio::join_set<T>: a set of spawned tasks joined in completion order (Tokio's JoinSet);
// dropping the set aborts its tasks.
#ifndef ZOKIO_JOIN_SET_HPP
#define ZOKIO_JOIN_SET_HPP

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/system/system_error.hpp>

#include <zokio/allocator.hpp>
#include <zokio/detail/atomic_waker.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/sim_hooks.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/task.hpp>

namespace zokio {

namespace detail {

struct join_set_shared;

// One per index of a set: the data of the join waker of the child at that index. `shared`
// and `idx` never change; `next` links the slot into the completed stack (written by the one
// push per child, read by the set after it took the stack). Lives as long as the shared
// state, in a chunk that never moves, so the wakers can point at it.
struct join_set_slot {
  join_set_shared* shared;
  join_set_slot* next;
  std::uint32_t idx;
};

// Shared between a join_set and its children's join wakers: a lock-free stack of the slots of
// the children that completed (finished, failed, aborted or shut down) and the waker of
// join_next. Reference counted: the set holds one (plus the credits it took in advance for
// its next children), each child's join waker one.
struct join_set_shared {
  // Own cache line: taken by the set in batches, dropped by each child when it is freed.
  alignas(64) std::atomic<std::size_t> refs{1};
  alignas(64) std::atomic<join_set_slot*> completed{nullptr};  // newest first
  atomic_waker joiner;
  // Slots in chunks: chunk c holds 16 << c slots (O(log n) chunks for n indices). Made by
  // the set only; a waker reads its own slot, never this array.
  static constexpr std::size_t chunk_count = 29;  // 16 * (2^29 - 1) > 2^32 indices
  join_set_slot* chunks[chunk_count] = {};

  ~join_set_shared() {
    for (std::size_t c = 0; c < chunk_count; ++c)
      if (chunks[c]) deallocate(chunks[c], chunk_bytes(c), alloc_category::other);
  }
  static std::size_t chunk_bytes(std::size_t c) noexcept {
    return (std::size_t{16} << c) * sizeof(join_set_slot);
  }
  static join_set_shared* create() {
    void* p = allocate(sizeof(join_set_shared), alloc_category::other, alignof(join_set_shared));
    return ::new (p) join_set_shared();
  }
  void ref(std::size_t n = 1) noexcept { refs.fetch_add(n, std::memory_order_relaxed); }
  void unref(std::size_t n = 1) noexcept {
    // acq_rel: everything done through other references happens-before the free.
    if (refs.fetch_sub(n, std::memory_order_acq_rel) == n) {
      this->~join_set_shared();
      deallocate(this, sizeof(join_set_shared), alloc_category::other, alignof(join_set_shared));
    }
  }

  static std::size_t chunk_of(std::uint32_t idx, std::size_t& first) noexcept {
    const std::size_t c = std::bit_width(std::uint64_t{idx} / 16 + 1) - 1;
    first = 16 * ((std::size_t{1} << c) - 1);
    return c;
  }
  join_set_slot& slot(std::uint32_t idx) noexcept {
    std::size_t first;
    const std::size_t c = chunk_of(idx, first);
    return chunks[c][idx - first];
  }
  /// Makes slot `idx` (the set makes them in index order; may throw bad_alloc).
  void add_slot(std::uint32_t idx) {
    std::size_t first;
    const std::size_t c = chunk_of(idx, first);
    if (!chunks[c])
      chunks[c] = static_cast<join_set_slot*>(allocate(chunk_bytes(c), alloc_category::other));
    ::new (&chunks[c][idx - first]) join_set_slot{this, nullptr, idx};
  }

  /// A child completed: push its slot (once per child) and wake join_next.
  void push(join_set_slot* s) noexcept {
    auto* head = completed.load(std::memory_order_relaxed);
    do {
      s->next = head;
      // Ordering: release publishes `next` (and the task's completion) to take_completed.
    } while (!completed.compare_exchange_weak(head, s, std::memory_order_acq_rel,
                                              std::memory_order_relaxed));
    // Only a push onto an empty stack wakes: the set takes the whole stack at once, and
    // sleeps only after it registered its waker and then found the stack empty. (The RMWs
    // on the atomic_waker's state order the two sides: either this wake finds the
    // registration, or the registration sees this push.)
    if (!head) joiner.wake();
  }
  /// The slots pushed so far, oldest first (the set's side).
  join_set_slot* take_completed() noexcept {
    if (!completed.load(std::memory_order_relaxed)) return nullptr;
    join_set_slot* s = completed.exchange(nullptr, std::memory_order_acquire);
    join_set_slot* oldest_first = nullptr;
    while (s) {
      join_set_slot* next = s->next;
      s->next = oldest_first;
      oldest_first = s;
      s = next;
    }
    return oldest_first;
  }

  static void child_clone(void* p) noexcept { static_cast<join_set_slot*>(p)->shared->ref(); }
  static void child_wake(void* p) noexcept {
    auto* s = static_cast<join_set_slot*>(p);
    join_set_shared* shared = s->shared;
    shared->push(s);
    shared->unref();
  }
  static void child_wake_by_ref(void* p) noexcept {
    auto* s = static_cast<join_set_slot*>(p);
    s->shared->push(s);
  }
  static void child_drop(void* p) noexcept { static_cast<join_set_slot*>(p)->shared->unref(); }
  static constexpr waker_vtable child_waker_vtable{&child_clone, &child_wake,
                                                   &child_wake_by_ref, &child_drop};
};

}  // namespace detail

/**
 * A set of tasks spawned on the current runtime, joined in the order they finish.
 *
 * @code
 * zokio::join_set<int> set;
 * for (int i = 0; i < 10; ++i) set.spawn(work(i));
 * while (auto r = co_await set.join_next()) sum += *r;   // rethrows a task's exception
 * @endcode
 *
 * `join_next()` yields `std::optional<T>` (`std::optional<std::monostate>` for `T = void`):
 * the output of some finished task, or `nullopt` once the set is empty. A task that threw
 * rethrows its exception from the `join_next` that picks it up; an aborted one throws
 * `zokio::join_error` (`errc::task_aborted`). Either way that task has left the set, so the
 * next `join_next` goes on with the others: errors are reported one per task.
 *
 * Each task is spawned as is, so a coroutine child costs one allocation, its frame (the task
 * cell lives in the frame's prefix, as with zokio::spawn). Completion order without rescans:
 * the set puts its own join waker in each task; the task wakes it once complete, which pushes
 * the task's slot on a lock-free stack shared with the set and wakes `join_next`. A
 * `join_next` takes the whole stack at once and joins those tasks only (O(1) per task).
 *
 * Dropping the set aborts every task in it (Tokio semantics); abort is asynchronous, the
 * tasks are cancelled on their workers. Tasks own what they use (as with zokio::spawn).
 *
 * @par Cancellation safety
 * `join_next` is cancellation safe: if its future is dropped, no result is lost; the task it
 * was about to return stays in the set for the next `join_next`.
 *
 * @par Thread Safety
 * One set is used by one task at a time (not synchronised); its tasks run anywhere.
 */
template <class T>
class join_set {
 public:
  using result_type = detail::stored_t<T>;

  join_set() : shared_(detail::join_set_shared::create()) {}
  join_set(const join_set&) = delete;
  join_set& operator=(const join_set&) = delete;
  ~join_set() {
    abort_all();
    handles_.clear();  // detaches (and drops our join wakers): the aborted tasks finish alone
    waker w = shared_->joiner.take();  // do not keep our task alive until the last child is gone
    shared_->unref(1 + credits_);
  }

  /// Spawns `f` on the current runtime (throws system_error(errc::no_runtime) outside one).
  /// The task records where it was spawned (zokio::task_id, join_error).
  template <future F>
    requires std::is_same_v<future_output_t<F>, T>
  void spawn(F f, source_location where = source_location::current()) {
    spawn(std::move(f), spawn_options{}, where);
  }

  /// spawn() with options: `set.spawn(f, zokio::spawn_options{.name = "fetch"})`.
  template <future F>
    requires std::is_same_v<future_output_t<F>, T>
  void spawn(F f, const spawn_options& o, source_location where = source_location::current()) {
    auto* sim = detail::tl_sim;
    auto* sched = sim ? nullptr : detail::scheduler::current();
    if (!sched && !sim) throw boost::system::system_error(make_error_code(errc::no_runtime));
    detail::join_set_slot* slot = free_;
    if (slot) {
      free_ = slot->next;
    } else {
      const auto n = static_cast<std::uint32_t>(handles_.size());
      if (slots_ == n) {
        shared_->add_slot(n);
        ++slots_;
      }
      handles_.emplace_back();
      slot = &shared_->slot(n);
    }
    const std::uint32_t idx = slot->idx;
    // The child's join waker holds a reference on shared_, taken from credits_: references
    // added in batches, so that a spawn does not touch the count the children's workers drop.
    if (credits_ == 0) {
      shared_->ref(credit_batch);
      credits_ = credit_batch;
    }
    --credits_;
    waker jw = waker::from_raw({slot, &detail::join_set_shared::child_waker_vtable});
    detail::task_core<T>* t;
    bool done;
    try {
      // Spawned as is, not wrapped: a task<T> is then its own cell (one allocation).
      // The join waker goes in before any other thread can see the task: no CAS on a task
      // another worker may already be running. `done`: refused after shutdown, complete.
      const detail::spawn_meta meta{o.name, where};
      t = sim ? detail::sim_spawn(sim, std::move(f), &jw, &done, meta)
              : sched->spawn(std::move(f), &jw, &done, true, 0, meta);
    } catch (...) {
      release(slot);
      throw;  // jw, unless moved into the task, dropped its reference
    }
    handles_[idx] = join_handle<T>(t);
    ++size_;
    if (done) shared_->push(slot);  // spawned after shutdown: complete already, no wake to come
  }

  /// Tasks spawned and not yet joined.
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// Requests cancellation of every task; each then joins with join_error(task_aborted) (or
  /// its result, if it had already finished).
  void abort_all() noexcept {
    for (auto& h : handles_)
      if (h.valid()) h.abort();
  }

  class join_next_future {
   public:
    using output = std::optional<result_type>;
    explicit join_next_future(join_set& s) noexcept : s_(&s) {}
    zokio::poll<output> poll(context& cx) { return s_->poll_join_next(cx); }

   private:
    join_set* s_;
  };

  /// The next finished task's output, in completion order; nullopt when the set is empty.
  join_next_future join_next() noexcept { return join_next_future(*this); }

  /// Aborts every task and waits until all have left the set (results are discarded).
  /// Like Tokio's JoinSet::shutdown. Usage: `co_await set.shutdown();`
  task<void> shutdown() {
    abort_all();
    while (!empty()) {
      try {
        co_await join_next();
      } catch (...) {
      }
    }
  }

 private:
  zokio::poll<std::optional<result_type>> poll_join_next(context& cx) {
    using out = std::optional<result_type>;
    for (;;) {
      if (current_ == none) {
        if (size_ == 0) return out();
        if (!ready_) ready_ = shared_->take_completed();  // all completed so far, in one swap
        if (!ready_) {
          if (!yielded_) {
            // Nothing finished: yield once before sleeping. The children queued on this
            // worker then run first and we come back for all their results at once, rather
            // than being woken (into the LIFO slot, ahead of them) by each completion in turn.
            yielded_ = true;
            cx.waker().wake_by_ref();
            return pending;
          }
          shared_->joiner.register_waker(cx.waker());
          ready_ = shared_->take_completed();  // pushed before the registration
          if (!ready_) return pending;
        }
        yielded_ = false;
        current_ = ready_->idx;
        ready_ = ready_->next;  // read before the index can be reused
      }
      auto& h = handles_[current_];
      // Reported by its join waker, which runs once the task is complete: ready at once. (Were
      // it pending, this poll would put our waker in its join-waker slot.)
      auto r = [&] {
        try {
          return h.poll(cx);
        } catch (...) {  // the task's exception, or join_error: the task leaves the set
          release_joined(current_);
          throw;
        }
      }();
      if (r.is_pending()) return pending;
      release_joined(current_);
      if constexpr (std::is_void_v<T>)
        return out(std::monostate{});
      else
        return out(std::move(r).take());
    }
  }
  void release_joined(std::uint32_t& idx) noexcept {
    --size_;
    handles_[idx] = join_handle<T>();
    release(&shared_->slot(idx));
    idx = none;
  }
  void release(detail::join_set_slot* slot) noexcept {
    slot->next = free_;
    free_ = slot;
  }

  static constexpr std::uint32_t none = ~std::uint32_t{0};
  detail::join_set_shared* shared_;
  // By index; empty handle = free index. The runtime's allocator: a set that grows and is
  // dropped again and again then reuses cached blocks instead of faulting in fresh pages.
  std::vector<join_handle<T>, allocator<join_handle<T>, alloc_category::other>> handles_;
  std::uint32_t slots_ = 0;              // slots made in shared_ (handles_.size() or one more)
  // Free indices: their slots, linked through `next` (no child of theirs will push them).
  detail::join_set_slot* free_ = nullptr;
  detail::join_set_slot* ready_ = nullptr;  // taken from shared_, not joined yet, oldest first
  static constexpr std::size_t credit_batch = 64;
  std::size_t credits_ = 0;  // references on shared_ held for the next children's join wakers
  std::uint32_t current_ = none;  // index being joined (kept across join_next futures)
  bool yielded_ = false;          // the last poll found nothing and yielded
  std::size_t size_ = 0;
};

}  // namespace zokio

#endif
