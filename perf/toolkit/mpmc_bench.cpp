// perf_mpmc: zokio::mpmc throughput against asio::experimental::concurrent_channel (which
// is multi-consumer too) and, with one consumer, against zokio::mpsc.
//
// Workloads (1,000,000 messages of a 16-byte struct in total; every consumer checks that
// each producer's messages reach it in order, and the run checks the count and a checksum):
//   bounded_4p4c     4 producers -> 4 consumers, capacity 1024
//   unbounded_4p4c   4 producers -> 4 consumers, unbounded
//   bounded_4p1c     4 producers -> 1 consumer, capacity 1024 (the mpsc case)
//
// Setups, 2 threads each:
//   zokio mpmc   zokio::mpmc on a 2-worker runtime; spawned zokio::task coroutines:
//                co_await tx.send(m), co_await rx.recv().
//   zokio mpsc   zokio::mpsc, same coroutines (bounded_4p1c only: it has one receiver).
//   asio aw      concurrent_channel<void(error_code, msg)> on asio::thread_pool(2), awaitable
//                coroutines: co_await async_send / async_receive. "Unbounded" = a buffer of
//                1,000,000 (the channel has no unbounded mode).
//   asio try     the same channel with try_send / try_receive loops that fall back to the
//                async calls only when full / empty.
// The consumer that takes the last message closes the channel, which ends the others.
//
// Usage: perf_mpmc [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING] [--timeout S]
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <zokio/mpmc.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace asio = boost::asio;

namespace {

constexpr unsigned kThreads = 2;
constexpr std::uint64_t kMessages = 1'000'000;
constexpr std::size_t kCapacity = 1024;
constexpr std::uint32_t kProducers = 4;

struct msg {
  std::uint64_t payload;
  std::uint32_t producer;
  std::uint32_t seq;
};
static_assert(sizeof(msg) == 16);

struct workload {
  const char* name;
  bool bounded;
  std::uint32_t consumers;
};
const workload kLoads[] = {
    {"bounded_4p4c", true, 4}, {"unbounded_4p4c", false, 4}, {"bounded_4p1c", true, 1}};

// One consumer's view: each producer's messages in increasing order, a count and a sum.
struct consumer_check {
  std::array<std::int64_t, kProducers> last{-1, -1, -1, -1};
  std::uint64_t got = 0, sum = 0;
  bool ok = true;
  void operator()(const msg& m) noexcept {
    ok = ok && m.producer < kProducers && std::int64_t(m.seq) > last[m.producer];
    if (m.producer < kProducers) last[m.producer] = m.seq;
    sum += m.payload;
    ++got;
  }
};

struct totals {
  std::mutex mu;
  std::uint64_t got = 0, sum = 0;
  bool ok = true;
  std::atomic<std::uint64_t> taken{0};  // messages taken so far, by all consumers
  void add(const consumer_check& c) {
    std::lock_guard lk(mu);
    got += c.got;
    sum += c.sum;
    ok = ok && c.ok;
  }
  void verify() {
    bench::check(ok, "a producer's messages reached a consumer out of order");
    bench::check_eq(got, kMessages, "messages received");
    bench::check_eq(sum, kMessages * (kMessages - 1) / 2, "payload checksum");
  }
  // True for the consumer that took the last message: it closes the channel.
  bool took_last() noexcept { return taken.fetch_add(1, std::memory_order_relaxed) + 1 == kMessages; }
};

msg make_msg(std::uint32_t p, std::uint32_t i) {
  return msg{std::uint64_t(i) * kProducers + p, p, i};
}
constexpr std::uint32_t kPerProducer = static_cast<std::uint32_t>(kMessages / kProducers);

// ---------------------------------------------------------------------------------------------
// Zokio

using zokio_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads}>;

template <class Tx>
zokio::task<> zk_producer(Tx tx, std::uint32_t p) {
  for (std::uint32_t i = 0; i < kPerProducer; ++i)
    if (!co_await tx.send(make_msg(p, i))) throw bench::failure("send failed");
}

template <class Rx>
zokio::task<> zk_consumer(Rx rx, totals& t) {
  consumer_check c;
  for (;;) {
    auto m = co_await rx.recv();
    if (!m) break;
    c(*m);
    if (t.took_last()) {
      rx.close();
      break;
    }
  }
  t.add(c);
}

