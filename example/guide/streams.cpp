// Guide example (doc/streams.md): an async generator, adapters, and buffered futures.
#include <zokio/async_generator.hpp>
#include <zokio/runtime.hpp>
#include <zokio/stream_ext.hpp>
#include <zokio/task.hpp>

#include <cstdio>

// A generator: co_awaits any future, co_yields values, runs only when asked for the next one.
zokio::async_generator<int> numbers(int n) {
  for (int i = 1; i <= n; ++i) {
    co_await zokio::yield_now{};  // stands for real waiting: a timer, a socket read
    co_yield i;
  }
}

// Some work that takes a while (here: a few polls).
zokio::task<int> square_later(int v) {
  for (int i = 0; i < v % 3; ++i) co_await zokio::yield_now{};
  co_return v * v;
}

zokio::task<int> run() {
  // odd numbers -> a future each -> at most 4 running at a time, results in order -> first 5
  auto odd = zokio::filter(numbers(100), [](int v) { return v % 2 == 1; });
  auto squares = zokio::take(zokio::buffered(zokio::map(std::move(odd), square_later), 4), 5);
  int sum = 0;
  while (auto v = co_await zokio::next(squares)) {
    std::printf("%d ", *v);
    sum += *v;
  }
  std::printf("\nsum = %d\n", sum);  // 1 + 9 + 25 + 49 + 81 = 165
  co_return sum;
}

int main() {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  return rt.block_on(rt.spawn(run())) == 165 ? 0 : 1;
}
