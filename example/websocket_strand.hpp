// websocket_strand.hpp: how the WebSocket chat example (server and load client) runs Beast's
// websocket::stream operations on a Zokio runtime: each started inside the connection's
// strand, its use_future handler bound to that strand (websocket_chat.cpp says why). Kept
// apart from websocket_chat.hpp, which stays free of sockets for the fuzz target.
#ifndef ZOKIO_EXAMPLE_WEBSOCKET_STRAND_HPP
#define ZOKIO_EXAMPLE_WEBSOCKET_STRAND_HPP

#include <cstddef>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/websocket.hpp>

#include <zokio/zokio.hpp>

namespace ws_example {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

using strand_t = asio::strand<zokio::executor>;
using socket_t = asio::ip::tcp::socket;  // its any_io_executor holds the strand (see on_strand)
using ws_t = boost::beast::websocket::stream<socket_t>;
using io_future = zokio::op_future<error_code, std::size_t>;  // a read or a write
using close_future = zokio::op_future<error_code>;

// The use_future handler as Beast's operations hold it: bound to the strand (every
// intermediate step runs there), with use_future's allocator and without its cancellation
// slot (Beast 1.81 keeps a suspended websocket operation's slot as an asio::cancellation_slot,
// which zokio's locked_slot is not; these futures are never dropped before they complete).
// The strand is held as an any_io_executor, as the socket's is: for a strand<zokio::executor>
// Beast picks Networking-TS work guards (on_work_started), which zokio::executor lacks.
template <class Handler>
struct on_strand {
  asio::any_io_executor ex;
  Handler h;
  using executor_type = asio::any_io_executor;
  executor_type get_executor() const noexcept { return ex; }
  using allocator_type = asio::associated_allocator_t<Handler>;
  allocator_type get_allocator() const noexcept { return asio::get_associated_allocator(h); }
  template <class... Args>
  void operator()(Args&&... args) {
    std::move(h)(std::forward<Args>(args)...);
  }
};

// `start(handler)` run inside `st` (asio::dispatch: at once when the strand is free, else
// queued behind what runs in it), the handler an on_strand: returns the operation's future.
template <class Signature, class Start>
auto in_strand(const strand_t& st, Start start) {
  return asio::async_initiate<const zokio::use_future_t, Signature>(
      [st](auto handler, Start start) {
        asio::dispatch(st, [st, handler = std::move(handler), start = std::move(start)]() mutable {
          start(on_strand<decltype(handler)>{asio::any_io_executor(st), std::move(handler)});
        });
      },
      zokio::use_future, std::move(start));
}

// Polls a future that lives elsewhere (a connection's pending read), so that a select can
// wait on it without owning it: the select's end does not cancel it.
template <zokio::future F>
struct by_ref {
  using output = zokio::future_output_t<F>;
  F* f;
  zokio::poll<output> poll(zokio::context& cx) { return f->poll(cx); }
};

}  // namespace ws_example

#endif  // ZOKIO_EXAMPLE_WEBSOCKET_STRAND_HPP
