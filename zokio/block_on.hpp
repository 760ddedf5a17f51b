// zokio::block_on: drive a future to completion on the calling thread.
#ifndef ZOKIO_BLOCK_ON_HPP
#define ZOKIO_BLOCK_ON_HPP

#include <memory>
#include <utility>

#include <zokio/detail/thread_parker.hpp>
#include <zokio/future.hpp>

namespace zokio {

namespace detail {

/// block_on's loop: polls `f` on this thread, sleeping between polls until its waker fires.
/// `on_waker(w)` is called once with the waker before the first poll, and what it returns is
/// kept for the call (an RAII registration); `before_poll()` runs before every poll (it may
/// throw to leave the call). runtime::block_on uses both; zokio::block_on neither.
template <future F, class OnWaker, class BeforePoll>
future_output_t<F> drive(F& f, OnWaker on_waker, BeforePoll before_poll) {
  struct parker_ref {
    thread_parker* p = thread_parker::create();
    ~parker_ref() { p->release(); }
  } parker;
  waker w = parker.p->make_waker();
  [[maybe_unused]] auto kept = on_waker(std::as_const(w));
  context cx(w);
  for (;;) {
    before_poll();
    auto r = f.poll(cx);
    if (r.is_ready()) return std::move(r).take();
    parker.p->park();
  }
}

}  // namespace detail

/**
 * Polls `f` on this thread, sleeping between polls until its waker fires, and returns its
 * output (or rethrows what it threw). Needs no runtime; use `runtime::block_on` so that
 * `zokio::spawn` inside `f` reaches that runtime.
 *
 * Must not be called on a runtime worker thread (that would block a worker): co_await there.
 */
template <future F>
future_output_t<F> block_on(F&& f) {
  return detail::drive(f, [](const waker&) { return 0; }, [] {});
}

}  // namespace zokio

#endif
