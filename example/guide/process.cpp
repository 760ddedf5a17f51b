// Guide example (doc/process.md): child processes on the runtime. Runs `sort` with its stdin
// and stdout piped (lines written from one side, read back line by line on the other),
// collects the output of a shell command, and gives up on a `sleep` after 100 ms: dropping the
// child kills and reaps it.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <zokio/io.hpp>
#include <zokio/process.hpp>
#include <zokio/zokio.hpp>

using namespace std::chrono_literals;
namespace zp = zokio::process;

zokio::task<int> run() {
  // 1. A filter: write lines to sort's stdin, close it, read the sorted lines back.
  auto sort = zp::command("sort").std_in(zp::stdio::piped).std_out(zp::stdio::piped).spawn();
  const std::string input = "pear\napple\nfig\n";
  auto written = co_await zokio::io::write_all(*sort.in, boost::asio::buffer(input));
  sort.in.reset();  // end of input: sort can answer
  zokio::io::buffered_reader lines(std::move(*sort.out));
  std::vector<std::string> sorted;
  for (;;) {
    auto line = co_await lines.read_line();
    if (!line || !*line) break;
    sorted.push_back(**line);
  }
  auto sort_status = co_await sort.wait();
  std::printf("sort: %s %s %s (exit %d)\n", sorted.at(0).c_str(), sorted.at(1).c_str(),
              sorted.at(2).c_str(), sort_status->code().value_or(-1));

  // 2. Everything a command prints, and how it ended.
  auto out = co_await zp::command("sh").arg("-c").arg("echo to stdout; echo to stderr >&2; exit 4").collect_output();
  std::printf("sh: stdout %zu bytes, stderr %zu bytes, exit %d\n", out->out.size(), out->err.size(),
              out->status.code().value_or(-1));

  // 3. A child that takes too long: the timeout drops the wait, then the child goes.
  int pid = 0;
  {
    auto slow = zp::command("sleep").arg("10").spawn();
    pid = slow.id();
    auto waited = co_await zokio::timeout(slow.wait(), 100ms);
    std::printf("sleep 10: %s after 100 ms; dropping it kills and reaps it\n",
                waited ? "ended" : "still running");
  }
  std::printf("pid %d reaped: %s\n", pid, ::waitpid(pid, nullptr, WNOHANG) == -1 ? "yes" : "no");

  co_return written && sorted == std::vector<std::string>{"apple", "fig", "pear"} &&
                    out->status.code() == 4 && out->err == "to stderr\n"
                ? 0
                : 1;
}

int main() {
  zokio::runtime rt;
  return rt.block_on(run());
}
