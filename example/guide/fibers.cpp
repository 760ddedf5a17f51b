// guide_fibers: stackful fibers that wait on zokio futures and Asio operations as if they
// were plain calls. Quoted by doc/fibers.md. Link Boost::context.
#include <zokio/fiber.hpp>
#include <zokio/zokio.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace asio = boost::asio;
namespace this_fiber = zokio::this_fiber;
using tcp = asio::ip::tcp;

// Synchronous-looking code: every await suspends only this fiber, never the worker.
std::size_t echo_once(tcp::socket& s) {
  char buf[256];
  auto n = this_fiber::await(s.async_read_some(asio::buffer(buf), zokio::use_future));
  if (!n) return 0;
  auto w = this_fiber::await(asio::async_write(s, asio::buffer(buf, *n), zokio::use_future));
  return w ? *w : 0;
}

int main() {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  auto ex = rt.get_executor();
  tcp::acceptor acceptor(ex, {asio::ip::address_v4::loopback(), 0});

  auto server = rt.spawn_fiber([&] {
    auto sock = this_fiber::await(acceptor.async_accept(zokio::use_future));
    return sock ? echo_once(*sock) : 0;
  });

  auto client = rt.spawn_fiber([&]() -> std::string {
    asio::steady_timer timer(ex, std::chrono::milliseconds(10));
    this_fiber::await(timer.async_wait(zokio::use_future));       // sleep 10 ms
    int sum = this_fiber::await(zokio::spawn(zokio::co_invoke(   // join a coroutine task
        []() -> zokio::task<int> { co_return 40 + 2; })));
    tcp::socket s(ex);
    if (!this_fiber::await(s.async_connect(acceptor.local_endpoint(), zokio::use_future)))
      return "connect failed";
    std::string msg = "hello from a fiber, " + std::to_string(sum);
    this_fiber::await(asio::async_write(s, asio::buffer(msg), zokio::use_future));
    std::string reply(msg.size(), '\0');
    this_fiber::await(asio::async_read(s, asio::buffer(reply), zokio::use_future));
    return reply;
  });

  std::string reply = rt.block_on(std::move(client));
  std::size_t echoed = rt.block_on(std::move(server));
  std::printf("%s (%zu bytes echoed)\n", reply.c_str(), echoed);
  return echoed == reply.size() ? 0 : 1;
}
