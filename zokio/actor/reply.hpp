// zokio::reply<R>: the answer slot an ask() puts in its message; the actor sends through it.
#ifndef ZOKIO_ACTOR_REPLY_HPP
#define ZOKIO_ACTOR_REPLY_HPP

#include <utility>

#include <zokio/oneshot.hpp>

namespace zokio {

/**
 * Where an actor answers a request made with actor_ref::ask(): a message type that expects an
 * answer carries one (`struct get { std::string key; zokio::reply<int> reply; };`), and the
 * handler calls `reply.send(value)` once.
 *
 * Destroying a reply unsent (the handler threw, the actor restarted or was stopped with
 * stop_mode::drop, or the handler forgot) completes the ask with errc::no_reply: an asker
 * never waits for an answer that cannot come. Move-only.
 */
template <class R>
class reply {
 public:
  reply() noexcept = default;
  /// A reply that sends through `tx`: what ask() puts in a message, also for code that calls
  /// a state's handle() without an actor (a unit test of the state, a hand-written loop).
  explicit reply(oneshot::sender<R> tx) noexcept : tx_(std::move(tx)) {}
  reply(reply&&) noexcept = default;
  reply& operator=(reply&&) noexcept = default;

  /// Answers the request. False when the asker is gone (it gave up: a timeout, a select), or
  /// when there is nobody to answer (sent already, or a default-constructed reply in a
  /// message that was told, not asked): the value is dropped.
  bool send(R v) { return tx_.valid() && tx_.send(std::move(v)).has_value(); }
  /// True when the asker is gone, so that a handler can skip costly work.
  bool is_closed() const noexcept { return !tx_.valid() || tx_.is_closed(); }
  /// False once sent (or for a default-constructed reply).
  bool valid() const noexcept { return tx_.valid(); }

 private:
  oneshot::sender<R> tx_;
};

}  // namespace zokio

#endif
