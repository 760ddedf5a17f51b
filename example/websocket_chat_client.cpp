// websocket_chat_client: a load client for websocket_chat, also the driver of its integration
// test (example/test/websocket_chat_test.sh). doc/examples.md describes it.
//
//   websocket_chat_client --port P [--address A] [--room R] [--clients N] [--messages M]
//                         [--size BYTES] [--window W] [--workers N] [--timeout S]
//                         [--slow SECONDS | --oversize BYTES | --wait-close CODE]
//
// Default (load): N clients join room R (default "load"), each takes the nick loadK, and once
// all have joined each sends M messages of BYTES bytes ("K SEQ xxx...") while reading; each
// must receive all N*M messages, each sender's in order. Sending is paced in lock step: a
// client sends message i once it has all senders' messages up to i - W (default 16), so that
// nobody falls more than about N*W messages behind (the server's --queue must be larger).
// Prints the messages delivered per second; exit 1 on a missing, extra or out-of-order message, a close by the server, or when
// the whole run takes longer than --timeout (default 30 s).
//
// --slow S: one client (SO_RCVBUF 4096) joins and stops reading for S seconds while a second
// connection floods the room with BYTES-byte messages; then it reads again until the server
// closes. Prints "closed by server: code 1008 (too slow)" and exits 0 when that is how it ended.
// --oversize BYTES: sends one message of BYTES bytes; exit 0 when closed with 1009 (too big).
// --wait-close CODE: joins, prints "joined", reads until the server closes; exit 0 when it
// closed with CODE (the test's drain check: 1001).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <zokio/zokio.hpp>

#include "websocket_chat.hpp"
#include "websocket_strand.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// As in websocket_chat.cpp (see the comment there): every operation on a websocket::stream
// starts inside the connection's strand and runs its intermediate steps there, because a
// connection has a read and a write in flight at once (websocket_strand.hpp).
using namespace ws_example;

struct options {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  std::string room = "load";
  int clients = 8;
  int messages = 200;
  std::size_t size = 64;
  int window = 0;  // load mode: a client's messages ahead of the slowest sender's (0: 128 / clients)
  unsigned workers = 0;
  std::chrono::seconds timeout{30};
  int slow = 0;              // seconds
  std::size_t oversize = 0;  // bytes
  int wait_close = 0;        // close code
};

// One connection: its stream and its pending operations (at most one read, one write).
struct client {
  explicit client(strand_t s) : st(std::move(s)) {}
  strand_t st;
  std::optional<ws_t> ws;
  beast::flat_buffer in;
  std::optional<io_future> read, write;
  std::optional<close_future> closing;
  std::string out;  // what the pending write sends
};

zokio::task<void> abort(client& c) {
  co_await in_strand<void()>(c.st, [&c](auto h) {
    error_code ec;
    beast::get_lowest_layer(*c.ws).close(ec);
    std::move(h)();
  });
}

// `f` until `deadline`; past it the socket is closed and `f` awaited (empty result).
template <class F>
zokio::task<std::optional<zokio::future_output_t<F>>> bounded(client& c, std::optional<F>& f,
                                                              clock_type::time_point deadline) {
  auto r = co_await zokio::timeout_at(by_ref<F>{&*f}, deadline);
  if (r) {
    f.reset();
    co_return std::move(*r);
  }
  co_await abort(c);
  (void)co_await *f;
  f.reset();
  co_return std::nullopt;
}

