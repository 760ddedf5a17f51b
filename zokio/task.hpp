// zokio::task<T>: a lazily started C++20 coroutine that is itself a zokio::future and can
// co_await any zokio::future.
#ifndef ZOKIO_TASK_HPP
#define ZOKIO_TASK_HPP

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <zokio/allocator.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/future.hpp>

namespace zokio {

template <class T>
class task;

namespace detail {

template <class F>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};

// Re-polls the future the coroutine is suspended on. Returns true once it is ready (its
// output, or an exception, is then stored in the awaiter and the coroutine may resume).
using repoll_fn = bool (*)(void* awaiter, context& cx);

// The frame stack of a task (issue 12: nested awaits in O(1)).
//
// A task that is polled as a future is a *root*. When a frame co_awaits a task<U> that has
// not started, the child is not polled as a future: the parent suspends and transfers control
// to the child's frame (symmetric transfer), the child records its parent as continuation
// and shares the parent's root, and when the child finishes its final suspend transfers back
// to the parent. A frame that suspends on any other future (hand-written, Asio's, a task that
// had already been polled) records itself in the root as the *leaf*. The root's poll then
// re-polls only the leaf's future and resumes only the leaf's frame: a wake costs the same at
// any depth. Invariants:
//   - root_ of a root is itself; of a child, the root of the frame that started it.
//   - leaf_/leaf_handle_ are meaningful in a root only, while it is suspended on a future:
//     the innermost frame and its awaiter (repoll_/awaiter_ in that frame's promise).
//   - cx_ is set in the root for the duration of each poll; frames read it through root_.
//   - continuation_ is set once, when a child is started by its parent; a root has none, so
//     its final suspend returns to whoever resumed it (the root's poll).
//   - Ownership follows the frames: the parent's awaiter owns the child task, so destroying
//     the root destroys the whole stack, innermost frame last-in-first-out.
//   - await_at_ is the file:line of the frame's last co_await (await_transform's default
//     argument, one store per co_await), parent_ the frame that started a child on its stack:
//     while the task is suspended, leaf_ -> parent_ -> ... -> root is its chain of await points
//     (await_chain, read by the task dump with RUNNING held, so the frames stand still).
struct task_promise_base {
  task_promise_base* root_ = this;
  context* cx_ = nullptr;           // root: the context of the poll in progress
  repoll_fn repoll_ = nullptr;      // this frame: set while suspended on a future
  void* awaiter_ = nullptr;
  task_promise_base* leaf_ = nullptr;     // root: the frame suspended on a future
  std::coroutine_handle<> leaf_handle_;   // root: that frame's handle
  std::coroutine_handle<> continuation_;  // child: the parent frame to return to
  bool started_ = false;                  // resumed at least once (as root or as child)
  std::exception_ptr error_;
  task_promise_base* parent_ = nullptr;   // child: the frame that started it on its stack
  source_location await_at_{};            // this frame's last co_await

