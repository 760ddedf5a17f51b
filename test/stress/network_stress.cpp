// stress_network (the `stress-network` build step): a TCP echo server on one Zokio runtime and
// its clients on another, over loopback, in rounds until --seconds have passed. Each round:
// many concurrent connections doing verified round trips; hostile clients (connect and close,
// reset in the middle of a write, write and never read, half-close); bulk streams in both
// directions at once; and descriptor exhaustion (RLIMIT_NOFILE lowered until accept fails with
// EMFILE: the server must back off and serve the waiting clients once descriptors are free).
// After every round the server must be back to zero open connections: nothing leaked or hung.
//
//   stress_network [--seconds S] [--workers N]     (CI: 10 s; stress-network: 300 s)
// Exit status 0: every check held; 1: a check failed (the message says which).
#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <zokio/zokio.hpp>

#include "../support/test_util.hpp"
#include "common.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr int D = zokio::test::stress_divisor;  // sizes / 10 under sanitizers

// --- the server -------------------------------------------------------------------------------

struct server_state {
  std::atomic<long> open{0};
  std::atomic<long> accepted{0};
  std::atomic<long> accept_errors{0};  // EMFILE and the like, each followed by a back-off
  std::atomic<long> echoed{0};         // bytes
};

zokio::task<void> echo_session(server_state& st, tcp::socket sock) {
  std::array<char, 16 * 1024> buf;
  for (;;) {
    auto n = co_await sock.async_read_some(asio::buffer(buf), zokio::use_future);
    if (!n) break;  // eof, reset: the client is gone
    auto w = co_await asio::async_write(sock, asio::buffer(buf.data(), *n), zokio::use_future);
    if (!w) break;  // reset while writing
    st.echoed.fetch_add(static_cast<long>(*n), std::memory_order_relaxed);
  }
  st.open.fetch_sub(1);
}

zokio::task<void> accept_loop(server_state& st, tcp::acceptor& acceptor) {
  for (;;) {
    auto sock = co_await acceptor.async_accept(zokio::use_future);
    if (!sock) {
      if (sock.error() == asio::error::operation_aborted) co_return;  // closed: the end
      st.accept_errors.fetch_add(1);
      co_await zokio::sleep(5ms);  // out of descriptors: the client waits in the backlog
      continue;
    }
    st.accepted.fetch_add(1);
    st.open.fetch_add(1);
    zokio::spawn(echo_session(st, std::move(*sock))).detach();
  }
}

// --- the clients ------------------------------------------------------------------------------

// The clients' runtime's executor (set in main before the first round).
zokio::executor* client_ex = nullptr;

zokio::task<boost::system::result<tcp::socket>> connect(tcp::endpoint ep) {
  tcp::socket s(*client_ex);
  auto r = co_await s.async_connect(ep, zokio::use_future);
  if (!r) co_return boost::system::result<tcp::socket>(boost::system::in_place_error, r.error());
  co_return std::move(s);
}

// Round trips of random sizes; every byte checked.
zokio::task<long> well_behaved(tcp::endpoint ep, unsigned seed, int trips) {
  auto s = co_await connect(ep);
  STRESS_CHECK(s.has_value(), "connect: %s", s.error().message().c_str());
  std::mt19937 rng(seed);
  std::vector<char> out(8192), in(8192);
  long bytes = 0;
  for (int t = 0; t < trips; ++t) {
    const std::size_t n = 1 + rng() % out.size();
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>(rng());
    auto w = co_await asio::async_write(*s, asio::buffer(out.data(), n), zokio::use_future);
    STRESS_CHECK(w.has_value(), "write: %s", w.error().message().c_str());
    auto r = co_await asio::async_read(*s, asio::buffer(in.data(), n), zokio::use_future);
    STRESS_CHECK(r.has_value(), "read: %s", r.error().message().c_str());
    STRESS_CHECK(std::memcmp(out.data(), in.data(), n) == 0, "echo differs");
    bytes += static_cast<long>(n);
  }
  co_return bytes;
}

