// A connected TCP pair on loopback for I/O tests: both sockets on the given executor.
#ifndef ZOKIO_TEST_SUPPORT_SOCKET_PAIR_HPP
#define ZOKIO_TEST_SUPPORT_SOCKET_PAIR_HPP

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace zokio::test {

/// Connects synchronously (the kernel completes the handshake from the listen backlog), so
/// it may be called on any thread before the sockets are used from tasks.
template <class Executor>
std::pair<boost::asio::ip::tcp::socket, boost::asio::ip::tcp::socket> socket_pair(Executor ex) {
  using boost::asio::ip::tcp;
  tcp::acceptor acc(ex, {boost::asio::ip::address_v4::loopback(), 0});
  tcp::socket a(ex), b(ex);
  a.connect(acc.local_endpoint());
  acc.accept(b);
  a.set_option(tcp::no_delay(true));
  b.set_option(tcp::no_delay(true));
  return {std::move(a), std::move(b)};
}

}  // namespace zokio::test

#endif
