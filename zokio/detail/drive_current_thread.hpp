// block_on on a current_thread runtime: the calling thread drives the runtime (runs its
// tasks and I/O) while the future is pending, or waits while another block_on drives it.
#ifndef ZOKIO_DETAIL_DRIVE_CURRENT_THREAD_HPP
#define ZOKIO_DETAIL_DRIVE_CURRENT_THREAD_HPP

#include <chrono>
#include <exception>
#include <utility>

#include <boost/system/system_error.hpp>

#include <zokio/detail/driver_signal.hpp>
#include <zokio/detail/scheduler.hpp>
#include <zokio/error.hpp>
#include <zokio/future.hpp>

namespace zokio::detail {

/// Polls `f` whenever its waker fired, and in between runs the runtime's tasks on this
/// thread (scheduler::run_driver) or, while another thread drives, sleeps. Unhandled
/// exceptions are rethrown here, as runtime::block_on does; a shutdown while `f` is pending
/// throws system_error(errc::runtime_shutdown). `always_poll`: `f` is polled after every
/// return of the driver (runtime::run(), whose driver stops when no Asio work is left).
template <future F>
future_output_t<F> drive_current_thread(scheduler& s, F& f, bool always_poll = false) {
  struct signal_ref {
    driver_signal* p = driver_signal::create();
    ~signal_ref() { p->release(); }
  } sig;
  // Declared before the registration below, so released after it: leaving may delete the
  // scheduler (a runtime destroyed by one of its own tasks).
  struct lease {
    scheduler& s;
    driver_signal& sig;
    bool held = false;
    ~lease() {
      if (held) s.leave_driver(sig);
    }
  } core{s, *sig.p};
  waker w = sig.p->make_waker();
  context cx(w);
  // Woken by unhandled exceptions, and by a driver that leaves (this call may take over).
  scheduler::driver_guard registered(s, w);
  for (;;) {
    if (s.has_unhandled())
      if (std::exception_ptr e = s.take_unhandled()) std::rethrow_exception(e);
    if (!core.held) core.held = s.enter_driver(*sig.p);
    if (sig.p->take() || always_poll) {
      auto r = f.poll(cx);
      if (r.is_ready()) return std::move(r).take();
    }
    if (s.is_shutdown()) throw boost::system::system_error(make_error_code(errc::runtime_shutdown));
    if (core.held)
      s.run_driver(*sig.p, always_poll);
    else
      sig.p->wait_for(std::chrono::milliseconds(2));  // polls for the driver's place too
  }
}

/// runtime::run()'s future on a current_thread runtime: ready once no outstanding Asio work
/// is left, or at shutdown.
struct no_work_left {
  using output = void;
  scheduler* s;
  zokio::poll<void> poll(context&) {
    if (s->outstanding_work() <= 0 || s->is_shutdown()) return zokio::ready();
    return zokio::pending;
  }
};

}  // namespace zokio::detail

#endif