// Hostile clients; each kind, `n` times.
zokio::task<void> hostile(tcp::endpoint ep, int n) {
  std::array<char, 4096> junk{};
  for (int i = 0; i < n; ++i) {
    {  // connect and close at once
      auto s = co_await connect(ep);
      STRESS_CHECK(s.has_value(), "connect");
    }
    {  // write, then reset (SO_LINGER 0) without reading the echo
      auto s = co_await connect(ep);
      STRESS_CHECK(s.has_value(), "connect");
      co_await asio::async_write(*s, asio::buffer(junk), zokio::use_future);
      s->set_option(asio::socket_base::linger(true, 0));
      s->close();
    }
    {  // half-close: everything written comes back, then eof
      auto s = co_await connect(ep);
      STRESS_CHECK(s.has_value(), "connect");
      co_await asio::async_write(*s, asio::buffer(junk.data(), 1000), zokio::use_future);
      s->shutdown(tcp::socket::shutdown_send);
      std::array<char, 2048> in;
      auto r = co_await asio::async_read(*s, asio::buffer(in), zokio::use_future);
      STRESS_CHECK(!r && r.error() == asio::error::eof, "half-close: expected eof after the echo");
    }
  }
  // Writers that never read: the server's writes fill the socket buffers and block; when the
  // client goes away the server must notice and close (checked at the end of the round).
  std::vector<tcp::socket> stuck;
  for (int i = 0; i < 4; ++i) {
    auto s = co_await connect(ep);
    STRESS_CHECK(s.has_value(), "connect");
    std::vector<char> big(256 * 1024 / D);
    for (int k = 0; k < 8; ++k) {
      auto w = co_await zokio::timeout(asio::async_write(*s, asio::buffer(big), zokio::use_future), 50ms);
      if (!w) break;  // the buffers are full in both directions: stuck, as intended
    }
    stuck.push_back(std::move(*s));
  }
  co_await zokio::sleep(20ms);
  for (auto& s : stuck) {
    s.set_option(asio::socket_base::linger(true, 0));
    s.close();
  }
}

// A bulk stream: `total` bytes written while the echo is read at the same time; sums compared.
zokio::task<long> bulk(tcp::endpoint ep, long total) {
  auto s = co_await connect(ep);
  STRESS_CHECK(s.has_value(), "connect");
  auto writer = [](tcp::socket& sock, long total) -> zokio::task<unsigned long> {
    std::vector<unsigned char> chunk(64 * 1024);
    unsigned long sum = 0;
    for (long sent = 0; sent < total;) {
      const std::size_t n = static_cast<std::size_t>(std::min<long>(total - sent, static_cast<long>(chunk.size())));
      for (std::size_t i = 0; i < n; ++i) sum += chunk[i] = static_cast<unsigned char>((sent + static_cast<long>(i)) * 7);
      auto w = co_await asio::async_write(sock, asio::buffer(chunk.data(), n), zokio::use_future);
      STRESS_CHECK(w.has_value(), "bulk write: %s", w.error().message().c_str());
      sent += static_cast<long>(n);
    }
    co_return sum;
  };
  auto reader = [](tcp::socket& sock, long total) -> zokio::task<unsigned long> {
    std::vector<unsigned char> chunk(64 * 1024);
    unsigned long sum = 0;
    for (long got = 0; got < total;) {
      auto r = co_await sock.async_read_some(asio::buffer(chunk), zokio::use_future);
      STRESS_CHECK(r.has_value(), "bulk read: %s", r.error().message().c_str());
      for (std::size_t i = 0; i < *r; ++i) sum += chunk[i];
      got += static_cast<long>(*r);
    }
    co_return sum;
  };
  // Both directions in one task (one socket, two operations of different kinds at once).
  auto [ws, rs] = co_await zokio::join(writer(*s, total), reader(*s, total));
  STRESS_CHECK(ws == rs, "bulk: echoed bytes differ (sum %lu != %lu)", rs, ws);
  co_return total;
}

