// zokio::io::framed_read (a zokio::stream of decoded frames) and framed_write (a sink that
// encodes frames: feed, send, flush, shutdown), over any Asio stream and a codec.
#ifndef ZOKIO_IO_FRAMED_HPP
#define ZOKIO_IO_FRAMED_HPP

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/io/buffered_reader.hpp>
#include <zokio/io/buffered_writer.hpp>
#include <zokio/io/codec.hpp>
#include <zokio/poll.hpp>
#include <zokio/stream.hpp>

namespace zokio::io {

template <class S, class Codec>
class framed_write;

}  // namespace zokio::io

#include <zokio/detail/io_framed_futures.hpp>

namespace zokio::io {

/**
 * The frames read from `S` as a zokio::stream of `result<Codec::frame>` (tokio-util's
 * `FramedRead`): `while (auto f = co_await zokio::next(frames)) { if (!*f) ...; use(**f); }`.
 * The stream ends at the end of the input (after the codec's decode_eof), or after yielding
 * an error (the stream's, or the codec's: a frame too large, a truncated frame).
 *
 * Cancel-safe: dropping a `next()` loses nothing (the bytes and the read in flight stay in
 * the buffered_reader inside). Works with every stream adapter (map, filter, timeout, ...).
 */
template <class S, class Codec>
class framed_read {
 public:
  using item = boost::system::result<typename Codec::frame>;

  explicit framed_read(S&& stream, Codec codec = Codec(), std::size_t capacity = 8192)
      : codec_(std::move(codec)),
        rd_(std::forward<S>(stream), std::min(capacity, codec_.max_buffer()), codec_.max_buffer()) {}

  buffered_reader<S>& reader() noexcept { return rd_; }
  Codec& codec() noexcept { return codec_; }

  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (done_) return std::optional<item>();
    for (;;) {
      std::size_t used = 0;
      auto d = rd_.at_eof() ? codec_.decode_eof(rd_.buffered(), used)
                            : codec_.decode(rd_.buffered(), used);
      if (!d) return end_with(item(boost::system::in_place_error, d.error()));
      if (*d) {
        rd_.consume(used);
        return std::optional<item>(item(std::move(**d)));
      }
      if (rd_.at_eof()) {
        done_ = true;
        return std::optional<item>();
      }
      auto f = rd_.poll_fill(cx);
      if (f.is_pending()) return pending;
      if (!f.value()) return end_with(item(boost::system::in_place_error, f.value().error()));
      // 0 bytes: the end of the stream (at_eof() now); the loop asks decode_eof.
    }
  }

 private:
  zokio::poll<std::optional<item>> end_with(item e) {
    done_ = true;
    return std::optional<item>(std::move(e));
  }

  Codec codec_;  // before rd_: its max_buffer sizes the reader
  buffered_reader<S> rd_;
  bool done_ = false;
};

template <class S, class Codec>
framed_read(S&&, Codec) -> framed_read<S, Codec>;
template <class S, class Codec>
framed_read(S&&, Codec, std::size_t) -> framed_read<S, Codec>;

/**
 * A sink of frames written to `S` (tokio-util's `FramedWrite` with SinkExt): `feed(f)`
 * encodes a frame into the write buffer (flushing first when the buffer holds `capacity`
 * bytes), `send(f)` feeds and flushes, `flush()` and `shutdown()` as buffered_writer's.
 *
 * Cancel-safe as buffered_writer: a frame is either encoded whole into the buffer or not at
 * all; a dropped send() after the encoding still goes out with the next flush.
 */
template <class S, class Codec>
class framed_write {
 public:
  using frame = typename Codec::frame;

  explicit framed_write(S&& stream, Codec codec = Codec(), std::size_t capacity = 8192)
      : codec_(std::move(codec)), wr_(std::forward<S>(stream), capacity) {}

  buffered_writer<S>& writer() noexcept { return wr_; }
  Codec& codec() noexcept { return codec_; }

  /// Encodes `f` into the buffer; output an error if the codec refuses it.
  zokio::detail::io_feed_future<S, Codec> feed(frame f) {
    return zokio::detail::io_feed_future<S, Codec>(*this, std::move(f), false);
  }
  /// feed(f), then flush().
  zokio::detail::io_feed_future<S, Codec> send(frame f) {
    return zokio::detail::io_feed_future<S, Codec>(*this, std::move(f), true);
  }
  auto flush() noexcept { return wr_.flush(); }
  auto shutdown() noexcept { return wr_.shutdown(); }

 private:
  template <class, class>
  friend class zokio::detail::io_feed_future;

  Codec codec_;
  buffered_writer<S> wr_;
};

template <class S, class Codec>
framed_write(S&&, Codec) -> framed_write<S, Codec>;
template <class S, class Codec>
framed_write(S&&, Codec, std::size_t) -> framed_write<S, Codec>;

}  // namespace zokio::io

#endif
