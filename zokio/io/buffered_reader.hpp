// zokio::io::buffered_reader: a read buffer over any Asio stream, with cancel-safe
// read_line / read_until / read_exact / read_some / fill and lines() as a zokio::stream.
#ifndef ZOKIO_IO_BUFFERED_READER_HPP
#define ZOKIO_IO_BUFFERED_READER_HPP

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/error.hpp>
#include <zokio/io/async_stream.hpp>
#include <zokio/poll.hpp>
#include <zokio/stream.hpp>

namespace zokio::io {

template <class S>
class buffered_reader;

}  // namespace zokio::io

#include <zokio/detail/io_reader_futures.hpp>

namespace zokio::io {

/**
 * A read buffer in front of an Asio stream (Tokio's `BufReader`, Asio's `read_until` without
 * the dynamic-buffer juggling). `S` is the stream (owned) or a reference to it (borrowed):
 * `buffered_reader r(std::move(sock))` owns, `buffered_reader r(sock)` borrows (the deduction
 * guide keeps the reference).
 *
 * **Cancel-safe.** The read in flight belongs to the reader, not to the future that started
 * it: a `read_line()` dropped by a `select` or a `timeout` loses nothing, and the next call
 * continues with the same read and the same buffered bytes. read_exact is cancel-safe up to
 * `max_buffer` bytes (it consumes nothing until all of them are buffered).
 *
 * End of stream is not an error here: `fill()` and `read_some()` give 0, `read_line()` gives
 * the last unterminated line and then `nullopt`. Errors are `boost::system::result` errors:
 * the stream's own, `errc::line_too_long` for a line over `max_buffer`.
 *
 * One operation at a time (as with Asio streams): a reader is not shared between tasks that
 * read concurrently. The futures borrow the reader, which must outlive them. Destroying the
 * reader cancels its read in flight (synchronously, as dropping any use_future operation).
 */
template <class S>
class buffered_reader {
  static_assert(async_read_stream<S>, "buffered_reader needs an Asio AsyncReadStream");

 public:
  using stream_type = std::remove_reference_t<S>;

  /// `capacity`: the first buffer size; `max_buffer`: how far it may grow to hold one line
  /// (or one frame).
  explicit buffered_reader(S&& stream, std::size_t capacity = 8192,
                           std::size_t max_buffer = 64 * 1024)
      : stream_(std::forward<S>(stream)),
        cap_(std::max<std::size_t>(capacity, 16)),
        max_(std::max(max_buffer, cap_)),
        buf_(new char[cap_]) {}
  /// Movable while no read is in flight (before its first use, as a stream before its first
  /// poll_next): a read in flight keeps pointing at the old stream object.
  buffered_reader(buffered_reader&&) = default;
  buffered_reader& operator=(buffered_reader&&) = delete;

  stream_type& next_layer() noexcept { return stream_; }

  /// The bytes read and not consumed yet.
  std::string_view buffered() const noexcept { return {buf_.get() + begin_, end_ - begin_}; }
  /// Drops the first `n` buffered bytes (n <= buffered().size()).
  void consume(std::size_t n) noexcept {
    begin_ += std::min(n, end_ - begin_);
    if (begin_ == end_ && !inflight_) begin_ = end_ = 0;
  }
  std::size_t max_buffer() const noexcept { return max_; }
  /// Whether the stream has ended (a read returned end-of-stream).
  bool at_eof() const noexcept { return eof_; }

  /// Reads once more into the buffer: output the bytes added, 0 at the end of the stream.
  zokio::detail::io_fill_future<S> fill() noexcept { return zokio::detail::io_fill_future<S>(*this); }
  /// Up to `b.size()` bytes into `b` (from the buffer first): 0 at the end of the stream.
  zokio::detail::io_read_some_future<S> read_some(boost::asio::mutable_buffer b) noexcept {
    return zokio::detail::io_read_some_future<S>(*this, b);
  }
  /// Exactly `b.size()` bytes into `b`; `asio::error::eof` if the stream ends first (what it
  /// had stays buffered when b.size() <= max_buffer()).
  zokio::detail::io_read_exact_future<S> read_exact(boost::asio::mutable_buffer b) noexcept {
    return zokio::detail::io_read_exact_future<S>(*this, b);
  }
  /// The bytes up to and including the next `delim`; at the end of the stream what is left
  /// (without a delimiter), then nullopt.
  zokio::detail::io_read_until_future<S> read_until(char delim) noexcept {
    return zokio::detail::io_read_until_future<S>(*this, delim, false);
  }
  /// The next line without its "\n" or "\r\n"; the last line may lack one; nullopt at the end.
  zokio::detail::io_read_until_future<S> read_line() noexcept {
    return zokio::detail::io_read_until_future<S>(*this, '\n', true);
  }
  /// The lines as a zokio::stream of `result<std::string>` (Tokio's `lines()`): it ends at the
  /// end of the stream, or after yielding an error.
  zokio::detail::io_lines_stream<S> lines() noexcept { return zokio::detail::io_lines_stream<S>(*this); }

  /// Low-level (what the futures poll): continues the read in flight or starts one into the
  /// free space (compacting, or growing up to max_buffer). Ready with the bytes added, 0 at
  /// the end of the stream, `errc::buffer_full` when there is no room left.
  zokio::poll<boost::system::result<std::size_t>> poll_fill(context& cx) {
    using res = boost::system::result<std::size_t>;
    if (!inflight_) {
      if (eof_) return res(std::size_t{0});
      if (!make_room()) return res(boost::system::in_place_error, make_error_code(errc::buffer_full));
      inflight_.emplace(stream_.async_read_some(
          boost::asio::buffer(buf_.get() + end_, cap_ - end_), zokio::use_future));
    }
    auto p = inflight_->poll(cx);
    if (p.is_pending()) return pending;
    res r = std::move(p).value();
    inflight_.reset();
    if (!r) {
      if (r.error() == boost::asio::error::eof) {
        eof_ = true;
        return res(std::size_t{0});
      }
      return r;
    }
    end_ += *r;
    return r;
  }

 private:
  // Makes free space after end_ (only with no read in flight: it moves the bytes).
  bool make_room() {
    if (end_ < cap_) return true;
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      return true;
    }
    if (cap_ >= max_) return false;
    const std::size_t ncap = std::min(cap_ * 2, max_);
    std::unique_ptr<char[]> nb(new char[ncap]);
    std::memcpy(nb.get(), buf_.get(), end_);
    buf_ = std::move(nb);
    cap_ = ncap;
    return true;
  }

  S stream_;  // before inflight_: the read is cancelled (inflight_ destroyed) first
  std::size_t cap_;
  std::size_t max_;
  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0;  // [begin_, end_) is buffered; a read in flight fills from end_
  std::size_t end_ = 0;
  bool eof_ = false;
  std::optional<read_some_op<S>> inflight_;  // destroyed before buf_ (declared after it)
};

template <class S>
buffered_reader(S&&) -> buffered_reader<S>;
template <class S>
buffered_reader(S&&, std::size_t) -> buffered_reader<S>;
template <class S>
buffered_reader(S&&, std::size_t, std::size_t) -> buffered_reader<S>;

}  // namespace zokio::io

#endif