// Descriptor exhaustion, made deterministic: with RLIMIT_NOFILE lowered to `extra` above what
// is open, 8 client sockets are opened, every descriptor left is taken (/dev/null), and only
// then do the 8 connect (connecting needs no descriptor): the server's accept must fail with
// EMFILE while they wait in the backlog. Then the descriptors are freed: every one of the 8
// must be served.
zokio::task<long> exhaust(tcp::endpoint ep, server_state& st, int extra) {
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  int used = 0;
  for (int fd = 0; fd < 4096; ++fd) used += ::fcntl(fd, F_GETFD) != -1;
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(used + extra);
  STRESS_CHECK(::setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit");
  std::vector<tcp::socket> held;
  for (int i = 0; i < 8; ++i) {
    held.emplace_back(*client_ex);
    held.back().open(tcp::v4());
  }
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  STRESS_CHECK(errno == EMFILE, "filling the descriptor table: %s", std::strerror(errno));
  const long errors_before = st.accept_errors.load();
  for (auto& s : held) {
    auto r = co_await zokio::timeout(s.async_connect(ep, zokio::use_future), 2s);
    STRESS_CHECK(r && r->has_value(), "connect with the descriptor table full");
  }
  const auto t0 = stress::clock::now();
  while (st.accept_errors.load() == errors_before && stress::since(t0) < 5) co_await zokio::sleep(2ms);
  const bool saw_emfile = st.accept_errors.load() > errors_before;
  for (int fd : filler) ::close(fd);
  STRESS_CHECK(::setrlimit(RLIMIT_NOFILE, &old) == 0, "setrlimit restore");
  STRESS_CHECK(saw_emfile, "the server's accept did not fail with the descriptor table full");
  for (auto& s : held) {
    char out[8] = "1234567", in[8] = {};
    auto w = co_await zokio::timeout(asio::async_write(s, asio::buffer(out), zokio::use_future), 5s);
    STRESS_CHECK(w && w->has_value(), "write after exhaustion");
    auto r = co_await zokio::timeout(asio::async_read(s, asio::buffer(in), zokio::use_future), 5s);
    STRESS_CHECK(r && r->has_value() && std::memcmp(in, out, 8) == 0,
                 "a client that waited in the backlog during EMFILE was not served");
  }
  co_return static_cast<long>(held.size());
}

zokio::task<long> client_round(tcp::endpoint ep, server_state& st, int round) {
  long done = 0;
  {
    const int conns = 200 / D + 8, trips = 50;
    std::vector<zokio::join_handle<long>> hs;
    for (int c = 0; c < conns; ++c)
      hs.push_back(zokio::spawn(well_behaved(ep, static_cast<unsigned>(round * 1000 + c), trips)));
    for (auto& h : hs) done += co_await std::move(h) > 0;
  }
  co_await hostile(ep, 20 / D + 2);
  {
    std::vector<zokio::join_handle<long>> hs;
    for (int i = 0; i < 4; ++i) hs.push_back(zokio::spawn(bulk(ep, (16L << 20) / D)));
    for (auto& h : hs) co_await std::move(h);
  }
  done += co_await exhaust(ep, st, 64);
  co_return done;
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = stress::parse(argc, argv, "stress_network");
  server_state st;
  zokio::runtime server_rt = zokio::runtime::builder().worker_threads(opt.workers).build();
  zokio::runtime client_rt = zokio::runtime::builder().worker_threads(1).build();
  zokio::executor cex = client_rt.get_executor();
  client_ex = &cex;
  tcp::acceptor acceptor(server_rt.get_executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  acceptor.listen(1024);
  const tcp::endpoint ep = acceptor.local_endpoint();
  auto server = server_rt.spawn(accept_loop(st, acceptor));

  const auto t0 = stress::clock::now();
  int rounds = 0;
  do {
    const auto r0 = stress::clock::now();
    const long conns = client_rt.block_on(client_rt.spawn(client_round(ep, st, rounds)));
    // Every connection of the round closed on the server side too.
    const auto settle = stress::clock::now();
    while (st.open.load() != 0 && stress::since(settle) < 10) std::this_thread::sleep_for(1ms);
    STRESS_CHECK(st.open.load() == 0, "%ld server connections still open 10 s after round %d", st.open.load(),
                 rounds + 1);
    ++rounds;
    std::printf("round %d: %ld connections checked, %ld accepted in all, %ld accept errors (EMFILE) in all, "
                "%.2f s, rss %ld KiB\n",
                rounds, conns, st.accepted.load(), st.accept_errors.load(), stress::since(r0), stress::rss_kib());
    std::fflush(stdout);
  } while (stress::since(t0) < opt.seconds);

  // Shutdown while the accept is pending: closing the acceptor ends the loop.
  server_rt.block_on([&]() -> zokio::task<void> {
    acceptor.close();
    co_return;
  }());
  server_rt.block_on(std::move(server));
  std::printf("stress_network: %d rounds, %ld connections, %.1f MiB echoed in %.1f s on %u workers: ok\n", rounds,
              st.accepted.load(), static_cast<double>(st.echoed.load()) / (1 << 20), stress::since(t0), opt.workers);
  return 0;
}
