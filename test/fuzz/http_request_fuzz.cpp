// Fuzz target: the HTTP server example's request path. The input is what a client sends on one
// connection; it goes through Beast's request parser with the server's limits and, request
// after request (pipelining), through the application's routing (example/http_server.hpp,
// the code the server runs) on a Zokio runtime, as session() does minus the socket. Checked:
// nothing crashes, leaks or trips UBSan; every answer is a valid status with a body that
// matches its Content-Length; a parse error maps to 400/408/413/431 or to no answer at all.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/json/src.hpp>  // Boost.JSON header-only: this program is one translation unit

#include "http_server.hpp"

namespace {

using namespace http_example;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_request_fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

// One runtime and one server for the whole run (as in the server: one per process), with a
// small static root so that /static/ reads real files.
struct app {
  fs::path root;
  runtime rt = runtime::builder().worker_threads(1).build();
  server s;
  app() {
    char tmpl[] = "/tmp/zokio-http-fuzz-XXXXXX";
    check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    root = tmpl;
    fs::create_directories(root / "sub");
    std::ofstream(root / "index.html") << "<h1>hi</h1>\n";
    std::ofstream(root / "sub" / "a.txt") << "static hello\n";
    s.cfg.root = root.string();
    s.cfg.log = false;
    s.cfg.body_limit = 4096;  // small limits: the 413 and 431 paths are reached often
    s.cfg.header_limit = 2048;
    s.rt = http_example::view_of(rt);
  }
  ~app() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

app& the_app() {
  static app a;
  return a;
}

void check_response(const response& res, bool head) {
  const unsigned code = res.result_int();
  check(code >= 200 && code < 600, "status 2xx-5xx");
  const auto len = res[http::field::content_length];
  if (!head) check(len == std::to_string(res.body().size()), "Content-Length matches the body");
  std::ostringstream wire;
  wire << res;  // Beast's serializer over the whole answer
  check(wire.str().starts_with("HTTP/1."), "serialized status line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  app& a = the_app();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int served = 0; served < 64; ++served) {  // a connection's requests, in order
    http::request_parser<http::string_body> parser;
    apply_limits(a.s.cfg, parser);
    boost::system::error_code ec;
    while (!parser.is_done()) {
      if (in.empty()) {  // the client closed: what the parser makes of the end of the stream
        parser.put_eof(ec);
        break;
      }
      const std::size_t n = parser.put(asio::buffer(in.data(), in.size()), ec);
      in.remove_prefix(n);
      if (ec == http::error::need_more) {
        ec = {};
        if (n == 0) in = {};  // it needs more than the rest: the stream ends here
        continue;
      }
      if (ec) break;
    }
    if (ec || !parser.is_done()) {
      const http::status st = status_for(ec ? ec : make_error_code(http::error::partial_message), parser.got_some());
      if (st != http::status::unknown) {
        const unsigned c = static_cast<unsigned>(st);
        check(c == 400 || c == 408 || c == 413 || c == 431, "a parse error answers 400/408/413/431");
        request none;
        none.version(11);
        check_response(error_response(none, st), false);
      }
      return 0;
    }
    const request req = parser.release();
    const response res = a.rt.block_on(a.rt.spawn(answer(a.s, req)));
    check_response(res, req.method() == http::verb::head);
    if (!res.keep_alive() || in.empty()) return 0;
  }
  return 0;
}
