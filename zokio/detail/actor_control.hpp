// zokio::detail::actor_control: what an actor's task shares with its handles and its parent,
// beside the mailbox: stop requests, a child's escalated failure, the count of references,
// and the actor's end.
//
// Invariants:
//   - `flags` only gains STOP_DRAIN and STOP_DROP (a stop request is final); ESCALATED is set
//     by a child that gave up and cleared by the actor's task when it takes the failure.
//   - `child_error` is written under `mu` before ESCALATED is set, and read under `mu` after
//     the task saw it; the mutex orders the two, the flag only says when to look.
//   - `waker` has one registrant, the actor's task; a request sets its bit, then wakes it; the
//     task registers, then reads `flags` (atomic_waker's contract: no wake-up is lost).
//   - `refs` counts actor_ref copies (the handle's included, not the task's own sender): the
//     last one gone requests STOP_DRAIN, so an actor nobody can reach ends like a channel.
//   - `done` is set once, when the task's frame ends (returned, or destroyed by an abort or
//     the runtime's shutdown); `ended` is notified after. A waiter creates its notified()
//     future before it reads `done`.
#ifndef ZOKIO_DETAIL_ACTOR_CONTROL_HPP
#define ZOKIO_DETAIL_ACTOR_CONTROL_HPP

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include <zokio/actor/actor_options.hpp>
#include <zokio/detail/atomic_waker.hpp>
#include <zokio/notify.hpp>
#include <zokio/task.hpp>

namespace zokio::detail {

// Builds actor_ref and actor_handle (their constructors are private), in spawn_actor.hpp.
struct actor_access;

struct actor_control {
  static constexpr unsigned stop_drain = 1, stop_drop = 2, escalated = 4;

  std::atomic<unsigned> flags{0};
  atomic_waker waker;
  std::atomic<std::size_t> refs{0};
  std::atomic<bool> done{false};
  zokio::notify ended;
  std::mutex mu;
  std::exception_ptr child_error;  // under mu

  /// Sets `bit` and wakes the actor's task (any thread, any time).
  void request(unsigned bit) noexcept {
    // Release: pairs with the task's acquire in pending() (what the requester wrote before,
    // e.g. under mu, is seen by a task that sees the bit).
    flags.fetch_or(bit, std::memory_order_release);
    waker.wake();
  }
  /// stop(m) of the handle or the context: the request's bit.
  void request_stop(stop_mode m) noexcept { request(m == stop_mode::drain ? stop_drain : stop_drop); }
  /// The bits the task has to act on now.
  unsigned pending() const noexcept { return flags.load(std::memory_order_acquire); }

  /// A child gave up: its failure goes to this (parent) actor.
  void escalate(std::exception_ptr e) noexcept {
    {
      std::lock_guard lk(mu);
      if (!child_error) child_error = std::move(e);
    }
    request(escalated);
  }
  /// The task takes an escalated failure (nullptr: none, or taken already).
  std::exception_ptr take_child_error() noexcept {
    flags.fetch_and(~escalated, std::memory_order_relaxed);  // the mutex orders the error
    std::lock_guard lk(mu);
    return std::exchange(child_error, nullptr);
  }

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void drop_ref() noexcept {
    // Acq_rel: the last drop sees every other holder's tells before it asks for the stop (the
    // mailbox orders the messages themselves; this only keeps the count exact).
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) request(stop_drain);
  }

  /// The actor's frame ends (once).
  void finish() noexcept {
    // Release: pairs with wait_done()'s acquire load (the exit is stored before).
    done.store(true, std::memory_order_release);
    ended.notify_waiters();
  }
};

/// Completes once the actor whose control block is `c` has ended.
inline zokio::task<void> actor_wait_done(std::shared_ptr<actor_control> c) {
  for (;;) {
    auto f = c->ended.notified();  // before the check: no lost notification
    if (c->done.load(std::memory_order_acquire)) co_return;
    co_await std::move(f);
  }
}

}  // namespace zokio::detail

#endif