// Ends what is pending and destroys the stream inside its strand.
zokio::task<void> finish(client& c) {
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

void start_read(client& c) {
  c.read.emplace(in_strand<void(error_code, std::size_t)>(c.st, [&c](auto h) { c.ws->async_read(c.in, std::move(h)); }));
}
void start_write(client& c, std::string text) {
  c.out = std::move(text);
  c.write.emplace(in_strand<void(error_code, std::size_t)>(
      c.st, [&c](auto h) { c.ws->async_write(asio::buffer(c.out), std::move(h)); }));
}
std::string take_message(client& c) {
  std::string s = beast::buffers_to_string(c.in.data());
  c.in.consume(c.in.size());
  return s;
}

// How a read error reads: "closed by server: code N (reason)" for a close frame.
std::string describe(client& c, const error_code& ec) {
  if (ec == websocket::error::closed) {
    const websocket::close_reason& r = c.ws->reason();
    std::string s = "closed by server: code " + std::to_string(r.code);
    if (!r.reason.empty()) s += " (" + std::string(r.reason.data(), r.reason.size()) + ")";
    return s;
  }
  return ec.message();
}

// Connects and joins the room (empty string) or says why not.
zokio::task<std::string> connect(const options& o, client& c, clock_type::time_point deadline, int rcvbuf = 0) {
  const tcp::endpoint ep(asio::ip::make_address(o.address), o.port);
  socket_t sock(c.st);
  sock.open(ep.protocol());
  // Before connect, so that the window the server sees is small from the start.
  if (rcvbuf) sock.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
  auto r = co_await zokio::timeout_at(sock.async_connect(ep, zokio::use_future), deadline);
  if (!r) co_return "connect: timed out";
  if (!*r) co_return "connect: " + r->error().message();
  error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  ws_t& ws = c.ws.emplace(std::move(sock));
  ws.text(true);
  ws.read_message_max(0);  // the server's limit is what is tested
  const std::string host = o.address + ":" + std::to_string(o.port);
  const std::string target = "/room/" + o.room;
  std::optional<close_future> hs(in_strand<void(error_code)>(
      c.st, [&c, &host, &target](auto h) { c.ws->async_handshake(host, target, std::move(h)); }));
  auto h = co_await bounded(c, hs, deadline);
  if (!h) co_return "handshake: timed out";
  if (!*h) co_return "handshake: " + h->error().message();
  co_return "";
}

// Reads one message (nothing else pending); the error text instead when the read fails.
zokio::task<std::optional<std::string>> read_one(client& c, clock_type::time_point deadline, std::string& error) {
  start_read(c);
  auto r = co_await bounded(c, c.read, deadline);
  if (!r) {
    error = "timed out";
    co_return std::nullopt;
  }
  if (!*r) {
    error = describe(c, r->error());
    co_return std::nullopt;
  }
  co_return take_message(c);
}

zokio::task<std::string> write_one(client& c, std::string text, clock_type::time_point deadline) {
  start_write(c, std::move(text));
  auto r = co_await bounded(c, c.write, deadline);
  if (!r) co_return "write: timed out";
  if (!*r) co_return "write: " + r->error().message();
  co_return "";
}

// Reads until a line satisfying `want` (other lines skipped).
template <class Want>
zokio::task<std::string> read_until(client& c, clock_type::time_point deadline, Want want, const char* what) {
  for (;;) {
    std::string error;
    auto m = co_await read_one(c, deadline, error);
    if (!m) co_return std::string("waiting for ") + what + ": " + error;
    if (want(std::string_view(*m))) co_return "";
  }
}

// The close handshake (with a read pending or not), within the deadline.
zokio::task<void> close_normally(client& c, clock_type::time_point deadline) {
  c.closing.emplace(in_strand<void(error_code)>(
      c.st, [&c](auto h) { c.ws->async_close(websocket::close_code::normal, std::move(h)); }));
  (void)co_await bounded(c, c.closing, deadline);
}

// --- load mode ---------------------------------------------------------------------------

struct load_run {
  const options& o;
  zokio::executor ex;
  clock_type::time_point deadline;
  zokio::barrier all_joined;
  std::atomic<bool> failed{false};
  // Nanoseconds since epoch: the first client past the barrier, the last delivery.
  clock_type::time_point epoch = clock_type::now();
  std::atomic<std::int64_t> start_ns{INT64_MAX}, end_ns{0};
};

std::string payload(int k, int seq, std::size_t size) {
  std::string s = std::to_string(k) + " " + std::to_string(seq) + " ";
  if (s.size() < size) s.append(size - s.size(), 'x');
  return s;
}

// Joins and takes the nick load<k> (client 0 also checks /rooms and an unknown command).
zokio::task<std::string> setup(load_run& run, client& c, int k) {
  std::string err = co_await connect(run.o, c, run.deadline);
  if (!err.empty()) co_return err;
  const std::string nick = "load" + std::to_string(k);
  if (!(err = co_await write_one(c, "/nick " + nick, run.deadline)).empty()) co_return err;
  const std::string renamed = " is now " + nick;
  err = co_await read_until(c, run.deadline, [&](std::string_view l) { return l.starts_with("* ") && l.ends_with(renamed); },
                            "the rename notice");
  if (!err.empty() || k != 0) co_return err;
  if (!(err = co_await write_one(c, "/rooms", run.deadline)).empty()) co_return err;
  const std::string listed = " " + run.o.room + " (";
  err = co_await read_until(c, run.deadline, [&](std::string_view l) {
    return l.starts_with("* rooms:") && l.find(listed) != std::string_view::npos;
  }, "the /rooms answer");
  if (!err.empty()) co_return err;
  if (!(err = co_await write_one(c, "/frobnicate", run.deadline)).empty()) co_return err;
  co_return co_await read_until(c, run.deadline, [](std::string_view l) {
    return l == "! unknown command: /frobnicate (try /help)";
  }, "the error answer to /frobnicate");
}

// Sends M messages while reading until all N*M have come, each sender's in order. Paced in
// lock step: message i goes once every sender's messages up to i - W (--window) have come.
// The server reads a client only when that client has caught up with its room, so a client
// whose connection is slow holds back its own messages, and the others wait for them: no
// client falls more than about N*W messages behind, below the server's --queue.
zokio::task<std::string> exchange(load_run& run, client& c, int k) {
  const options& o = run.o;
  const long total = static_cast<long>(o.clients) * o.messages;
  std::vector<int> next(static_cast<std::size_t>(o.clients), 0);
  int round = 0;                // every sender's messages below `round` have come
  int behind = o.clients;       // senders whose next is still `round`
  long received = 0;
  int sent = 0;
  auto may_send = [&] { return !c.write && sent < o.messages && sent < round + o.window; };
  start_read(c);
  if (may_send()) start_write(c, payload(k, sent++, o.size));
  while (received < total || c.write) {
    std::optional<boost::system::result<std::size_t>> rd, wr;
    // Woken every 200 ms to see whether another client failed (then this one cannot finish):
    // the futures stay pending, by_ref only polls them.
    const auto limit = std::min(run.deadline, clock_type::now() + 200ms);
    if (c.write) {
      auto ev = co_await zokio::timeout_at(zokio::select(by_ref<io_future>{&*c.read}, by_ref<io_future>{&*c.write}), limit);
      if (ev && ev->index() == 0) {
        rd = std::get<0>(*ev);
        c.read.reset();
      } else if (ev) {
        wr = std::get<1>(*ev);
        c.write.reset();
      }
    } else {
      auto r = co_await zokio::timeout_at(by_ref<io_future>{&*c.read}, limit);
      if (r) {
        rd = *r;
        c.read.reset();
      }
    }
    if (!rd && !wr) {
      if (clock_type::now() >= run.deadline) break;
      if (run.failed) co_return "gave up after another client failed (" + std::to_string(received) + " of " + std::to_string(total) + " messages)";
      continue;
    }
    if (wr) {
      if (!*wr) co_return "write: " + wr->error().message();
      if (may_send()) start_write(c, payload(k, sent++, o.size));
      continue;
    }
    if (!*rd) co_return describe(c, rd->error()) + " after " + std::to_string(received) + " of " + std::to_string(total) + " messages";
    const std::string line = take_message(c);
    start_read(c);
    if (line.starts_with("! ")) co_return "error from the server: " + line;
    const auto say = chat::split_say(line);
    if (!say) continue;  // a notice (join, leave, rename)
    // "load<j>: <j> <seq> xxx": the sender's nick and number agree, its sequence is the next.
    const std::string_view text = say->second;
    int j = -1, seq = -1;
    if (std::sscanf(std::string(text.substr(0, 32)).c_str(), "%d %d", &j, &seq) != 2 || j < 0 || j >= o.clients ||
        say->first != "load" + std::to_string(j) || text.size() != payload(j, seq, o.size).size())
      co_return "unexpected message: " + line.substr(0, 80);
    int& n = next[static_cast<std::size_t>(j)];
    if (seq != n)
      co_return "from load" + std::to_string(j) + ": message " + std::to_string(seq) + ", expected " + std::to_string(n);
    if (n++ == round && --behind == 0) {
      while (behind == 0 && round < o.messages) {
        ++round;
        behind = static_cast<int>(std::count(next.begin(), next.end(), round));
      }
    }
    if (++received == total) {
      const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - run.epoch).count();
      std::int64_t prev = run.end_ns.load();
      while (prev < ns && !run.end_ns.compare_exchange_weak(prev, ns)) {
      }
    }
    if (may_send()) start_write(c, payload(k, sent++, o.size));
  }
  if (received < total)
    co_return "timed out after " + std::to_string(received) + " of " + std::to_string(total) + " messages (" +
              std::to_string(sent) + " of " + std::to_string(o.messages) + " sent)";
  co_await close_normally(c, run.deadline);
  co_return "";
}

