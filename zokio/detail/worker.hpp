// One scheduler worker: its deque, LIFO slot, io_context, counters and loop-private state.
#ifndef ZOKIO_DETAIL_WORKER_HPP
#define ZOKIO_DETAIL_WORKER_HPP

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <zokio/detail/config.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/detail/work_stealing_deque.hpp>
#include <zokio/detail/xorshift.hpp>

namespace zokio::detail {

class scheduler;

/// Written by the owning worker only (relaxed load + store, no RMW), read by metrics().
struct worker_counters {
  std::atomic<std::uint64_t> polls{0}, steals{0}, stolen_tasks{0}, parks{0}, injector_pulls{0},
      lifo_polls{0};
  // Handlers run from this worker's io_context, by whichever thread held it (io_state makes
  // that one thread at a time, so plain load + store is still exact), and unpark()'s no-ops
  // among them, which metrics() subtracts.
  std::atomic<std::uint64_t> io_handlers{0}, io_handlers_by_siblings{0}, io_wakeups{0};
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

struct alignas(ZOKIO_CACHE_LINE) worker {
  worker(scheduler* s, unsigned i, std::size_t cap)
      : sched(s), index(i), deque(cap), guard(io.get_executor()), rng(i + 1) {}

  scheduler* const sched;
  const unsigned index;
  work_stealing_deque<task_header> deque;
  // The task woken last by this worker runs next. Thieves may take it (exchange) when the
  // owner is stuck in a long poll, so it is atomic.
  alignas(ZOKIO_CACHE_LINE) std::atomic<task_header*> lifo{nullptr};
  // Parking place and I/O driver of this worker. Default concurrency hint: idle siblings
  // poll it too while this worker is busy (scheduler::poll_sibling_io).
  alignas(ZOKIO_CACHE_LINE) boost::asio::io_context io;
  // Who runs `io` now: 0 nobody, 1 the owner sleeping in run_one(), 2 someone polling it (the
  // owner or an idle sibling). At most one thread runs an io_context at a time.
  std::atomic<int> io_state{0};
  // Set by unpark() before its post: a sibling's poll may run the post's no-op handler, so
  // the owner checks this flag before it sleeps instead of relying on the handler.
  std::atomic<bool> unpark_flag{false};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;

  // Owner-only loop state.
  alignas(ZOKIO_CACHE_LINE) std::uint32_t inject_countdown = 1;  // polls until the injector's turn
  std::uint32_t event_countdown = 1;   // polls until the io_context's turn
  unsigned lifo_streak = 0;
  bool searching = false;
  xorshift32 rng;

  alignas(ZOKIO_CACHE_LINE) worker_counters counters;
  std::thread thread;
};

}  // namespace zokio::detail

#endif
