// websocket_chat: a WebSocket chat server on Boost.Beast written in Zokio's style (zokio::task,
// zokio::use_future, zokio::select): rooms on zokio::broadcast, a bounded queue per client
// with slow readers dropped (close 1008), a write deadline, a message size limit (close 1009),
// graceful drain on SIGINT/SIGTERM (close 1001). The protocol (commands, the lines sent) is in
// websocket_chat.hpp; doc/examples.md describes the whole.
//
//   websocket_chat [--address A] [--port P] [--workers N] [--queue N] [--max-message BYTES]
//                  [--write-timeout S] [--max-connections N] [--drain S] [--quiet]
//
// Prints "websocket_chat: listening on A:P" (P is the bound port when 0 was asked). A client
// joins room NAME with a WebSocket upgrade to /room/NAME; "/" without an upgrade is a short
// text page, /room/NAME without one a 426, any other target a 404.
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <zokio/zokio.hpp>

#include "websocket_chat.hpp"
#include "websocket_strand.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

// Why every operation on a connection's websocket::stream goes through its strand
// -------------------------------------------------------------------------------------------
// Beast's websocket::stream is not thread-safe: the read that is always pending and the
// writes (and the close) share the stream's state (the read answers pings and close frames
// itself, so it takes the write lock), and Beast requires every initiation and every
// intermediate completion of them to run one at a time ("an implicit or explicit strand").
// One task per connection is not enough for that here, nor is placing the socket on
// executor::on_calling_worker(): (1) the task initiates, but Beast's intermediate steps run
// where the socket's operations complete, on the io_context's thread, because use_future's
// handler has an inline executor and Beast runs its steps on the handler's executor; (2) the
// task may be stolen by another worker; (3) an idle worker polls a busy sibling's io_context,
// so a completion can run on thread B while the task, on the io_context's owner A, starts a
// write. So each connection has an asio::strand (over the runtime's executor), and in_strand()
// below (a) starts each operation inside the strand (asio::dispatch: inline when the strand is
// free, else queued behind what runs in it) and (b) binds the use_future handler to the strand
// (on_strand), which makes Beast run every intermediate step there. The task only
// waits on the futures, reads the buffer of a completed read, and never drops the future of an
// operation still running (that would cancel it from the task's thread): a deadline closes the
// socket inside the strand, after which every pending operation ends, and the task awaits it.
using namespace ws_example;  // strand_t, ws_t, in_strand, on_strand, by_ref (websocket_strand.hpp)

// Rooms carry shared, immutable lines: a broadcast copies a pointer per receiver, not the
// text. A null message is the server's drain: "close with 1001".
using message = std::shared_ptr<const std::string>;

