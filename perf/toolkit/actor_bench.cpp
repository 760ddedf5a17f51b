// perf_actor: zokio::actor against the hand-written pattern it packages, a task that owns its
// state and serves a zokio::mpsc channel, answering through a zokio::oneshot.
//
// Workloads (each run checks every answer and the final state):
//   ask_round_trips  4 clients x 50,000 requests to one server: add 1 to the value, reply
//   tell_throughput  4 producers x 250,000 messages to one server, which sums them; then one
//                    request for the sum (it must be all of them)
//
// Setups, on one 2-worker runtime:
//   zokio actor   spawn_actor; ask<R>(make) / tell(m)
//   mpsc+oneshot  the same messages and state served by a zokio::task loop over
//                 mpsc::receiver::recv(); a request's reply is a oneshot::sender, and the
//                 client awaits the oneshot::receiver (what ask does, by hand)
// Both mailboxes hold 1,024 messages.
//
// Usage: perf_actor [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING] [--timeout S]
#include <cstdint>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include <zokio/actor.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/zokio.hpp>

#include "bench.hpp"

namespace {

constexpr unsigned kThreads = 2;
constexpr std::size_t kMailbox = 1024;
constexpr std::uint64_t kClients = 4, kAsks = 50'000, kTells = 250'000;

using bench_rt = zokio::basic_runtime<zokio::runtime_config{.worker_threads = kThreads}>;

// --- zokio::actor ----------------------------------------------------------------------------

struct add_one {
  std::uint64_t v;
  zokio::reply<std::uint64_t> reply;
};
struct add_to_sum {
  std::uint64_t v;
};
struct read_sum {
  zokio::reply<std::uint64_t> reply;
};
using msg = std::variant<add_one, add_to_sum, read_sum>;

struct server_state {
  std::uint64_t sum = 0;
  void handle(msg m) {
    if (auto* a = std::get_if<add_one>(&m)) {
      a->reply.send(a->v + 1);
    } else if (auto* t = std::get_if<add_to_sum>(&m)) {
      sum += t->v;
    } else {
      std::get<read_sum>(m).reply.send(sum);
    }
  }
};

zokio::task<void> actor_asker(zokio::actor_ref<msg> a, std::uint64_t c) {
  for (std::uint64_t i = 0; i < kAsks; ++i) {
    const std::uint64_t v = c * kAsks + i;
    auto r = co_await a.ask<std::uint64_t>([v](auto reply) { return msg(add_one{v, std::move(reply)}); });
    if (!r || *r != v + 1) throw bench::failure("wrong answer");
  }
}

zokio::task<void> actor_teller(zokio::actor_ref<msg> a, std::uint64_t c) {
  for (std::uint64_t i = 0; i < kTells; ++i) {
    msg m = add_to_sum{c * kTells + i};  // named: see the note at hand_req
    if (!co_await a.tell(std::move(m))) throw bench::failure("tell failed");
  }
}

zokio::task<void> actor_run(bool asks) {
  auto h = zokio::spawn_actor<msg>([] { return server_state{}; }, {.mailbox = kMailbox});
  std::vector<zokio::join_handle<void>> cs;
  for (std::uint64_t c = 0; c < kClients; ++c)
    cs.push_back(zokio::spawn(asks ? actor_asker(h.ref(), c) : actor_teller(h.ref(), c)));
  for (auto& c : cs) co_await std::move(c);
  if (!asks) {
    auto sum = co_await h.ref().ask<std::uint64_t>([](auto r) { return msg(read_sum{std::move(r)}); });
    const std::uint64_t n = kClients * kTells;
    bench::check_eq(sum.value(), n * (n - 1) / 2, "sum of the tells");
  }
  h.stop();
  auto exit = co_await std::move(h);
  bench::check(!exit.failed, "the actor failed");
}

// --- mpsc + oneshot, by hand -----------------------------------------------------------------
// The same messages and the same state, served by a plain task loop: what the actor costs on
// top of the pattern it packages.

zokio::task<void> hand_server(zokio::mpsc::receiver<msg> rx) {
  server_state st;
  for (;;) {
    auto m = co_await rx.recv();
    if (!m) break;
    st.handle(std::move(*m));
  }
}

zokio::task<void> hand_asker(zokio::mpsc::sender<msg> tx, std::uint64_t c) {
  for (std::uint64_t i = 0; i < kAsks; ++i) {
    const std::uint64_t v = c * kAsks + i;
    auto [otx, orx] = zokio::oneshot::channel<std::uint64_t>();
    msg m = add_one{v, zokio::reply<std::uint64_t>(std::move(otx))};  // named: see below
    if (!co_await tx.send(std::move(m))) throw bench::failure("send failed");
    auto r = co_await std::move(orx);
    if (!r || *r != v + 1) throw bench::failure("wrong answer");
  }
}

// Messages are built in a named variable before `co_await tx.send(...)`: g++ 12 miscompiles an
// aggregate temporary passed by value inside a co_await expression (doc/testing.md).
zokio::task<void> hand_teller(zokio::mpsc::sender<msg> tx, std::uint64_t c) {
  for (std::uint64_t i = 0; i < kTells; ++i) {
    msg m = add_to_sum{c * kTells + i};
    if (!co_await tx.send(std::move(m))) throw bench::failure("send failed");
  }
}

zokio::task<void> hand_run(bool asks) {
  auto [tx, rx] = zokio::mpsc::channel<msg>(kMailbox);
  auto server = zokio::spawn(hand_server(std::move(rx)));
  std::vector<zokio::join_handle<void>> cs;
  for (std::uint64_t c = 0; c < kClients; ++c)
    cs.push_back(zokio::spawn(asks ? hand_asker(tx, c) : hand_teller(tx, c)));
  for (auto& c : cs) co_await std::move(c);
  if (!asks) {
    auto [otx, orx] = zokio::oneshot::channel<std::uint64_t>();
    msg m = read_sum{zokio::reply<std::uint64_t>(std::move(otx))};
    if (!co_await tx.send(std::move(m))) throw bench::failure("send failed");
    auto sum = co_await std::move(orx);
    const std::uint64_t n = kClients * kTells;
    bench::check_eq(sum.value(), n * (n - 1) / 2, "sum of the tells");
  }
  { auto drop = std::move(tx); }  // the server ends when the channel closes
  co_await std::move(server);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> names{"ask_round_trips", "tell_throughput"};
  auto opts = bench::parse_options(argc, argv, names);
  bench_rt rt;
  bench::runner r;
  for (const auto& w : names) {
    const bool asks = w == "ask_round_trips";
    r.add(w, "zokio actor", [&rt, asks] { rt.block_on(actor_run(asks)); });
    r.add(w, "mpsc+oneshot", [&rt, asks] { rt.block_on(hand_run(asks)); });
  }
  bool ok = r.run(opts);

  std::printf("perf_actor: %llu clients, %u threads, mailbox %zu, median of %u samples\n",
              static_cast<unsigned long long>(kClients), kThreads, kMailbox, opts.samples);
  for (const auto& w : names) {
    if (!opts.selected(w)) continue;
    std::printf("\n%s\n", w.c_str());
    r.print_table(w);
    const bench::summary* a = r.result(w, "zokio actor");
    const bench::summary* h = r.result(w, "mpsc+oneshot");
    if (!a || !h) continue;
    const double n = double(kClients) * (w == "ask_round_trips" ? kAsks : kTells);
    std::printf("  zokio actor: %.2f M %s/s\n", n / a->median / 1e6,
                w == "ask_round_trips" ? "round trips" : "messages");
    std::printf("  mpsc+oneshot / zokio actor: %.2fx (time ratio; < 1: the hand-written pair is faster)\n",
                bench::ratio(*h, *a));
  }
  return ok ? 0 : 1;
}
