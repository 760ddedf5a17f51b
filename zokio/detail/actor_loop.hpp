// The task of an actor (zokio/actor.hpp): it owns the state and the mailbox's receiver,
// handles one message at a time, restarts the state after a failure as its restart_policy
// says, and ends with a drain or a drop of the mailbox.
//
// Order of its life: make the state (factory, then started()); loop: control first (a child's
// escalated failure, then a stop), then the next message; a failure (the factory, started()
// or a handler threw) restarts the state or gives up; the end closes the mailbox, drains or
// drops what is queued, calls stopped(), stops and awaits the children, destroys the state.
#ifndef ZOKIO_DETAIL_ACTOR_LOOP_HPP
#define ZOKIO_DETAIL_ACTOR_LOOP_HPP

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <zokio/actor/actor_context.hpp>
#include <zokio/actor/actor_options.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/actor_control.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/poll.hpp>
#include <zokio/task.hpp>

namespace zokio::detail {

// The next thing the actor's task acts on: a message, or nullopt (control bits are set, or
// the mailbox is closed and empty). Control is looked at first and again after registering.
template <class M>
struct actor_event_future {
  using output = std::optional<M>;
  mpsc::receiver<M>* rx;
  actor_control* ctl;

  zokio::poll<output> poll(context& cx) {
    if (ctl->pending()) return output{};
    auto p = rx->poll_recv(cx);
    if (p.is_ready()) return p.take();
    ctl->waker.register_waker(cx.waker());
    if (ctl->pending()) return output{};
    return pending;
  }
};

// Ends the actor's life in its control block when the task's frame goes, however it goes
// (also when it never ran: an abort or a shutdown before its first poll). A parameter of the
// coroutine, so that it lives in the frame from its creation.
struct actor_lifetime {
  std::shared_ptr<actor_control> ctl;
  explicit actor_lifetime(std::shared_ptr<actor_control> c) noexcept : ctl(std::move(c)) {}
  actor_lifetime(actor_lifetime&& o) noexcept = default;
  ~actor_lifetime() {
    if (ctl) ctl->finish();
  }
};

template <class S, class M>
concept handles_in_context = requires(S& s, M&& m, actor_context<M>& cx) { s.handle(std::move(m), cx); };
template <class S, class M>
concept handles_plain = requires(S& s, M&& m) { s.handle(std::move(m)); };
template <class S, class M>
concept has_started = requires(S& s, actor_context<M>& cx) { s.started(cx); };
template <class S, class M>
concept has_stopped = requires(S& s, actor_context<M>& cx) { s.stopped(cx); };

template <class M, class Factory>
struct actor_loop {
  using state = std::remove_cvref_t<std::invoke_result_t<Factory&>>;
  static_assert(handles_in_context<state, M> || handles_plain<state, M>,
                "an actor's state needs handle(M, zokio::actor_context<M>&) or handle(M)");

  // The state straight from the factory's result (no move: a state may be immovable).
  struct make_state {
    Factory& f;
    operator state() { return std::invoke(f); }
  };

  // handle(m, cx) or handle(m): void, or a future the task awaits. Takes the message by
  // lvalue reference: the handler's by-value parameter is then made here, in a plain function
  // (g++ 12 freed a moved-from std::string's inline buffer when the parameter was made in the
  // coroutine's own expression and the handler threw).
  static decltype(auto) call_handle(state& s, M& m, actor_context<M>& cx) {
    if constexpr (handles_in_context<state, M>)
      return s.handle(std::move(m), cx);
    else
      return s.handle(std::move(m));
  }

  // One more failure now: may the actor restart?
  static bool may_restart(std::deque<std::chrono::steady_clock::time_point>& recent,
                          const restart_policy& pol) {
    const auto now = std::chrono::steady_clock::now();
    while (!recent.empty() && now - recent.front() > pol.window) recent.pop_front();
    if (recent.size() >= pol.max_restarts) return false;
    recent.push_back(now);
    return true;
  }

  static zokio::task<actor_exit> run(actor_lifetime life, Factory factory, mpsc::receiver<M> rx,
                                     mpsc::sender<M> tx, std::shared_ptr<actor_control> parent,
                                     restart_policy pol) {
    actor_control& ctl = *life.ctl;
    actor_context<M> cx(std::move(tx), life.ctl);
    actor_exit exit;
    std::optional<state> st;
    std::deque<std::chrono::steady_clock::time_point> recent;
    // 0 while running; once stopping, how: the mailbox is closed and what is left in it is
    // handled (stop_drain) or destroyed (stop_drop: asked for, or after giving up).
    unsigned stopping = 0;
    bool start = true;
    for (;;) {
      std::exception_ptr err;
      std::optional<M> m;
      if (start) {
        start = false;
        try {
          st.emplace(make_state{factory});
          if constexpr (has_started<state, M>) {
            if constexpr (std::is_void_v<decltype(st->started(cx))>)
              st->started(cx);
            else
              co_await st->started(cx);
          }
        } catch (...) {
          err = std::current_exception();
        }
      } else if (!stopping) {
        // Control first: a child's escalated failure, then a stop; then the next message.
        const unsigned f = ctl.pending();
        if (f & actor_control::escalated) {
          err = ctl.take_child_error();
          if (!err) continue;
        } else if (f & (actor_control::stop_drain | actor_control::stop_drop)) {
          stopping = f & actor_control::stop_drop ? actor_control::stop_drop : actor_control::stop_drain;
          rx.close();  // nothing new comes in
          continue;
        } else {
          m = co_await actor_event_future<M>{&rx, &ctl};
          if (!m) continue;  // control bits: looked at above
        }
      } else {
        m = co_await rx.recv();
        if (!m) break;  // closed and empty: the end
        if (!st || stopping == actor_control::stop_drop || (ctl.pending() & actor_control::stop_drop)) {
          ++exit.dropped;  // a drop asked during a drain cuts it short
          continue;
        }
      }
      if (m) {
        ++exit.handled;
        try {
          if constexpr (std::is_void_v<decltype(call_handle(*st, *m, cx))>)
            call_handle(*st, *m, cx);
          else
            co_await call_handle(*st, *m, cx);
        } catch (...) {
          err = std::current_exception();
        }
      }
      if (!err) continue;
      if (!stopping) {
        // The failed state and its children go; a fresh state if the policy allows it.
        cx.forget_children(actor_control::stop_drop);
        st.reset();
        if (may_restart(recent, pol)) {
          cx.restarts_ = ++exit.restarts;
          start = true;
          continue;
        }
        rx.close();
      }
      // Gives up (no restart while stopping): ends failed, the rest of the mailbox dropped.
      exit.failed = true;
      exit.error = err;
      if (pol.escalate && parent) parent->escalate(err);
      stopping = actor_control::stop_drop;
    }
    if constexpr (has_stopped<state, M>) {
      if (st) {
        std::exception_ptr err;
        try {
          if constexpr (std::is_void_v<decltype(st->stopped(cx))>)
            st->stopped(cx);
          else
            co_await st->stopped(cx);
        } catch (...) {
          err = std::current_exception();
        }
        if (err && !exit.failed) {
          exit.failed = true;
          exit.error = err;
        }
      }
    }
    co_await cx.stop_children(stopping);
    st.reset();
    co_return exit;
  }
};

}  // namespace zokio::detail

#endif
