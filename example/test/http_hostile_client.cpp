// http_hostile_client: hostile clients against example/http_server, for its integration test
// (example/test/http_hostile_test.sh; issue 14, point 6). One mode per run:
//
//   --slowloris N   N connections each sending one header byte per second; every one must be
//                   closed by the server within --deadline S (its header deadline + margin),
//                   and a well-behaved keep-alive client's p99 latency meanwhile (a request
//                   every ~2 ms) is compared with its p99 just before at the same pace
//                   (printed; checked within 2x + 5 ms: see below)
//   --never-read N  N connections pipelining --requests R requests each and never reading the
//                   answers; the server's resident set (--server-pid) must grow by less than
//                   --max-rss-mib; afterwards the server must still answer
//   --emfile N      (server started with a low descriptor limit) N connections held open, more
//                   than the server can accept: the ones it accepted are still served while it
//                   is out of descriptors, and once they are closed every other is served
//
// Exit status 0: the checks held (a line says what was measured); 1: a check failed.
// Plain Asio on one thread: the client must not depend on the runtime under test.
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct options {
  unsigned short port = 0;
  int slowloris = 0, never_read = 0, emfile = 0;
  int requests = 1000;
  double deadline = 5;
  long server_pid = 0;
  long max_rss_mib = 64;
  double p99_slack_ms = 5.0;  // --p99-slack-ms: see the slowloris check
};

[[noreturn]] void fail(const char* fmt, const std::string& detail = "") {
  std::fprintf(stderr, "http_hostile_client: FAILED: %s%s%s\n", fmt, detail.empty() ? "" : ": ", detail.c_str());
  std::exit(1);
}

void raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = std::min<rlim_t>(r.rlim_max, 65536);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

const std::string kGet = "GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n";

// One request on a keep-alive connection, synchronously; returns the latency, throws on error.
std::chrono::microseconds round_trip(tcp::socket& s, asio::streambuf& buf) {
  const auto t0 = clock_type::now();
  asio::write(s, asio::buffer(kGet));
  asio::read_until(s, buf, "\r\n\r\n");
  // The body: Content-Length from the header (the answer is small).
  std::string head(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  const auto end = head.find("\r\n\r\n") + 4;
  const auto cl = head.find("Content-Length: ");
  const std::size_t len = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 16, nullptr, 10);
  if (buf.size() < end + len) asio::read(s, buf, asio::transfer_exactly(end + len - buf.size()));
  buf.consume(end + len);
  if (head.rfind("HTTP/1.1 200", 0) != 0) fail("well-behaved request not answered 200", head.substr(0, 40));
  return std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0);
}

double pct_ms(std::vector<std::chrono::microseconds> v, std::size_t pct) {
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[v.size() * pct / 100].count()) / 1000.0;
}
double p99_ms(std::vector<std::chrono::microseconds> v) { return pct_ms(std::move(v), 99); }

tcp::endpoint server(const options& o) { return {asio::ip::address_v4::loopback(), o.port}; }

// --- slowloris ----------------------------------------------------------------------------------

