// The feed/send future of zokio::io::framed_write: flush when the buffer is full, encode the
// frame in one step (all or nothing), then (send) flush.
#ifndef ZOKIO_DETAIL_IO_FRAMED_FUTURES_HPP
#define ZOKIO_DETAIL_IO_FRAMED_FUTURES_HPP

#include <utility>

#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/poll.hpp>

namespace zokio::io {
template <class S, class Codec>
class framed_write;
}

namespace zokio::detail {

template <class S, class Codec>
class io_feed_future {
 public:
  using output = boost::system::result<void>;
  io_feed_future(io::framed_write<S, Codec>& w, typename Codec::frame f, bool flush)
      : w_(&w), f_(std::move(f)), flush_(flush) {}

  zokio::poll<output> poll(context& cx) {
    auto& wr = w_->wr_;
    if (!encoded_) {
      if (wr.buffered() >= wr.capacity()) {
        auto p = wr.poll_flush(cx);
        if (p.is_pending()) return pending;
        if (!p.value()) return std::move(p).value();
      }
      const std::size_t before = wr.queue().size();
      auto e = w_->codec_.encode(f_, wr.queue());
      if (!e) {
        wr.queue().resize(before);  // nothing of a refused frame stays queued
        return e;
      }
      encoded_ = true;
    }
    if (!flush_) return output();
    return wr.poll_flush(cx);
  }

 private:
  io::framed_write<S, Codec>* w_;
  typename Codec::frame f_;
  bool flush_;
  bool encoded_ = false;
};

}  // namespace zokio::detail

#endif
