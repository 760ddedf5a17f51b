// The futures of zokio::io::buffered_writer: write (all or nothing), flush and shutdown. The
// write in flight and the bytes stay in the writer, which makes them cancel-safe.
#ifndef ZOKIO_DETAIL_IO_WRITER_FUTURES_HPP
#define ZOKIO_DETAIL_IO_WRITER_FUTURES_HPP

#include <cstddef>
#include <string_view>

#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/io/async_stream.hpp>
#include <zokio/poll.hpp>

namespace zokio::io {
template <class S>
class buffered_writer;
}

namespace zokio::detail {

template <class S>
class io_write_future {
 public:
  using output = boost::system::result<std::size_t>;
  io_write_future(io::buffered_writer<S>& w, std::string_view data) noexcept
      : w_(&w), data_(data) {}
  zokio::poll<output> poll(context& cx) {
    // Flush first only if the bytes would not fit beside what is buffered: then they are
    // copied in one step (all or nothing), even when larger than the capacity.
    if (w_->buffered() > 0 && w_->buffered() + data_.size() > w_->capacity()) {
      auto f = w_->poll_flush(cx);
      if (f.is_pending()) return pending;
      if (!f.value()) return output(boost::system::in_place_error, f.value().error());
    }
    w_->queue().append(data_);
    return output(data_.size());
  }

 private:
  io::buffered_writer<S>* w_;
  std::string_view data_;
};

template <class S>
class io_flush_future {
 public:
  using output = boost::system::result<void>;
  io_flush_future(io::buffered_writer<S>& w, bool shutdown) noexcept : w_(&w), shutdown_(shutdown) {}
  zokio::poll<output> poll(context& cx) {
    auto f = w_->poll_flush(cx);
    if (f.is_pending()) return pending;
    if (f.value() && shutdown_) io::shutdown_send(w_->next_layer());
    return std::move(f).value();
  }

 private:
  io::buffered_writer<S>* w_;
  bool shutdown_;
};

}  // namespace zokio::detail

#endif
