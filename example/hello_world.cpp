// hello_world: a hand-written future and a coroutine, spawned and joined on a Zokio runtime.
#include <cstdio>

#include <zokio/zokio.hpp>

// A future written by hand: counts down, waking itself each time (like a yield).
struct countdown {
  using output = int;
  int remaining;
  zokio::poll<int> poll(zokio::context& cx) {
    if (remaining-- > 0) {
      cx.waker().wake_by_ref();
      return zokio::pending;
    }
    return zokio::ready(42);
  }
};

zokio::task<int> add(int a, int b) {
  co_await zokio::yield_now{};
  co_return a + b;
}

zokio::task<int> hello() {
  int x = co_await countdown{3};              // any future can be awaited
  auto h = zokio::spawn(add(x, 58));          // runs in parallel on another worker
  int y = co_await std::move(h);              // join_handle is a future too
  std::printf("Hello, Zokio! %d + 58 = %d\n", x, y);
  co_return y;
}

int main() {
  zokio::basic_runtime<zokio::runtime_config{.worker_threads = 2, .enable_metrics = true}> rt;
  int v = rt.block_on(rt.spawn(hello()));
  auto m = rt.metrics();
  std::printf("workers: %zu, tasks polled: %llu\n", m.workers.size(),
              static_cast<unsigned long long>(m.total_polls()));
  return v == 100 ? 0 : 1;
}
