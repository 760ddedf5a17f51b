// zokio::spawn_blocking: run a blocking call on the runtime's bounded blocking pool, off the
// async workers; zokio::blocking_handle<T>, the future of its result.
#ifndef ZOKIO_BLOCKING_HPP
#define ZOKIO_BLOCKING_HPP

#include <atomic>
#include <concepts>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/system/system_error.hpp>

#include <zokio/allocator.hpp>
#include <zokio/detail/blocking_pool.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/error.hpp>
#include <zokio/future.hpp>

namespace zokio {

namespace detail {

// The state a blocking job and its handle share: the job node, the result slot, the waker.
// One allocation (category other) holding the closure too; two references (job, handle).
template <class T>
struct blocking_state : blocking_job {
  using stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  enum phase : unsigned char { queued, started, aborted };

  std::atomic<int> refs{2};
  std::atomic<unsigned char> ph{queued};  // queued -> started (pool) or -> aborted (handle)
  spin_mutex mu;                           // guards done, result, w
  bool done = false;
  std::variant<std::monostate, stored, std::exception_ptr, errc> result;
  waker w;
  void (*destroy)(blocking_state*) noexcept = nullptr;

  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(this);
  }
  // I: 1 value, 2 exception, 3 error code (by index: T may be any type).
  template <std::size_t I, class... V>
  void complete(V&&... v) noexcept {
    waker to_wake;
    {
      std::lock_guard lk(mu);
      result.template emplace<I>(std::forward<V>(v)...);
      done = true;
      to_wake = std::move(w);
    }
    to_wake.wake();  // outside the lock
  }
};

template <class T, class F>
struct blocking_cell final : blocking_state<T> {
  using base = blocking_state<T>;
  // Destroyed on the pool thread right after the call (or where the job is dropped), not
  // wherever the last reference to the cell goes: what it captured is released at once.
  std::optional<F> f;

  explicit blocking_cell(F&& fn) : f(std::move(fn)) {
    this->run = &run_fn;
    this->drop = &drop_fn;
    this->destroy = &destroy_fn;
  }
  static blocking_cell* create(F&& fn) {
    void* p = allocate(sizeof(blocking_cell), alloc_category::other, alignof(blocking_cell));
    try {
      return ::new (p) blocking_cell(std::move(fn));
    } catch (...) {
      deallocate(p, sizeof(blocking_cell), alloc_category::other, alignof(blocking_cell));
      throw;
    }
  }
  static void destroy_fn(base* b) noexcept {
    auto* c = static_cast<blocking_cell*>(b);
    c->~blocking_cell();
    deallocate(c, sizeof(blocking_cell), alloc_category::other, alignof(blocking_cell));
  }
  static void run_fn(blocking_job* j) noexcept {
    auto* c = static_cast<blocking_cell*>(j);
    unsigned char expected = base::queued;
    if (c->ph.compare_exchange_strong(expected, base::started, std::memory_order_acq_rel)) {
      // An exception completes the handle only after the catch block has ended: leaving it
      // drops this thread's reference to the exception object, which must happen before the
      // waiter may rethrow or free it (libstdc++'s count is invisible to TSan otherwise).
      std::exception_ptr error;
      try {
        if constexpr (std::is_void_v<T>) {
          std::invoke(*c->f);
          c->f.reset();
          c->template complete<1>();
        } else {
          // The value is built before the lock; a throwing move would be std::terminate here
          // (complete is noexcept), as in Tokio's panic-free join.
          T v = std::invoke(*c->f);
          c->f.reset();
          c->template complete<1>(std::move(v));
        }
      } catch (...) {
        error = std::current_exception();
      }
      if (error) {
        c->f.reset();
        c->template complete<2>(std::move(error));
      }
    } else {  // aborted before it started: the handle already reported task_aborted
      c->f.reset();
    }
    c->release();
  }
  static void drop_fn(blocking_job* j) noexcept {
    auto* c = static_cast<blocking_cell*>(j);
    unsigned char expected = base::queued;
    c->f.reset();
    if (c->ph.compare_exchange_strong(expected, base::started, std::memory_order_acq_rel))
      c->template complete<3>(errc::runtime_shutdown);
    c->release();
  }
};

}  // namespace detail

