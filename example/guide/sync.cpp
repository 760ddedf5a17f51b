// Guide example (doc/sync.md): the async locks: mutex, rwlock, semaphore, notify, barrier.
#include <cstdio>
#include <string>
#include <vector>

#include <zokio/barrier.hpp>
#include <zokio/mutex.hpp>
#include <zokio/notify.hpp>
#include <zokio/rwlock.hpp>
#include <zokio/semaphore.hpp>
#include <zokio/zokio.hpp>

zokio::task<> worker(int id, zokio::mutex<std::vector<int>>& log, zokio::semaphore& slots,
                     zokio::barrier& phase) {
  {
    auto permit = (co_await slots.acquire()).value();  // at most 2 workers in here at once
    auto entries = co_await log.lock();                // exclusive; may be held across awaits
    entries->push_back(id);
  }  // guard and permit released here, in reverse order
  auto r = co_await phase.wait();  // everyone waits for all 4
  if (r.is_leader()) std::printf("worker %d arrived last and leads the next phase\n", id);
}

zokio::task<int> run() {
  zokio::mutex<std::vector<int>> log;
  zokio::semaphore slots(2);
  zokio::barrier phase(4);
  zokio::rwlock<std::string> config("v1");
  zokio::notify updated;

  auto reader = zokio::spawn(zokio::co_invoke([&]() -> zokio::task<std::string> {
    co_await updated.notified();       // a notify_one sent before we get here is not lost
    auto cfg = co_await config.read();  // shared: many readers at once
    co_return *cfg;
  }));
  {
    auto cfg = co_await config.write();  // exclusive
    *cfg = "v2";
  }
  updated.notify_one();

  std::vector<zokio::join_handle<void>> workers;
  for (int i = 0; i < 4; ++i) workers.push_back(zokio::spawn(worker(i, log, slots, phase)));
  for (auto& w : workers) co_await std::move(w);
  std::string seen = co_await std::move(reader);

  auto entries = co_await log.lock();
  std::printf("%zu workers logged; the reader saw config %s\n", entries->size(), seen.c_str());
  co_return entries->size() == 4 && seen == "v2" ? 0 : 1;
}

int main() {
  auto rt = zokio::runtime::builder().worker_threads(2).build();
  return rt.block_on(rt.spawn(run()));
}