  /// Root only, while suspended (not running): the await points of the frame stack,
  /// innermost first. Empty before the first poll.
  void await_chain(std::vector<source_location>& out) const {
    if (!started_ || !leaf_) return;
    for (const task_promise_base* p = leaf_; p; p = p->parent_) out.push_back(p->await_at_);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  // A child returns to its parent frame; a root to its poll.
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      task_promise_base& p = h.promise();
      if (p.continuation_) return p.continuation_;
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  context& poll_context() const noexcept { return *root_->cx_; }

  // Root only: re-polls the leaf's future if the stack is suspended on one, then resumes the
  // innermost frame. False: that future is still pending (nothing was resumed).
  bool resume_stack(std::coroutine_handle<> self, context& cx) {
    task_promise_base* leaf = leaf_ ? leaf_ : this;
    if (leaf->repoll_) {
      if (!leaf->repoll_(leaf->awaiter_, cx)) return false;
      leaf->repoll_ = nullptr;
    }
    cx_ = &cx;
    started_ = true;
    std::coroutine_handle<> h = leaf_ ? leaf_handle_ : self;
    leaf_ = nullptr;
    h.resume();
    return true;
  }

  // Holds the awaited future: by value when it was an rvalue (moved in), by reference when
  // it was an lvalue. Owning rvalues also sidesteps a g++ 12 bug that destroys a co_await
  // operand temporary twice when a frame is destroyed at that suspension point.
  template <class F>
  struct awaiter {
    using future_type = std::remove_reference_t<F>;
    F fut;  // future_type or future_type&
    task_promise_base* promise;
    std::optional<poll<future_output_t<future_type>>> out{};  // engaged once ready
    std::exception_ptr error{};

    bool await_ready() {
      auto r = fut.poll(promise->poll_context());  // throws straight into the coroutine body
      if (r.is_pending()) return false;
      out.emplace(std::move(r));
      return true;
    }
    void await_suspend(std::coroutine_handle<> me) noexcept {
      promise->repoll_ = &repoll;
      promise->awaiter_ = this;
      task_promise_base* root = promise->root_;
      root->leaf_ = promise;
      root->leaf_handle_ = me;
    }
    future_output_t<future_type> await_resume() {
      if (error) std::rethrow_exception(error);
      return std::move(*out).take();
    }
    static bool repoll(void* self, context& cx) {
      auto& a = *static_cast<awaiter*>(self);
      try {
        auto r = a.fut.poll(cx);
        if (r.is_pending()) return false;
        a.out.emplace(std::move(r));
      } catch (...) {
        a.error = std::current_exception();  // rethrown inside the coroutine by await_resume
      }
      return true;
    }
  };

  // co_await of a task: a fresh child runs on this stack (see above); a child that was
  // already polled as a future (it is a root of its own, perhaps mid-stack) is awaited like
  // any other future, through the base awaiter.
  template <class Ref>
  struct task_awaiter : awaiter<Ref> {
    using base = awaiter<Ref>;
    bool on_stack = false;  // started here by symmetric transfer

    task_awaiter(Ref&& child, task_promise_base* p) noexcept(std::is_reference_v<Ref> ||
                                                            std::is_nothrow_move_constructible_v<Ref>)
        : base{static_cast<Ref&&>(child), p} {}

    bool await_ready() {
      if (!this->fut.fresh()) return base::await_ready();
      on_stack = true;
      return false;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> me) noexcept {
      if (!on_stack) {
        base::await_suspend(me);
        return std::noop_coroutine();
      }
      auto h = this->fut.handle();
      task_promise_base& c = h.promise();
      c.root_ = this->promise->root_;
      c.parent_ = this->promise;
      c.continuation_ = me;
      c.started_ = true;
      return h;
    }
    typename base::future_type::output await_resume() {
      if (on_stack) return this->fut.take_result();
      return base::await_resume();
    }
  };

  // `file`, `line`: the co_await's (both compilers give the await expression's line to a
  // default argument of await_transform). Two scalars, not a source_location: GCC keeps a
  // source_location argument in the coroutine frame, stores its fields apart and reloads
  // them as one 16-byte copy, a store-forwarding stall on every co_await (a third of
  // skynet's coroutine time in a profile).
  template <future F>
  auto await_transform(F& f, const char* file = __builtin_FILE(),
                       std::uint_least32_t line = __builtin_LINE()) noexcept {
    await_at_ = source_location::current(file, line);
    if constexpr (is_task<F>::value)
      return task_awaiter<F&>{f, this};
    else
      return awaiter<F&>{f, this};
  }
  template <future F>
    requires(!std::is_reference_v<F>)
  auto await_transform(F&& f, const char* file = __builtin_FILE(),
                       std::uint_least32_t line = __builtin_LINE()) noexcept(
      std::is_nothrow_move_constructible_v<F>) {
    await_at_ = source_location::current(file, line);
    if constexpr (is_task<F>::value)
      return task_awaiter<F>{std::move(f), this};
    else
      return awaiter<F>{std::move(f), this};
  }
};

// Every task<T> frame is allocated with room in front of it for the task cell that spawn()
// builds there, so a spawned coroutine costs one allocation (header + frame), not two.
// Layout of one block: [ task_cell<task<T>> | pad | frame_tag ][ coroutine frame ... ]
struct frame_tag {
  void* frame;             // the pointer operator new returned: adoption checks it
  std::uint32_t size;      // of the whole block, for the cell that frees it after adoption
  unsigned char adopted;   // set by spawn: the cell owns the block, frame delete must not free
};
template <class T>
struct frame_layout;  // defined after task<T> (it needs the cell's size)

template <class T>
struct task_promise_alloc : task_promise_base {
  static void* operator new(std::size_t n) {
    constexpr std::size_t prefix = frame_layout<T>::prefix;
    char* block = static_cast<char*>(allocate(prefix + n, alloc_category::frame));
    char* frame = block + prefix;
    ::new (frame - sizeof(frame_tag)) frame_tag{frame, static_cast<std::uint32_t>(prefix + n), 0};
    return frame;
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    auto* tag = reinterpret_cast<frame_tag*>(static_cast<char*>(p) - sizeof(frame_tag));
    if (tag->adopted) return;  // Safety: the spawned cell frees the whole block later
    deallocate(static_cast<char*>(p) - frame_layout<T>::prefix, frame_layout<T>::prefix + n,
               alloc_category::frame);
  }
};

template <class T>
struct task_promise : task_promise_alloc<T> {
  std::optional<T> value_;
  task<T> get_return_object() noexcept;
  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    value_.emplace(std::forward<U>(v));
  }
};

template <>
struct task_promise<void> : task_promise_alloc<void> {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

/**
 * A coroutine returning `T` that is a `zokio::future<T>`: polling it runs the body until the
 * next `co_await` of a pending future. Lazy: nothing runs before the first poll.
 *
 * @code
 * zokio::task<int> add_later(int a, int b) {
 *   co_await zokio::yield_now{};
 *   co_return a + b;
 * }
 * @endcode
 *
 * An exception escaping the body is rethrown by the poll that finishes the task (and so at
 * `block_on` or at the join of a spawned task).
 */
template <class T = void>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using output = T;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }

