// Guide example: sleep, interval and timeout (doc/time.md).
#include <zokio/zokio.hpp>
#include <zokio/time.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

zokio::task<int> guide() {
  // sleep: a future that completes after (at least) the duration.
  auto t0 = std::chrono::steady_clock::now();
  co_await zokio::sleep(10ms);

  // interval: the first tick at once, then one every 5 ms; late ticks are skipped.
  zokio::interval iv(5ms, zokio::missed_tick_behavior::skip);
  for (int i = 0; i < 3; ++i) co_await iv.tick();

  // timeout: the inner future's output as a result, or time_errc::timed_out.
  boost::system::result<void> fast = co_await zokio::timeout(zokio::sleep(1ms), 1s);
  boost::system::result<void> slow = co_await zokio::timeout(zokio::sleep(1s), 5ms);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  std::printf("slept, ticked 3 times, fast: %s, slow: %s, %lld ms\n", fast ? "ok" : "timed out",
              slow ? "ok" : slow.error().message().c_str(), static_cast<long long>(ms));
  co_return fast.has_value() && slow.error() == zokio::time_errc::timed_out ? 0 : 1;
}

int main() {
  zokio::runtime rt;
  return rt.block_on(rt.spawn(guide()));
}
