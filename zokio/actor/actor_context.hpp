// zokio::actor_context<M>: what an actor's handlers get besides the message: their own
// address, stop from inside, and supervised children.
#ifndef ZOKIO_ACTOR_ACTOR_CONTEXT_HPP
#define ZOKIO_ACTOR_ACTOR_CONTEXT_HPP

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include <zokio/actor/actor_handle.hpp>
#include <zokio/actor/actor_options.hpp>
#include <zokio/actor/actor_ref.hpp>
#include <zokio/detail/actor_control.hpp>
#include <zokio/task_id.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/task.hpp>

namespace zokio {

namespace detail {
template <class M, class Factory>
struct actor_loop;
}

/**
 * Passed to an actor's handle(), started() and stopped() (by reference, valid for the
 * actor's life): self(), stop(), spawn_child(), restarts().
 */
template <class M>
class actor_context {
 public:
  actor_context(const actor_context&) = delete;
  actor_context& operator=(const actor_context&) = delete;
  ~actor_context() { forget_children(detail::actor_control::stop_drop); }

  /// This actor's address. A copy kept in the state keeps the actor reachable, so it does
  /// not end when every outside reference is gone (it still ends on stop()).
  actor_ref<M> self() const { return actor_ref<M>(tx_, ctl_); }
  /// Stops this actor once the current handler returns (see stop_mode).
  void stop(stop_mode m = stop_mode::drain) noexcept {
    ctl_->request_stop(m);
  }
  /// Spawns a supervised child actor (same runtime): it is stopped with this actor (after this
  /// actor's mailbox is done, awaited before this actor ends), stopped (stop_mode::drop)
  /// when this actor restarts, and, when it gives up with restart_policy::escalate, its
  /// failure becomes this actor's. Defined in zokio/actor/spawn_actor.hpp.
  template <class CM, class Factory>
  actor_handle<CM> spawn_child(Factory&& factory, const actor_options& o = {},
                               source_location where = source_location::current());
  /// Restarts so far (0 in the first state).
  unsigned restarts() const noexcept { return restarts_; }

 private:
  template <class, class>
  friend struct detail::actor_loop;
  actor_context(mpsc::sender<M> tx, std::shared_ptr<detail::actor_control> ctl) noexcept
      : tx_(std::move(tx)), ctl_(std::move(ctl)) {}

  // Asks every child to stop and forgets them (a restart: the old state's children go, and
  // nothing waits for them: one of them may be waiting for an answer from this actor).
  void forget_children(unsigned bit) noexcept {
    for (auto& k : kids_) k->request(bit);
    kids_.clear();
  }
  // Asks every child to stop and waits until each has ended (the end of this actor: its
  // mailbox is closed and done, so a child's ask to it fails instead of waiting).
  zokio::task<void> stop_children(unsigned bit) {
    auto kids = std::move(kids_);
    kids_.clear();
    for (auto& k : kids) k->request(bit);
    for (auto& k : kids) co_await detail::actor_wait_done(k);
  }

  mpsc::sender<M> tx_;  // not an actor_ref: it does not keep the actor reachable
  std::shared_ptr<detail::actor_control> ctl_;
  std::vector<std::shared_ptr<detail::actor_control>> kids_;
  unsigned restarts_ = 0;
};

}  // namespace zokio

#endif
