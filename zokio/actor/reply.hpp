// zokio::reply<R>: the answer slot an ask() puts in its message; the actor sends through it.
#ifndef ZOKIO_ACTOR_REPLY_HPP
#define ZOKIO_ACTOR_REPLY_HPP

#include <utility>

#include <zokio/oneshot.hpp>

namespace zokio {

template <class M>
class actor_ref;

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
  template <class M>
  friend class actor_ref;
  explicit reply(oneshot::sender<R> tx) noexcept : tx_(std::move(tx)) {}
  oneshot::sender<R> tx_;
};

}  // namespace zokio

#endif
