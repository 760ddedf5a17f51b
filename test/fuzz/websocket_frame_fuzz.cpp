// Fuzz target: the WebSocket frame path of the chat example. The input is what a client sends
// after its upgrade request: frames (masked or not, fragmented, control frames, close codes),
// read by Beast's server-side websocket::stream over an in-memory stream the way the chat
// server reads (read_some into at most --max-message + 1 bytes, Beast's own limit off) and,
// when the first byte is odd, with permessage-deflate negotiated (the chat server leaves it
// off: this fuzzes Beast's inflater too). Each text message goes through the chat's parser
// (example/websocket_chat.hpp) as the server's reader does, and through room_from_target as
// if it were an upgrade target. Checked: nothing crashes, leaks or trips UBSan; reads end with
// an error, never a hang; a say splits back into nick and text after formatting; a nick or a
// room is a valid name; an error reply is ASCII.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "websocket_chat.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

constexpr std::size_t kMessageMax = 64 * 1024;  // the chat server's default --max-message

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "websocket_frame_fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool deflate = data[0] & 1;
  std::string_view frames(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string upgrade =
      "GET /room/lobby HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (deflate) upgrade += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  upgrade += "\r\n";

  asio::io_context ioc;  // never run: every operation here is synchronous
  beast::test::stream peer(ioc);
  websocket::stream<beast::test::stream> ws(ioc);
  ws.next_layer().connect(peer);  // what the server writes (101, pongs, close) lands in peer
  ws.next_layer().append(upgrade);
  ws.next_layer().append(frames);
  ws.next_layer().close_remote();  // after the input: end of stream
  websocket::permessage_deflate pmd;
  pmd.server_enable = deflate;
  ws.set_option(pmd);
  ws.read_message_max(0);  // as the chat server: it bounds its reads itself (below)

  beast::error_code ec;
  ws.accept(ec);
  check(!ec, "the fixed upgrade request is accepted");
  // The server's read loop (start_read / chat_loop in websocket_chat.cpp): read_some into a
  // buffer of at most the limit + 1 bytes, so that a frame header announcing 2^63 bytes costs
  // nothing (a whole-message read() with no limit allocates what the header announces: the
  // first version of this target did, and died of bad_alloc); over the limit the server
  // closes with 1009.
  beast::flat_buffer in;
  for (int parts = 0;; ++parts) {
    check(parts <= static_cast<int>(size) + 1, "a read consumes input or fails");
    const std::size_t room = kMessageMax - in.size() + 1;
    const std::size_t n = ws.read_some(in.prepare(std::min<std::size_t>(room, 16 * 1024)), ec);
    if (ec) break;  // closed, eof, protocol error: the connection ends
    in.commit(n);
    if (in.size() > kMessageMax) break;  // the server closes with 1009
    if (!ws.is_message_done()) continue;
    if (ws.got_text()) {
      const std::string text = beast::buffers_to_string(in.data());
      const chat::command c = chat::parse_client_message(text);
      switch (c.kind) {
        case chat::command::say: {  // what the room receives splits back into nick and text
          check(!c.arg.empty(), "a say has text");
          const auto line = chat::format_say("fuzzer", c.arg);
          const auto parts = chat::split_say(line);
          check(parts && parts->first == "fuzzer" && parts->second == c.arg, "say round trip");
          break;
        }
        case chat::command::nick:
          check(chat::valid_name(c.arg), "a nick command carries a valid name");
          break;
        case chat::command::error:
          for (const char ch : c.reply) check(ch > 0 && ch < 127, "an error reply is ASCII");
          break;
        default:
          break;
      }
      if (const auto room = chat::room_from_target(text)) check(chat::valid_name(*room), "room name valid");
    }
    in.consume(in.size());
    peer.clear();  // drop what the server wrote back
  }
  return 0;
}
