// zokio::block_on: drive a future to completion on the calling thread.
#ifndef ZOKIO_BLOCK_ON_HPP
#define ZOKIO_BLOCK_ON_HPP

#include <memory>

#include <zokio/detail/thread_parker.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * Polls `f` on this thread, sleeping between polls until its waker fires, and returns its
 * output (or rethrows what it threw). Needs no runtime; use `runtime::block_on` so that
 * `zokio::spawn` inside `f` reaches that runtime.
 *
 * Must not be called on a runtime worker thread (that would block a worker): co_await there.
 */
template <future F>
future_output_t<F> block_on(F&& f) {
  struct parker_ref {
    detail::thread_parker* p = detail::thread_parker::create();
    ~parker_ref() { p->release(); }
  } parker;
  waker w = parker.p->make_waker();
  context cx(w);
  for (;;) {
    auto r = f.poll(cx);
    if (r.is_ready()) return std::move(r).take();
    parker.p->park();
  }
}

}  // namespace zokio

#endif
