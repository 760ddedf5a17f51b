// zokio::actor_ref<M>: the address of an actor; tell, try_tell and ask.
#ifndef ZOKIO_ACTOR_ACTOR_REF_HPP
#define ZOKIO_ACTOR_ACTOR_REF_HPP

#include <memory>
#include <type_traits>
#include <utility>

#include <zokio/actor/reply.hpp>
#include <zokio/detail/actor_control.hpp>
#include <zokio/detail/actor_futures.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/oneshot.hpp>

namespace zokio {

template <class M>
class actor_handle;
template <class M>
class actor_context;

/**
 * The address of an actor whose messages are of type M: copyable, usable from any thread and
 * any task. Messages are handled one at a time, in the order the mailbox got them.
 *
 * - `tell(m)`: fire and forget; a future that waits while the mailbox is full (backpressure)
 *   and yields a send_result<M>: channel_errc::closed, with the message handed back, once the
 *   actor stopped. Cancel-safe before it completes (a dropped tell sent nothing).
 * - `try_tell(m)`: the same without waiting: channel_errc::full or closed, message handed back.
 * - `ask<R>(make)`: a request with a typed answer: `make(zokio::reply<R>)` builds the message,
 *   and the future yields `boost::system::result<R>`: the answer, errc::actor_stopped (not
 *   delivered), or errc::no_reply (delivered, dropped unanswered: the handler threw, the
 *   actor restarted or was stopped with stop_mode::drop). Dropping an ask that was delivered
 *   leaves the actor to handle it; its reply.send() then returns false.
 *
 * The last actor_ref of an actor gone (its actor_handle's included), the actor stops as with
 * stop(stop_mode::drain): nobody can reach it any more.
 */
template <class M>
class actor_ref {
 public:
  actor_ref() noexcept = default;
  actor_ref(const actor_ref& o) noexcept : tx_(o.tx_), ctl_(o.ctl_) {
    if (ctl_) ctl_->add_ref();
  }
  actor_ref(actor_ref&& o) noexcept : tx_(std::move(o.tx_)), ctl_(std::move(o.ctl_)) {}
  actor_ref& operator=(actor_ref o) noexcept {
    swap(o);
    return *this;
  }
  ~actor_ref() {
    if (ctl_) ctl_->drop_ref();
  }
  void swap(actor_ref& o) noexcept {
    std::swap(tx_, o.tx_);
    std::swap(ctl_, o.ctl_);
  }

  /// Queues `m`, waiting while the mailbox is full; see the class comment. The future refers
  /// to this ref (as mpsc::sender::send's to its sender): keep the ref until it completes, as
  /// `co_await ref.tell(m)` does. On an rvalue (`h.ref().tell(m)`, `std::move(ref).tell(m)`)
  /// the future holds the ref itself.
  template <class U = M>
    requires std::is_constructible_v<M, U&&>
  auto tell(U&& m) const& {
    return tx_.send(M(std::forward<U>(m)));  // built as send()'s parameter: one move less
  }
  template <class U = M>
    requires std::is_constructible_v<M, U&&>
  auto tell(U&& m) && {
    auto f = tx_.send(M(std::forward<U>(m)));
    return detail::owning_future<actor_ref, decltype(f)>(std::move(*this), std::move(f));
  }
  /// Queues `m` if there is room now; see the class comment.
  template <class U = M>
    requires std::is_constructible_v<M, U&&>
  send_result<M> try_tell(U&& m) const {
    return tx_.try_send(M(std::forward<U>(m)));
  }

  /// Sends the message `make(reply<R>)` and waits for the answer; see the class comment. The
  /// future refers to this ref, or holds it when called on an rvalue, as tell().
  template <class R, class Make>
    requires std::is_invocable_r_v<M, Make&&, reply<R>>
  detail::ask_future<M, R> ask(Make&& make) const& {
    auto [tx, rx] = oneshot::channel<R>();
    return detail::ask_future<M, R>(tx_.send(std::forward<Make>(make)(reply<R>(std::move(tx)))),
                                    std::move(rx));
  }
  template <class R, class Make>
    requires std::is_invocable_r_v<M, Make&&, reply<R>>
  detail::owning_future<actor_ref, detail::ask_future<M, R>> ask(Make&& make) && {
    auto f = static_cast<const actor_ref&>(*this).template ask<R>(std::forward<Make>(make));
    return {std::move(*this), std::move(f)};
  }

  /// True once the actor stopped taking messages.
  bool is_stopped() const noexcept { return tx_.is_closed(); }
  /// Both address the same actor.
  bool same_actor(const actor_ref& o) const noexcept { return ctl_ == o.ctl_; }
  bool valid() const noexcept { return ctl_ != nullptr; }

 private:
  template <class>
  friend class actor_handle;
  template <class>
  friend class actor_context;
  friend struct detail::actor_access;
  actor_ref(mpsc::sender<M> tx, std::shared_ptr<detail::actor_control> ctl) noexcept
      : tx_(std::move(tx)), ctl_(std::move(ctl)) {
    ctl_->add_ref();
  }
  mpsc::sender<M> tx_;
  std::shared_ptr<detail::actor_control> ctl_;
};

}  // namespace zokio

#endif
