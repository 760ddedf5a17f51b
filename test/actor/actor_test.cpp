// zokio::actor: messages in order, tell and ask, backpressure, stop (drain, drop, from inside,
// the last reference gone), abort, and the hostile orderings (asks racing a stop, a runtime
// destroyed with busy actors).
#include <zokio/actor.hpp>  // self-contained header check

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <variant>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <zokio/semaphore.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/timeout.hpp>

#include "../support/test_util.hpp"

using namespace std::chrono_literals;

namespace actor_test {

// A log: every message names its producer and its number there; ask for the whole log.
struct entry {
  int producer, seq;
};
struct snapshot {
  zokio::reply<std::vector<entry>> reply;
};
struct sum {
  zokio::reply<long> reply;
};
using log_msg = std::variant<entry, snapshot, sum>;

struct log_state {
  std::vector<entry> seen;
  long total = 0;
  void handle(log_msg m) {
    if (auto* e = std::get_if<entry>(&m)) {
      seen.push_back(*e);
      total += e->seq;
    } else if (auto* s = std::get_if<snapshot>(&m)) {
      s->reply.send(seen);
    } else {
      std::get<sum>(m).reply.send(total);
    }
  }
};

zokio::task<void> produce(zokio::actor_ref<log_msg> a, int producer, int n) {
  for (int i = 0; i < n; ++i)
    zokio::test::must((co_await a.tell(entry{producer, i})).has_value(), "tell");
}

// A gated actor: each `work` waits for the gate's permit (one per message) before it counts;
// `count` asks how many were handled.
struct work {
  zokio::reply<int> reply;  // answered with the number of this message (1, 2, ...)
};
struct quit {};
struct boom {
  zokio::reply<int> reply;
};
using gated_msg = std::variant<work, quit, boom>;

struct shared_counts {
  std::atomic<int> handled{0}, started{0}, stopped{0}, made{0}, in_handler{0};
  zokio::semaphore gate{0};  // one permit per gated message
  bool gated = false;
};

struct gated_state {
  std::shared_ptr<shared_counts> c;
  int n = 0;
  explicit gated_state(std::shared_ptr<shared_counts> s) : c(std::move(s)) { c->made.fetch_add(1); }
  zokio::task<void> handle(gated_msg m, zokio::actor_context<gated_msg>& cx) {
    c->in_handler.fetch_add(1);
    if (c->gated) (co_await c->gate.acquire()).value().forget();
    if (auto* w = std::get_if<work>(&m)) {
      ++n;
      c->handled.fetch_add(1);
      w->reply.send(n);
    } else if (std::holds_alternative<quit>(m)) {
      cx.stop();
    } else {
      throw std::runtime_error("boom " + std::to_string(n));
    }
  }
  void started(zokio::actor_context<gated_msg>&) { c->started.fetch_add(1); }
  void stopped(zokio::actor_context<gated_msg>&) { c->stopped.fetch_add(1); }
};

auto gated_factory(std::shared_ptr<shared_counts> c) {
  return [c] { return gated_state(c); };
}

// Takes the ref by value: the future holds it (an ask from a temporary ref stays valid).
auto ask_work(zokio::actor_ref<gated_msg> a) {
  return std::move(a).ask<int>([](zokio::reply<int> r) { return gated_msg(work{std::move(r)}); });
}

// Waits (bounded) until `v` reaches `n`: a test's way to know an actor got that far.
zokio::task<void> wait_for(const std::atomic<int>& v, int n) {
  for (int i = 0; i < 5000 && v.load() < n; ++i) co_await zokio::sleep(1ms);
  zokio::test::must(v.load() >= n, "waited 5 s for an actor");
}

}  // namespace actor_test

using namespace actor_test;

BOOST_AUTO_TEST_SUITE(actor_suite)

