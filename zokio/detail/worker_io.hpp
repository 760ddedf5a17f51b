// zokio::detail::worker_io: a worker's part of the I/O driver (its io_context, in which it
// parks, and who runs that io_context now). Only a runtime built with the I/O driver has one
// (runtime_config::enable_io_driver); without it a worker parks on worker::unpark alone.
#ifndef ZOKIO_DETAIL_WORKER_IO_HPP
#define ZOKIO_DETAIL_WORKER_IO_HPP

#include <atomic>
#include <cstddef>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <zokio/allocator.hpp>
#include <zokio/detail/config.hpp>

namespace zokio::detail {

// Invariants: at most one thread runs `io` at a time, the one that moved `state` from 0 (see
// impl/io_driver.ipp and basic_scheduler::park/poll_io: acquire on taking it, release on
// giving it back, so each holder sees what the previous one did to the io_context).
// Built by its worker's thread (first touch on its NUMA node), destroyed with the worker,
// after every task (and so every I/O object on `io`) is gone.
struct alignas(ZOKIO_CACHE_LINE) worker_io {
  worker_io() : io(1), guard(io.get_executor()) {}

  static void* operator new(std::size_t n) {
    return allocate(n, alloc_category::worker, alignof(worker_io));
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    deallocate(p, n, alloc_category::worker, alignof(worker_io));
  }
  /// The worker's deleter for it (a function pointer: code that deletes a worker of a runtime
  /// without I/O driver never names ~io_context).
  static void destroy(worker_io* p) noexcept { delete p; }

  // Parking place and I/O driver of this worker. Idle siblings poll it too while this worker
  // is busy (scheduler::poll_sibling_io), but never two threads at once (state), so it is
  // built with concurrency hint 1: Asio then queues completions a handler starts on the
  // running thread's private queue instead of taking the io_context's mutex for each. Locking
  // stays on: other threads still start operations on its sockets and post to it.
  boost::asio::io_context io;
  // Who runs `io` now: 0 nobody, 1 the owner sleeping in run_one(), 2 someone polling it (the
  // owner or an idle sibling).
  std::atomic<int> state{0};
  // True while the owner sleeps in run_one() without a timeout (every worker was asleep when
  // it decided): a sibling that wakes by itself clears it with wake_untimed_sleepers().
  std::atomic<bool> untimed_sleep{false};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
};

}  // namespace zokio::detail

#endif