zokio::task<std::string> load_client(load_run& run, int k) {
  client c(asio::make_strand(run.ex.with_home(static_cast<unsigned>(k))));  // socket and strand on one worker
  std::string err = co_await setup(run, c, k);
  if (!err.empty()) run.failed = true;
  // Every client arrives, failed or not, so that nobody waits for one that gave up.
  auto w = co_await zokio::timeout_at(run.all_joined.wait(), run.deadline);
  if (!w && err.empty()) err = "timed out waiting for the other clients to join";
  if (err.empty() && !run.failed) {
    const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - run.epoch).count();
    std::int64_t prev = run.start_ns.load();
    while (ns < prev && !run.start_ns.compare_exchange_weak(prev, ns)) {
    }
    err = co_await exchange(run, c, k);
    if (!err.empty()) run.failed = true;
  }
  co_await finish(c);
  co_return err;
}

zokio::task<int> run_load(const options& o, zokio::executor ex) {
  load_run run{o, ex, clock_type::now() + o.timeout, zokio::barrier(static_cast<std::size_t>(o.clients))};
  std::vector<zokio::join_handle<std::string>> clients;
  for (int k = 0; k < o.clients; ++k) clients.push_back(zokio::spawn(load_client(run, k)));
  const std::vector<std::string> errors = co_await zokio::join_all(std::move(clients));
  int failed = 0;
  for (int k = 0; k < o.clients; ++k) {
    if (errors[static_cast<std::size_t>(k)].empty()) continue;
    std::fprintf(stderr, "websocket_chat_client: client %d: %s\n", k, errors[static_cast<std::size_t>(k)].c_str());
    ++failed;
  }
  if (failed) {
    std::fprintf(stderr, "websocket_chat_client: FAILED (%d of %d clients)\n", failed, o.clients);
    co_return 1;
  }
  const long long sent = static_cast<long long>(o.clients) * o.messages;
  const long long deliveries = sent * o.clients;
  const double secs = static_cast<double>(run.end_ns.load() - run.start_ns.load()) / 1e9;
  std::printf("websocket_chat_client: %d clients x %d messages of %zu bytes in room %s: %lld deliveries in %.3f s, "
              "%.0f messages/s delivered (%.0f sent/s), all in order\n",
              o.clients, o.messages, o.size, o.room.c_str(), deliveries, secs, secs > 0 ? deliveries / secs : 0.0,
              secs > 0 ? sent / secs : 0.0);
  co_return 0;
}

