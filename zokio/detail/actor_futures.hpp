// The futures of actor_ref: ask_future (send the request, then wait for its reply), and
// owning_future (a future that also holds what it refers to: an actor_ref's tell and ask
// called on an rvalue ref).
#ifndef ZOKIO_DETAIL_ACTOR_FUTURES_HPP
#define ZOKIO_DETAIL_ACTOR_FUTURES_HPP

#include <optional>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/error.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/poll.hpp>

namespace zokio::detail {

/// actor_ref::ask's future: waits for room in the mailbox, then for the reply. Not movable
/// once polled (it holds the mailbox's waiter node while it waits for room).
template <class M, class R>
class [[nodiscard]] ask_future {
 public:
  using output = boost::system::result<R>;

  ask_future(typename mpsc::sender<M>::send_future send, oneshot::receiver<R> rx)
      : send_(std::in_place, std::move(send)), rx_(std::move(rx)) {}
  ask_future(ask_future&& o) noexcept(std::is_nothrow_move_constructible_v<M>)
      : send_(std::move(o.send_)), rx_(std::move(o.rx_)) {}
  ask_future(const ask_future&) = delete;
  ask_future& operator=(const ask_future&) = delete;

  zokio::poll<output> poll(context& cx) {
    if (send_) {
      auto p = send_->poll(cx);
      if (p.is_pending()) return pending;
      const bool sent = p.value().has_value();
      send_.reset();  // a refused message is destroyed here, with its reply
      if (!sent) return output(boost::system::in_place_error, make_error_code(errc::actor_stopped));
    }
    auto p = rx_.poll(cx);
    if (p.is_pending()) return pending;
    auto r = p.take();
    if (r.has_error()) return output(boost::system::in_place_error, make_error_code(errc::no_reply));
    return output(std::move(*r));
  }

 private:
  std::optional<typename mpsc::sender<M>::send_future> send_;
  oneshot::receiver<R> rx_;
};

/// `f` with `keep` held beside it for as long as the future lives (the future refers to the
/// channel that `keep` keeps alive). Not movable once polled, as `f`.
template <class Keep, class F>
class [[nodiscard]] owning_future {
 public:
  using output = typename F::output;
  owning_future(Keep keep, F f) : keep_(std::move(keep)), f_(std::move(f)) {}
  zokio::poll<output> poll(context& cx) { return f_.poll(cx); }

 private:
  Keep keep_;
  F f_;
};

}  // namespace zokio::detail

#endif