/**
 * The future of a spawn_blocking call: its output is the closure's result; an exception the
 * closure threw is rethrown at the await; `zokio::join_error` reports `errc::runtime_shutdown`
 * when the runtime shut down before the job started, `errc::task_aborted` after abort().
 *
 * Dropping the handle detaches the job: it still runs (a blocking call cannot be interrupted),
 * and its result is discarded.
 *
 * @par Cancellation safety
 * Dropping the handle never cancels a running call; abort() only prevents a job that has not
 * started. No waker is kept after the handle is gone.
 */
template <class T>
class [[nodiscard]] blocking_handle {
 public:
  using output = T;

  blocking_handle() noexcept = default;
  explicit blocking_handle(detail::blocking_state<T>* s) noexcept : s_(s) {}
  blocking_handle(blocking_handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  blocking_handle& operator=(blocking_handle&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~blocking_handle() { reset(); }

  zokio::poll<T> poll(context& cx) {
    {
      std::lock_guard lk(s_->mu);
      if (!s_->done) {
        if (!s_->w.will_wake(cx.waker())) s_->w = cx.waker();
        return pending;
      }
    }
    // Done: the pool side no longer touches the result.
    auto& r = s_->result;
    if (r.index() == 2) {
      // Taken out of the shared state: the exception's last reference then always goes on
      // this thread, whichever side frees the state (libstdc++'s exception_ptr count is
      // invisible to ThreadSanitizer).
      std::exception_ptr e = std::move(std::get<2>(r));
      r.template emplace<0>();
      std::rethrow_exception(std::move(e));
    }
    if (r.index() == 3) throw join_error(std::get<3>(r));
    if constexpr (std::is_void_v<T>)
      return ready();
    else
      return zokio::poll<T>(std::move(std::get<1>(r)));
  }

  /// Prevents the job from starting if it has not yet; the await then throws
  /// join_error(task_aborted). A job already running is not interrupted (returns false).
  bool abort() noexcept {
    if (!s_) return false;
    unsigned char expected = detail::blocking_state<T>::queued;
    if (!s_->ph.compare_exchange_strong(expected, detail::blocking_state<T>::aborted,
                                        std::memory_order_acq_rel))
      return false;
    s_->template complete<3>(errc::task_aborted);
    return true;
  }

  /// True once the result (or error) is available.
  bool is_finished() const noexcept {
    if (!s_) return false;
    std::lock_guard lk(s_->mu);
    return s_->done;
  }
  bool valid() const noexcept { return s_ != nullptr; }
  /// Same as dropping the handle: the job runs on, its result is discarded.
  void detach() noexcept { reset(); }

 private:
  void reset() noexcept {
    auto* s = std::exchange(s_, nullptr);
    if (!s) return;
    waker old;
    {
      std::lock_guard lk(s->mu);
      old = std::move(s->w);  // dropped outside the lock
    }
    s->release();
  }
  detail::blocking_state<T>* s_ = nullptr;
};

namespace detail {
/// Queues `f` on `s`'s blocking pool. After shutdown the handle reports runtime_shutdown.
template <class F>
auto spawn_blocking_on(scheduler& s, F&& f) {
  using fn = std::decay_t<F>;
  using T = std::invoke_result_t<fn&>;
  static_assert(!std::is_reference_v<T>,
                "spawn_blocking: return a value (or a pointer / std::reference_wrapper)");
  auto* c = blocking_cell<T, fn>::create(fn(std::forward<F>(f)));
  blocking_handle<T> h(c);
  try {
    if (!s.blocking().submit(c)) c->drop(c);
  } catch (...) {
    c->release();  // never queued: only the handle's reference remains after this
    throw;
  }
  return h;
}
}  // namespace detail

/**
 * Runs `f()` on the current runtime's blocking pool, a separate set of threads (started on
 * demand, at most `max_blocking_threads`, idle ones exit after the keep-alive), and returns a
 * blocking_handle of its result, like `tokio::task::spawn_blocking`.
 *
 * @code
 * std::string text = co_await zokio::spawn_blocking([] { return read_whole_file("a.txt"); });
 * @endcode
 *
 * Throws system_error(errc::no_runtime) outside a runtime (a worker, a block_on, or a blocking
 * pool thread of one).
 */
template <class F>
  requires std::invocable<std::decay_t<F>&>
auto spawn_blocking(F&& f) {
  auto* s = detail::scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  return detail::spawn_blocking_on(*s, std::forward<F>(f));
}

}  // namespace zokio

#endif
