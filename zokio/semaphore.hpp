// zokio::semaphore: an async counting semaphore (FIFO, batch acquire) and its RAII permit.
#ifndef ZOKIO_SEMAPHORE_HPP
#define ZOKIO_SEMAPHORE_HPP

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/detail/batch_semaphore.hpp>
#include <zokio/poll.hpp>

namespace zokio {

/// Errors of the sync primitives.
enum class sync_errc {
  closed = 1,  ///< the semaphore was closed
};

namespace detail {
class sync_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "zokio.sync"; }
  std::string message(int ev) const override {
    return ev == static_cast<int>(sync_errc::closed) ? "semaphore closed" : "unknown sync error";
  }
};
}  // namespace detail

inline const boost::system::error_category& sync_category() noexcept {
  static const detail::sync_category cat;
  return cat;
}
inline boost::system::error_code make_error_code(sync_errc e) noexcept {
  return {static_cast<int>(e), sync_category()};
}

class semaphore;

/**
 * Permits taken from a semaphore; they go back when the permit is destroyed (or `release()`d).
 * Move-only. The semaphore must outlive it.
 */
class [[nodiscard]] semaphore_permit {
 public:
  semaphore_permit() noexcept = default;
  semaphore_permit(semaphore_permit&& o) noexcept
      : sem_(std::exchange(o.sem_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  semaphore_permit& operator=(semaphore_permit&& o) noexcept {
    if (this != &o) {
      release();
      sem_ = std::exchange(o.sem_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~semaphore_permit() { release(); }

  /// How many permits this object holds.
  std::size_t num_permits() const noexcept { return n_; }
  bool valid() const noexcept { return sem_ != nullptr; }

  /// Gives the permits up without returning them: the semaphore has that many fewer for good.
  void forget() noexcept {
    sem_ = nullptr;
    n_ = 0;
  }
  /// Returns the permits now.
  inline void release() noexcept;

 private:
  friend class semaphore;
  semaphore_permit(semaphore* s, std::size_t n) noexcept : sem_(s), n_(n) {}
  semaphore* sem_ = nullptr;
  std::size_t n_ = 0;
};

/**
 * An async counting semaphore, like `tokio::sync::Semaphore`.
 *
 * @code
 * zokio::semaphore limit(10);                      // at most 10 requests in flight
 * auto permit = (co_await limit.acquire()).value(); // waits for a permit; value() throws
 *                                                    // system_error if limit was closed
 * co_await handle(request);                         // permit returns when it goes out of scope
 * @endcode
 *
 * Fair: waiters are served first in, first out, and a waiter that needs `n` permits holds up
 * the ones behind it until `n` are free (no starvation of big requests). `try_acquire` fails
 * while anyone waits. The fast paths (acquiring when permits are free and nobody waits,
 * releasing when nobody waits) are one compare-and-swap; waiting takes a short spin lock and
 * allocates nothing (the waiter's node is inside the acquire future).
 *
 * @par Cancellation safety
 * `acquire()` is cancel-safe: destroying the future before it completes loses no permit
 * (permits already assigned to it go on to the next waiter, or back to the semaphore); the
 * future's place in the queue is lost. An acquire future must not be moved after it was
 * polled (it waits in place, as every Zokio future may: task frames keep it there).
 *
 * @par Thread Safety
 * All members may be called from any thread. The semaphore must outlive its futures and
 * permits.
 */
class semaphore {
 public:
  /// The largest number of permits a semaphore can hold.
  static constexpr std::size_t max_permits = detail::batch_semaphore::max_permits;

  /// Throws std::invalid_argument above max_permits.
  explicit semaphore(std::size_t permits) : sem_(checked(permits)) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// The future of `acquire(n)`: a permit for `n`, or sync_errc::closed.
  class [[nodiscard]] acquire_future {
   public:
    using output = boost::system::result<semaphore_permit>;
    acquire_future(acquire_future&&) noexcept = default;

    zokio::poll<output> poll(context& cx) {
      switch (op_.poll(cx)) {
        case detail::batch_semaphore::status::pending: return pending;
        case detail::batch_semaphore::status::acquired:
          return output(semaphore_permit(owner_, op_.permits()));
        case detail::batch_semaphore::status::closed: break;
      }
      return output(make_error_code(sync_errc::closed));
    }

   private:
    friend class semaphore;
    acquire_future(semaphore& s, std::size_t n) noexcept : owner_(&s), op_(s.sem_, n) {}
    semaphore* owner_;
    detail::batch_semaphore::acquire_op op_;
  };

  /// Waits for `n` permits (0 is ready at once). Throws std::invalid_argument when `n`
  /// exceeds max_permits.
  acquire_future acquire(std::size_t n = 1) { return acquire_future(*this, checked(n)); }

  /// `n` permits if they are free and nobody waits; empty otherwise (or when closed).
  std::optional<semaphore_permit> try_acquire(std::size_t n = 1) noexcept {
    if (n > max_permits || !sem_.try_acquire(n)) return std::nullopt;
    return semaphore_permit(this, n);
  }

  /// Adds `n` permits (Tokio's add_permits), serving waiters first.
  void release(std::size_t n) noexcept { sem_.release(n); }

  std::size_t available_permits() const noexcept { return sem_.available_permits(); }

  /// Makes every waiting and later acquire fail with sync_errc::closed. Permits held stay
  /// valid and return normally.
  void close() noexcept { sem_.close(); }
  bool is_closed() const noexcept { return sem_.is_closed(); }

 private:
  static std::size_t checked(std::size_t n) {
    if (n > max_permits)
      throw std::invalid_argument("zokio::semaphore: more than semaphore::max_permits permits");
    return n;
  }
  detail::batch_semaphore sem_;
};

inline void semaphore_permit::release() noexcept {
  if (sem_) std::exchange(sem_, nullptr)->release(std::exchange(n_, 0));
}

}  // namespace zokio

namespace boost::system {
template <>
struct is_error_code_enum<zokio::sync_errc> : std::true_type {};
}  // namespace boost::system

#endif
