// zokio::spawn_fiber: stackful tasks on Boost.Context fibers (pooled, guarded stacks) that
// wait on any zokio future or Asio operation as if it were synchronous (this_fiber::await).
// Needs Boost.Context linked (Boost::context in CMake, /zokio//boost_context in b2).
#ifndef ZOKIO_FIBER_HPP
#define ZOKIO_FIBER_HPP

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/context/detail/exception.hpp>
#include <boost/context/fiber.hpp>
#include <boost/system/system_error.hpp>

#include <zokio/detail/fiber_stack_pool.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/error.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/runtime.hpp>

namespace zokio {

/// Options of one fiber.
struct fiber_options {
  /// Usable stack, rounded up to pages by Boost.Context; one guard page below it catches an
  /// overflow (SIGSEGV instead of silent corruption). Stacks are pooled per size.
  std::size_t stack_size = 256 * 1024;
};

namespace detail {

/// The part of a fiber task that this_fiber::await needs: its poll context and the way back.
class fiber_base {
 public:
  fiber_base() = default;
  fiber_base(const fiber_base&) = delete;
  fiber_base& operator=(const fiber_base&) = delete;

  /// The context of the poll in progress (valid while the fiber runs).
  context& cx() noexcept { return *cx_; }

  /// Switches back to the task's poll, which returns pending; returns when the task is polled
  /// again (possibly on another worker thread). Throws forced_unwind when the task is
  /// cancelled meanwhile: the fiber's stack is then unwound.
  void suspend() {
#if ZOKIO_FIBER_ASAN
    __sanitizer_start_switch_fiber(&fake_stack_, caller_bottom_, caller_size_);
#endif
    try {
      caller_ = std::move(caller_).resume();
    } catch (const boost::context::detail::forced_unwind&) {
      entered();
      throw;
    }
    entered();
  }

 protected:
  // Sanitizer bookkeeping of one switch into the fiber (Boost 1.81's fcontext has none).
  void entered() noexcept {
#if ZOKIO_FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake_stack_, &caller_bottom_, &caller_size_);
#endif
  }
  void leaving_for_good() noexcept {
#if ZOKIO_FIBER_ASAN
    __sanitizer_start_switch_fiber(nullptr, caller_bottom_, caller_size_);
#endif
  }

  context* cx_ = nullptr;
  boost::context::fiber caller_;  // the poll that resumed us (inside the fiber)
  void* stack_bottom_ = nullptr;  // our stack, for the sanitizer annotations
  std::size_t stack_size_ = 0;
#if ZOKIO_FIBER_ASAN
  void* fake_stack_ = nullptr;
  const void* caller_bottom_ = nullptr;
  std::size_t caller_size_ = 0;
#endif
};

inline thread_local fiber_base* tl_fiber = nullptr;

/// The fiber running on this thread, or nullptr. Not inlined: a fiber may resume on another
/// thread, and an inlined TLS address could be reused across that switch.
[[gnu::noinline]] inline fiber_base* current_fiber() noexcept {
  fiber_base* f = tl_fiber;
  asm volatile("" ::: "memory");
  return f;
}

/// The StackAllocator Boost.Context gets: pooled stacks, and it tells the fiber where its
/// stack is (for the ASan annotations).
struct pooled_stack {
  std::size_t size;
  void** bottom;
  std::size_t* bytes;
  boost::context::stack_context allocate() {
    auto s = fiber_stack_pool::instance().acquire(size);
    *bottom = static_cast<char*>(s.sp) - s.size;
    *bytes = s.size;
    return s;
  }
  void deallocate(boost::context::stack_context& s) noexcept {
    fiber_stack_pool::instance().release(s, size);
  }
};

/**
 * The future a fiber task is: polling it resumes the fiber until it awaits a pending future
 * (pending) or returns (ready with its result; an exception it threw is rethrown). Destroying
 * it while the fiber is suspended unwinds the fiber's stack (Boost.Context forced_unwind).
 *
 * Not moved after its first poll (the fiber refers to it), which a task cell guarantees.
 */
template <class Fn>
class fiber_future : public fiber_base {
 public:
  using result_type = std::invoke_result_t<Fn&>;
  using output = result_type;

  fiber_future(Fn fn, fiber_options o) : fn_(std::move(fn)), opts_(o) {}
  // Only before the first poll (spawn moves it into the task cell).
  fiber_future(fiber_future&& o) noexcept(std::is_nothrow_move_constructible_v<Fn>)
      : fiber_base(), fn_(std::move(o.fn_)), opts_(o.opts_) {}
  ~fiber_future() {
    if (!fib_) return;
    // Suspended in an await: resuming with forced_unwind runs every destructor on its stack,
    // then Boost.Context frees the stack (back to the pool).
    switching_in();
    fib_ = {};
    switched_out();
  }

