// zokio::io::copy and copy_bidirectional: move bytes between Asio streams until the end of
// the stream (a proxy's core), with half-close.
#ifndef ZOKIO_IO_COPY_HPP
#define ZOKIO_IO_COPY_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/result.hpp>

#include <zokio/io/async_stream.hpp>
#include <zokio/io/read_write.hpp>
#include <zokio/task.hpp>
#include <zokio/try_join.hpp>

namespace zokio::io {

/**
 * Copies from `from` to `to` until `from` ends; output the bytes copied. A 64 KiB buffer
 * (`buffer_size`), one read and one write in flight at a time. Does not shut `to` down.
 * Not cancel-safe: bytes read and not yet written when it is dropped are lost (as with
 * Tokio's copy); both streams stay usable.
 */
template <async_read_stream R, async_write_stream W>
zokio::task<boost::system::result<std::uint64_t>> copy(R& from, W& to,
                                                       std::size_t buffer_size = 64 * 1024) {
  std::unique_ptr<char[]> buf(new char[buffer_size]);
  std::uint64_t total = 0;
  for (;;) {
    auto n = co_await from.async_read_some(boost::asio::buffer(buf.get(), buffer_size),
                                           zokio::use_future);
    if (!n) {
      if (n.error() == boost::asio::error::eof) co_return total;
      co_return boost::system::result<std::uint64_t>(boost::system::in_place_error, n.error());
    }
    auto w = co_await write_all(to, boost::asio::buffer(buf.get(), *n));
    if (!w) co_return boost::system::result<std::uint64_t>(boost::system::in_place_error, w.error());
    total += *n;
  }
}

}  // namespace zokio::io

namespace zokio::detail {
// One direction of copy_bidirectional: copy, then pass the end of the stream on.
template <class R, class W>
zokio::task<boost::system::result<std::uint64_t>> io_copy_then_shutdown(R& from, W& to,
                                                                        std::size_t buffer_size) {
  auto n = co_await io::copy(from, to, buffer_size);
  if (n) io::shutdown_send(to);
  co_return n;
}
}  // namespace zokio::detail

namespace zokio::io {

/**
 * Copies `a` to `b` and `b` to `a` at the same time, until both have ended (Tokio's
 * `copy_bidirectional`): when one side ends, the other's sending side is shut down
 * (`shutdown_send`), so a proxy passes each half-close on. Output the bytes copied
 * (a to b, b to a). The first error ends both directions and is returned.
 */
template <class A, class B>
  requires async_read_stream<A> && async_write_stream<A> && async_read_stream<B> &&
           async_write_stream<B>
zokio::task<boost::system::result<std::pair<std::uint64_t, std::uint64_t>>> copy_bidirectional(
    A& a, B& b, std::size_t buffer_size = 64 * 1024) {
  using out = boost::system::result<std::pair<std::uint64_t, std::uint64_t>>;
  auto r = co_await zokio::try_join(zokio::detail::io_copy_then_shutdown(a, b, buffer_size),
                                    zokio::detail::io_copy_then_shutdown(b, a, buffer_size));
  if (!r) co_return out(boost::system::in_place_error, r.error());
  co_return out(std::pair(std::get<0>(*r), std::get<1>(*r)));
}

}  // namespace zokio::io

#endif
