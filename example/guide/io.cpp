// Guide example (doc/io.md): a line protocol over TCP with zokio::io. The server answers each
// line in upper case, reading with a buffered reader and writing with a framed writer on the
// two halves of its socket; the client sends lines, reads the answers, then half-closes.
#include <zokio/io.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <cctype>
#include <cstdio>
#include <string>

using boost::asio::ip::tcp;

zokio::task<int> serve(tcp::socket sock) {
  auto [rd, wr] = zokio::io::into_split(std::move(sock));
  zokio::io::buffered_reader in(std::move(rd));
  zokio::io::framed_write out(std::move(wr), zokio::io::lines_codec());
  int answered = 0;
  auto lines = in.lines();
  while (auto line = co_await zokio::next(lines)) {
    if (!*line) break;  // an I/O error or a line over the limit ends the session
    std::string up = **line;
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!co_await out.send(std::move(up))) break;
    ++answered;
  }
  co_return answered;  // `out` goes: the write half shuts the socket's sending side down
}

zokio::task<int> run(zokio::executor ex) {
  tcp::acceptor acceptor(ex, {boost::asio::ip::address_v4::loopback(), 0});
  tcp::socket client(ex);
  auto connected = client.async_connect(acceptor.local_endpoint(), zokio::use_future);
  auto accepted = co_await acceptor.async_accept(zokio::use_future);
  if (!accepted || !co_await std::move(connected)) co_return 1;
  auto server = zokio::spawn(serve(std::move(*accepted)));

  auto [rd, wr] = zokio::io::split(client);
  zokio::io::buffered_writer out(wr);
  for (const char* word : {"hello", "zokio", "io"}) co_await out.write(std::string(word) + "\n");
  co_await out.shutdown();  // flush, then half-close: the server sees the end after "io"

  zokio::io::buffered_reader in(rd);
  while (auto line = co_await in.read_line()) {
    if (!*line) break;  // the server closed its side
    std::printf("%s\n", (*line)->c_str());
  }
  int answered = co_await std::move(server);
  std::printf("answered %d lines\n", answered);
  co_return answered == 3 ? 0 : 1;
}

int main() {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  return rt.block_on(rt.spawn(run(rt.get_executor())));
}
