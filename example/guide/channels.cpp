// Channels: a worker pool fed through a bounded mpsc, results back through oneshots,
// a shutdown signal over watch, and progress events over broadcast; then a pool of consumer
// tasks sharing one mpmc queue of jobs.
#include <cstdio>
#include <utility>
#include <vector>

#include <zokio/broadcast.hpp>
#include <zokio/mpmc.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/watch.hpp>
#include <zokio/zokio.hpp>

// A request carries its own reply channel (the Tokio "actor" pattern). It has a constructor:
// g++ 12 miscompiles aggregates with destructible members inside co_await expressions.
struct request {
  request(int n, zokio::oneshot::sender<long> reply) : n(n), reply(std::move(reply)) {}
  int n;
  zokio::oneshot::sender<long> reply;
};

zokio::task<> squarer(zokio::mpsc::receiver<request> rx, zokio::broadcast::sender<int> events) {
  while (auto req = co_await rx.recv()) {  // nullopt once every sender is gone
    (void)req->reply.send(long(req->n) * req->n);
    (void)events.send(req->n);  // fails only when nobody listens
  }
}

zokio::task<int> listener(zokio::broadcast::receiver<int> events,
                          zokio::watch::receiver<bool> stop) {
  int seen = 0;
  for (;;) {
    auto ev = co_await events.recv();
    if (ev) ++seen;  // an error is closed (or lagged: some events were skipped)
    else if (ev.error().reason == zokio::channel_errc::closed) break;
    if (*stop.borrow()) break;
  }
  co_return seen;
}

zokio::task<long> client(zokio::mpsc::sender<request> tx, int n) {
  auto [reply_tx, reply_rx] = zokio::oneshot::channel<long>();
  if (!co_await tx.send(request{n, std::move(reply_tx)})) co_return -1;  // waits while full
  auto r = co_await std::move(reply_rx);
  co_return r ? *r : -1;
}

// One of several consumers of a shared job queue: each job goes to exactly one of them.
zokio::task<long> job_worker(zokio::mpmc::receiver<int> jobs) {
  long done = 0;
  while (auto job = co_await jobs.recv()) done += *job;  // nullopt: closed and drained
  co_return done;
}

zokio::task<long> job_pool() {
  auto [tx, rx] = zokio::mpmc::channel<int>(8);
  std::vector<zokio::join_handle<long>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(zokio::spawn(job_worker(rx)));
  for (int job = 1; job <= 100; ++job) (void)co_await tx.send(job);  // waits while 8 queued
  tx.close();  // no more jobs: the workers drain the queue, then their recv() ends
  long total = 0;
  for (auto& w : workers) total += co_await std::move(w);
  co_return total;
}

zokio::task<int> run() {
  auto [tx, rx] = zokio::mpsc::channel<request>(4);  // at most 4 queued requests
  auto [ev_tx, ev_rx] = zokio::broadcast::channel<int>(16);
  auto [stop_tx, stop_rx] = zokio::watch::channel<bool>(false);

  auto server = zokio::spawn(squarer(std::move(rx), ev_tx));
  auto events = zokio::spawn(listener(std::move(ev_rx), stop_rx));

  long sum = 0;
  for (int i = 1; i <= 10; ++i) sum += co_await client(tx, i);
  tx = {};                      // last sender gone: the server's loop ends
  co_await std::move(server);
  ev_tx = {};                   // the server's copy is gone too: the listener sees closed
  stop_tx.send_replace(true);   // (or tells it to stop, whichever it sees first)
  int seen = co_await std::move(events);

  std::printf("sum of squares 1..10 = %ld, listener saw %d events\n", sum, seen);
  const long jobs = co_await job_pool();
  std::printf("3 workers on one mpmc queue did jobs 1..100: sum %ld\n", jobs);
  co_return sum == 385 && jobs == 5050 ? 0 : 1;
}

int main() {
  zokio::runtime rt;
  return rt.block_on(rt.spawn(run()));
}
