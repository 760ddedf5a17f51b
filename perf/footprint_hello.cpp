// The smallest Zokio program (spawn one task, block on it), built once per feature set by
// perf/CMakeLists.txt and linked with --gc-sections: perf/footprint.sh compares their code
// size and symbols, showing what each compile-time feature of runtime_config adds (a feature
// turned off leaves no code behind). ZOKIO_FOOTPRINT: 0 every feature off; 1 work stealing,
// 2 the LIFO slot, 3 NUMA placement, 4 metrics, each alone; 5 all four; 6 every feature off
// and the I/O driver too (the others have it: it is on by default).
// All are instantiated in this program (ZOKIO_NO_EXTERN_SCHEDULER), so they compare alike.
#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

#include <cstdio>

#if !defined(ZOKIO_FOOTPRINT)
#define ZOKIO_FOOTPRINT 0
#endif
constexpr int variant = ZOKIO_FOOTPRINT;

using runtime_t = zokio::basic_runtime<zokio::runtime_config{
    .enable_work_stealing = variant == 1 || variant == 5,
    .enable_metrics = variant == 4 || variant == 5,
    .numa_aware = variant == 3 || variant == 5,
    .enable_lifo_slot = variant == 2 || variant == 5,
    .enable_io_driver = variant != 6}>;

zokio::task<int> answer() { co_return 42; }

int main() {
  runtime_t rt;
  const int v = rt.block_on(rt.spawn(answer()));
  std::printf("hello from a zokio task: %d\n", v);
  return v == 42 ? 0 : 1;
}