BOOST_AUTO_TEST_CASE(each_producers_tells_arrive_in_order_and_asks_get_typed_replies,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  constexpr int producers = 3, per = 2000 / zokio::test::stress_divisor;
  auto [log, total] = rt.block_on(zokio::co_invoke([]() -> zokio::task<std::pair<std::vector<entry>, long>> {
    auto h = zokio::spawn_actor<log_msg>([] { return log_state{}; }, {.mailbox = 16, .name = "log"});
    std::vector<zokio::join_handle<void>> ps;
    for (int p = 0; p < producers; ++p) ps.push_back(zokio::spawn(produce(h.ref(), p, per)));
    for (auto& p : ps) co_await std::move(p);
    auto seen = co_await h.ref().ask<std::vector<entry>>(
        [](auto r) { return log_msg(snapshot{std::move(r)}); });
    auto total = co_await h.ref().ask<long>([](auto r) { return log_msg(sum{std::move(r)}); });
    co_return std::pair{seen.value(), total.value()};
  }));
  BOOST_TEST(log.size() == std::size_t(producers * per));
  std::vector<int> next(producers, 0);
  bool in_order = true;
  for (const auto& e : log) in_order = in_order && e.seq == next[e.producer]++;
  BOOST_TEST(in_order);
  BOOST_TEST(total == long(producers) * per * (per - 1) / 2);
}

BOOST_AUTO_TEST_CASE(a_full_mailbox_pushes_back_on_tell_and_fails_try_tell,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto c = std::make_shared<shared_counts>();
  c->gated = true;
  auto r = rt.block_on(zokio::co_invoke([c]() -> zokio::task<std::vector<int>> {
    auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 4});
    auto a = h.ref();
    std::vector<zokio::oneshot::receiver<int>> answers;
    // One message in the handler (held at the gate), four in the mailbox: full.
    auto first = zokio::spawn(ask_work(a));
    co_await wait_for(c->in_handler, 1);
    std::vector<zokio::join_handle<boost::system::result<int>>> queued;
    for (int i = 0; i < 4; ++i) {
      auto sent = a.try_tell(work{});
      zokio::test::must(sent.has_value(), "room for four");
    }
    auto refused = a.try_tell(work{});
    zokio::test::must(refused.has_error() && refused.error().reason == zokio::channel_errc::full,
                      "try_tell on a full mailbox: full, message handed back");
    zokio::test::must(std::holds_alternative<work>(refused.error().value), "handed back");
    // tell waits while full: it times out, and a tell that gave up sent nothing.
    auto waited = co_await zokio::timeout(a.tell(work{}), 30ms);
    zokio::test::must(waited.has_error(), "tell waits on a full mailbox");
    c->gate.release(5);
    auto n1 = co_await std::move(first);
    co_await wait_for(c->handled, 5);
    // Room again: a tell completes, and its message is the sixth handled.
    zokio::test::must((co_await a.tell(work{})).has_value(), "tell after room");
    c->gate.release(1);
    co_await wait_for(c->handled, 6);
    h.stop();
    auto exit = co_await std::move(h);
    co_return std::vector<int>{n1.value(), c->handled.load(), int(exit.handled), exit.failed};
  }));
  BOOST_TEST(r[0] == 1);
  BOOST_TEST(r[1] == 6);  // the timed-out tell's message never arrived
  BOOST_TEST(r[2] == 6);
  BOOST_TEST(r[3] == 0);
}

BOOST_AUTO_TEST_CASE(stop_drain_handles_what_is_queued_and_refuses_new_messages,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto c = std::make_shared<shared_counts>();
  c->gated = true;
  auto r = rt.block_on(zokio::co_invoke([c]() -> zokio::task<std::vector<long>> {
    auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 32});
    std::vector<zokio::join_handle<boost::system::result<int>>> asks;
    asks.push_back(zokio::spawn(ask_work(h.ref())));
    co_await wait_for(c->in_handler, 1);
    for (int i = 0; i < 10; ++i) asks.push_back(zokio::spawn(ask_work(h.ref())));
    co_await zokio::sleep(20ms);  // the ten are queued
    h.stop(zokio::stop_mode::drain);
    c->gate.release(11);
    long answered = 0;
    for (auto& a : asks) answered += (co_await std::move(a)).has_value();
    auto exit = co_await std::move(h);
    co_return std::vector<long>{answered, long(exit.handled), long(exit.dropped), exit.failed,
                                c->stopped.load()};
  }));
  BOOST_TEST(r[0] == 11);
  BOOST_TEST(r[1] == 11);
  BOOST_TEST(r[2] == 0);
  BOOST_TEST(r[3] == 0);
  BOOST_TEST(r[4] == 1);  // stopped() ran once
}