// --- the modes that end with the server's close ------------------------------------------------

// Reads (and counts) until the connection ends, a pending write going on meanwhile; the
// outcome as describe() words it, `code` the close code when the server sent one.
zokio::task<std::string> read_until_closed(client& c, clock_type::time_point deadline, std::chrono::seconds idle,
                                           int& code, long& count, std::size_t& bytes) {
  start_read(c);
  for (;;) {
    const auto limit = std::min(deadline, clock_type::now() + idle);
    std::optional<boost::system::result<std::size_t>> rd;
    if (c.write) {
      auto ev = co_await zokio::timeout_at(zokio::select(by_ref<io_future>{&*c.read}, by_ref<io_future>{&*c.write}),
                                           limit);
      if (!ev) co_return "still open: no close from the server in time";
      if (ev->index() == 1) {
        c.write.reset();  // written, or failed: the server may close first
        continue;
      }
      rd = std::get<0>(*ev);
    } else {
      auto r = co_await zokio::timeout_at(by_ref<io_future>{&*c.read}, limit);
      if (!r) co_return "still open: no close from the server in time";
      rd = *r;
    }
    c.read.reset();
    if (!*rd) {
      if (rd->error() == websocket::error::closed) code = c.ws->reason().code;
      co_return describe(c, rd->error());
    }
    ++count;
    bytes += c.in.size();
    c.in.consume(c.in.size());
    start_read(c);
  }
}

