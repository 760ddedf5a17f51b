// zokio::detail::timer_entry: one Asio steady timer on a worker's io_context, waited on by a
// future through a small shared block. Shared by sleep, interval and timeout.
#ifndef ZOKIO_DETAIL_TIMER_ENTRY_HPP
#define ZOKIO_DETAIL_TIMER_ENTRY_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include <zokio/allocator.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/sim_hooks.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/use_future.hpp>
#include <zokio/waker.hpp>

namespace zokio {

/// A point in time of the clock every Zokio timer uses (Asio's steady_timer clock), like
/// Tokio's Instant.
using instant = std::chrono::steady_clock::time_point;

namespace detail {

using timer_clock = std::chrono::steady_clock;

/// now + d without overflow (a huge duration means "never": time_point::max()).
template <class Rep, class Period>
instant deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  const auto now = clock_now();
  if (d <= std::chrono::duration<Rep, Period>::zero()) return now;
  // Compare in long double so that neither a huge Rep nor a huge Period overflows.
  using ld = std::chrono::duration<long double, std::nano>;
  if (ld(d) >= ld(instant::max() - now)) return instant::max();
  return now + std::chrono::ceil<timer_clock::duration>(d);
}

/// The io_context timers armed by the calling thread live on: the calling worker's (timers
/// are per worker), or, on a runtime::block_on thread, one picked round-robin.
inline boost::asio::io_context& timer_io_context() {
  scheduler* s = scheduler::current();
  if (!s)
    throw std::logic_error(
        "zokio timer (sleep, interval, timeout) polled outside a Zokio runtime: poll it in a "
        "task, or in runtime::block_on, not in the free zokio::block_on or a foreign thread");
  return s->worker_io_context(s->pick_home());
}

/// Shared by a timer_entry and the wait handler in flight: whichever drops the last of the
/// two references frees it (the handler may run after the future is gone).
struct timer_shared {
  std::atomic<std::uint32_t> refs{2};
  spin_mutex mu;
  bool fired = false;
  waker w;

  static timer_shared* create() {
    void* p = allocate(sizeof(timer_shared), alloc_category::timer, alignof(timer_shared));
    return ::new (p) timer_shared;
  }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    this->~timer_shared();
    deallocate(this, sizeof(timer_shared), alloc_category::timer, alignof(timer_shared));
  }
};

/// The wait handler. Its allocator and executor are use_future's: Asio allocates the wait
/// operation from the runtime's recycling cache and completes it inline (no type-erased
/// dispatch), so a steady-state timer reaches no upstream allocator.
class timer_handler {
 public:
  explicit timer_handler(timer_shared* s) noexcept : st_(s) {}
  timer_handler(timer_handler&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  timer_handler& operator=(timer_handler&&) = delete;
  ~timer_handler() {
    if (st_) st_->release();  // destroyed without running (io_context destroyed first)
  }

  using allocator_type = zokio::allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }
  using executor_type = inline_executor;
  executor_type get_executor() const noexcept { return {}; }

  void operator()(boost::system::error_code) {
    // operation_aborted only follows timer_entry::cancel(), which took the waker first: the
    // wake below is then a no-op. Either way the block is marked and released.
    timer_shared* s = std::exchange(st_, nullptr);
    waker w;
    {
      std::lock_guard lk(s->mu);
      s->fired = true;
      w = std::move(s->w);
    }
    s->release();
    std::move(w).wake();  // outside the lock
  }

 private:
  timer_shared* st_;
};