  zokio::poll<output> poll(context& cx) {
    if (!started_) {
      started_ = true;
      fib_ = boost::context::fiber(std::allocator_arg,
                                   pooled_stack{opts_.stack_size, &stack_bottom_, &stack_size_},
                                   [this](boost::context::fiber&& c) { return run(std::move(c)); });
    }
    cx_ = &cx;
    fiber_base* prev = tl_fiber;
    tl_fiber = this;
    switching_in();
    fib_ = std::move(fib_).resume();
    switched_out();
    tl_fiber = prev;
    cx_ = nullptr;
    if (!done_) return pending;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    if constexpr (std::is_void_v<output>)
      return ready();
    else
      return zokio::poll<output>(std::move(*value_));
  }

 private:
  boost::context::fiber run(boost::context::fiber&& caller) {
    caller_ = std::move(caller);
    entered();
    try {
      if constexpr (std::is_void_v<output>)
        std::invoke(fn_);
      else
        value_.emplace(std::invoke(fn_));
    } catch (const boost::context::detail::forced_unwind&) {
      leaving_for_good();
      throw;  // Boost.Context catches it at the bottom of the stack and switches back
    } catch (...) {
      error_ = std::current_exception();
    }
    done_ = true;
    leaving_for_good();
    return std::move(caller_);
  }

  void switching_in() noexcept {
#if ZOKIO_FIBER_ASAN
    __sanitizer_start_switch_fiber(&task_fake_stack_, stack_bottom_, stack_size_);
#endif
  }
  void switched_out() noexcept {
#if ZOKIO_FIBER_ASAN
    __sanitizer_finish_switch_fiber(task_fake_stack_, nullptr, nullptr);
#endif
  }

  Fn fn_;
  fiber_options opts_;
  boost::context::fiber fib_;
  bool started_ = false;
  bool done_ = false;
  std::optional<std::conditional_t<std::is_void_v<output>, char, output>> value_;
  std::exception_ptr error_;
#if ZOKIO_FIBER_ASAN
  void* task_fake_stack_ = nullptr;
#endif
};

}  // namespace detail

/**
 * Starts `fn()` on a fiber, a stackful task of the current runtime, and returns the
 * join_handle of its result (exceptions rethrown at the join; abort() unwinds the fiber's
 * stack). Inside, `zokio::this_fiber::await(f)` waits for any zokio future as a plain call:
 *
 * @code
 * auto h = zokio::spawn_fiber([&] {
 *   auto n = zokio::this_fiber::await(sock.async_read_some(buf, zokio::use_future));
 *   return n.value();
 * });
 * @endcode
 *
 * Throws system_error(errc::no_runtime) outside a runtime.
 */
template <class Fn>
  requires std::invocable<std::decay_t<Fn>&>
auto spawn_fiber(Fn&& fn, fiber_options o = {}) {
  auto* s = detail::scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  using fut = detail::fiber_future<std::decay_t<Fn>>;
  return join_handle<typename fut::output>(s->spawn(fut(std::forward<Fn>(fn), o)));
}

template <runtime_config Config>
template <class Fn, class... Options>
auto basic_runtime<Config>::spawn_fiber(Fn fn, Options... opts) {
  static_assert(sizeof...(Options) <= 1, "spawn_fiber(fn) or spawn_fiber(fn, fiber_options)");
  using fut = detail::fiber_future<Fn>;
  return join_handle<typename fut::output>(
      sched_->spawn(fut(std::move(fn), fiber_options(opts...))));
}

namespace this_fiber {

/// True when called inside a fiber started by spawn_fiber.
inline bool is_fiber() noexcept { return detail::current_fiber() != nullptr; }

/**
 * Waits for `f` inside a fiber: polls it with the fiber task's context and, while it is
 * pending, suspends the fiber (its worker runs other tasks meanwhile). Returns f's output or
 * throws what f threw. `f` stays where it is (on the fiber's stack) for the whole wait.
 *
 * Cancellation: when the fiber's task is aborted (or the runtime shuts down) during the wait,
 * this throws boost::context::detail::forced_unwind to unwind the fiber; a catch (...) in
 * the fiber must rethrow it. Throws std::logic_error outside a fiber.
 */
template <future F>
future_output_t<F> await(F&& f) {
  detail::fiber_base* self = detail::current_fiber();
  if (!self) throw std::logic_error("zokio::this_fiber::await called outside a fiber");
  for (;;) {
    auto r = f.poll(self->cx());
    if (r.is_ready()) return std::move(r).take();
    self->suspend();
  }
}

/// Lets other tasks run, then continues (zokio::yield_now for fibers).
inline void yield() { await(yield_now{}); }

}  // namespace this_fiber

}  // namespace zokio

#endif
