// The program tools/gdb/zokio.py is tested on (test/tools/gdb_zokio_test.sh): a runtime with
// the task dump, 30 tasks waiting two frames deep at known lines, then SIGTRAP, where gdb
// stops it and runs zokio-tasks. Prints the lines it expects first. Built with -g.
#include <zokio/notify.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

using rt_t = zokio::basic_runtime<zokio::runtime_config{.worker_threads = 2, .enable_task_dump = true}>;

unsigned inner_line = 0, outer_line = 0;
std::atomic<int> ready{0};

zokio::task<int> inner(zokio::notify& n) {
  auto f = n.notified();
  ready.fetch_add(1);
  inner_line = __LINE__ + 1;
  co_await f;
  co_return 1;
}

zokio::task<int> outer(zokio::notify& n) {
  outer_line = __LINE__ + 1;
  co_return co_await inner(n);
}

}  // namespace

int main() {
  rt_t rt;
  zokio::notify n;
  std::vector<zokio::join_handle<int>> hs;
  for (int i = 0; i < 30; ++i) hs.push_back(rt.spawn(outer(n), zokio::spawn_options{.name = "gdb-demo"}));
  while (ready.load() < 30) std::this_thread::yield();
  // Until every task has suspended (the counter is bumped just before the co_await).
  for (int i = 0; i < 200 && rt.dump().count(zokio::task_status::waiting) < 30; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::printf("expect inner gdb_target.cpp:%u outer gdb_target.cpp:%u\n", inner_line, outer_line);
  std::fflush(stdout);
  std::raise(SIGTRAP);  // gdb stops here
  n.notify_waiters();
  int sum = 0;
  for (auto& h : hs) sum += rt.block_on(std::move(h));
  return sum == 30 ? 0 : 1;
}