/**
 * One Asio timer waited on by a future. The steady_timer is built on first arm(), on the
 * io_context of the calling worker, and lives inside the future: a timer_entry must not move
 * once armed (futures are not moved after their first poll).
 *
 * Why the timer lives in the future and the shared block is separate: the only state the
 * Asio handler touches is the shared block (fired flag, waker), so the future may be
 * destroyed, and its steady_timer with it, while the handler is queued or running on the
 * io_context's thread. The alternative, a synchronous destructor that cancels and waits for
 * the handler, would block a worker on another worker's io_context (or deadlock on its own).
 * The block comes from the runtime's recycling cache (category timer): one allocation per
 * arm, none upstream in steady state.
 *
 * Thread safety of cancel() from the owner's thread while another thread runs the
 * io_context: the steady_timer object itself is only ever touched by the future's owner (one
 * thread at a time, as every future). The per-io_context timer queue is shared with the
 * reactor, and Asio guards every access to it (schedule_timer, cancel_timer, the expiry scan)
 * with the reactor's mutex: worker io_contexts use the default concurrency hint, which keeps
 * that locking on. So cancel() and ~basic_waitable_timer from any thread are the documented
 * "distinct objects: safe" case; unlike use_future's cancellation slot (not thread-safe,
 * hence posted to the io_context), no post is needed. The time TSan suite checks it.
 */
class timer_entry {
 public:
  using asio_timer = boost::asio::basic_waitable_timer<
      timer_clock, boost::asio::wait_traits<timer_clock>, boost::asio::io_context::executor_type>;

  timer_entry() noexcept = default;
  // Movable only while never armed (futures move before their first poll only).
  timer_entry(timer_entry&& o) noexcept { (void)o; }
  timer_entry& operator=(timer_entry&&) = delete;
  ~timer_entry() { cancel(); }

  /// True while a wait is armed and its completion not yet seen by poll_fired().
  bool waiting() const noexcept { return st_ != nullptr; }

  /// Starts a wait until `deadline` (precondition: !waiting()). The first call picks the
  /// io_context (timer_io_context()); later calls reuse the same timer.
  void arm(instant deadline) {
    if (sim_driver* sim = tl_sim) [[unlikely]] {
      // A simulation's virtual time: its timer queue holds the handler's reference.
      timer_shared* s = timer_shared::create();
      sim->arm_timer(deadline, s, &fire_simulated);
      st_ = s;
      sim_ = sim;
      return;
    }
    sim_ = nullptr;
    if (!timer_) timer_.emplace(timer_io_context().get_executor());
    timer_->expires_at(deadline);
    timer_shared* s = timer_shared::create();
    st_ = s;
    timer_->async_wait(timer_handler(s));
  }

  /// True once the armed wait completed (the entry is then no longer waiting); otherwise
  /// stores cx's waker to be woken by the completion.
  bool poll_fired(context& cx) {
    waker old;
    {
      std::lock_guard lk(st_->mu);
      if (!st_->fired) {
        if (!st_->w.will_wake(cx.waker())) old = std::exchange(st_->w, cx.waker());
        return false;  // `old` is dropped outside the lock
      }
    }
    std::exchange(st_, nullptr)->release();
    return true;
  }

  /// Forgets the stored waker (the waiting future went away; the wait stays armed).
  void clear_waker() noexcept {
    if (!st_) return;
    waker old;
    std::lock_guard lk(st_->mu);
    old = std::move(st_->w);
  }

  /// Cancels an armed wait: its handler runs later with operation_aborted, wakes nobody and
  /// frees the block. The timer object is kept for a later arm().
  void cancel() noexcept {
    timer_shared* s = std::exchange(st_, nullptr);
    if (!s) return;
    bool fired;
    waker old;
    {
      std::lock_guard lk(s->mu);
      fired = s->fired;
      old = std::move(s->w);
    }
    if (!fired) {
      if (sim_)
        sim_->cancel_timer(s);  // runs fire_simulated now: the handler's reference goes
      else
        timer_->cancel();
    }
    s->release();
  }

  /// cancel(), then destroys the Asio timer (a finished sleep keeps nothing).
  void reset() noexcept {
    cancel();
    timer_.reset();
  }

 private:
  // The simulation's timer: what the Asio handler does, with the same reference.
  static void fire_simulated(void* p) noexcept { timer_handler(static_cast<timer_shared*>(p))({}); }

  timer_shared* st_ = nullptr;
  sim_driver* sim_ = nullptr;  // armed on a simulation (zokio/test/sim_runtime.hpp)
  std::optional<asio_timer> timer_;
};

}  // namespace detail
}  // namespace zokio

#endif
