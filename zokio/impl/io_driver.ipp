// The I/O driver side of detail::scheduler: running a worker's io_context (polled between
// tasks, slept in when idle), unparking and restarting it. Parking and the polls of a busy
// sibling's I/O are basic_scheduler's (impl/basic_scheduler.hpp: they count with metrics).
//
// Invariants: at most one thread runs a worker's io_context at a time (worker_io::state:
// 0 nobody, 1 the owner sleeping, 2 someone polling); unpark raises worker::unpark (release)
// before it interrupts the sleep (io.stop(), or the flag's own wake without an I/O driver),
// and the owner takes the flag (acquire exchange) before it sleeps, so a stop swallowed by a
// sibling's poll is not a lost wake-up; notify_parked's seq_cst fence pairs with the one in
// park() (idle.hpp). Everything here that names an io_context runs only on a runtime with
// the I/O driver (worker::driver not null): the rest reaches it through basic_scheduler.
#ifndef ZOKIO_IMPL_SCHEDULER_IO_DRIVER_IPP
#define ZOKIO_IMPL_SCHEDULER_IO_DRIVER_IPP

// Part of the scheduler's single translation unit (impl/src.hpp): included after
// impl/scheduler.ipp, whose thread_locals (tl_worker, tl_entered, tl_stack_base) it uses.
#include <zokio/impl/scheduler.ipp>

#include <utility>

#include <zokio/detail/io_turn.hpp>

namespace zokio::detail {

void scheduler::notify_parked() noexcept {
  // Ordering: seq_cst fence, pairs with the fence in park(); see idle.hpp.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!idle_.needs_notify()) return;
  // Wake a sleeper on the notifying worker's node first: it steals from its own node.
  worker* self = local_worker();
  int i = self ? idle_.pop_sleeper(self->place.node_index, self->index) : idle_.pop_sleeper();
  if (i >= 0) unpark(static_cast<unsigned>(i));
}

void scheduler::unpark(unsigned i) {
  // The flag first (see worker::unpark), then the interruption: with the I/O driver,
  // io_context::stop(), which interrupts the owner's run_one() (eventfd or condition
  // variable) and allocates nothing (a posted no-op handler would cost an allocation per
  // wake; the next thread to take the io_context restarts it, restart_io); without it, the
  // flag's own wake.
  worker& w = *workers_[i];
  w.unpark.raise();
  interrupt_park(w);
}

void scheduler::wake_untimed_sleepers(const worker& self) noexcept {
  // Called when `self`, awake without a producer's wake-up, starts a task (idle.hpp, "Untimed
  // sleep"). One timed sleeper watches every busy sibling's I/O, so one interrupted sleeper
  // is enough, and none is needed while another worker is awake: it sleeps with a timeout
  // when it parks, since `self` is awake. A sleeper on our node goes first (the one a notify
  // would pick: a far worker woken here would steal across nodes first). It loops once and
  // sleeps again with a timeout; a stale flag read here costs it one spurious wake at most.
  if (idle_.num_untimed() == 0) return;
  if (idle_.num_sleeping_ordered() + 1 < workers_.size()) return;
  worker* pick = nullptr;
  for (worker* v : workers_) {
    if (v == &self || !v->driver->untimed_sleep.load(std::memory_order_relaxed)) continue;
    if (!pick || (v->place.node_index == self.place.node_index &&
                  pick->place.node_index != self.place.node_index))
      pick = v;
  }
  if (pick) unpark(pick->index);
}

void scheduler::restart_io(worker& v) noexcept {
  // Called with v.driver->state held (no thread is inside its io_context), as restart()
  // requires. Asks the io_context itself: a flag set by unpark() after its stop() left a window in which the
  // woken worker ran on a stopped io_context (no completions, no timers) for as long as the
  // waker was preempted between the two. A stop() by request_stop() may be undone here too:
  // park() re-checks shutdown_ after this, and poll() never blocks.
  if (v.driver->io.stopped()) v.driver->io.restart();
}

std::size_t scheduler::run_io(worker& v, bool block) {
  boost::asio::io_context& io = v.driver->io;
  // Called with v.driver->state held. Handlers run inline here (Asio completions, functions
  // dispatched through zokio::executor); one that throws leaves run_one()/poll() as it would
  // leave io_context::run(), and goes to the unhandled-exception policy. The io_context stays
  // usable (Asio's contract): the handlers left run on the next call.
  std::exception_ptr error;
  try {
    if (!block) {
      // At most io_poll_budget() handlers through zokio::executor (detail/io_turn.hpp says
      // why and how). Before, a worker inside poll() ran none of its tasks while its I/O never
      // ran dry: a task spawned onto a 1-worker runtime never ran (test/asio/
      // io_driver_test.cpp), and per-worker counts (count_io) lagged by the whole run.
      io_turn turn{&io, io_poll_budget()};
      struct scope {  // cleared on every way out, a throw included
        io_turn* saved;
        ~scope() { tl_io_turn = saved; }
      } guard{std::exchange(tl_io_turn, &turn)};
      return io.poll();
    }
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
    // Sockets on Asio 1.81's io_uring backend (BOOST_ASIO_DISABLE_EPOLL, not our default):
    // never a timed wait. io_uring_service::run(usec > 0) (a) submits an IORING_OP_TIMEOUT_
    // REMOVE without io_uring_sqe_set_data, so its completion carries a stale user_data that
    // is then completed as some other operation's io_queue (fixed upstream in Asio 1.27 /
    // Boost 1.82: get_sqe clears it), and (b) labels its timeout with &ts, a local, whose
    // completion can arrive in a later call and write into a dead frame (still in Asio
    // master). run_one_for() here corrupted the heap in perf_tcp_echo_uring 6/6; a plain-Asio
    // repro crashes the same way with one thread (doc/asio_bridge.md). Such builds sleep
    // without the I/O watch: a blocked worker's I/O waits for it.
    return io.run_one();
#else
    // Nobody waits in the reactor of a sibling that is awake, so I/O readiness on its
    // io_context would wait until it finishes its current poll, however long. While any
    // sibling is awake, sleep at most io_watch_interval and then poll the busy siblings' I/O
    // (poll_sibling_io). When every worker sleeps, sleep without a timeout (idle costs nothing).
    if (idle_.num_sleeping() < workers_.size()) return io.run_one_for(io_watch_interval);
    // Untimed: a sibling that wakes by itself interrupts this sleep (wake_untimed_sleepers)
    // so that it is retaken with a timeout. The flag goes up before the announcement, whose
    // seq_cst RMW publishes it to the sibling's seq_cst read of the count.
    v.driver->untimed_sleep.store(true, std::memory_order_relaxed);
    if (!idle_.announce_untimed()) {
      v.driver->untimed_sleep.store(false, std::memory_order_relaxed);
      return io.run_one_for(io_watch_interval);
    }
    struct retract {  // cleared on every way out, a throw included
      idle& i;
      worker& w;
      ~retract() {
        w.driver->untimed_sleep.store(false, std::memory_order_relaxed);
        i.retract_untimed();
      }
    } guard{idle_, v};
    return io.run_one();
#endif
  } catch (...) {
    // Handed over after the catch block: leaving it drops the handler's reference to the
    // exception, and it must not be dropped after the handover (see report_unhandled).
    error = std::current_exception();
  }
  report_unhandled(std::move(error), "an Asio completion handler run by a worker");
  return 1;  // it ran something: the caller looks for more work before sleeping
}

}  // namespace zokio::detail

#endif