void zk_run(zokio_rt& rt, const workload& w, bool use_mpsc) {
  totals t;
  std::vector<zokio::join_handle<void>> cs;
  if (use_mpsc) {
    auto [tx, rx] = zokio::mpsc::channel<msg>(kCapacity);
    cs.push_back(rt.spawn(zk_consumer(std::move(rx), t)));
    for (std::uint32_t p = 0; p < kProducers; ++p) rt.spawn(zk_producer(tx, p)).detach();
  } else {
    auto [tx, rx] = w.bounded ? zokio::mpmc::channel<msg>(kCapacity)
                              : zokio::mpmc::unbounded_channel<msg>();
    for (std::uint32_t c = 0; c < w.consumers; ++c) cs.push_back(rt.spawn(zk_consumer(rx, t)));
    for (std::uint32_t p = 0; p < kProducers; ++p) rt.spawn(zk_producer(tx, p)).detach();
  }
  for (auto& h : cs) rt.block_on(std::move(h));
  t.verify();
}

// ---------------------------------------------------------------------------------------------
// Asio

using chan_t = asio::experimental::concurrent_channel<void(boost::system::error_code, msg)>;

struct asio_env {
  asio::thread_pool pool{kThreads};
  std::unique_ptr<totals> t;
  std::atomic<std::uint32_t> consumers_left{0};
  bench::event done;
  ~asio_env() {
    pool.stop();
    pool.join();
  }
  void consumer_done(const consumer_check& c) {
    t->add(c);
    if (consumers_left.fetch_sub(1) == 1) done.set();
  }
};

asio::awaitable<void> aw_producer(std::shared_ptr<chan_t> ch, std::uint32_t p, bool use_try) {
  for (std::uint32_t i = 0; i < kPerProducer; ++i) {
    msg m = make_msg(p, i);
    if (use_try && ch->try_send(boost::system::error_code{}, m)) continue;
    auto [ec] = co_await ch->async_send(boost::system::error_code{}, m,
                                        asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // closed: every message was taken (see took_last)
  }
}

asio::awaitable<void> aw_consumer(std::shared_ptr<chan_t> ch, asio_env& env, bool use_try) {
  consumer_check c;
  bool last = false;
  while (!last) {
    if (use_try) {
      while (!last && ch->try_receive([&](boost::system::error_code, msg m) {
        c(m);
        last = env.t->took_last();
      })) {
      }
      if (last) break;
    }
    auto [ec, m] = co_await ch->async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) break;  // closed by the consumer that took the last message
    c(m);
    last = env.t->took_last();
  }
  if (last) ch->close();
  env.consumer_done(c);
}

void asio_run(asio_env& env, const workload& w, bool use_try) {
  env.done.reset();
  env.t = std::make_unique<totals>();
  env.consumers_left = w.consumers;
  auto ex = env.pool.get_executor();
  auto ch = std::make_shared<chan_t>(ex, w.bounded ? kCapacity : kMessages);
  for (std::uint32_t c = 0; c < w.consumers; ++c)
    asio::co_spawn(ex, aw_consumer(ch, env, use_try), asio::detached);
  for (std::uint32_t p = 0; p < kProducers; ++p)
    asio::co_spawn(ex, aw_producer(ch, p, use_try), asio::detached);
  env.done.wait();
  env.t->verify();
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
    r.add(w.name, "zokio mpmc", [&rt, &w] { zk_run(rt, w, false); });
    if (w.consumers == 1) r.add(w.name, "zokio mpsc", [&rt, &w] { zk_run(rt, w, true); });
    r.add(w.name, "asio aw", [&aw_env, &w] { asio_run(aw_env, w, false); });
    r.add(w.name, "asio try", [&try_env, &w] { asio_run(try_env, w, true); });
  }
  bool ok = r.run(opts);

  std::printf("perf_mpmc: %llu messages of %zu bytes, %u producers, %u threads, median of %u samples\n",
              static_cast<unsigned long long>(kMessages), sizeof(msg), kProducers, kThreads,
              opts.samples);
  bool all_met = true;
  for (auto& w : kLoads) {
    if (!opts.selected(w.name)) continue;
    std::printf("\n%s\n", w.name);
    r.print_table(w.name);
    const bench::summary* z = r.result(w.name, "zokio mpmc");
    if (!z) continue;
    std::printf("  zokio mpmc: %.1f M msg/s\n", kMessages / z->median / 1e6);
    for (const char* base : {"asio aw", "asio try"})
      if (const bench::summary* a = r.result(w.name, base))
        all_met &= bench::print_target(std::string(base) + " / zokio mpmc", bench::ratio(*a, *z), 1.0);
    // Against the mpsc: reported, not a target (the mpsc is lock-free for one consumer).
    if (const bench::summary* m = r.result(w.name, "zokio mpsc"))
      std::printf("  zokio mpsc / zokio mpmc: %.2fx (time ratio; < 1: the mpsc is faster)\n",
                  bench::ratio(*m, *z));
  }
  std::printf("\nall targets %s\n", all_met ? "MET" : "NOT MET");
  return ok ? 0 : 1;
}