// The flooder of --slow: BYTES-byte messages until `until`, reading (and dropping) what the
// room sends back meanwhile, so that it never lags itself; then a normal close.
zokio::task<std::string> flood(const options& o, client& c, clock_type::time_point until,
                               clock_type::time_point deadline, long& sent) {
  start_read(c);
  start_write(c, std::string(o.size, 'f'));
  while (c.write) {
    auto ev = co_await zokio::timeout_at(zokio::select(by_ref<io_future>{&*c.read}, by_ref<io_future>{&*c.write}),
                                         deadline);
    if (!ev) co_return "flooder: timed out";
    if (ev->index() == 0) {
      auto r = std::get<0>(*ev);
      c.read.reset();
      if (!r) co_return "flooder: " + describe(c, r.error());
      c.in.consume(c.in.size());
      start_read(c);
    } else {
      auto r = std::get<1>(*ev);
      c.write.reset();
      if (!r) co_return "flooder: write: " + r.error().message();
      ++sent;
      if (clock_type::now() < until) start_write(c, std::string(o.size, 'f'));
    }
  }
  co_await close_normally(c, deadline);
  co_return "";
}

// The slow reader: nothing read until `until`, then everything until the server closes.
zokio::task<std::string> read_late(client& c, clock_type::time_point until, clock_type::time_point deadline, int& code,
                                   long& count, std::size_t& bytes) {
  co_await zokio::sleep_until(until);
  co_return co_await read_until_closed(c, deadline, 5s, code, count, bytes);
}

// Prints how the server closed, and whether that was `want`.
int report_close(const std::string& outcome, int code, int want) {
  std::printf("%s\n", outcome.c_str());
  if (code == want) return 0;
  std::fprintf(stderr, "websocket_chat_client: FAILED: expected a close with code %d\n", want);
  return 1;
}

zokio::task<int> run_slow(const options& o, zokio::executor ex) {
  const auto deadline = clock_type::now() + o.timeout;
  client slow(asio::make_strand(ex.with_home(0))), flooder(asio::make_strand(ex.with_home(1)));
  std::string err = co_await connect(o, slow, deadline, 4096);  // joins first: it sees the flood
  if (err.empty()) err = co_await connect(o, flooder, deadline);
  int code = 0;
  long got = 0, sent = 0;
  std::size_t bytes = 0;
  std::string outcome;
  if (err.empty()) {
    const auto until = clock_type::now() + std::chrono::seconds(o.slow);
    auto [ferr, out] = co_await zokio::join(flood(o, flooder, until, deadline, sent),
                                            read_late(slow, until, deadline, code, got, bytes));
    err = std::move(ferr);
    outcome = std::move(out);
  }
  co_await finish(slow);
  co_await finish(flooder);
  if (!err.empty()) {
    std::fprintf(stderr, "websocket_chat_client: %s\n", err.c_str());
    co_return 1;
  }
  std::printf("websocket_chat_client: slow reader paused %d s while %ld messages of %zu bytes were sent, then read "
              "%ld messages (%zu bytes)\n",
              o.slow, sent, o.size, got, bytes);
  co_return report_close(outcome, code, 1008);
}

