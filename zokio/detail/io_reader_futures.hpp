// The futures and the lines() stream of zokio::io::buffered_reader: each keeps only its own
// progress (bytes copied, bytes scanned); the read in flight and the bytes stay in the reader,
// which is what makes them cancel-safe.
#ifndef ZOKIO_DETAIL_IO_READER_FUTURES_HPP
#define ZOKIO_DETAIL_IO_READER_FUTURES_HPP

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/error.hpp>
#include <zokio/poll.hpp>

namespace zokio::io {
template <class S>
class buffered_reader;
}

namespace zokio::detail {

template <class S>
class io_fill_future {
 public:
  using output = boost::system::result<std::size_t>;
  explicit io_fill_future(io::buffered_reader<S>& r) noexcept : r_(&r) {}
  zokio::poll<output> poll(context& cx) { return r_->poll_fill(cx); }

 private:
  io::buffered_reader<S>* r_;
};

template <class S>
class io_read_some_future {
 public:
  using output = boost::system::result<std::size_t>;
  io_read_some_future(io::buffered_reader<S>& r, boost::asio::mutable_buffer b) noexcept
      : r_(&r), b_(b) {}
  zokio::poll<output> poll(context& cx) {
    if (b_.size() == 0) return output(std::size_t{0});
    while (r_->buffered().empty()) {
      auto f = r_->poll_fill(cx);
      if (f.is_pending()) return pending;
      if (!f.value()) return std::move(f).value();
      if (*f.value() == 0) return output(std::size_t{0});  // end of stream
    }
    const std::size_t n = std::min(b_.size(), r_->buffered().size());
    std::memcpy(b_.data(), r_->buffered().data(), n);
    r_->consume(n);
    return output(n);
  }

 private:
  io::buffered_reader<S>* r_;
  boost::asio::mutable_buffer b_;
};

template <class S>
class io_read_exact_future {
 public:
  using output = boost::system::result<std::size_t>;
  io_read_exact_future(io::buffered_reader<S>& r, boost::asio::mutable_buffer b) noexcept
      : r_(&r), b_(b) {}
  zokio::poll<output> poll(context& cx) {
    // Up to max_buffer bytes: nothing is consumed until all of them are buffered (a drop
    // loses nothing). Larger: copied out as they come (a drop loses what was copied).
    const bool whole = b_.size() <= r_->max_buffer();
    for (;;) {
      const std::size_t have = r_->buffered().size();
      if (!whole && have > 0) {
        const std::size_t n = std::min(have, b_.size() - done_);
        std::memcpy(static_cast<char*>(b_.data()) + done_, r_->buffered().data(), n);
        r_->consume(n);
        done_ += n;
      }
      if (whole && have >= b_.size()) {
        std::memcpy(b_.data(), r_->buffered().data(), b_.size());
        r_->consume(b_.size());
        done_ = b_.size();
      }
      if (done_ == b_.size()) return output(done_);
      auto f = r_->poll_fill(cx);
      if (f.is_pending()) return pending;
      if (!f.value()) return std::move(f).value();
      if (*f.value() == 0)
        return output(boost::system::in_place_error, make_error_code(boost::asio::error::eof));
    }
  }

 private:
  io::buffered_reader<S>* r_;
  boost::asio::mutable_buffer b_;
  std::size_t done_ = 0;
};

// The shared part of read_until/read_line and lines(): `scanned` is how far the buffered bytes
// were already searched for the delimiter (so a long line is searched once, not per fill).
template <class S>
zokio::poll<boost::system::result<std::optional<std::string>>> poll_read_until(
    io::buffered_reader<S>& r, context& cx, char delim, bool strip, std::size_t& scanned) {
  using res = boost::system::result<std::optional<std::string>>;
  for (;;) {
    const std::string_view have = r.buffered();
    const std::size_t at = have.find(delim, scanned);
    if (at != std::string_view::npos || (r.at_eof() && !have.empty())) {
      std::size_t len = at != std::string_view::npos ? at + 1 : have.size();
      std::string line(have.substr(0, len));
      r.consume(len);
      scanned = 0;
      if (strip && at != std::string_view::npos) {
        line.pop_back();
        if (!line.empty() && line.back() == '\r') line.pop_back();
      }
      return res(std::optional<std::string>(std::move(line)));
    }
    if (r.at_eof()) return res(std::optional<std::string>());
    scanned = have.size();
    if (have.size() >= r.max_buffer())
      return res(boost::system::in_place_error, make_error_code(errc::line_too_long));
    auto f = r.poll_fill(cx);
    if (f.is_pending()) return pending;
    if (!f.value()) return res(boost::system::in_place_error, f.value().error());
    // 0 (end of stream): at_eof() is set; the loop returns the rest or nullopt.
  }
}

template <class S>
class io_read_until_future {
 public:
  using output = boost::system::result<std::optional<std::string>>;
  io_read_until_future(io::buffered_reader<S>& r, char delim, bool strip) noexcept
      : r_(&r), delim_(delim), strip_(strip) {}
  zokio::poll<output> poll(context& cx) { return poll_read_until(*r_, cx, delim_, strip_, scanned_); }

 private:
  io::buffered_reader<S>* r_;
  char delim_;
  bool strip_;
  std::size_t scanned_ = 0;
};

template <class S>
class io_lines_stream {
 public:
  using item = boost::system::result<std::string>;
  explicit io_lines_stream(io::buffered_reader<S>& r) noexcept : r_(&r) {}
  zokio::poll<std::optional<item>> poll_next(context& cx) {
    if (done_) return std::optional<item>();
    auto p = poll_read_until(*r_, cx, '\n', true, scanned_);
    if (p.is_pending()) return pending;
    auto v = std::move(p).value();
    if (!v) {
      done_ = true;
      return std::optional<item>(item(boost::system::in_place_error, v.error()));
    }
    if (!*v) {
      done_ = true;
      return std::optional<item>();
    }
    return std::optional<item>(item(std::move(**v)));
  }

 private:
  io::buffered_reader<S>* r_;
  std::size_t scanned_ = 0;
  bool done_ = false;
};

}  // namespace zokio::detail

#endif
