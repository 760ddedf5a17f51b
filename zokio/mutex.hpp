// zokio::mutex<T>: an async, fair mutex owning the value it protects, and its guard.
#ifndef ZOKIO_MUTEX_HPP
#define ZOKIO_MUTEX_HPP

#include <optional>
#include <type_traits>
#include <utility>

#include <zokio/context.hpp>
#include <zokio/detail/batch_semaphore.hpp>
#include <zokio/poll.hpp>

namespace zokio {

template <class T>
class mutex;

/// Exclusive access to a mutex's value; unlocks when destroyed (or at `unlock()`). Move-only.
template <class T>
class [[nodiscard]] mutex_guard {
 public:
  mutex_guard(mutex_guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  mutex_guard& operator=(mutex_guard&& o) noexcept {
    if (this != &o) {
      unlock();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~mutex_guard() { unlock(); }

  T& operator*() const noexcept { return m_->value_; }
  T* operator->() const noexcept { return &m_->value_; }
  /// True until unlocked or moved from.
  bool owns_lock() const noexcept { return m_ != nullptr; }

  /// Unlocks now; the guard is then empty.
  void unlock() noexcept {
    if (m_) std::exchange(m_, nullptr)->sem_.release(1);
  }

 private:
  friend class mutex<T>;
  explicit mutex_guard(mutex<T>* m) noexcept : m_(m) {}
  mutex<T>* m_;
};

/**
 * An async mutex, like `tokio::sync::Mutex<T>`: `co_await m.lock()` suspends the task (never
 * the thread) until the lock is free, and the guard may be held across `co_await`s.
 *
 * @code
 * zokio::mutex<std::vector<int>> log;
 * {
 *   auto g = co_await log.lock();
 *   g->push_back(1);
 *   co_await flush(*g);        // still locked here
 * }                            // unlocked
 * @endcode
 *
 * A one-permit zokio::semaphore underneath: lock and unlock are one compare-and-swap each when
 * nobody waits; waiters queue FIFO (fair: a released lock goes to the oldest waiter, directly,
 * so a task that unlocks and locks again in a loop cannot starve the others). Use
 * std::mutex instead when the critical section never awaits and is short: it is cheaper.
 *
 * @par Cancellation safety
 * `lock()` is cancel-safe: destroying the future before it completes loses nothing (a lock
 * handed to it meanwhile goes on to the next waiter); its place in the queue is lost. The
 * future must not be moved after it was polled.
 *
 * @par Thread Safety
 * All members may be called from any thread. The mutex must outlive its guards and futures.
 */
template <class T>
class mutex {
 public:
  using value_type = T;

  mutex()
    requires std::is_default_constructible_v<T>
      : value_() {}
  explicit mutex(T value) : value_(std::move(value)) {}
  template <class... Args>
  explicit mutex(std::in_place_t, Args&&... args) : value_(std::forward<Args>(args)...) {}
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// The future of lock(); its output is the guard.
  class [[nodiscard]] lock_future {
   public:
    using output = mutex_guard<T>;
    lock_future(lock_future&&) noexcept = default;
    zokio::poll<mutex_guard<T>> poll(context& cx) {
      if (op_.poll(cx) != detail::batch_semaphore::status::acquired) return pending;
      return zokio::poll<mutex_guard<T>>(mutex_guard<T>(m_));  // never closed
    }

   private:
    friend class mutex;
    explicit lock_future(mutex* m) noexcept : m_(m), op_(m->sem_, 1) {}
    mutex* m_;
    detail::batch_semaphore::acquire_op op_;
  };

  /// Waits for the lock.
  lock_future lock() noexcept { return lock_future(this); }

  /// The lock if it is free and nobody waits for it.
  std::optional<mutex_guard<T>> try_lock() noexcept {
    if (!sem_.try_acquire(1)) return std::nullopt;
    return mutex_guard<T>(this);
  }

  /// The value without locking, for when no one else can reach the mutex (setup, teardown).
  T& get_mut() noexcept { return value_; }

 private:
  friend class mutex_guard<T>;
  detail::batch_semaphore sem_{1};
  T value_;
};

}  // namespace zokio

#endif