message make_message(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

struct config {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;
  unsigned workers = 0;
  std::size_t queue = 256;                  // messages a client may be behind its room
  std::size_t max_message = 64 * 1024;      // bytes in one message from a client
  std::chrono::seconds write_timeout{10};   // one write, and a close handshake, must end in this
  std::size_t max_connections = 10000;
  std::chrono::seconds drain{5};
  std::chrono::seconds handshake_timeout{10};  // the upgrade request must arrive in this
  bool log = true;
};

struct room {
  zokio::broadcast::sender<message> tx;
  std::size_t members = 0;
};

struct server {
  config cfg;
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> next_id{0};
  // Rooms by name. A room is made by its first join and erased by its last leave, both under
  // rooms_mu with the member count, so a join never finds a room that is being erased.
  std::mutex rooms_mu;
  std::map<std::string, room, std::less<>> rooms;
  bool draining = false;  // under rooms_mu: joins refused, every room told to close
  // The summary printed on exit.
  std::atomic<std::uint64_t> connections{0}, messages{0}, deliveries{0}, too_slow{0}, write_timeouts{0},
      too_big{0}, errors{0};
};

struct membership {
  std::string room;
  zokio::broadcast::sender<message> tx;
  zokio::broadcast::receiver<message> rx;  // this client's queue: --queue messages at most
};

// Joins room `name` (made if new); nothing while draining.
std::optional<membership> join(server& s, std::string_view name, std::size_t& members) {
  std::lock_guard lk(s.rooms_mu);
  if (s.draining) return std::nullopt;
  membership m{std::string(name), {}, {}};
  auto it = s.rooms.find(name);
  if (it == s.rooms.end()) {
    auto [tx, rx] = zokio::broadcast::channel<message>(s.cfg.queue);
    it = s.rooms.emplace(std::string(name), room{tx, 0}).first;
    m.rx = std::move(rx);
  } else {
    m.rx = it->second.tx.subscribe();
  }
  m.tx = it->second.tx;
  members = ++it->second.members;
  return m;
}

void leave(server& s, const membership& m) {
  std::lock_guard lk(s.rooms_mu);
  auto it = s.rooms.find(m.room);
  if (it != s.rooms.end() && --it->second.members == 0) s.rooms.erase(it);
}

std::vector<std::pair<std::string, std::size_t>> room_list(server& s) {
  std::lock_guard lk(s.rooms_mu);
  std::vector<std::pair<std::string, std::size_t>> v;
  for (const auto& [name, r] : s.rooms) v.emplace_back(name, r.members);
  return v;
}

// Stops joins and queues the drain marker in every room (after what is already queued).
void start_drain(server& s) {
  std::lock_guard lk(s.rooms_mu);
  s.draining = true;
  for (auto& [name, r] : s.rooms) (void)r.tx.send(nullptr);
}

enum class ending { none, client_closed, lost, too_slow, write_timeout, too_big, quit, going_away };

// One WebSocket connection's state, owned by session() so that it outlives run_connection()
// (and an exception thrown in it): session() then ends every pending operation (finish()).
struct connection {
  connection(strand_t s, std::uint64_t i) : st(std::move(s)), id(i) {}
  strand_t st;  // the stream's executor
  std::uint64_t id;
  std::string nick;
  std::optional<membership> m;
  bool joined = false;  // the handshake succeeded: "joined" was announced
  std::optional<ws_t> ws;
  beast::flat_buffer in;                 // the pending read's message
  std::optional<io_future> read, write;  // at most one of each (Beast's rule)
  std::optional<close_future> closing;
  message out;  // what the pending write sends (kept alive until it ends)
  ending end = ending::none;
  std::uint64_t skipped = 0;  // too_slow: messages the receiver lost
};

// Closes the socket inside the strand: every pending operation then ends (with an error).
zokio::task<void> abort(connection& c) {
  co_await in_strand<void()>(c.st, [&c](auto h) {
    error_code ec;
    auto& sock = beast::get_lowest_layer(*c.ws);
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    std::move(h)();
  });
}

// Waits for `f` until `deadline`; past it, closes the socket and waits for `f` to end. Empty
// after a timeout.
template <class F>
zokio::task<std::optional<zokio::future_output_t<F>>> bounded(connection& c, std::optional<F>& f,
                                                              std::chrono::steady_clock::time_point deadline) {
  auto r = co_await zokio::timeout_at(by_ref<F>{&*f}, deadline);
  if (r) {
    f.reset();
    co_return std::move(*r);
  }
  co_await abort(c);
  (void)co_await *f;  // prompt now that the socket is closed
  f.reset();
  co_return std::nullopt;
}

// Reads the next part of a message into c.in, at most one byte past --max-message (so that
// a message over the limit shows). The limit is checked here, not by Beast's
// read_message_max: Beast 1.81 fails such a read, sends 1009 and tears the connection down
// after one read of what the client still sends (teardown.hpp tests the handler's
// bytes_transferred, not read_some's), so the socket is closed over the rest of the message,
// the kernel resets the connection, and the reset can destroy the 1009 close frame before
// the client reads it. close_with() instead reads and discards up to the client's close.
void start_read(server& s, connection& c) {
  const std::size_t room = s.cfg.max_message - c.in.size() + 1;
  const auto buf = c.in.prepare(std::min<std::size_t>(room, 16 * 1024));
  c.read.emplace(in_strand<void(error_code, std::size_t)>(
      c.st, [&c, buf](auto h) { c.ws->async_read_some(buf, std::move(h)); }));
}

// Writes one message within --write-timeout. False when the connection is over: the write
// failed, or it took too long (a client that does not read: the socket is closed, no close
// handshake is tried).
zokio::task<bool> send(server& s, connection& c, message msg) {
  c.out = std::move(msg);
  c.write.emplace(in_strand<void(error_code, std::size_t)>(
      c.st, [&c](auto h) { c.ws->async_write(asio::buffer(*c.out), std::move(h)); }));
  auto r = co_await bounded(c, c.write, std::chrono::steady_clock::now() + s.cfg.write_timeout);
  c.out.reset();
  if (!r) {
    c.end = ending::write_timeout;
    co_return false;
  }
  if (!*r) {
    c.end = ending::lost;
    co_return false;
  }
  ++s.deliveries;
  co_return true;
}

// The close handshake with `code`, within --write-timeout (the close frame waits behind what
// the client has not read yet; then the client's answer comes through the pending read).
zokio::task<void> close_with(server& s, connection& c, websocket::close_code code, std::string_view reason) {
  c.closing.emplace(in_strand<void(error_code)>(c.st, [&c, code, reason](auto h) {
    c.ws->async_close(websocket::close_reason(code, reason), std::move(h));
  }));
  (void)co_await bounded(c, c.closing, std::chrono::steady_clock::now() + s.cfg.write_timeout);
}

// Ends what is still pending (after an exception, or the read of a connection closed by the
// server) and destroys the stream inside its strand.
zokio::task<void> finish(connection& c) {
  if (!c.ws) co_return;
  if (c.read || c.write || c.closing) co_await abort(c);
  if (c.read) (void)co_await *c.read;
  if (c.write) (void)co_await *c.write;
  if (c.closing) (void)co_await *c.closing;
  c.read.reset(), c.write.reset(), c.closing.reset();
  co_await in_strand<void()>(c.st, [&c](auto h) {
    c.ws.reset();
    std::move(h)();
  });
}

void publish(connection& c, std::string line) {
  (void)c.m->tx.send(make_message(std::move(line)));  // never fails: this client receives
}

// One message from the client (in c.in).
zokio::task<void> handle_message(server& s, connection& c) {
  const bool text = c.ws->got_text();
  const std::string msg = beast::buffers_to_string(c.in.data());
  c.in.consume(c.in.size());
  if (!text) {
    co_await send(s, c, make_message(chat::format_error("binary messages are not supported")));
    co_return;
  }
  const chat::command cmd = chat::parse_client_message(msg);
  switch (cmd.kind) {
    case chat::command::say:
      publish(c, chat::format_say(c.nick, cmd.arg));
      ++s.messages;
      break;
    case chat::command::nick:
      if (cmd.arg != c.nick) {
        publish(c, chat::format_renamed(c.nick, cmd.arg));
        if (s.cfg.log) std::printf("%s: %s is now %.*s\n", c.m->room.c_str(), c.nick.c_str(),
                                   static_cast<int>(cmd.arg.size()), cmd.arg.data());
        c.nick = cmd.arg;
      }
      break;
    case chat::command::rooms:
      co_await send(s, c, make_message(chat::format_rooms(room_list(s))));
      break;
    case chat::command::help:
      co_await send(s, c, make_message(chat::format_help()));
      break;
    case chat::command::quit:
      c.end = ending::quit;
      break;
    case chat::command::error:
      co_await send(s, c, make_message(chat::format_error(cmd.reply)));
      break;
    case chat::command::ignore:
      break;
  }
}

// The joined client: its room's messages out, its own messages in, in one task. The room goes
// first: the client is read only when it has caught up with its queue, so a client that sends
// faster than it reads is slowed down by TCP instead of flooding its room.
zokio::task<void> chat_loop(server& s, connection& c) {
  start_read(s, c);
  while (c.end == ending::none) {
    auto ev = co_await zokio::select(c.m->rx.recv(), by_ref<io_future>{&*c.read});
    if (ev.index() == 0) {
      auto& got = std::get<0>(ev);
      if (!got) {
        if (got.error().reason == zokio::channel_errc::lagged) {
          c.end = ending::too_slow;
          c.skipped = got.error().skipped;
        } else {
          c.end = ending::going_away;  // closed: not while this client holds a sender
        }
      } else if (!*got) {
        c.end = ending::going_away;  // the drain marker
      } else {
        co_await send(s, c, std::move(*got));
      }
      continue;
    }
    auto r = std::move(std::get<1>(ev));
    c.read.reset();
    if (!r) {
      if (r.error() == websocket::error::closed)
        c.end = ending::client_closed;  // Beast answered the client's close frame
      else
        c.end = ending::lost;
      break;
    }
    c.in.commit(*r);
    if (c.in.size() > s.cfg.max_message) {
      c.end = ending::too_big;
      break;
    }
    if (c.ws->is_message_done()) co_await handle_message(s, c);
    if (c.end == ending::none) start_read(s, c);
  }
}

// linger_close as in http_server: after an error answer, half-close and read what the client
// still sends (up to 1 s) so that the close does not reset the connection over the answer.
zokio::task<void> linger_close(socket_t& sock) {
  error_code ec;
  sock.shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> scratch;
  std::size_t discarded = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (discarded < (1u << 20) && std::chrono::steady_clock::now() < until) {
    auto n = co_await zokio::timeout(sock.async_read_some(asio::buffer(scratch), zokio::use_future), 1s);
    if (!n || !*n) break;
    discarded += **n;
  }
}

// A plain HTTP answer (no upgrade), then close.
zokio::task<void> answer(server& s, socket_t& sock, http::status st, std::string body) {
  http::response<http::string_body> res{st, 11};
  res.set(http::field::server, "zokio-websocket-chat");
  res.set(http::field::content_type, "text/plain");
  if (st == http::status::upgrade_required) res.set(http::field::upgrade, "websocket");
  if (st == http::status::method_not_allowed) res.set(http::field::allow, "GET");
  if (st == http::status::service_unavailable) res.set(http::field::retry_after, "1");
  res.keep_alive(false);
  res.body() = std::move(body);
  res.prepare_payload();
  co_await zokio::timeout(http::async_write(sock, res, zokio::use_future), s.cfg.handshake_timeout);
  co_await linger_close(sock);
}

zokio::task<void> run_connection(server& s, connection& c, socket_t sock) {
  error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  // The upgrade request. One operation at a time on the bare socket, from this task: no
  // strand needed until the stream has a read and a write at once.
  beast::flat_buffer buf;
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(4 * 1024);
  auto r = co_await zokio::timeout(http::async_read(sock, buf, parser, zokio::use_future), s.cfg.handshake_timeout);
  if (!r) co_return;  // nothing complete within the deadline
  if (!*r) {
    const error_code e = r->error();
    if (e.category() == make_error_code(http::error::end_of_stream).category() && e != http::error::end_of_stream &&
        e != http::error::partial_message)
      co_await answer(s, sock, http::status::bad_request, "bad request\n");
    co_return;
  }
  http::request<http::string_body> req = parser.release();
  const std::string_view target = req.target();
  const auto room = chat::room_from_target(target);
  if (!websocket::is_upgrade(req)) {
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      co_await answer(s, sock, http::status::method_not_allowed, "method not allowed\n");
    else if (target == "/")
      co_await answer(s, sock, http::status::ok,
                      "websocket_chat (Zokio): open a WebSocket to /room/NAME (NAME: 1 to 32 of A-Z a-z 0-9 _ -)\n");
    else if (room)
      co_await answer(s, sock, http::status::upgrade_required, "this is a WebSocket endpoint\n");
    else
      co_await answer(s, sock, http::status::not_found, "not found\n");
    co_return;
  }
  if (!room) {
    co_await answer(s, sock, http::status::not_found, "not found: rooms are /room/NAME\n");
    co_return;
  }
  // Join before the handshake's answer: whatever the room sends after the client sees its
  // 101 reaches the client (the load client counts on it).
  std::size_t members = 0;
  c.m = join(s, *room, members);
  if (!c.m) {
    co_await answer(s, sock, http::status::service_unavailable, "shutting down\n");
    co_return;
  }
  c.nick = "guest" + std::to_string(c.id);
  ws_t& ws = c.ws.emplace(std::move(sock));
  ws.read_message_max(0);  // no limit in Beast: start_read() enforces --max-message
  ws.text(true);
  websocket::stream_base::timeout t{};
  t.handshake_timeout = s.cfg.write_timeout;  // the opening and the closing handshakes
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws.set_option(t);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "zokio-websocket-chat"); }));
  auto accepted = co_await in_strand<void(error_code)>(c.st, [&c, &req](auto h) { c.ws->async_accept(req, std::move(h)); });
  if (!accepted) co_return;
  ++s.connections;
  c.joined = true;
  if (s.cfg.log)
    std::printf("%s: %s joined (%zu member%s)\n", c.m->room.c_str(), c.nick.c_str(), members, members == 1 ? "" : "s");
  if (!co_await send(s, c, make_message(chat::format_welcome(c.m->room, c.nick, members)))) co_return;
  publish(c, chat::format_joined(c.nick));
  co_await chat_loop(s, c);
  switch (c.end) {
    case ending::too_slow:
      ++s.too_slow;
      std::fprintf(stderr, "websocket_chat: %s (%s) too slow (%llu messages lost): closing with 1008\n",
                   c.nick.c_str(), c.m->room.c_str(), static_cast<unsigned long long>(c.skipped));
      co_await close_with(s, c, websocket::close_code::policy_error, "too slow");
      break;
    case ending::going_away:
      co_await close_with(s, c, websocket::close_code::going_away, "server shutting down");
      break;
    case ending::quit:
      co_await close_with(s, c, websocket::close_code::normal, "bye");
      break;
    case ending::write_timeout:
      ++s.write_timeouts;
      std::fprintf(stderr, "websocket_chat: %s (%s) write timed out: dropped\n", c.nick.c_str(), c.m->room.c_str());
      break;
    case ending::too_big:
      ++s.too_big;
      if (s.cfg.log) std::printf("%s: %s sent a message over %zu bytes: closing with 1009\n", c.m->room.c_str(),
                                 c.nick.c_str(), s.cfg.max_message);
      co_await close_with(s, c, websocket::close_code::too_big, "message too big");
      break;
    default:
      break;
  }
}