  /// For spawn: the storage in front of this frame reserved for the task cell, marked as
  /// adopted (the frame's delete then leaves the block to the cell), or nullptr. `block_size`
  /// receives the size to free the block with (category alloc_category::frame).
  void* adopt_cell_storage(std::size_t& block_size) noexcept {
    if (!h_) return nullptr;
    char* frame = static_cast<char*>(h_.address());
    auto* tag = reinterpret_cast<detail::frame_tag*>(frame - sizeof(detail::frame_tag));
    // coroutine_handle::address() is the allocation on g++ and clang; check rather than trust.
    if (tag->frame != frame || tag->adopted) return nullptr;
    tag->adopted = 1;
    block_size = tag->size;
    return frame - detail::frame_layout<T>::prefix;
  }
  bool done() const noexcept { return h_ && h_.done(); }

  /// Polls the task as a root: re-polls only the future its innermost frame waits on, and
  /// resumes only that frame (see task_promise_base for the frame stack).
  zokio::poll<T> poll(context& cx) {
    if (!h_.promise().resume_stack(h_, cx)) return pending;
    if (!h_.done()) return pending;
    if constexpr (std::is_void_v<T>) {
      take_result();
      return ready();
    } else {
      return zokio::poll<T>(take_result());
    }
  }

  /// While suspended: the file:line of each frame's co_await, innermost first (see
  /// task_promise_base). The task dump calls it with the task's RUNNING held.
  void await_chain(std::vector<source_location>& out) const {
    if (h_ && !h_.done()) h_.promise().await_chain(out);
  }
  /// Valid and never resumed: a co_await of it runs it on the awaiting frame's stack.
  bool fresh() const noexcept { return h_ && !h_.promise().started_; }
  /// The frame's handle (for the awaiter that starts it on a parent's stack).
  handle_type handle() const noexcept { return h_; }
  /// After completion: the value, or the body's exception rethrown.
  T take_result() {
    auto& p = h_.promise();
    if (p.error_) std::rethrow_exception(std::exchange(p.error_, nullptr));
    if constexpr (!std::is_void_v<T>) return std::move(*p.value_);
  }

 private:
  handle_type h_;
};

namespace detail {
template <class T>
struct frame_layout {
  static constexpr std::size_t cell_size = (sizeof(task_cell<task<T>>) + 15) / 16 * 16;
  static_assert(alignof(task_cell<task<T>>) <= 16, "task cell must fit the frame prefix");
  static constexpr std::size_t prefix = cell_size + (sizeof(frame_tag) + 15) / 16 * 16;
};

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

/**
 * Calls `f(args...)`, a coroutine lambda returning `task<T>`, keeping `f` (and its captures)
 * alive in the new frame for as long as the task runs.
 *
 * A capturing lambda coroutine called in place, `[&] () -> task<> {...}()`, reads its captures
 * through the closure object, which dies at the end of the full expression: spawning it is a
 * use-after-free. `co_invoke` is the safe spelling:
 * @code
 * rt.spawn(zokio::co_invoke([&]() -> zokio::task<int> { co_return counter++; }));
 * @endcode
 */
template <class F, class... Args>
  requires future<std::invoke_result_t<F&, Args&...>>
std::invoke_result_t<F&, Args&...> co_invoke(F f, Args... args) {
  co_return co_await std::invoke(f, args...);
}

}  // namespace zokio

#endif
