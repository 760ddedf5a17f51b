// zokio::signal: process signals as futures (Tokio's tokio::signal), on Asio's signal_set
// driven by a Zokio runtime's workers.
#ifndef ZOKIO_SIGNAL_HPP
#define ZOKIO_SIGNAL_HPP

#include <csignal>
#include <initializer_list>

#include <boost/asio/signal_set.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <zokio/detail/current_executor.hpp>
#include <zokio/error.hpp>
#include <zokio/executor.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

namespace zokio::signal {

/**
 * Receives the given signals from its construction to its destruction: a signal that arrives
 * while nobody waits is kept (one per signal number, as Asio's signal_set keeps them) and
 * completes the next `recv()`. While any listener for a signal exists, the process does not
 * get the signal's default action (a SIGINT no longer ends it); Asio restores the previous
 * disposition when the last one goes.
 *
 * @code
 * zokio::signal::listener stop{SIGINT, SIGTERM};      // in a task, or give an executor
 * auto signo = co_await stop.recv();                  // result<int>: the signal's number
 * @endcode
 *
 * Use one listener from one task at a time (like the Asio object it holds); several
 * listeners for the same signal each get it. Cancellation safety: `recv()` is cancel-safe:
 * dropping it loses no signal (the set keeps it for the next `recv()`).
 */
class listener {
 public:
  /// On the runtime the calling thread runs in (a worker or a block_on); throws
  /// `system_error(errc::no_runtime)` elsewhere.
  explicit listener(std::initializer_list<int> signals)
      : listener(detail::current_executor(), signals) {}
  /// On `ex`'s runtime, from any thread.
  listener(zokio::executor ex, std::initializer_list<int> signals) : set_(ex) {
    for (int s : signals) set_.add(s);
  }

  /// The next signal's number; `asio::error::operation_aborted` after close() (or when the
  /// runtime shuts down while it waits).
  auto recv() {
    auto f = set_.async_wait(zokio::use_future);  // (started here: use_future is eager)
    if (closed_) f.cancel();
    return f;
  }

  /// Stops listening: pending and later `recv()`s end with operation_aborted, and the
  /// signals get their previous disposition back (unless another listener has them).
  void close() {
    closed_ = true;
    boost::system::error_code ignored;
    set_.clear(ignored);
    set_.cancel(ignored);
  }

 private:
  boost::asio::basic_signal_set<zokio::executor> set_;
  bool closed_ = false;
};

/// Tokio's `signal::ctrl_c()`: completes at the next SIGINT after its first poll (the handler
/// is installed then). Run it on a runtime. Output: empty result, or the error that ended the
/// wait.
inline task<boost::system::result<void>> ctrl_c() {
  listener l{SIGINT};
  auto r = co_await l.recv();
  if (!r) co_return boost::system::result<void>(boost::system::in_place_error, r.error());
  co_return boost::system::result<void>();
}

/// A listener for one signal (Tokio's `signal::unix::signal(kind)`): `signal(SIGTERM)`.
inline listener signal(int signo) { return listener{signo}; }

}  // namespace zokio::signal

#endif