struct open_guard {
  server& s;
  ~open_guard() { s.open.fetch_sub(1); }
};

// One connection. An exception ends this connection only: logged, its operations ended, its
// room left.
zokio::task<void> session(server& s, strand_t st, socket_t sock) {
  open_guard guard{s};
  connection c(std::move(st), ++s.next_id);
  std::string failure;
  bool failed = false;
  try {
    co_await run_connection(s, c, std::move(sock));
  } catch (const std::exception& e) {
    failure = e.what();  // g++ 12: no co_await in a handler, act after it
    failed = true;
  }
  if (failed) {
    ++s.errors;
    std::fprintf(stderr, "websocket_chat: connection %llu: %s\n", static_cast<unsigned long long>(c.id),
                 failure.c_str());
  }
  co_await finish(c);
  if (c.m) {
    if (c.joined) {
      (void)c.m->tx.send(make_message(chat::format_left(c.nick)));
      if (s.cfg.log) std::printf("%s: %s left\n", c.m->room.c_str(), c.nick.c_str());
    }
    leave(s, *c.m);
  }
}

// Over the connection cap: 503 with Retry-After, then close.
zokio::task<void> refuse(server& s, socket_t sock) {
  co_await answer(s, sock, http::status::service_unavailable, "too many connections\n");
}

