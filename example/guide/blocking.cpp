// guide_blocking: spawn_blocking keeps blocking calls (file I/O, a C library, a slow hash)
// off the async workers. Quoted by doc/blocking.md.
#include <zokio/zokio.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Stands in for any call that blocks its thread: a synchronous read, a database driver, ...
std::string slow_lookup(int key) {
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (key < 0) throw std::invalid_argument("negative key");
  return "value-" + std::to_string(key);
}

zokio::task<int> handle_requests() {
  // Eight blocking calls at once, each on a pool thread; the workers stay free meanwhile.
  std::vector<zokio::blocking_handle<std::string>> pending;
  for (int key = 0; key < 8; ++key)
    pending.push_back(zokio::spawn_blocking([key] { return slow_lookup(key); }));
  int found = 0;
  for (auto& h : pending) found += (co_await std::move(h)).starts_with("value-");

  // An exception thrown by the blocking call is rethrown at the co_await.
  try {
    co_await zokio::spawn_blocking([] { return slow_lookup(-1); });
  } catch (const std::invalid_argument& e) {
    std::printf("lookup failed: %s\n", e.what());
  }
  co_return found;
}

int main() {
  // At most 16 blocking threads; idle ones exit after 2 s (defaults: 512 and 10 s).
  auto rt = zokio::runtime::builder()
                .worker_threads(2)
                .max_blocking_threads(16)
                .thread_keep_alive(std::chrono::seconds(2))
                .build();
  int found = rt.block_on(rt.spawn(handle_requests()));
  std::printf("%d lookups done off the workers\n", found);
  return found == 8 ? 0 : 1;
}
