// zokio::io: what the I/O utilities ask of a stream (Asio's AsyncReadStream and
// AsyncWriteStream, started with zokio::use_future), and the half-close they use.
#ifndef ZOKIO_IO_ASYNC_STREAM_HPP
#define ZOKIO_IO_ASYNC_STREAM_HPP

#include <cstddef>
#include <type_traits>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include <zokio/use_future.hpp>

namespace zokio::io {

/// Any Asio AsyncReadStream (a socket, an SSL stream, a pipe, a `read_half`): `async_read_some`
/// accepts `zokio::use_future`.
template <class S>
concept async_read_stream = requires(std::remove_reference_t<S>& s, boost::asio::mutable_buffer b) {
  s.async_read_some(b, zokio::use_future);
};

/// Any Asio AsyncWriteStream: `async_write_some` accepts `zokio::use_future`.
template <class S>
concept async_write_stream =
    requires(std::remove_reference_t<S>& s, boost::asio::const_buffer b) {
      s.async_write_some(b, zokio::use_future);
    };

/// The future of one `async_read_some` / `async_write_some` on `S` with use_future.
template <class S>
using read_some_op = decltype(std::declval<std::remove_reference_t<S>&>().async_read_some(
    boost::asio::mutable_buffer(), zokio::use_future));
template <class S>
using write_some_op = decltype(std::declval<std::remove_reference_t<S>&>().async_write_some(
    boost::asio::const_buffer(), zokio::use_future));

/**
 * Shuts down the sending side of `s` where it has one (a TCP socket, a `write_half`): the peer
 * reads end-of-stream. Does nothing for streams without `shutdown(shutdown_send, ec)`.
 * Errors (the peer already gone) are ignored: the stream is over either way.
 */
template <class S>
void shutdown_send(S& s) noexcept {
  if constexpr (requires(boost::system::error_code& ec) {
                  s.shutdown(boost::asio::socket_base::shutdown_send, ec);
                }) {
    boost::system::error_code ec;
    s.shutdown(boost::asio::socket_base::shutdown_send, ec);
  }
}

}  // namespace zokio::io

#endif
