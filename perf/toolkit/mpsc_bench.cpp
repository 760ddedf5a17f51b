// perf_mpsc: zokio::mpsc throughput against asio::experimental::concurrent_channel.
//
// Workloads (1,000,000 messages of a 16-byte struct in total; the consumer checks the count
// and the order of every producer's messages):
//   bounded_1p     1 producer  -> 1 consumer, capacity 1024
//   bounded_4p     4 producers -> 1 consumer, capacity 1024 (250,000 each)
//   unbounded_1p   1 producer  -> 1 consumer, unbounded
//   unbounded_4p   4 producers -> 1 consumer, unbounded
//
// Setups, 2 threads each:
//   zokio          zokio::mpsc on a 2-worker runtime; producers and consumer are spawned
//                  zokio::task coroutines: co_await tx.send(m) (bounded), tx.send(m)
//                  (unbounded), co_await rx.recv().
//   asio aw        concurrent_channel<void(error_code, msg)> on asio::thread_pool(2);
//                  asio::awaitable coroutines (co_spawn): co_await async_send / async_receive.
//                  "Unbounded" = a buffer of 1,000,000 (the channel has no unbounded mode).
//   asio try       the same channel, try_send / try_receive loops that fall back to
//                  async_send / async_receive only when full / empty (the fastest Asio idiom).
//
// Inside the timed region: creating the channel, spawning the coroutines (from the main
// thread), the whole transfer, and waking the main thread (Zokio: block_on on the consumer's
// join handle; Asio: a bench::event the consumer sets). The runtime and the pool are created
// once per setup.
//
// Usage: perf_mpsc [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING] [--timeout S]
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <zokio/mpsc.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace asio = boost::asio;

namespace {

constexpr unsigned kThreads = 2;
constexpr std::uint64_t kMessages = 1'000'000;
constexpr std::size_t kCapacity = 1024;

struct msg {
  std::uint64_t payload;
  std::uint32_t producer;
  std::uint32_t seq;
};
static_assert(sizeof(msg) == 16);

struct workload {
  const char* name;
  bool bounded;
  std::uint32_t producers;
};
const workload kLoads[] = {{"bounded_1p", true, 1},
                           {"bounded_4p", true, 4},
                           {"unbounded_1p", false, 1},
                           {"unbounded_4p", false, 4}};

// Per-producer order check shared by every consumer.
struct order_check {
  std::array<std::uint32_t, 4> next{};
  std::uint64_t got = 0;
  std::uint64_t sum = 0;
  bool ok = true;
  void operator()(const msg& m) noexcept {
    ok = ok && m.producer < 4 && m.seq == next[m.producer];
    ++next[m.producer];
    sum += m.payload;
    ++got;
  }
  void verify() const {
    bench::check(ok, "messages out of order or from an unknown producer");
    bench::check_eq(got, kMessages, "messages received");
    bench::check_eq(sum, kMessages * (kMessages - 1) / 2, "payload checksum");
  }
};

msg make_msg(std::uint32_t p, std::uint32_t i, std::uint32_t producers) {
  return msg{std::uint64_t(i) * producers + p, p, i};
}

// ---------------------------------------------------------------------------------------------
// Zokio

using zokio_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads}>;

zokio::task<> zk_bounded_producer(zokio::mpsc::sender<msg> tx, std::uint32_t p,
                                  std::uint32_t n, std::uint32_t producers) {
  for (std::uint32_t i = 0; i < n; ++i)
    if (!co_await tx.send(make_msg(p, i, producers))) throw bench::failure("send failed");
}

zokio::task<> zk_unbounded_producer(zokio::mpsc::unbounded_sender<msg> tx, std::uint32_t p,
                                    std::uint32_t n, std::uint32_t producers) {
  for (std::uint32_t i = 0; i < n; ++i)
    if (!tx.send(make_msg(p, i, producers))) throw bench::failure("send failed");
  co_return;
}

zokio::task<order_check> zk_consumer(zokio::mpsc::receiver<msg> rx) {
  order_check c;
  while (c.got < kMessages) {
    auto m = co_await rx.recv();
    if (!m) break;
    c(*m);
  }
  co_return c;
}

void zk_run(zokio_rt& rt, const workload& w) {
  const std::uint32_t n = static_cast<std::uint32_t>(kMessages / w.producers);
  zokio::join_handle<order_check> consumer;
  if (w.bounded) {
    auto [tx, rx] = zokio::mpsc::channel<msg>(kCapacity);
    consumer = rt.spawn(zk_consumer(std::move(rx)));
    for (std::uint32_t p = 0; p < w.producers; ++p)
      rt.spawn(zk_bounded_producer(tx, p, n, w.producers)).detach();
  } else {
    auto [tx, rx] = zokio::mpsc::unbounded_channel<msg>();
    consumer = rt.spawn(zk_consumer(std::move(rx)));
    for (std::uint32_t p = 0; p < w.producers; ++p)
      rt.spawn(zk_unbounded_producer(tx, p, n, w.producers)).detach();
  }
  rt.block_on(std::move(consumer)).verify();
}

