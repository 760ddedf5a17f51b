// zokio::io::split / into_split: a stream's read side and write side as two handles, for one
// task (or one buffered_reader) reading while another writes.
#ifndef ZOKIO_IO_SPLIT_HPP
#define ZOKIO_IO_SPLIT_HPP

#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include <zokio/io/async_stream.hpp>

namespace zokio::io {

/**
 * The read side of a stream: an Asio AsyncReadStream that forwards `async_read_some` (any
 * completion token) and `get_executor()`. Asio streams allow one read and one write in flight
 * at once, so the two halves need no lock (unlike Tokio's generic split); what they must not
 * do is two reads, or two writes, at once. `P` is a plain pointer (split: the stream must
 * outlive the halves) or a shared_ptr (into_split: the halves keep it alive).
 */
template <class S, class P = S*>
class read_half {
 public:
  using executor_type = typename S::executor_type;
  explicit read_half(P s) noexcept : s_(std::move(s)) {}
  executor_type get_executor() { return s_->get_executor(); }
  template <class Buffers, class Token>
  decltype(auto) async_read_some(const Buffers& b, Token&& token) {
    return s_->async_read_some(b, std::forward<Token>(token));
  }
  S& stream() const noexcept { return *s_; }

 private:
  P s_;
};

/**
 * The write side of a stream: forwards `async_write_some` and `get_executor()`, and
 * `shutdown(shutdown_send, ec)` where the stream has it. An owned write half (into_split)
 * shuts the stream's sending side down when it is destroyed, as Tokio's OwnedWriteHalf does,
 * so the peer sees the end of the stream even while the read half lives on.
 */
template <class S, class P = S*>
class write_half {
 public:
  using executor_type = typename S::executor_type;
  explicit write_half(P s) noexcept : s_(std::move(s)) {}
  write_half(const write_half&)
    requires std::is_pointer_v<P>
  = default;  // a borrowed half is a plain handle; an owned one is moved (it shuts down)
  write_half(write_half&&) noexcept = default;
  write_half& operator=(write_half&&) noexcept = default;
  ~write_half() {
    if constexpr (!std::is_pointer_v<P>)
      if (s_) shutdown_send(*s_);
  }
  executor_type get_executor() { return s_->get_executor(); }
  template <class Buffers, class Token>
  decltype(auto) async_write_some(const Buffers& b, Token&& token) {
    return s_->async_write_some(b, std::forward<Token>(token));
  }
  void shutdown(boost::asio::socket_base::shutdown_type what, boost::system::error_code& ec)
    requires requires(S& s, boost::system::error_code& e) {
      s.shutdown(boost::asio::socket_base::shutdown_send, e);
    }
  {
    s_->shutdown(what, ec);
  }
  S& stream() const noexcept { return *s_; }

 private:
  P s_;
};

}  // namespace zokio::io

namespace zokio::detail {
// Asio's first operation on a socket sets its internal non-blocking flag (a plain write to the
// socket's state, no lock): two halves starting their first read and write on two threads
// would race on it. Set here, before the halves exist; afterwards both only read it, and each
// direction's queue in the reactor has its own lock.
template <class S>
void io_prepare_split(S& s) noexcept {
  if constexpr (requires(boost::system::error_code& ec) { s.native_non_blocking(true, ec); }) {
    boost::system::error_code ec;
    s.native_non_blocking(true, ec);
  }
}
}  // namespace zokio::detail

namespace zokio::io {

/// Both halves of `s`, which must outlive them. For a socket, a read and a write may then start
/// from two threads at once (its non-blocking mode is set here); for a stream with shared state
/// in both directions (an `ssl::stream`), keep both halves' operations on one strand.
template <class S>
std::pair<read_half<S>, write_half<S>> split(S& s) noexcept {
  zokio::detail::io_prepare_split(s);
  return {read_half<S>(&s), write_half<S>(&s)};
}

/// Both halves of `s`, moved into shared ownership: the stream lives while either half does.
template <class S>
  requires(!std::is_reference_v<S>)
std::pair<read_half<S, std::shared_ptr<S>>, write_half<S, std::shared_ptr<S>>> into_split(S&& s) {
  auto p = std::make_shared<S>(std::move(s));
  zokio::detail::io_prepare_split(*p);
  return {read_half<S, std::shared_ptr<S>>(p), write_half<S, std::shared_ptr<S>>(p)};
}

}  // namespace zokio::io

#endif