// Accepts until SIGINT/SIGTERM, then drains.
zokio::task<int> serve(server& s, zokio::executor ex) {
  tcp::acceptor acceptor(ex);
  try {
    const tcp::endpoint ep(asio::ip::make_address(s.cfg.address), s.cfg.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "websocket_chat: cannot listen on %s:%u: %s\n", s.cfg.address.c_str(), s.cfg.port,
                 e.code().message().c_str());
    co_return 1;
  }
  asio::signal_set signals(ex, SIGINT, SIGTERM);
  std::printf("websocket_chat: listening on %s:%u\n", s.cfg.address.c_str(), acceptor.local_endpoint().port());
  std::fflush(stdout);
  unsigned next_worker = 0;
  for (;;) {
    // Both in this task (as in http_server). Each connection gets its own strand, pinned to a
    // worker (round robin), and its socket, made from the strand, lives on that worker too. Not
    // only for locality: a strand's implementation is destroyed against the Asio service of
    // the io_context it was made on, so when the runtime is torn down with operations still
    // pending (connections cut at the drain deadline), the io_context that destroys them must
    // be the strand's (UBSan saw the other case: a strand service already destroyed).
    strand_t st = asio::make_strand(ex.with_home(next_worker++));
    auto won = co_await zokio::select(acceptor.async_accept(asio::any_io_executor(st), zokio::use_future),
                                      signals.async_wait(zokio::use_future));
    if (won.index() == 1) break;  // SIGINT or SIGTERM
    auto& sock = std::get<0>(won);
    if (!sock) {
      std::fprintf(stderr, "websocket_chat: accept: %s\n", sock.error().message().c_str());
      co_await zokio::sleep(100ms);
      continue;
    }
    if (s.open.fetch_add(1) >= s.cfg.max_connections) {
      s.open.fetch_sub(1);
      zokio::spawn(refuse(s, std::move(*sock))).detach();
      continue;
    }
    zokio::spawn(session(s, std::move(st), std::move(*sock))).detach();
  }
  // Drain: no new connections or joins; every client gets what its room queued before, then
  // a close frame with 1001; up to --drain seconds for the close handshakes, then the runtime
  // closes the rest.
  acceptor.close();
  start_drain(s);
  std::fprintf(stderr, "websocket_chat: draining %zu connections (up to %lld s)\n", s.open.load(),
               static_cast<long long>(s.cfg.drain.count()));
  const auto deadline = std::chrono::steady_clock::now() + s.cfg.drain;
  while (s.open.load() > 0 && std::chrono::steady_clock::now() < deadline) co_await zokio::sleep(10ms);
  if (s.open.load() > 0)
    std::fprintf(stderr, "websocket_chat: closing %zu connections after the drain deadline\n", s.open.load());
  else
    std::fprintf(stderr, "websocket_chat: drained\n");
  std::fprintf(stderr,
               "websocket_chat: %llu connections, %llu messages, %llu deliveries; dropped: %llu too slow, "
               "%llu write timeouts, %llu too big; %llu errors\n",
               static_cast<unsigned long long>(s.connections.load()), static_cast<unsigned long long>(s.messages.load()),
               static_cast<unsigned long long>(s.deliveries.load()), static_cast<unsigned long long>(s.too_slow.load()),
               static_cast<unsigned long long>(s.write_timeouts.load()),
               static_cast<unsigned long long>(s.too_big.load()), static_cast<unsigned long long>(s.errors.load()));
  co_return 0;
}

