// zokio::spawn_actor: starts an actor on the calling thread's runtime; and
// actor_context::spawn_child, the same under a supervising parent.
#ifndef ZOKIO_ACTOR_SPAWN_ACTOR_HPP
#define ZOKIO_ACTOR_SPAWN_ACTOR_HPP

#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <zokio/actor/actor_context.hpp>
#include <zokio/actor/actor_handle.hpp>
#include <zokio/actor/actor_options.hpp>
#include <zokio/actor/actor_ref.hpp>
#include <zokio/detail/actor_control.hpp>
#include <zokio/detail/actor_loop.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task_id.hpp>

namespace zokio {

namespace detail {
struct actor_access {
  template <class M>
  static actor_ref<M> ref(mpsc::sender<M> tx, std::shared_ptr<actor_control> c) noexcept {
    return actor_ref<M>(std::move(tx), std::move(c));
  }
  template <class M>
  static actor_handle<M> handle(actor_ref<M> r, join_handle<actor_exit> j) noexcept {
    return actor_handle<M>(std::move(r), std::move(j));
  }
};

template <class M, class Factory>
actor_handle<M> spawn_actor_under(Factory&& factory, const actor_options& o,
                                  std::shared_ptr<actor_control> parent, source_location where) {
  using loop = actor_loop<M, std::decay_t<Factory>>;
  auto [tx, rx] = mpsc::channel<M>(o.mailbox);  // throws std::invalid_argument for 0
  auto ctl = std::make_shared<actor_control>();
  actor_ref<M> ref = actor_access::ref<M>(tx, ctl);
  auto task = loop::run(actor_lifetime(ctl), std::forward<Factory>(factory), std::move(rx),
                        std::move(tx), std::move(parent), o.restart);
  auto join = zokio::spawn(std::move(task), spawn_options{.name = o.name}, where);
  return actor_access::handle<M>(std::move(ref), std::move(join));
}
}  // namespace detail

/**
 * Starts an actor whose messages are of type M on the calling thread's runtime (a worker, or
 * inside block_on; errc::no_runtime elsewhere). `factory()` makes its state, at the start and
 * at each restart; the state has
 *
 *     void handle(M msg, zokio::actor_context<M>& cx);   // or: handle(M msg)
 *
 * returning void or a future (a zokio::task<void> coroutine) that the actor awaits before its
 * next message, and optionally `started(cx)` and `stopped(cx)` (void or a future).
 *
 * ```
 * struct counter {
 *   int n = 0;
 *   void handle(counter_msg m) {
 *     if (auto* a = std::get_if<add>(&m)) n += a->by;
 *     else std::get<get>(m).reply.send(n);
 *   }
 * };
 * auto h = zokio::spawn_actor<counter_msg>([] { return counter{}; });
 * co_await h.ref().tell(add{2});
 * int n = (co_await h.ref().ask<int>([](zokio::reply<int> r) { return get{std::move(r)}; })).value();
 * ```
 */
template <class M, class Factory>
  requires std::is_invocable_v<std::decay_t<Factory>&>
actor_handle<M> spawn_actor(Factory&& factory, const actor_options& o = {},
                            source_location where = source_location::current()) {
  return detail::spawn_actor_under<M>(std::forward<Factory>(factory), o, nullptr, where);
}

template <class M>
template <class CM, class Factory>
actor_handle<CM> actor_context<M>::spawn_child(Factory&& factory, const actor_options& o,
                                               source_location where) {
  // Children that ended already are forgotten here, so a long-lived parent's list stays short.
  std::erase_if(kids_, [](const auto& k) { return k->done.load(std::memory_order_acquire); });
  auto h = detail::spawn_actor_under<CM>(std::forward<Factory>(factory), o, ctl_, where);
  kids_.push_back(h.ref_.ctl_);
  return h;
}

}  // namespace zokio

#endif