int slowloris(const options& o) {
  asio::io_context ioc;
  // Baseline: a keep-alive client's latency with nothing else going on.
  tcp::socket good(ioc);
  good.connect(server(o));
  good.set_option(tcp::no_delay(true));
  asio::streambuf gbuf;
  std::vector<std::chrono::microseconds> before, during;
  // Paced as the client is during the attack (a request every ~2 ms, the loop below): back to
  // back, the server's worker never parks between requests, while a 2 ms gap lets every thread
  // on both sides sleep, and each request then pays the wake-ups (tens of microseconds on a
  // VM). The back-to-back figure is printed too, for reference.
  std::vector<std::chrono::microseconds> hot;
  for (int i = 0; i < 500; ++i) hot.push_back(round_trip(good, gbuf));
  for (int i = 0; i < 1000; ++i) {
    std::this_thread::sleep_for(2ms);
    before.push_back(round_trip(good, gbuf));
  }

  struct loris {
    tcp::socket s;
    std::size_t sent = 0;
    bool closed = false;
    double closed_after = 0;
    std::array<char, 512> in;
  };
  const std::string header = "GET / HTTP/1.1\r\nHost: slow\r\nX-Pad: " + std::string(200, 'p') + "\r\n\r\n";
  std::vector<std::unique_ptr<loris>> conns;
  const auto t0 = clock_type::now();
  for (int i = 0; i < o.slowloris; ++i) {
    auto l = std::make_unique<loris>(loris{tcp::socket(ioc)});
    l->s.connect(server(o));
    conns.push_back(std::move(l));
  }
  // One byte per connection per second, and a read pending on each to see the close (a 408,
  // then end of file).
  int open = o.slowloris;
  std::function<void(loris*)> arm_read = [&](loris* l) {
    l->s.async_read_some(asio::buffer(l->in), [&, l](boost::system::error_code ec, std::size_t) {
      if (!ec) return arm_read(l);
      l->closed = true;
      l->closed_after = std::chrono::duration<double>(clock_type::now() - t0).count();
      --open;
    });
  };
  for (auto& l : conns) arm_read(l.get());
  // Spread over the second, as an attacker would: every 10 ms a hundredth of the connections
  // send their next byte.
  asio::steady_timer tick(ioc);
  std::size_t slot = 0;
  std::function<void()> drip = [&] {
    for (std::size_t i = slot % 100; i < conns.size(); i += 100) {
      auto& l = conns[i];
      if (!l->closed && l->sent < header.size()) {
        boost::system::error_code ec;
        l->s.write_some(asio::buffer(&header[l->sent++], 1), ec);
      }
    }
    ++slot;
    tick.expires_after(10ms);
    tick.async_wait([&](boost::system::error_code) {
      if (open > 0 && std::chrono::duration<double>(clock_type::now() - t0).count() < o.deadline + 5) drip();
    });
  };
  drip();
  // Meanwhile the well-behaved client, between the event loop's turns.
  while (open > 0 && std::chrono::duration<double>(clock_type::now() - t0).count() < o.deadline + 5) {
    ioc.run_for(2ms);
    during.push_back(round_trip(good, gbuf));
  }
  tick.cancel();
  ioc.run_for(100ms);
  double last = 0;
  int closed = 0;
  for (auto& l : conns) {
    closed += l->closed;
    last = std::max(last, l->closed_after);
  }
  const double pb = p99_ms(before), pd = p99_ms(during);
  std::printf("slowloris: %d of %d connections closed by the server, the last after %.2f s (deadline %.1f s); "
              "well-behaved p99 %.3f ms before (paced; %.3f ms back to back), %.3f ms during (%zu requests)\n",
              closed, o.slowloris, last, o.deadline, pb, p99_ms(hot), pd, during.size());
  std::printf("slowloris: well-behaved p50 %.3f ms before, %.3f ms during\n", pct_ms(before, 50), pct_ms(during, 50));
  if (closed != o.slowloris) fail("slow connections left open past the deadline");
  if (last > o.deadline) fail("a slow connection outlived the deadline");
  // The strict figure (2x) is printed; the check allows 5 ms more (--p99-slack-ms), because a
  // p99 of 50-100 us on a shared 2-vCPU machine moves by milliseconds with whatever else runs
  // (CI builds), and more against an unoptimised sanitizer build of the server. A server that
  // a slow client could stall would be seconds off.
  std::printf("slowloris: p99 during / before = %.2fx (%s 2x)\n", pd / pb, pd <= 2 * pb ? "within" : "NOT within");
  if (pd > 2 * pb + o.p99_slack_ms) fail("the well-behaved client's p99 grew by more than 2x + the slack");
  return 0;
}

// --- never-read ---------------------------------------------------------------------------------