BOOST_AUTO_TEST_CASE(stop_drop_destroys_what_is_queued_and_its_asks_fail_with_no_reply,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto c = std::make_shared<shared_counts>();
  c->gated = true;
  auto r = rt.block_on(zokio::co_invoke([c]() -> zokio::task<std::vector<long>> {
    auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 32});
    auto a = h.ref();
    auto first = zokio::spawn(ask_work(a));
    co_await wait_for(c->in_handler, 1);
    std::vector<zokio::join_handle<boost::system::result<int>>> asks;
    for (int i = 0; i < 10; ++i) asks.push_back(zokio::spawn(ask_work(a)));
    co_await zokio::sleep(20ms);
    h.stop(zokio::stop_mode::drop);
    c->gate.release(1);  // the message in the handler finishes
    long no_reply = 0;
    for (auto& q : asks) no_reply += (co_await std::move(q)).error() == zokio::errc::no_reply;
    const long first_ok = (co_await std::move(first)).has_value();
    auto exit = co_await std::move(h);
    // Stopped: tell hands the message back, ask says the actor stopped.
    auto told = co_await a.tell(work{});
    auto asked = co_await ask_work(a);
    co_return std::vector<long>{no_reply, first_ok, long(exit.handled), long(exit.dropped),
                                told.has_error() && told.error().reason == zokio::channel_errc::closed,
                                asked.error() == zokio::errc::actor_stopped, a.is_stopped()};
  }));
  BOOST_TEST(r[0] == 10);
  BOOST_TEST(r[1] == 1);
  BOOST_TEST(r[2] == 1);
  BOOST_TEST(r[3] == 10);
  BOOST_TEST(r[4] == 1);
  BOOST_TEST(r[5] == 1);
  BOOST_TEST(r[6] == 1);
}

BOOST_AUTO_TEST_CASE(a_drop_asked_during_a_drain_cuts_it_short, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(1);
  auto c = std::make_shared<shared_counts>();
  c->gated = true;
  auto exit = rt.block_on(zokio::co_invoke([c]() -> zokio::task<zokio::actor_exit> {
    auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 32});
    for (int i = 0; i < 10; ++i) zokio::test::must(h.ref().try_tell(work{}).has_value(), "room");
    h.stop(zokio::stop_mode::drain);
    co_await wait_for(c->in_handler, 1);
    c->gate.release(1);
    co_await wait_for(c->in_handler, 2);
    h.stop(zokio::stop_mode::drop);  // the second message is in its handler: it finishes
    c->gate.release(1);
    co_return co_await std::move(h);
  }));
  BOOST_TEST(exit.handled == 2u);
  BOOST_TEST(exit.dropped == 8u);
  BOOST_TEST(!exit.failed);
}

BOOST_AUTO_TEST_CASE(stop_from_inside_a_handler_drains_the_rest, *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto c = std::make_shared<shared_counts>();
  c->gated = true;  // all three are queued before the first is handled
  auto exit = rt.block_on(zokio::co_invoke([c]() -> zokio::task<zokio::actor_exit> {
    auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 32});
    auto a = h.ref();
    zokio::test::must(a.try_tell(work{}).has_value(), "room");
    zokio::test::must(a.try_tell(quit{}).has_value(), "room");
    zokio::test::must(a.try_tell(work{}).has_value(), "room");
    c->gate.release(3);
    co_return co_await std::move(h);
  }));
  BOOST_TEST(exit.handled == 3u);
  BOOST_TEST(c->handled.load() == 2);
  BOOST_TEST(!exit.failed);
  BOOST_TEST(c->stopped.load() == 1);
}

BOOST_AUTO_TEST_CASE(the_last_reference_gone_the_actor_handles_its_mailbox_and_ends,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto c = std::make_shared<shared_counts>();
  rt.block_on(zokio::co_invoke([c]() -> zokio::task<void> {
    {
      auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 128});
      auto a = h.ref();
      for (int i = 0; i < 100; ++i) zokio::test::must((co_await a.tell(work{})).has_value(), "tell");
    }  // handle and refs gone: nothing can reach it
    co_await wait_for(c->stopped, 1);
  }));
  BOOST_TEST(c->handled.load() == 100);
  BOOST_TEST(c->stopped.load() == 1);
}

BOOST_AUTO_TEST_CASE(a_dropped_reply_fails_the_ask_with_no_reply, *boost::unit_test::timeout(60)) {
  struct forgetful {
    void handle(gated_msg) {}  // never answers
  };
  auto rt = zokio::test::make_runtime(1);
  auto r = rt.block_on(zokio::co_invoke([]() -> zokio::task<boost::system::result<int>> {
    auto h = zokio::spawn_actor<gated_msg>([] { return forgetful{}; });
    co_return co_await ask_work(h.ref());
  }));
  BOOST_TEST((r.error() == zokio::errc::no_reply));
}