bool parse(int argc, char** argv, config& c) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto number = [&](auto& out, long min) {
      const char* v = value();
      if (!v) return false;
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (*end != '\0' || n < min) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(n);
      return true;
    };
    long secs = 0;
    if (a == "--address") {
      const char* v = value();
      if (!v) return false;
      c.address = v;
    } else if (a == "--port") {
      long p = 0;
      if (!number(p, 0) || p > 65535) return false;
      c.port = static_cast<unsigned short>(p);
    } else if (a == "--workers") {
      if (!number(c.workers, 1)) return false;
    } else if (a == "--queue") {
      if (!number(c.queue, 1)) return false;
    } else if (a == "--max-message") {
      if (!number(c.max_message, 1)) return false;
    } else if (a == "--write-timeout") {
      if (!number(secs, 1)) return false;
      c.write_timeout = std::chrono::seconds(secs);
    } else if (a == "--max-connections") {
      if (!number(c.max_connections, 1)) return false;
    } else if (a == "--drain") {
      if (!number(secs, 0)) return false;
      c.drain = std::chrono::seconds(secs);
    } else if (a == "--quiet") {
      c.log = false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the event log, a line at a time
  server s;
  if (!parse(argc, argv, s.cfg)) {
    std::fprintf(stderr,
                 "usage: %s [--address A] [--port P] [--workers N] [--queue N] [--max-message BYTES]\n"
                 "          [--write-timeout S] [--max-connections N] [--drain S] [--quiet]\n",
                 argv[0]);
    return 2;
  }
  zokio::runtime::builder b;
  if (s.cfg.workers) b.worker_threads(s.cfg.workers);
  // A connection's failure must not stop the server: exceptions nobody joins are logged.
  b.unhandled_exception(zokio::unhandled_exception_policy::log);
  zokio::runtime rt = b.build();
  const int rc = rt.block_on(rt.spawn(serve(s, rt.get_executor())));
  std::fflush(stdout);
  return rc;
}
