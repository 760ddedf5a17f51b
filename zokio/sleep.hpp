// zokio::sleep, zokio::sleep_until: futures that complete at a deadline, on the calling
// worker's Asio timer queue.
#ifndef ZOKIO_SLEEP_HPP
#define ZOKIO_SLEEP_HPP

#include <chrono>

#include <zokio/detail/coop.hpp>
#include <zokio/detail/timer_entry.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * The future of `zokio::sleep(d)` / `zokio::sleep_until(t)`, like Tokio's `Sleep`: ready
 * (output void) once the deadline has passed.
 *
 * The first poll arms a `steady_timer` on the io_context of the worker that polls it (timers
 * are per worker; from runtime::block_on, a worker picked round-robin). A deadline already
 * past at the first poll completes at once without touching Asio. Polling outside any Zokio
 * runtime throws std::logic_error.
 *
 * Not movable after the first poll (the Asio timer lives inside); never-polled or finished
 * sleeps may be moved and destroyed freely.
 *
 * Cancellation safety: destroying a pending sleep cancels its Asio wait (the handler runs
 * with operation_aborted, wakes nobody, frees the shared block). Nothing is lost: a sleep has
 * no output to lose. Safe in select.
 */
class [[nodiscard]] sleep_future {
 public:
  using output = void;

  explicit sleep_future(instant deadline) noexcept : deadline_(deadline) {}
  sleep_future(sleep_future&&) noexcept = default;
  sleep_future& operator=(sleep_future&&) = delete;

  zokio::poll<void> poll(context& cx) {
    if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
    if (!entry_.waiting()) {
      if (done_ || detail::clock_now() >= deadline_) return finish();
      entry_.arm(deadline_);
    }
    if (!entry_.poll_fired(cx)) return pending;
    return finish();
  }

  /// The instant this sleep completes at.
  instant deadline() const noexcept { return deadline_; }
  /// True once the deadline has passed (whether or not it was polled).
  bool is_elapsed() const noexcept { return detail::clock_now() >= deadline_; }

  /// Moves the deadline (Tokio's Sleep::reset): a pending wait is cancelled and the next
  /// poll arms a new one on the same timer. Allowed after the first poll; a finished sleep
  /// becomes pending again.
  void reset(instant deadline) noexcept {
    entry_.cancel();
    deadline_ = deadline;
    done_ = false;
  }

 private:
  zokio::poll<void> finish() noexcept {
    done_ = true;
    entry_.reset();  // a finished sleep holds no Asio timer
    return ready();
  }

  instant deadline_;
  bool done_ = false;
  detail::timer_entry entry_;
};

/// A future that completes `d` from now (at least; timers never fire early).
template <class Rep, class Period>
sleep_future sleep(std::chrono::duration<Rep, Period> d) noexcept {
  return sleep_future(detail::deadline_after(d));
}

/// A future that completes at `deadline`.
inline sleep_future sleep_until(instant deadline) noexcept { return sleep_future(deadline); }

}  // namespace zokio

#endif
