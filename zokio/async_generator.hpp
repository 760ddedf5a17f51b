// zokio::async_generator<T>: a coroutine that co_awaits zokio futures and co_yields values;
// it is a zokio::stream of T.
#ifndef ZOKIO_ASYNC_GENERATOR_HPP
#define ZOKIO_ASYNC_GENERATOR_HPP

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <zokio/allocator.hpp>
#include <zokio/stream.hpp>
#include <zokio/task.hpp>

namespace zokio {

template <class T>
class async_generator;

namespace detail {

// The generator's promise reuses task<T>'s await machinery (task_promise_base: await_transform
// of any future, the frame stack of awaited tasks, the stored exception), so co_await behaves
// exactly as in a task: a ready future costs no suspension, an exception surfaces at the
// co_await. A generator is always a root: nothing co_awaits it (it is a stream).
template <class T>
struct async_generator_promise : task_promise_base {
  std::optional<T> value_;  // engaged between a co_yield and the poll_next that takes it

  async_generator<T> get_return_object() noexcept;

  // co_yield does not go through await_transform: it suspends the frame with value_ set.
  template <class U = T>
    requires std::is_constructible_v<T, U&&>
  std::suspend_always yield_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
    return {};
  }
  void return_void() noexcept {}

  // Frames come from the runtime allocator (category frame), like task frames.
  static void* operator new(std::size_t n) { return allocate(n, alloc_category::frame); }
  static void operator delete(void* p, std::size_t n) noexcept {
    deallocate(p, n, alloc_category::frame);
  }
};

template <class G>
struct is_async_generator : std::false_type {};
template <class T>
struct is_async_generator<async_generator<T>> : std::true_type {};

}  // namespace detail

/**
 * A lazily started coroutine that produces a sequence of `T`: its body may `co_await` any
 * zokio future and `co_yield` values; `co_return;` (or falling off the end) ends the stream.
 *
 * @code
 * zokio::async_generator<int> ticks(int n) {
 *   for (int i = 0; i < n; ++i) {
 *     co_await zokio::yield_now{};
 *     co_yield i;
 *   }
 * }
 * // in a task:  auto g = ticks(3); while (auto v = co_await zokio::next(g)) use(*v);
 * @endcode
 *
 * Backpressure: the body runs only inside poll_next and stops at each co_yield until the
 * consumer asks for the next item, so at most one item is ever buffered.
 *
 * Exceptions: one escaping the body is rethrown by the poll_next that reaches it; the stream
 * has then ended (later poll_next calls return nullopt).
 *
 * Cancellation: destroying the generator destroys its frame wherever it is suspended, which
 * destroys the future it awaits (cancelling it) and every local, in reverse order.
 *
 * Not moved after the first poll_next (the frame is not moved anyway; the object is a handle,
 * so moving it is in fact harmless).
 *
 * A capturing lambda coroutine must not be called in place (its captures die with the
 * closure, see doc/architecture.md): use `zokio::co_invoke(lambda)`, which keeps the closure
 * alive (at the cost of one extra coroutine hop per item), or pass state as parameters.
 */
template <class T>
class [[nodiscard]] async_generator {
  static_assert(!std::is_reference_v<T> && !std::is_void_v<T>,
                "async_generator<T>: T must be an object type");

 public:
  using promise_type = detail::async_generator_promise<T>;
  using item = T;
  using handle_type = std::coroutine_handle<promise_type>;

  async_generator() noexcept = default;
  explicit async_generator(handle_type h) noexcept : h_(h) {}
  async_generator(async_generator&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  async_generator& operator=(async_generator&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~async_generator() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  /// True once the body has finished (returned or thrown).
  bool done() const noexcept { return !h_ || h_.done(); }

  zokio::poll<std::optional<T>> poll_next(context& cx) {
    if (!h_ || h_.done()) return std::optional<T>();
    auto& p = h_.promise();
    // Suspended on a future (in its own frame or in a task it awaits): poll that again, and
    // resume the frame waiting on it only when it is ready (task_promise_base's frame stack).
    if (!p.resume_stack(h_, cx)) return pending;
    p.cx_ = nullptr;
    if (p.value_) {
      std::optional<T> v(std::move(*p.value_));
      p.value_.reset();
      return v;
    }
    if (!h_.done()) return pending;  // suspended on a future that is not ready
    if (p.error_) std::rethrow_exception(std::exchange(p.error_, nullptr));
    return std::optional<T>();
  }

 private:
  handle_type h_;
};

namespace detail {
template <class T>
async_generator<T> async_generator_promise<T>::get_return_object() noexcept {
  return async_generator<T>(std::coroutine_handle<async_generator_promise<T>>::from_promise(*this));
}
}  // namespace detail

/**
 * `co_invoke` for generator lambdas: calls `f(args...)` with `f` and the arguments kept alive
 * in the new frame, and forwards every item. Safe spelling of `[&]() -> async_generator<T>
 * {...}()`.
 */
template <class F, class... Args>
  requires detail::is_async_generator<std::invoke_result_t<F&, Args&...>>::value
std::invoke_result_t<F&, Args&...> co_invoke(F f, Args... args) {
  auto g = std::invoke(f, args...);
  while (auto v = co_await zokio::next(g)) co_yield std::move(*v);
}

}  // namespace zokio

#endif
