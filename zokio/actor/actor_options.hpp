// The vocabulary of zokio::actor: how an actor stops, how it is restarted after a failure,
// the options of a spawn, and what its end reports.
#ifndef ZOKIO_ACTOR_ACTOR_OPTIONS_HPP
#define ZOKIO_ACTOR_ACTOR_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <exception>
#include <string_view>

namespace zokio {

/// What a stopping actor does with the messages still in its mailbox. Either way the mailbox
/// takes no new message from then on (tell fails with channel_errc::closed, ask with
/// errc::actor_stopped), and the actor's children are stopped the same way before it ends.
enum class stop_mode {
  drain,  ///< handle every message already queued, then end
  drop,   ///< destroy them unhandled (their replies fail with errc::no_reply), then end
};

/// What happens when a handler (or the state's factory, or its started()) throws.
struct restart_policy {
  /// Restarts allowed within `window`: a failure beyond them gives up. 0 (the default): the
  /// first failure gives up. A restart destroys the state and its children, makes a fresh
  /// state with the factory and calls its started(); the mailbox is kept, so the messages
  /// queued behind the failing one are handled by the new state (the failing one is lost).
  unsigned max_restarts = 0;
  /// The sliding window the restarts are counted in (Erlang's intensity and period).
  std::chrono::steady_clock::duration window = std::chrono::seconds(5);
  /// On giving up, the actor ends failed (its queued messages dropped) and, with `escalate`
  /// and a parent (actor_context::spawn_child), the failure becomes the parent's: the
  /// parent's own policy restarts it or gives up in turn.
  bool escalate = true;
};

/// Options of spawn_actor and actor_context::spawn_child.
struct actor_options {
  /// Mailbox capacity (> 0): tell() waits, try_tell() fails with channel_errc::full, when full.
  std::size_t mailbox = 64;
  /// The task's name (spawn_options::name): in join errors, task dumps and stall reports.
  std::string_view name{};
  restart_policy restart{};
};

/// How an actor ended: the output of its actor_handle.
struct actor_exit {
  /// It gave up after a failure (restart_policy); false: it was stopped (stop(), its
  /// context's stop(), or every actor_ref gone).
  bool failed = false;
  /// The failure it gave up on (failed), or nullptr.
  std::exception_ptr error;
  unsigned restarts = 0;      ///< restarts it made
  std::size_t handled = 0;    ///< messages its handlers took (a throwing one included)
  std::size_t dropped = 0;    ///< messages destroyed unhandled at its end
};

}  // namespace zokio

#endif
