// zokio::interval: ticks at a fixed period, with Tokio's choice of what to do with missed ticks.
#ifndef ZOKIO_INTERVAL_HPP
#define ZOKIO_INTERVAL_HPP

#include <chrono>
#include <stdexcept>

#include <zokio/detail/coop.hpp>
#include <zokio/detail/timer_entry.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * What an interval does when ticks were missed (the consumer was late by more than
 * `interval::missed_tick_tolerance`, as in Tokio, 5 ms). With period P, a tick scheduled at T
 * and seen at `now`:
 *
 * | behavior | next tick scheduled at | effect |
 * |---|---|---|
 * | `burst` (default) | T + P | the missed ticks fire back to back until caught up; the schedule never drifts |
 * | `delay` | now + P | the schedule restarts from now; every gap is at least P |
 * | `skip` | the first T + kP after now | missed ticks are dropped; the schedule stays aligned on T + kP |
 */
enum class missed_tick_behavior { burst, delay, skip };

/**
 * Yields at `start`, `start + period`, `start + 2*period`, ... (Tokio's `Interval`).
 * `co_await iv.tick()` returns the instant the tick was scheduled for (not when it was seen).
 * The first tick, from `zokio::interval(period)`, completes at once.
 *
 * The interval owns one Asio steady_timer, built on the io_context of the worker that first
 * waits on it, and re-armed for each tick (so ticks cost no timer construction).
 * Not movable once a tick has been waited on.
 *
 * Cancellation safety: a `tick()` future may be dropped at any time (in select, in timeout)
 * without losing a tick: the next `tick()` returns the same scheduled tick. Destroying the
 * interval cancels its Asio wait.
 */
class interval {
 public:
  using duration = std::chrono::steady_clock::duration;
  /// Lateness beyond which a tick counts as missed (Tokio's value).
  static constexpr duration missed_tick_tolerance = std::chrono::milliseconds(5);

  /// First tick at `start`. Throws std::invalid_argument when `period` is not positive.
  interval(instant start, duration period,
           missed_tick_behavior b = missed_tick_behavior::burst)
      : next_(start), period_(period), behavior_(b) {
    if (period <= duration::zero())
      throw std::invalid_argument("zokio::interval: the period must be positive");
  }
  /// First tick now.
  explicit interval(duration period, missed_tick_behavior b = missed_tick_behavior::burst)
      : interval(detail::clock_now(), period, b) {}
  interval(interval&&) noexcept = default;
  interval& operator=(interval&&) = delete;

  /// The future of the next tick: `instant` (the tick's scheduled time). Borrows *this.
  class [[nodiscard]] tick_future {
   public:
    using output = instant;
    explicit tick_future(interval& iv) noexcept : iv_(&iv) {}
    tick_future(tick_future&& o) noexcept : iv_(std::exchange(o.iv_, nullptr)) {}
    tick_future& operator=(tick_future&&) = delete;
    ~tick_future() {
      if (iv_) iv_->entry_.clear_waker();  // the tick stays armed for the next tick()
    }
    zokio::poll<instant> poll(context& cx) {
      if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
      auto r = iv_->poll_tick(cx);
      if (r.is_ready()) iv_ = nullptr;
      return r;
    }

   private:
    interval* iv_;
  };

  tick_future tick() noexcept { return tick_future(*this); }

  /// The poll behind tick(), for hand-written futures.
  zokio::poll<instant> poll_tick(context& cx) {
    if (!entry_.waiting()) {
      if (detail::clock_now() < next_) {
        entry_.arm(next_);
        if (!entry_.poll_fired(cx)) return pending;
      }
    } else if (!entry_.poll_fired(cx)) {
      return pending;
    }
    const instant tick = next_;
    const instant now = detail::clock_now();
    if (now > tick + missed_tick_tolerance) {
      switch (behavior_) {
        case missed_tick_behavior::burst: next_ = tick + period_; break;
        case missed_tick_behavior::delay: next_ = now + period_; break;
        case missed_tick_behavior::skip: next_ = now + period_ - (now - tick) % period_; break;
      }
    } else {
      next_ = tick + period_;
    }
    return tick;
  }

  /// The next tick is one period from now (a pending wait is cancelled).
  void reset() noexcept { reset_at(detail::clock_now() + period_); }
  /// The next tick is at `t`.
  void reset_at(instant t) noexcept {
    entry_.cancel();
    next_ = t;
  }

  duration period() const noexcept { return period_; }
  missed_tick_behavior behavior() const noexcept { return behavior_; }
  void set_missed_tick_behavior(missed_tick_behavior b) noexcept { behavior_ = b; }
  /// When the next tick is scheduled.
  instant next_tick() const noexcept { return next_; }

 private:
  instant next_;
  duration period_;
  missed_tick_behavior behavior_;
  detail::timer_entry entry_;
};

}  // namespace zokio

#endif
