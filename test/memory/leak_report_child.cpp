// The child process of leak_report_test.cpp: a program that deliberately leaks a task waker.
//
// It is built with ZOKIO_DEBUG_ALLOC=1 in every translation unit, zokio/src.cpp included (see
// the end of test/CMakeLists.txt), so the scheduler's destructor prints the leak report
// ("zokio: leak report: ...") when the runtime goes away with something still live.
//
// Usage: leak_report_child [coro|hand|none]
//   coro  (default) a zokio::task coroutine clones its waker into a heap object that is never
//         freed: the report names the waker and the task's block (category frame);
//   hand  the same from a hand-written future (category task);
//   none  the control: the clone is dropped, nothing is reported.
// Exits 0 after the runtime is destroyed (1 on a usage error or when the task did not run).
// Under LeakSanitizer this program really leaks; its parent runs it with detect_leaks=0.
#include <cstdio>
#include <cstring>

#include <zokio/allocation.hpp>
#include <zokio/runtime.hpp>
#include <zokio/task.hpp>

static_assert(ZOKIO_DEBUG_ALLOC, "leak_report_child must be built with ZOKIO_DEBUG_ALLOC=1");

namespace {

bool g_leak = true;

void take_waker(zokio::context& cx) {
  auto* w = new zokio::waker(cx.waker());  // one more reference to this task
  if (g_leak) return;                      // deliberately never freed
  delete w;
}

zokio::task<int> leaking_coro() {
  struct grab {
    using output = void;
    grab() noexcept {}
    zokio::poll<void> poll(zokio::context& cx) {
      take_waker(cx);
      return zokio::ready();
    }
  };
  co_await grab();
  co_return 7;
}

struct leaking_future {
  using output = int;
  zokio::poll<int> poll(zokio::context& cx) {
    take_waker(cx);
    return zokio::ready(7);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "coro";
  const bool hand = std::strcmp(mode, "hand") == 0;
  if (std::strcmp(mode, "none") == 0)
    g_leak = false;
  else if (!hand && std::strcmp(mode, "coro") != 0) {
    std::fprintf(stderr, "usage: %s [coro|hand|none]\n", argv[0]);
    return 1;
  }
  int v = 0;
  {
    auto rt = zokio::runtime::builder().worker_threads(1).build();
    v = hand ? rt.block_on(rt.spawn(leaking_future{})) : rt.block_on(rt.spawn(leaking_coro()));
  }  // the runtime is destroyed here: the report, if any, is printed now
  std::printf("leak_report_child: mode %s, task returned %d, live wakers %lld\n", mode, v,
              static_cast<long long>(zokio::live_wakers()));
  return v == 7 ? 0 : 1;
}
