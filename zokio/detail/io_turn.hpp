// The handler budget of one non-blocking I/O turn (scheduler::run_io): how a worker's
// io_context::poll() is made to return while handlers keep becoming ready.
#ifndef ZOKIO_DETAIL_IO_TURN_HPP
#define ZOKIO_DETAIL_IO_TURN_HPP

#include <cstddef>

#include <boost/asio/io_context.hpp>

namespace zokio::detail {

// Invariants: tl_io_turn is per thread and only touched by that thread; it is set only while
// the thread runs a non-blocking turn of one worker's io_context (run_io), and null otherwise
// (tasks, parked run_one, plain threads). io_context::poll() runs until no handler is ready,
// and a handler that starts an operation completing at once (both ends of a loopback
// connection on the runtime; IOCP completions queued as fast as they run) keeps one ready,
// so poll() alone could run for ever and the worker's tasks with it. poll_one() in a loop
// would bound it too, but each call builds and drops Asio's per-thread handler-memory cache
// (a malloc and free per operation: +15 % instructions on perf_tcp_program). So poll() runs,
// each handler dispatched through zokio::executor (every completion of an I/O object made
// from it) spends one unit, and the one that spends the last stops the io_context: poll()
// returns after it, and the next turn restarts the io_context (restart_io).
struct io_turn {
  boost::asio::io_context* io;
  std::size_t left;
};
inline thread_local io_turn* tl_io_turn = nullptr;

/// Called by zokio::executor after each handler it ran inline. One thread_local load when no
/// turn is running.
inline void io_turn_handler_ran() noexcept {
  if (io_turn* t = tl_io_turn) {
    if (t->left != 0 && --t->left == 0) t->io->stop();
  }
}

}  // namespace zokio::detail

#endif
