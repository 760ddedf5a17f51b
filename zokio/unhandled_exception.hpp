// zokio::unhandled_exception_policy: where an exception that no join_handle will see goes.
#ifndef ZOKIO_UNHANDLED_EXCEPTION_HPP
#define ZOKIO_UNHANDLED_EXCEPTION_HPP

namespace zokio {

/**
 * What a runtime does with an exception nobody can observe through a join_handle: one thrown
 * by a detached task (or one whose handle was dropped), by a function posted or dispatched
 * through zokio::executor, or by an Asio completion handler that a worker runs (a timer's, a
 * socket's, co_spawn's completion token). Tokio's `unhandled_panic`, with Asio's default.
 * See doc/reliability.md, "Exceptions".
 */
enum class unhandled_exception_policy {
  /// Like io_context::run(): the exception leaves the call that drives the runtime. It is
  /// rethrown on the thread of a `runtime::block_on` running now (the oldest one woken first),
  /// or by the next block_on called; the runtime keeps working. Exceptions never rethrown are
  /// printed to stderr when the runtime is destroyed.
  propagate,
  /// Printed to stderr (with what()), then the runtime goes on.
  log,
  /// Printed to stderr, then std::terminate().
  terminate,
};

}  // namespace zokio

#endif
