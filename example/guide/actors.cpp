// Guide example (doc/actors.md): a key-value store of actors. A `store` actor owns one shard
// actor per key range (its supervised children) and routes each request; a shard that hits a
// poisoned value fails and is restarted with its mailbox intact (its data is rebuilt from
// nothing, as a cache would be). Then a load test: C clients, each doing N puts and gets
// through the store, checked at the end; prints requests per second.
//
// Usage: guide_actors [clients=8] [requests per client=5000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <zokio/zokio.hpp>

using namespace std::chrono_literals;

// The messages: a shard and the store speak the same protocol.
struct put {
  std::string key, value;
  zokio::reply<bool> done;  // true: the key was new
};
struct get {
  std::string key;
  zokio::reply<std::optional<std::string>> value;
};
using kv_msg = std::variant<put, get>;

// One shard: a plain map. A value "poison" makes it fail (a stand-in for a bug).
struct shard {
  std::unordered_map<std::string, std::string> map;
  void handle(kv_msg m) {
    if (auto* p = std::get_if<put>(&m)) {
      if (p->value == "poison") throw std::runtime_error("poisoned value for " + p->key);
      p->done.send(map.insert_or_assign(std::move(p->key), std::move(p->value)).second);
    } else {
      auto& g = std::get<get>(m);
      auto it = map.find(g.key);
      g.value.send(it == map.end() ? std::nullopt : std::optional(it->second));
    }
  }
};

// The store: routes by hash to its shards, which it spawns in started() (again after its own
// restart). Forwarding moves the reply along: the shard answers the client directly.
struct store {
  std::vector<zokio::actor_ref<kv_msg>> shards;
  void started(zokio::actor_context<kv_msg>& cx) {
    for (int i = 0; i < 4; ++i)
      shards.push_back(cx.spawn_child<kv_msg>([] { return shard{}; },
                                              {.mailbox = 256,
                                               .name = "kv-shard",
                                               .restart = {.max_restarts = 3, .window = 10s}})
                           .ref());
  }
  zokio::task<void> handle(kv_msg m) {
    const std::string& key = std::visit([](auto& r) -> const std::string& { return r.key; }, m);
    auto& to = shards[std::hash<std::string>{}(key) % shards.size()];
    auto sent = co_await to.tell(std::move(m));
    (void)sent;  // a shard that gave up refuses: the request's reply then fails the ask
  }
};

zokio::task<bool> do_put(const zokio::actor_ref<kv_msg>& kv, std::string k, std::string v) {
  auto r = co_await kv.ask<bool>([&](zokio::reply<bool> done) { return kv_msg(put{k, v, std::move(done)}); });
  co_return r.has_value();
}

zokio::task<std::optional<std::string>> do_get(const zokio::actor_ref<kv_msg>& kv, std::string k) {
  auto r = co_await kv.ask<std::optional<std::string>>(
      [&](auto value) { return kv_msg(get{k, std::move(value)}); });
  co_return r ? *r : std::nullopt;
}

zokio::task<long> client(zokio::actor_ref<kv_msg> kv, int id, int n) {
  long ok = 0;
  for (int i = 0; i < n; ++i) {
    std::string k = "c" + std::to_string(id) + "-" + std::to_string(i % 512);
    co_await do_put(kv, k, std::to_string(i));
    auto v = co_await do_get(kv, k);
    ok += v && *v == std::to_string(i);
  }
  co_return ok;
}

zokio::task<int> run(int clients, int n) {
  auto h = zokio::spawn_actor<kv_msg>([] { return store{}; }, {.mailbox = 1024, .name = "kv-store"});
  auto kv = h.ref();

  // A failure: the shard restarts, the store and the other shards go on.
  co_await do_put(kv, "a", "1");
  const bool poisoned = co_await do_put(kv, "a", "poison");
  auto after = co_await do_get(kv, "a");  // the restarted shard starts empty
  std::printf("put poison: %s; then get a: %s\n", poisoned ? "answered" : "no reply (shard restarted)",
              after ? after->c_str() : "(absent)");

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<zokio::join_handle<long>> cs;
  for (int c = 0; c < clients; ++c) cs.push_back(zokio::spawn(client(kv, c, n)));
  long ok = 0;
  for (auto& c : cs) ok += co_await std::move(c);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long requests = 2L * clients * n;
  std::printf("%d clients x %d put+get: %ld requests in %.2f s, %.0f requests/s, %ld of %ld reads right\n",
              clients, n, requests, s, requests / s, ok, long(clients) * n);

  h.stop();
  auto exit = co_await std::move(h);
  std::printf("store stopped: handled %zu, failed %s\n", exit.handled, exit.failed ? "yes" : "no");
  co_return !poisoned && !after && ok == long(clients) * n && !exit.failed ? 0 : 1;
}

int main(int argc, char** argv) {
  const int clients = argc > 1 ? std::atoi(argv[1]) : 8;
  const int n = argc > 2 ? std::atoi(argv[2]) : 5000;
  zokio::runtime rt;
  return rt.block_on(run(clients, n));
}