// ---------------------------------------------------------------------------------------------
// Asio

using chan_t = asio::experimental::concurrent_channel<void(boost::system::error_code, msg)>;

struct asio_env {
  asio::thread_pool pool{kThreads};
  bench::event done;
  order_check result;
  ~asio_env() {
    pool.stop();
    pool.join();
  }
};

asio::awaitable<void> aw_producer(std::shared_ptr<chan_t> ch, std::uint32_t p, std::uint32_t n,
                                  std::uint32_t producers) {
  for (std::uint32_t i = 0; i < n; ++i)
    co_await ch->async_send(boost::system::error_code{}, make_msg(p, i, producers),
                            asio::use_awaitable);
}

asio::awaitable<void> aw_consumer(std::shared_ptr<chan_t> ch, asio_env& env) {
  order_check c;
  while (c.got < kMessages) c(co_await ch->async_receive(asio::use_awaitable));
  env.result = c;
  env.done.set();
}

asio::awaitable<void> try_producer(std::shared_ptr<chan_t> ch, std::uint32_t p, std::uint32_t n,
                                   std::uint32_t producers) {
  for (std::uint32_t i = 0; i < n; ++i) {
    msg m = make_msg(p, i, producers);
    if (!ch->try_send(boost::system::error_code{}, m))
      co_await ch->async_send(boost::system::error_code{}, m, asio::use_awaitable);
  }
}

asio::awaitable<void> try_consumer(std::shared_ptr<chan_t> ch, asio_env& env) {
  order_check c;
  while (c.got < kMessages) {
    while (c.got < kMessages &&
           ch->try_receive([&](boost::system::error_code, msg m) { c(m); })) {
    }
    if (c.got < kMessages) c(co_await ch->async_receive(asio::use_awaitable));
  }
  env.result = c;
  env.done.set();
}

void asio_run(asio_env& env, const workload& w, bool use_try) {
  const std::uint32_t n = static_cast<std::uint32_t>(kMessages / w.producers);
  env.done.reset();
  env.result = order_check{};
  auto ex = env.pool.get_executor();
  auto ch = std::make_shared<chan_t>(ex, w.bounded ? kCapacity : kMessages);
  if (use_try) {
    asio::co_spawn(ex, try_consumer(ch, env), asio::detached);
    for (std::uint32_t p = 0; p < w.producers; ++p)
      asio::co_spawn(ex, try_producer(ch, p, n, w.producers), asio::detached);
  } else {
    asio::co_spawn(ex, aw_consumer(ch, env), asio::detached);
    for (std::uint32_t p = 0; p < w.producers; ++p)
      asio::co_spawn(ex, aw_producer(ch, p, n, w.producers), asio::detached);
  }
  env.done.wait();
  env.result.verify();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (auto& w : kLoads) names.push_back(w.name);
  auto opts = bench::parse_options(argc, argv, names);

  zokio_rt rt;
  asio_env aw_env, try_env;
  bench::runner r;
  for (auto& w : kLoads) {
    r.add(w.name, "zokio", [&rt, &w] { zk_run(rt, w); });
    r.add(w.name, "asio aw", [&aw_env, &w] { asio_run(aw_env, w, false); });
    r.add(w.name, "asio try", [&try_env, &w] { asio_run(try_env, w, true); });
  }
  bool ok = r.run(opts);

  std::printf("perf_mpsc: %llu messages of %zu bytes, %u threads, median of %u samples\n",
              static_cast<unsigned long long>(kMessages), sizeof(msg), kThreads, opts.samples);
  bool all_met = true;
  for (auto& w : kLoads) {
    if (!opts.selected(w.name)) continue;
    std::printf("\n%s\n", w.name);
    r.print_table(w.name);
    const bench::summary* z = r.result(w.name, "zokio");
    if (!z) continue;
    std::printf("  zokio: %.1f M msg/s\n", kMessages / z->median / 1e6);
    for (const char* base : {"asio aw", "asio try"})
      if (const bench::summary* a = r.result(w.name, base))
        all_met &= bench::print_target(std::string(base) + " / zokio", bench::ratio(*a, *z), 1.0);
  }
  std::printf("\nall targets %s\n", all_met ? "MET" : "NOT MET");
  return ok ? 0 : 1;
}
