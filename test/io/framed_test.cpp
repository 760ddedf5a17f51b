// zokio::io::framed_read / framed_write with lines_codec and length_delimited_codec: frames
// of every size round-trip through loopback TCP, limits and truncation are errors, and the
// frames stream works with the stream adapters.
#include <zokio/io/framed.hpp>  // self-contained header check

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/io.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/stream_ext.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>

#include "../support/socket_pair.hpp"
#include "../support/test_util.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> random_frames(std::size_t n, std::size_t max_len, unsigned seed, bool text) {
  std::mt19937 rng(seed);
  std::vector<std::string> v;
  for (std::size_t i = 0; i < n; ++i) {
    std::string f(rng() % (max_len + 1), '\0');
    for (auto& c : f) c = text ? static_cast<char>('a' + rng() % 26) : static_cast<char>(rng());
    v.push_back(std::move(f));
  }
  v.push_back(std::string(max_len, text ? 'm' : '\xff'));  // the largest allowed
  v.push_back("");
  return v;
}

template <class Codec>
zokio::task<void> send_all(tcp::socket& s, Codec codec, std::vector<std::string> frames) {
  zokio::io::framed_write out(s, codec, 4096);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    // Mostly feed (buffered), now and then send (feed + flush). Two statements: g++ 12
    // miscompiles a conditional expression of two futures under co_await (a bad free).
    boost::system::result<void> r;
    if (i % 7 == 0)
      r = co_await out.send(frames[i]);
    else
      r = co_await out.feed(frames[i]);
    zokio::test::must(r.has_value(), "send_all: feed/send");
  }
  auto s2 = co_await out.shutdown();
  zokio::test::must(s2.has_value(), "send_all: shutdown");
}

// Receives with a timeout around every next() that keeps expiring: nothing may be lost.
template <class Codec>
zokio::task<std::vector<std::string>> receive_all(tcp::socket& s, Codec codec, int& timeouts) {
  zokio::io::framed_read in(s, codec, 512);
  std::vector<std::string> got;
  for (;;) {
    auto f = co_await zokio::timeout(zokio::next(in), 50us);
    if (!f) {
      ++timeouts;
      continue;
    }
    if (!*f) break;
    zokio::test::must((*f)->has_value(), "receive_all: a frame, not an error");
    got.push_back(std::move(***f));
  }
  co_return got;
}

template <class Codec>
void round_trip(Codec codec, std::vector<std::string> frames) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  auto sp = zokio::test::socket_pair(rt.get_executor());
  int timeouts = 0;
  auto rx = rt.spawn(receive_all(sp.second, codec, timeouts));
  rt.block_on(rt.spawn(send_all(sp.first, codec, frames)));
  auto got = rt.block_on(std::move(rx));
  BOOST_TEST(got.size() == frames.size());
  BOOST_TEST((got == frames));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(framed_suite)

BOOST_AUTO_TEST_CASE(length_delimited_frames_round_trip) {
  round_trip(zokio::io::length_delimited_codec(20000), random_frames(400, 20000, 1, false));
}

BOOST_AUTO_TEST_CASE(line_frames_round_trip) {
  round_trip(zokio::io::lines_codec(3000), random_frames(600, 3000, 2, true));
}

BOOST_AUTO_TEST_CASE(limits_truncation_and_refused_frames) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(1).build();
  auto next_error = [&](std::string wire, auto codec) {
    auto sp = zokio::test::socket_pair(rt.get_executor());
    return rt.block_on(rt.spawn([](tcp::socket& a, tcp::socket& b, std::string wire,
                                   auto codec) -> zokio::task<boost::system::error_code> {
      co_await zokio::io::write_all(a, asio::buffer(wire));
      zokio::io::shutdown_send(a);
      zokio::io::framed_read in(b, codec);
      boost::system::error_code ec;
      while (auto f = co_await zokio::next(in))
        if (!*f) ec = f->error();
      co_return ec;  // the stream ended after the error
    }(sp.first, sp.second, std::move(wire), codec)));
  };
  BOOST_TEST((next_error(std::string("\0\0\0\x05" "abc", 7), zokio::io::length_delimited_codec()) ==
              zokio::errc::truncated_frame));
  BOOST_TEST((next_error(std::string("\0\x10\0\0", 4) + std::string(100, 'x'),
                         zokio::io::length_delimited_codec(1000)) == zokio::errc::frame_too_large));
  BOOST_TEST((next_error(std::string(5000, 'a') + "\n", zokio::io::lines_codec(100)) ==
              zokio::errc::line_too_long));
  BOOST_TEST(!next_error("last line without newline", zokio::io::lines_codec()));  // a frame

  // A frame the codec refuses is an error of that send, and nothing of it is queued.
  auto sp = zokio::test::socket_pair(rt.get_executor());
  rt.block_on(rt.spawn([](tcp::socket& a) -> zokio::task<void> {
    zokio::io::framed_write out(a, zokio::io::lines_codec(10));
    auto bad = co_await out.send(std::string(11, 'x'));
    BOOST_TEST((!bad && bad.error() == zokio::errc::line_too_long));
    BOOST_TEST(out.writer().buffered() == 0u);
    auto ok = co_await out.send("fits");
    BOOST_TEST(ok.has_value());
  }(sp.first)));
  rt.block_on(rt.spawn([](tcp::socket& b) -> zokio::task<void> {
    zokio::io::buffered_reader r(b);
    auto l = co_await r.read_line();
    BOOST_TEST((l && *l && **l == "fits"));
  }(sp.second)));
}

BOOST_AUTO_TEST_CASE(frames_with_stream_adapters) {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(1).build();
  auto sp = zokio::test::socket_pair(rt.get_executor());
  auto sum = rt.block_on(rt.spawn([](tcp::socket& a, tcp::socket& b) -> zokio::task<int> {
    auto tx = zokio::spawn(send_all(a, zokio::io::lines_codec(), {"1", "2", "x", "4", "5"}));
    zokio::io::framed_read lines(b, zokio::io::lines_codec());
    // parse, drop what is not a number, keep the first three
    auto numbers = zokio::take(
        zokio::filter(zokio::map(std::move(lines), [](const auto& l) { return l ? std::atoi(l->c_str()) : 0; }),
                      [](int v) { return v > 0; }),
        3);
    int s = 0;
    while (auto v = co_await zokio::next(numbers)) s += *v;
    co_await std::move(tx);
    co_return s;
  }(sp.first, sp.second)));
  BOOST_TEST(sum == 1 + 2 + 4);
}

BOOST_AUTO_TEST_SUITE_END()
