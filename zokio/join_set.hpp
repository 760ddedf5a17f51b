// zokio::join_set<T>: a set of spawned tasks joined in completion order (Tokio's JoinSet);
// dropping the set aborts its tasks.
#ifndef ZOKIO_JOIN_SET_HPP
#define ZOKIO_JOIN_SET_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/system/system_error.hpp>

#include <zokio/allocator.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

namespace zokio {

namespace detail {

// Shared between a join_set and its tasks: the indices of the tasks whose future is gone
// (finished, failed, aborted or shut down), in that order, and the waker of join_next.
// Reference counted: the set holds one reference, each task's wrapper one.
struct join_set_shared {
  std::atomic<std::size_t> refs{1};
  spin_mutex m;
  std::vector<std::uint32_t> ready;  // guarded by m
  waker joiner;                      // guarded by m

  static join_set_shared* create() {
    void* p = allocate(sizeof(join_set_shared), alloc_category::other, alignof(join_set_shared));
    return ::new (p) join_set_shared();
  }
  void ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void unref() noexcept {
    // acq_rel: everything done through other references happens-before the free.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~join_set_shared();
      deallocate(this, sizeof(join_set_shared), alloc_category::other, alignof(join_set_shared));
    }
  }
  void push(std::uint32_t idx) noexcept {
    waker w;
    {
      std::lock_guard lk(m);
      try {
        ready.push_back(idx);
      } catch (...) {
        std::terminate();  // out of memory in a destructor: nothing sensible to do
      }
      w = std::move(joiner);
    }
    w.wake();  // outside the lock
  }
};

// Wraps a child's future: when the future is destroyed (after it finished, or because the
// task was aborted or the runtime shut down) it reports its index to the set. Destruction
// happens inside the task before it is marked complete, so join_next may find the handle
// still pending for a moment; the handle's own join waker covers that.
template <future F>
class join_set_child {
 public:
  using output = future_output_t<F>;
  join_set_child(F f, join_set_shared* s, std::uint32_t idx)
      : f_(std::move(f)), s_(s), idx_(idx) {
    s_->ref();
  }
  join_set_child(join_set_child&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
      : f_(std::move(o.f_)), s_(std::exchange(o.s_, nullptr)), idx_(o.idx_) {}
  join_set_child& operator=(join_set_child&&) = delete;
  ~join_set_child() {
    if (s_) {
      s_->push(idx_);
      s_->unref();
    }
  }
  zokio::poll<output> poll(context& cx) { return f_.poll(cx); }

 private:
  F f_;
  join_set_shared* s_;
  std::uint32_t idx_;
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
 * Completion order without rescans: each task's future is wrapped so that its destruction
 * pushes the task's index to a ready list shared with the set and wakes `join_next`; a
 * `join_next` looks at that list only (O(1) per task, one short spin lock per completion).
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
    handles_.clear();  // detaches: the aborted tasks finish on their own
    waker w;  // do not keep our task alive until the last child is gone; dropped outside the lock
    {
      std::lock_guard lk(shared_->m);
      w = std::move(shared_->joiner);
    }
    shared_->unref();
  }

  /// Spawns `f` on the current runtime (throws system_error(errc::no_runtime) outside one).
  template <future F>
    requires std::is_same_v<future_output_t<F>, T>
  void spawn(F f) {
    if (!detail::scheduler::current())
      throw boost::system::system_error(make_error_code(errc::no_runtime));
    std::uint32_t idx;
    if (!free_.empty()) {
      idx = free_.back();
      free_.pop_back();
    } else {
      idx = static_cast<std::uint32_t>(handles_.size());
      handles_.emplace_back();
    }
    free_.reserve(handles_.size());  // so that releasing an index never allocates
    try {
      handles_[idx] = zokio::spawn(detail::join_set_child<F>(std::move(f), shared_, idx));
    } catch (...) {
      // The wrapper, if it was made, reported idx while being destroyed: join_next skips an
      // index whose handle is empty. Nothing to do here.
      throw;
    }
    ++size_;
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
        {
          std::lock_guard lk(shared_->m);
          if (pos_ == batch_.size()) {
            batch_.clear();
            pos_ = 0;
            batch_.swap(shared_->ready);  // take them all in one lock
          }
          if (batch_.empty()) {
            if (!shared_->joiner.will_wake(cx.waker())) shared_->joiner = cx.waker();
            return pending;
          }
        }
        current_ = batch_[pos_++];
      }
      auto& h = handles_[current_];
      if (!h.valid()) {  // its spawn failed
        release(current_);
        continue;
      }
      // The future is gone; completion is marked right after, so this is rarely pending (and
      // then the handle's join waker wakes us).
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
    release(idx);
  }
  void release(std::uint32_t& idx) noexcept {
    handles_[idx] = join_handle<T>();
    free_.push_back(idx);  // capacity reserved in spawn
    idx = none;
  }

  static constexpr std::uint32_t none = ~std::uint32_t{0};
  detail::join_set_shared* shared_;
  std::vector<join_handle<T>> handles_;  // by index; empty handle = free slot
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> batch_;  // indices taken from shared_->ready, consumed from pos_
  std::size_t pos_ = 0;
  std::uint32_t current_ = none;  // index being joined (kept across join_next futures)
  std::size_t size_ = 0;
};

}  // namespace zokio

#endif
