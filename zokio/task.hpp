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

#include <zokio/allocator.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/future.hpp>

namespace zokio {

template <class T>
class task;

namespace detail {

// Re-polls the future the coroutine is suspended on. Returns true once it is ready (its
// output, or an exception, is then stored in the awaiter and the coroutine may resume).
using repoll_fn = bool (*)(void* awaiter, context& cx);

struct task_promise_base {
  context* cx_ = nullptr;          // the context of the poll in progress
  repoll_fn repoll_ = nullptr;     // set while suspended on a future
  void* awaiter_ = nullptr;
  std::exception_ptr error_;

  std::suspend_always initial_suspend() noexcept { return {}; }
  std::suspend_always final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }


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
      auto r = fut.poll(*promise->cx_);  // throws straight into the coroutine body
      if (r.is_pending()) return false;
      out.emplace(std::move(r));
      return true;
    }
    void await_suspend(std::coroutine_handle<>) noexcept {
      promise->repoll_ = &repoll;
      promise->awaiter_ = this;
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

  template <future F>
  awaiter<F&> await_transform(F& f) noexcept {
    return {f, this};
  }
  template <future F>
    requires(!std::is_reference_v<F>)
  awaiter<F> await_transform(F&& f) noexcept(std::is_nothrow_move_constructible_v<F>) {
    return {std::move(f), this};
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

  zokio::poll<T> poll(context& cx) {
    auto& p = h_.promise();
    if (p.repoll_) {
      if (!p.repoll_(p.awaiter_, cx)) return pending;
      p.repoll_ = nullptr;
    }
    p.cx_ = &cx;
    h_.resume();
    if (!h_.done()) return pending;
    if (p.error_) std::rethrow_exception(std::exchange(p.error_, nullptr));
    if constexpr (std::is_void_v<T>)
      return ready();
    else
      return zokio::poll<T>(std::move(*p.value_));
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
