// Guide example (doc/cancellation.md): one cancellation_token stops a tree of work: a ticker
// under run_until_cancelled, a join_set of workers through on_cancel, and a child token's
// own loop that waits in select.
#include <chrono>
#include <cstdio>

#include <zokio/cancellation_token.hpp>
#include <zokio/join_set.hpp>
#include <zokio/select.hpp>
#include <zokio/zokio.hpp>

using namespace std::chrono_literals;

zokio::task<int> ticker() {
  int ticks = 0;
  for (;;) {
    co_await zokio::sleep(2ms);
    ++ticks;
  }
  co_return ticks;  // never: the token stops it
}

zokio::task<int> poller(zokio::cancellation_token stop) {
  int rounds = 0;
  for (;;) {
    auto v = co_await zokio::select(zokio::sleep(1ms), stop.cancelled());
    if (v.index() == 1) co_return rounds;  // cancelled: leave cleanly
    ++rounds;
  }
}

zokio::task<int> run() {
  zokio::cancellation_token shutdown;
  auto child = shutdown.child_token();  // cancelled with shutdown, and on its own if need be

  auto tick = zokio::spawn(shutdown.run_until_cancelled(ticker()));
  auto poll = zokio::spawn(poller(child));
  zokio::join_set<int> workers;
  for (int i = 0; i < 4; ++i)
    workers.spawn([]() -> zokio::task<int> {
      co_await zokio::sleep(1h);  // long work: aborted by the token
      co_return 1;
    }());
  auto reg = shutdown.on_cancel([&]() noexcept { workers.abort_all(); });

  co_await zokio::sleep(20ms);
  shutdown.cancel();  // from here on everything above ends

  auto t = co_await std::move(tick);  // result<int>: operation_aborted
  std::printf("ticker: %s\n", t ? "finished" : t.error().message().c_str());
  std::printf("poller: left after %s rounds\n", (co_await std::move(poll)) > 0 ? "some" : "no");
  int aborted = 0;
  for (;;) {
    try {
      if (!co_await workers.join_next()) break;
    } catch (const zokio::join_error&) {
      ++aborted;
    }
  }
  std::printf("workers aborted: %d of 4\n", aborted);
  std::printf("a token made now is %s\n",
              shutdown.child_token().is_cancelled() ? "cancelled (sticky)" : "live");
  co_return aborted == 4 && !t ? 0 : 1;
}

int main() {
  zokio::runtime rt;
  return rt.block_on(run());
}
