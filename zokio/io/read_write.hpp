// zokio::io free functions over any Asio stream: read_exact, read_to_end, write_all, as
// zokio::task<result<...>> (awaitable in a task, spawnable, usable in select and timeout).
#ifndef ZOKIO_IO_READ_WRITE_HPP
#define ZOKIO_IO_READ_WRITE_HPP

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/result.hpp>

#include <zokio/error.hpp>
#include <zokio/io/async_stream.hpp>
#include <zokio/task.hpp>

namespace zokio::io {

/**
 * Reads exactly `b.size()` bytes; `asio::error::eof` if the stream ends first.
 * Not cancel-safe: bytes read before a drop are in `b` but not reported (use
 * buffered_reader::read_exact for a cancel-safe one).
 *
 * Unlike `asio::async_read` with a use_future token, only single `async_read_some` calls are
 * in flight, whose completion touches nothing but the operation's state: `b` may be freed
 * right after the future is dropped.
 */
template <async_read_stream S>
zokio::task<boost::system::result<std::size_t>> read_exact(S& s, boost::asio::mutable_buffer b) {
  std::size_t done = 0;
  while (done < b.size()) {
    auto n = co_await s.async_read_some(b + done, zokio::use_future);
    if (!n) co_return n;
    done += *n;
  }
  co_return done;
}

/**
 * Appends everything up to the end of the stream to `out`; output the bytes appended.
 * `errc::buffer_full` when the stream has more than `limit` bytes: `out` then holds the
 * first `limit + 1` (the one past the limit is how it knows). Not cancel-safe (bytes appended
 * before a drop stay in `out`, uncounted).
 */
template <async_read_stream S>
zokio::task<boost::system::result<std::size_t>> read_to_end(
    S& s, std::string& out, std::size_t limit = std::numeric_limits<std::size_t>::max()) {
  std::size_t total = 0;
  std::size_t chunk = 4096;
  for (;;) {
    if (total >= limit) {
      // At the limit: one more byte (or the end) says whether the stream is longer. That
      // byte is appended too, so that nothing read is lost.
      out.push_back('\0');
      auto n = co_await s.async_read_some(boost::asio::buffer(&out.back(), 1), zokio::use_future);
      if (!n || *n == 0) out.pop_back();
      if (!n && n.error() == boost::asio::error::eof) co_return total;
      if (!n) co_return n;
      co_return boost::system::result<std::size_t>(boost::system::in_place_error,
                                                   make_error_code(errc::buffer_full));
    }
    const std::size_t want = std::min(chunk, limit - total);
    const std::size_t old = out.size();
    out.resize(old + want);
    auto n = co_await s.async_read_some(boost::asio::buffer(out.data() + old, want),
                                        zokio::use_future);
    out.resize(old + (n ? *n : 0));
    if (!n) {
      if (n.error() == boost::asio::error::eof) co_return total;
      co_return n;
    }
    total += *n;
    if (*n == want && chunk < 64 * 1024) chunk *= 2;
  }
}

/// Writes all of `b`; output its size. Not cancel-safe (how much went out before a drop is
/// not reported); `b` may be freed right after a drop (see read_exact).
template <async_write_stream S>
zokio::task<boost::system::result<std::size_t>> write_all(S& s, boost::asio::const_buffer b) {
  std::size_t done = 0;
  while (done < b.size()) {
    auto n = co_await s.async_write_some(b + done, zokio::use_future);
    if (!n) co_return n;
    done += *n;
  }
  co_return done;
}

}  // namespace zokio::io

#endif
