// Guide example (doc/shutdown.md): a graceful shutdown. Workers are tracked; on Ctrl-C (or
// after 300 ms, so that the example ends by itself) the drain cancels the tracker's token,
// waits up to 200 ms for the workers, and names the one that did not stop.
#include <chrono>
#include <cstdio>

#include <zokio/zokio.hpp>

using namespace std::chrono_literals;

// A well-behaved job: finishes its current step when asked to stop.
zokio::task<void> job(zokio::cancellation_token stop) {
  while (!stop.is_cancelled()) co_await zokio::select(zokio::sleep(5ms), stop.cancelled());
  co_await zokio::sleep(10ms);  // finish the step in flight
}

// A job that ignores the token: the drain reports it.
zokio::task<void> stubborn() { co_await zokio::sleep(1h); }

zokio::task<int> run() {
  zokio::task_tracker tracker;
  for (int i = 0; i < 3; ++i) tracker.spawn(job(tracker.token()), {.name = "job"}).detach();
  tracker.spawn(stubborn(), {.name = "stubborn"}).detach();

  auto why = co_await zokio::select(zokio::signal::ctrl_c(), zokio::sleep(300ms));
  std::printf("%s: draining %zu tasks\n", why.index() == 0 ? "ctrl-c" : "time is up", tracker.live());
  auto report = co_await tracker.drain(200ms);
  std::printf("finished during the drain: %zu; still running:\n%s", report.finished,
              report.to_string().c_str());
  co_return report.finished == 3 && report.stragglers.size() == 1 ? 0 : 1;
}

int main() {
  zokio::runtime rt;
  return rt.block_on(run());  // the runtime's destruction then ends the straggler
}
