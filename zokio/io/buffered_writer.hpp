// zokio::io::buffered_writer: a write buffer over any Asio stream, with cancel-safe write,
// flush and shutdown.
#ifndef ZOKIO_IO_BUFFERED_WRITER_HPP
#define ZOKIO_IO_BUFFERED_WRITER_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/io/async_stream.hpp>
#include <zokio/poll.hpp>

namespace zokio::io {

template <class S>
class buffered_writer;

}  // namespace zokio::io

#include <zokio/detail/io_writer_futures.hpp>

namespace zokio::io {

/**
 * A write buffer in front of an Asio stream (Tokio's `BufWriter`): small writes are gathered
 * and go out in large `async_write_some` calls when the buffer fills or on `flush()`.
 * `S` is the stream or a reference to it, as for buffered_reader.
 *
 * **Cancel-safe.** `write(data)` is all or nothing: its bytes are copied into the buffer in one
 * step (after a flush if they do not fit), so a dropped write either queued all of them or
 * none. The write in flight belongs to the writer: a dropped `flush()` loses nothing and the
 * next one continues it. Bytes still buffered when the writer is destroyed are dropped (call
 * `flush()` or `shutdown()` first), as with Tokio's BufWriter.
 *
 * A failed write leaves the unwritten bytes buffered; the stream's error is returned.
 */
template <class S>
class buffered_writer {
  static_assert(async_write_stream<S>, "buffered_writer needs an Asio AsyncWriteStream");

 public:
  using stream_type = std::remove_reference_t<S>;

  explicit buffered_writer(S&& stream, std::size_t capacity = 8192)
      : stream_(std::forward<S>(stream)), cap_(capacity) {}
  /// Movable while no write is in flight (a write in flight points into front_).
  buffered_writer(buffered_writer&&) = default;
  buffered_writer& operator=(buffered_writer&&) = delete;

  stream_type& next_layer() noexcept { return stream_; }
  std::size_t capacity() const noexcept { return cap_; }
  /// Bytes accepted and not yet written to the stream.
  std::size_t buffered() const noexcept { return front_.size() - written_ + back_.size(); }

  /// Queues a copy of `data` (which must stay valid while the future lives), after flushing
  /// what is buffered if both would not fit in the capacity. Output: data.size().
  zokio::detail::io_write_future<S> write(std::string_view data) noexcept {
    return zokio::detail::io_write_future<S>(*this, data);
  }
  /// Writes everything buffered.
  zokio::detail::io_flush_future<S> flush() noexcept { return zokio::detail::io_flush_future<S>(*this, false); }
  /// flush(), then shuts down the stream's sending side (the peer reads end-of-stream).
  zokio::detail::io_flush_future<S> shutdown() noexcept { return zokio::detail::io_flush_future<S>(*this, true); }

  /// Low-level: the buffer that later bytes are appended to (the writer sends it after what
  /// is in flight). Appending never blocks; `write()` is the way that respects the capacity.
  std::string& queue() noexcept { return back_; }

  /// Low-level: continues or starts writing what is buffered; ready once all of it is written.
  zokio::poll<boost::system::result<void>> poll_flush(context& cx) {
    using res = boost::system::result<void>;
    for (;;) {
      if (written_ == front_.size()) {
        front_.clear();
        written_ = 0;
        if (back_.empty()) return res();
        front_.swap(back_);  // nothing in flight: front_'s storage may move
      }
      if (!inflight_)
        inflight_.emplace(stream_.async_write_some(
            boost::asio::buffer(front_.data() + written_, front_.size() - written_),
            zokio::use_future));
      auto p = inflight_->poll(cx);
      if (p.is_pending()) return pending;
      auto r = std::move(p).value();
      inflight_.reset();
      if (!r) return res(boost::system::in_place_error, r.error());
      written_ += *r;
    }
  }

 private:
  S stream_;  // before inflight_: the write is cancelled (inflight_ destroyed) first
  std::size_t cap_;
  std::string front_;      // being written: [written_, size) still to go
  std::size_t written_ = 0;
  std::string back_;       // appended to while front_ is in flight
  std::optional<write_some_op<S>> inflight_;  // destroyed before front_ (declared after it)
};

template <class S>
buffered_writer(S&&) -> buffered_writer<S>;
template <class S>
buffered_writer(S&&, std::size_t) -> buffered_writer<S>;

}  // namespace zokio::io

#endif
