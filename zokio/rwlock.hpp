// zokio::rwlock<T>: an async, fair reader-writer lock owning its value, and its two guards.
#ifndef ZOKIO_RWLOCK_HPP
#define ZOKIO_RWLOCK_HPP

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include <zokio/context.hpp>
#include <zokio/detail/batch_semaphore.hpp>
#include <zokio/poll.hpp>

namespace zokio {

template <class T>
class rwlock;

/// Shared read access; releases when destroyed (or at `unlock()`). Move-only.
template <class T>
class [[nodiscard]] rwlock_read_guard {
 public:
  rwlock_read_guard(rwlock_read_guard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  rwlock_read_guard& operator=(rwlock_read_guard&& o) noexcept {
    if (this != &o) {
      unlock();
      l_ = std::exchange(o.l_, nullptr);
    }
    return *this;
  }
  ~rwlock_read_guard() { unlock(); }

  const T& operator*() const noexcept { return l_->value_; }
  const T* operator->() const noexcept { return &l_->value_; }
  bool owns_lock() const noexcept { return l_ != nullptr; }
  void unlock() noexcept {
    if (l_) std::exchange(l_, nullptr)->sem_.release(1);
  }

 private:
  friend class rwlock<T>;
  explicit rwlock_read_guard(rwlock<T>* l) noexcept : l_(l) {}
  rwlock<T>* l_;
};

/// Exclusive write access; releases when destroyed (or at `unlock()`). Move-only.
template <class T>
class [[nodiscard]] rwlock_write_guard {
 public:
  rwlock_write_guard(rwlock_write_guard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  rwlock_write_guard& operator=(rwlock_write_guard&& o) noexcept {
    if (this != &o) {
      unlock();
      l_ = std::exchange(o.l_, nullptr);
    }
    return *this;
  }
  ~rwlock_write_guard() { unlock(); }

  T& operator*() const noexcept { return l_->value_; }
  T* operator->() const noexcept { return &l_->value_; }
  bool owns_lock() const noexcept { return l_ != nullptr; }
  void unlock() noexcept {
    if (l_) std::exchange(l_, nullptr)->sem_.release(rwlock<T>::max_reads);
  }

 private:
  friend class rwlock<T>;
  explicit rwlock_write_guard(rwlock<T>* l) noexcept : l_(l) {}
  rwlock<T>* l_;
};

/**
 * An async reader-writer lock, like `tokio::sync::RwLock<T>`: any number of readers, or one
 * writer.
 *
 * @code
 * zokio::rwlock<config> cfg;
 * { auto r = co_await cfg.read();  use(r->port); }     // many at once
 * { auto w = co_await cfg.write(); w->port = 8080; }   // alone
 * @endcode
 *
 * A semaphore of `max_reads` permits underneath (Tokio's design): a reader takes one, a writer
 * all of them. Fair (FIFO): a waiting writer blocks the readers that come after it, so
 * writers are not starved by a steady stream of readers; readers queued behind a writer go
 * together once it is done. Fast paths are one compare-and-swap.
 *
 * @par Cancellation safety
 * `read()` and `write()` are cancel-safe: destroying the future before it completes loses
 * nothing (read permits already assigned to a cancelled writer go on to the next waiters);
 * its place in the queue is lost. The futures must not be moved after they were polled.
 *
 * @par Thread Safety
 * All members may be called from any thread. The lock must outlive its guards and futures.
 */
template <class T>
class rwlock {
 public:
  using value_type = T;
  /// The most readers at once (Tokio's limit).
  static constexpr std::size_t max_reads = 0xFFFFFFFFu >> 3;

  rwlock()
    requires std::is_default_constructible_v<T>
      : value_() {}
  explicit rwlock(T value) : value_(std::move(value)) {}
  template <class... Args>
  explicit rwlock(std::in_place_t, Args&&... args) : value_(std::forward<Args>(args)...) {}
  rwlock(const rwlock&) = delete;
  rwlock& operator=(const rwlock&) = delete;

  /// The future of read().
  class [[nodiscard]] read_future {
   public:
    using output = rwlock_read_guard<T>;
    read_future(read_future&&) noexcept = default;
    zokio::poll<output> poll(context& cx) {
      if (op_.poll(cx) != detail::batch_semaphore::status::acquired) return pending;
      return zokio::poll<output>(output(l_));
    }

   private:
    friend class rwlock;
    explicit read_future(rwlock* l) noexcept : l_(l), op_(l->sem_, 1) {}
    rwlock* l_;
    detail::batch_semaphore::acquire_op op_;
  };

  /// The future of write().
  class [[nodiscard]] write_future {
   public:
    using output = rwlock_write_guard<T>;
    write_future(write_future&&) noexcept = default;
    zokio::poll<output> poll(context& cx) {
      if (op_.poll(cx) != detail::batch_semaphore::status::acquired) return pending;
      return zokio::poll<output>(output(l_));
    }

   private:
    friend class rwlock;
    explicit write_future(rwlock* l) noexcept : l_(l), op_(l->sem_, max_reads) {}
    rwlock* l_;
    detail::batch_semaphore::acquire_op op_;
  };

  /// Waits for shared access.
  read_future read() noexcept { return read_future(this); }
  /// Waits for exclusive access.
  write_future write() noexcept { return write_future(this); }

  /// Shared access if no writer holds or waits for the lock.
  std::optional<rwlock_read_guard<T>> try_read() noexcept {
    if (!sem_.try_acquire(1)) return std::nullopt;
    return rwlock_read_guard<T>(this);
  }
  /// Exclusive access if nobody holds or waits for the lock.
  std::optional<rwlock_write_guard<T>> try_write() noexcept {
    if (!sem_.try_acquire(max_reads)) return std::nullopt;
    return rwlock_write_guard<T>(this);
  }

  /// The value without locking, for when no one else can reach the lock.
  T& get_mut() noexcept { return value_; }

 private:
  friend class rwlock_read_guard<T>;
  friend class rwlock_write_guard<T>;
  detail::batch_semaphore sem_{max_reads};
  T value_;
};

}  // namespace zokio

#endif
