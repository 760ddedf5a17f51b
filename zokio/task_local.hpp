// zokio::task_local<T>: values scoped to a future (and so to the task polling it), like
// Tokio's task_local! with LocalKey::scope.
#ifndef ZOKIO_TASK_LOCAL_HPP
#define ZOKIO_TASK_LOCAL_HPP

#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <zokio/future.hpp>

namespace zokio {

namespace detail {
// The scopes active on this thread, innermost first: a stack of nodes that live on the C++
// stack of scope_future::poll (or sync_scope) and are popped before it returns. One
// thread-local for every key; a lookup walks the (usually one or two deep) chain.
struct task_local_frame {
  const void* key;
  void* value;
  task_local_frame* prev;
};
inline thread_local task_local_frame* tl_task_local_top_ = nullptr;

// Every access goes through this out-of-line call: inside a coroutine that resumes on another
// worker, compilers may otherwise reuse a thread-local address computed before the
// suspension (llvm/llvm-project#47179, GCC does the same), reading the old thread's chain.
[[gnu::noinline]] inline task_local_frame*& task_local_top() noexcept { return tl_task_local_top_; }

// Pushes a frame for the lifetime of the guard, and pops it even when the poll throws.
struct task_local_guard {
  task_local_frame frame;
  task_local_guard(const void* key, void* value) noexcept
      : frame{key, value, task_local_top()} {
    task_local_top() = &frame;
  }
  task_local_guard(const task_local_guard&) = delete;
  ~task_local_guard() { task_local_top() = frame.prev; }
};
}  // namespace detail

template <class T>
class task_local;

/**
 * The future returned by `task_local<T>::scope`: owns the value and the inner future, and
 * installs the value (as the innermost for its key) for the duration of each poll of the
 * inner future, restoring what was there before when the poll returns or throws.
 *
 * Because the value lives in this future, not in the thread, a task moved to another worker
 * by work stealing sees the same value there. Not moved after its first poll.
 * Cancellation: dropping it drops the inner future and then the value.
 */
template <class T, future F>
class task_local_scope_future {
 public:
  using output = future_output_t<F>;
  task_local_scope_future(const task_local<T>& key, T value, F f)
      : key_(&key), value_(std::move(value)), f_(std::move(f)) {}

  zokio::poll<output> poll(context& cx) {
    detail::task_local_guard g(key_, &value_);
    return f_.poll(cx);
  }

 private:
  const task_local<T>* key_;
  T value_;
  F f_;  // destroyed before value_ (destructors run outside the scope: get() is unset there)
};

/**
 * A task-local key. Declare it once (usually `inline` at namespace scope) and give it a value
 * for the duration of a future with `scope`:
 *
 * @code
 * inline zokio::task_local<std::string> request_id;
 *
 * zokio::task<void> handle() {
 *   log(request_id.get());               // the value of the innermost enclosing scope
 *   co_return;
 * }
 * rt.spawn(request_id.scope("req-42", handle()));
 * @endcode
 *
 * - Per task, not per thread: the value is reinstalled at every poll of the scope's future,
 *   on whatever worker runs it, and removed when that poll returns.
 * - Nested scopes of the same key shadow the outer one for their inner future.
 * - A task spawned inside a scope does not inherit the value (as in Tokio); opt in with
 *   `key.propagate(f)`, which copies the current value (if any) into a scope around `f`.
 * - Inline children of a zokio::task_scope, and a generator polled inside the scope, see it:
 *   they are polled within the scope's poll.
 *
 * Values are reached through a reference valid during the current poll; do not keep it
 * across a co_await that might end the scope (it stays valid while the scope future lives).
 */
template <class T>
class task_local {
 public:
  constexpr task_local() noexcept = default;
  task_local(const task_local&) = delete;
  task_local& operator=(const task_local&) = delete;

  /// A future that runs `f` with this key set to `value` (Tokio's LocalKey::scope).
  template <future F>
  task_local_scope_future<T, std::remove_cvref_t<F>> scope(T value, F&& f) const {
    return {*this, std::move(value), std::forward<F>(f)};
  }

  /// Runs `fn()` synchronously with this key set to `value` (Tokio's sync_scope).
  template <class Fn>
  std::invoke_result_t<Fn&> sync_scope(T value, Fn&& fn) const {
    detail::task_local_guard g(this, &value);
    return std::invoke(fn);
  }

  /// The current value, or nullptr outside any scope of this key.
  T* try_get() const noexcept {
    for (auto* f = detail::task_local_top(); f; f = f->prev)
      if (f->key == this) return static_cast<T*>(f->value);
    return nullptr;
  }

  /// The current value; throws std::logic_error outside any scope of this key.
  T& get() const {
    if (T* v = try_get()) return *v;
    throw std::logic_error("zokio::task_local: no value set (get() outside a scope)");
  }

  /// `fn(value)` with the current value; throws std::logic_error outside a scope.
  template <class Fn>
  std::invoke_result_t<Fn&, T&> with(Fn&& fn) const {
    return std::invoke(fn, get());
  }

  bool is_set() const noexcept { return try_get() != nullptr; }

  /// Opt-in inheritance: wraps `f` in a scope holding a copy of the current value, so that a
  /// task spawned from here sees it: `zokio::spawn(key.propagate(child()))`. Outside any
  /// scope, `f` runs with the key unset.
  template <future F>
    requires std::is_copy_constructible_v<T>
  auto propagate(F&& f) const {
    return propagated<std::remove_cvref_t<F>>(this, try_get(), std::forward<F>(f));
  }

 private:
  template <class F>
  class propagated {
   public:
    using output = future_output_t<F>;
    propagated(const task_local* key, const T* v, F f) : key_(key), f_(std::move(f)) {
      if (v) value_.emplace(*v);
    }
    zokio::poll<output> poll(context& cx) {
      if (!value_) return f_.poll(cx);
      detail::task_local_guard g(key_, &*value_);
      return f_.poll(cx);
    }

   private:
    const task_local* key_;
    std::optional<T> value_;
    F f_;
  };
};

}  // namespace zokio

#endif