// One connection that sends `oversize` bytes (if non-zero) or only announces itself, then
// reads until the server closes; the close code must be `want`.
zokio::task<int> run_until_close(const options& o, zokio::executor ex, std::size_t oversize, int want) {
  const auto deadline = clock_type::now() + o.timeout;
  client c(asio::make_strand(ex.with_home(0)));
  std::string err = co_await connect(o, c, deadline);
  int code = 0;
  long got = 0;
  std::size_t bytes = 0;
  std::string outcome;
  if (err.empty()) {
    if (oversize) {
      start_write(c, std::string(oversize, 'x'));
    } else {
      std::printf("websocket_chat_client: joined room %s\n", o.room.c_str());
      std::fflush(stdout);
    }
    outcome = co_await read_until_closed(c, deadline, o.timeout, code, got, bytes);
  }
  co_await finish(c);
  if (!err.empty()) {
    std::fprintf(stderr, "websocket_chat_client: %s\n", err.c_str());
    co_return 1;
  }
  co_return report_close(outcome, code, want);
}

bool parse(int argc, char** argv, options& o, bool& size_set) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto number = [&](auto& out, long min, long max) {
      const char* v = value();
      if (!v) return false;
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (*end != '\0' || n < min || n > max) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(n);
      return true;
    };
    long secs = 0;
    if (a == "--address") {
      const char* v = value();
      if (!v) return false;
      o.address = v;
    } else if (a == "--port") {
      if (!number(o.port, 1, 65535)) return false;
    } else if (a == "--room") {
      const char* v = value();
      if (!v || !chat::valid_name(v)) return false;
      o.room = v;
    } else if (a == "--clients") {
      if (!number(o.clients, 1, 10000)) return false;
    } else if (a == "--messages") {
      if (!number(o.messages, 0, 100000000)) return false;
    } else if (a == "--size") {
      if (!number(o.size, 1, 64 << 20)) return false;
      size_set = true;
    } else if (a == "--window") {
      if (!number(o.window, 1, 1000000)) return false;
    } else if (a == "--workers") {
      if (!number(o.workers, 1, 1024)) return false;
    } else if (a == "--timeout") {
      if (!number(secs, 1, 86400)) return false;
      o.timeout = std::chrono::seconds(secs);
    } else if (a == "--slow") {
      if (!number(o.slow, 1, 3600)) return false;
    } else if (a == "--oversize") {
      if (!number(o.oversize, 1, 1 << 30)) return false;
    } else if (a == "--wait-close") {
      if (!number(o.wait_close, 1000, 4999)) return false;
    } else {
      return false;
    }
  }
  return o.port != 0 && (o.slow > 0) + (o.oversize > 0) + (o.wait_close > 0) <= 1;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  bool size_set = false;
  if (!parse(argc, argv, o, size_set)) {
    std::fprintf(stderr,
                 "usage: %s --port P [--address A] [--room R] [--clients N] [--messages M] [--size BYTES]\n"
                 "          [--window W] [--workers N] [--timeout S]\n"
                 "          [--slow SECONDS | --oversize BYTES | --wait-close CODE]\n",
                 argv[0]);
    return 2;
  }
  if (o.slow && !size_set) o.size = 4096;
  // Clients x window is how far behind a member can fall: by default half the server's
  // default --queue (256), so that a load run never looks like a slow reader (32 x 16 did).
  if (o.window == 0) o.window = std::max(1, 128 / o.clients);  // the flood: big messages fill the socket buffers sooner
  zokio::runtime::builder b;
  if (o.workers) b.worker_threads(o.workers);
  zokio::runtime rt = b.build();
  auto ex = rt.get_executor();
  zokio::task<int> t = o.slow         ? run_slow(o, ex)
                       : o.oversize   ? run_until_close(o, ex, o.oversize, 1009)
                       : o.wait_close ? run_until_close(o, ex, 0, o.wait_close)
                                      : run_load(o, ex);
  const int rc = rt.block_on(rt.spawn(std::move(t)));
  std::fflush(stdout);
  return rc;
}
