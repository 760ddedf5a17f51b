// Guide example (doc/scopes.md): a structured scope, a join_set, and a task-local value.
#include <zokio/join_set.hpp>
#include <zokio/runtime.hpp>
#include <zokio/task.hpp>
#include <zokio/task_local.hpp>
#include <zokio/task_scope.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

inline zokio::task_local<std::string> request;  // one value per request, not per thread

zokio::task<void> count_words(const std::string& text, int& out) {
  co_await zokio::yield_now{};
  out = 1;
  for (char c : text) out += c == ' ';
  std::printf("[%s] %d words\n", request.get().c_str(), out);
}

zokio::task<int> fetch(int id) {
  co_await zokio::yield_now{};
  if (id == 3) throw std::runtime_error("fetch 3 failed");
  co_return id * 10;
}

zokio::task<int> handle() {
  // 1. A scope: children borrow `a`, `b` and the strings; the co_await returns when both are
  //    done, or rethrows the first exception after cancelling the other child.
  std::string s1 = "the quick brown fox", s2 = "jumps";
  int a = 0, b = 0;
  co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
    s.spawn(count_words(s1, a));
    s.spawn(count_words(s2, b));
    co_return;
  });

  // 2. A join_set: spawned tasks (in parallel, owning their data), joined as they finish.
  zokio::join_set<int> set;
  for (int id = 1; id <= 4; ++id) set.spawn(fetch(id));
  int sum = 0, failed = 0;
  while (!set.empty()) {
    try {
      if (auto v = co_await set.join_next()) sum += *v;
    } catch (const std::exception& e) {
      ++failed;  // one task's error; the others are still joined
      std::printf("[%s] %s\n", request.get().c_str(), e.what());
    }
  }
  std::printf("[%s] words %d + %d, sum %d, failed %d\n", request.get().c_str(), a, b, sum, failed);
  co_return a + b + sum + failed;  // 4 + 1 + 70 + 1
}

int main() {
  zokio::runtime rt = zokio::runtime::builder().worker_threads(2).build();
  // 3. The task-local value is set for every poll of handle(), on whichever worker runs it.
  int r = rt.block_on(rt.spawn(request.scope("req-1", handle())));
  return r == 76 ? 0 : 1;
}
