// Built against an installed Zokio: spawns a coroutine and checks its result.
#include <zokio/zokio.hpp>

zokio::task<int> answer() {
  co_await zokio::yield_now{};
  co_return 42;
}

int main() {
  zokio::runtime rt(zokio::runtime::builder().worker_threads(2).build());
  return rt.block_on(rt.spawn(answer())) == 42 ? 0 : 1;
}