long rss_kib(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

int never_read(const options& o) {
  if (!o.server_pid) fail("--never-read needs --server-pid");
  asio::io_context ioc;
  const long before = rss_kib(o.server_pid);
  std::string pipeline;
  for (int i = 0; i < o.requests; ++i) pipeline += kGet;
  std::vector<tcp::socket> conns;
  long peak = before;
  for (int i = 0; i < o.never_read; ++i) {
    tcp::socket s(ioc);
    s.connect(server(o));
    s.non_blocking(true);
    boost::system::error_code ec;
    s.write_some(asio::buffer(pipeline), ec);  // as much as the buffers take, never read
    conns.push_back(std::move(s));
  }
  for (int i = 0; i < 20; ++i) {  // 2 s for the server to fill what it can
    std::this_thread::sleep_for(100ms);
    peak = std::max(peak, rss_kib(o.server_pid));
  }
  conns.clear();  // the clients go away
  std::this_thread::sleep_for(200ms);
  tcp::socket good(ioc);
  good.connect(server(o));
  asio::streambuf buf;
  round_trip(good, buf);
  std::printf("never-read: %d connections x %d pipelined requests, never read: server RSS %ld KiB before, "
              "peak %ld KiB (+%ld KiB); answers a new client afterwards\n",
              o.never_read, o.requests, before, peak, peak - before);
  // 0: report only (a sanitizer build's server: ASan's quarantine keeps freed memory resident).
  if (o.max_rss_mib > 0 && peak - before > o.max_rss_mib * 1024) fail("the server's memory grew past the bound");
  return 0;
}

// --- emfile -------------------------------------------------------------------------------------

int emfile(const options& o) {
  asio::io_context ioc;
  // Connect N; each sends a request; the answered ones are the accepted ones.
  std::vector<tcp::socket> conns;
  for (int i = 0; i < o.emfile; ++i) {
    tcp::socket s(ioc);
    s.connect(server(o));
    asio::write(s, asio::buffer(kGet));
    conns.push_back(std::move(s));
  }
  // Which ones were answered within 1 s (the server is out of descriptors for the rest)?
  std::vector<bool> answered(conns.size());
  std::vector<std::array<char, 1024>> bufs(conns.size());
  for (std::size_t i = 0; i < conns.size(); ++i)
    conns[i].async_read_some(asio::buffer(bufs[i]), [&, i](boost::system::error_code ec, std::size_t) {
      answered[i] = !ec;
    });
  ioc.run_for(1500ms);
  const auto n_answered = std::count(answered.begin(), answered.end(), true);
  if (n_answered == 0) fail("no connection was served while the server had descriptors left");
  if (n_answered == o.emfile) fail("every connection was served: the server never ran out of descriptors");
  // Closing the served ones frees the server's descriptors: every other must now be served
  // (its read from above is still pending; the server backs off 100 ms per accept error).
  for (std::size_t i = 0; i < conns.size(); ++i)
    if (answered[i]) conns[i].close();
  const auto until = clock_type::now() + 10s;
  while (std::count(answered.begin(), answered.end(), true) < o.emfile && clock_type::now() < until)
    ioc.run_for(50ms);
  for (std::size_t i = 0; i < conns.size(); ++i)
    if (!answered[i] || std::strncmp(bufs[i].data(), "HTTP/1.1 200", 12) != 0)
      fail("a connection that waited through EMFILE was not served");
  std::printf("emfile: %d connections; %ld served while the server had descriptors, the other %ld served "
              "after the first were closed\n",
              o.emfile, static_cast<long>(n_answered), static_cast<long>(o.emfile - n_answered));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--port") o.port = static_cast<unsigned short>(std::atoi(v));
    else if (a == "--slowloris") o.slowloris = std::atoi(v);
    else if (a == "--never-read") o.never_read = std::atoi(v);
    else if (a == "--emfile") o.emfile = std::atoi(v);
    else if (a == "--requests") o.requests = std::atoi(v);
    else if (a == "--deadline") o.deadline = std::atof(v);
    else if (a == "--server-pid") o.server_pid = std::atol(v);
    else if (a == "--max-rss-mib") o.max_rss_mib = std::atol(v);
    else if (a == "--p99-slack-ms") o.p99_slack_ms = std::atof(v);
    else fail("unknown option", a);
  }
  if (!o.port || (o.slowloris > 0) + (o.never_read > 0) + (o.emfile > 0) != 1) {
    std::fprintf(stderr, "usage: %s --port P (--slowloris N [--deadline S] [--p99-slack-ms M] | --never-read N [--requests R] "
                         "--server-pid PID [--max-rss-mib M] | --emfile N)\n", argv[0]);
    return 2;
  }
  raise_fd_limit();
  try {
    if (o.slowloris) return slowloris(o);
    if (o.never_read) return never_read(o);
    return emfile(o);
  } catch (const std::exception& e) {
    fail("exception", e.what());
  }
}