BOOST_AUTO_TEST_CASE(abort_ends_the_actor_at_once_and_its_queued_asks_fail,
                     *boost::unit_test::timeout(60)) {
  auto rt = zokio::test::make_runtime(2);
  auto c = std::make_shared<shared_counts>();
  c->gated = true;
  auto r = rt.block_on(zokio::co_invoke([c]() -> zokio::task<std::vector<long>> {
    auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 8});
    std::vector<zokio::join_handle<boost::system::result<int>>> asks;
    for (int i = 0; i < 5; ++i) asks.push_back(zokio::spawn(ask_work(h.ref())));
    co_await wait_for(c->in_handler, 1);
    co_await zokio::sleep(10ms);
    h.abort();
    long threw = 0;
    try {
      co_await std::move(h);
    } catch (const zokio::join_error& e) {
      threw = e.is_cancelled();
    }
    long no_reply = 0;
    for (auto& a : asks) no_reply += (co_await std::move(a)).error() == zokio::errc::no_reply;
    co_return std::vector<long>{threw, no_reply, c->stopped.load()};
  }));
  BOOST_TEST(r[0] == 1);
  BOOST_TEST(r[1] == 5);
  BOOST_TEST(r[2] == 0);  // no stopped(): an abort runs no more actor code
}

BOOST_AUTO_TEST_CASE(asks_racing_a_stop_get_an_answer_or_an_error_never_a_hang,
                     *boost::unit_test::timeout(120)) {
  auto rt = zokio::test::make_runtime(2);
  const int rounds = 1000 / zokio::test::stress_divisor;
  auto r = rt.block_on(zokio::co_invoke([rounds]() -> zokio::task<std::vector<long>> {
    long answered = 0, refused = 0, unanswered = 0, other = 0;
    for (int i = 0; i < rounds; ++i) {
      auto c = std::make_shared<shared_counts>();
      auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 2});
      auto a = h.ref();
      auto asker = zokio::spawn(zokio::co_invoke([a]() -> zokio::task<std::vector<int>> {
        std::vector<int> codes;
        for (int k = 0; k < 4; ++k) {
          auto r = co_await zokio::timeout(ask_work(a), 5s);
          codes.push_back(!r ? 9 : r->has_value() ? 0 : r->error() == zokio::errc::actor_stopped ? 1
                                                  : r->error() == zokio::errc::no_reply        ? 2
                                                                                               : 9);
        }
        co_return codes;
      }));
      if (i % 3 == 1) co_await zokio::yield_now{};
      h.stop(i % 2 ? zokio::stop_mode::drop : zokio::stop_mode::drain);
      for (int code : co_await std::move(asker)) {
        answered += code == 0;
        refused += code == 1;
        unanswered += code == 2;
        other += code == 9;
      }
      auto exit = co_await std::move(h);
      other += exit.failed;
    }
    co_return std::vector<long>{answered, refused, unanswered, other};
  }));
  BOOST_TEST_MESSAGE("answered " << r[0] << ", refused " << r[1] << ", unanswered " << r[2]);
  BOOST_TEST(r[0] + r[1] + r[2] == 4L * rounds);
  BOOST_TEST(r[3] == 0);  // no timeout, no other error, no failure
}

BOOST_AUTO_TEST_CASE(a_runtime_destroyed_with_busy_actors_and_waiting_asks_loses_nothing,
                     *boost::unit_test::timeout(60)) {
  auto c = std::make_shared<shared_counts>();
  c->gated = true;
  {
    auto rt = zokio::test::make_runtime(2);
    rt.block_on(zokio::co_invoke([c]() -> zokio::task<void> {
      for (int i = 0; i < 8; ++i) {
        auto h = zokio::spawn_actor<gated_msg>(gated_factory(c), {.mailbox = 4});
        for (int k = 0; k < 6; ++k) zokio::spawn(ask_work(h.ref())).detach();
      }
      co_await wait_for(c->in_handler, 8);
    }));
  }  // the runtime goes with every actor in a handler and asks waiting for room or a reply
  BOOST_TEST(c.use_count() == 1);  // every state (and its copy of c) was destroyed
  BOOST_TEST(c->stopped.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
