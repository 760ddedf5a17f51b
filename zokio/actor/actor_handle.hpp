// zokio::actor_handle<M>: the spawner's hold on an actor: its address, stop, abort, and a
// future of how it ended.
#ifndef ZOKIO_ACTOR_ACTOR_HANDLE_HPP
#define ZOKIO_ACTOR_ACTOR_HANDLE_HPP

#include <memory>
#include <utility>

#include <zokio/actor/actor_options.hpp>
#include <zokio/actor/actor_ref.hpp>
#include <zokio/detail/actor_control.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/task_id.hpp>

namespace zokio {

/**
 * What spawn_actor and actor_context::spawn_child return: a future of the actor's
 * actor_exit, plus ref() (its address; the handle counts as one), stop() and abort().
 * Move-only. Dropping the handle detaches: the actor goes on while some actor_ref remains.
 *
 * Awaiting it throws join_error when the actor's task did not end by itself (abort(), or its
 * runtime shut down); failures inside the actor are in actor_exit, not thrown.
 */
template <class M>
class actor_handle {
 public:
  using output = actor_exit;

  actor_handle() noexcept = default;
  actor_handle(actor_handle&&) noexcept = default;
  actor_handle& operator=(actor_handle&&) noexcept = default;

  zokio::poll<actor_exit> poll(context& cx) { return join_.poll(cx); }

  /// The actor's address (a new reference).
  actor_ref<M> ref() const noexcept { return ref_; }
  /// Asks the actor to stop (returns at once; await the handle for its end). The message
  /// being handled finishes first. A first request wins: a later drop does not cut a drain.
  void stop(stop_mode m = stop_mode::drain) const noexcept {
    ref_.ctl_->request_stop(m);
  }
  /// Ends the actor's task at once, as join_handle::abort: its state and queued messages are
  /// destroyed (pending asks fail with errc::no_reply), its children are asked to stop
  /// (stop_mode::drop), and awaiting the handle throws join_error (task_aborted).
  void abort() noexcept { join_.abort(); }
  /// The actor's task id.
  task_id id() const noexcept { return join_.id(); }
  bool is_finished() const noexcept { return join_.is_finished(); }
  bool valid() const noexcept { return ref_.valid(); }

 private:
  template <class>
  friend class actor_context;
  friend struct detail::actor_access;
  actor_handle(actor_ref<M> r, join_handle<actor_exit> j) noexcept
      : ref_(std::move(r)), join_(std::move(j)) {}
  actor_ref<M> ref_;
  join_handle<actor_exit> join_;
};

}  // namespace zokio

#endif
