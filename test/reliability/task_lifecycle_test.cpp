// The task life cycle, every combination (issue 10):
//   {1 worker, 3 workers}
//   x {returns, throws, aborted before its first poll, aborted while suspended in an await}
//   x {handle dropped at once, dropped after the first poll, joined, detached}
//   x {a zokio::task coroutine, a hand-written future},
// each run for kRounds rounds on one runtime so that races show. Rounds alternate the spawn
// (from the test thread, through the injector, or from a task, into a worker's LIFO slot), the
// join (block_on, or co_await in a task) and, for an abort mid-await, a spurious wake racing
// the abort. Every round checks:
//   - the output (counted_out) and the exception (counted_error) count their constructions,
//     copies and moves against their destructions: every object made is destroyed exactly
//     once (no leak, no double destroy), by the end of the round;
//   - the future is destroyed exactly once (a probe it owns counts its destructor: for the
//     coroutine, a parameter, which lives as long as the frame), and the task's memory block
//     exactly once (zokio's allocation hook counts the allocations and frees of that block's
//     size: the frame the cell is built in, or the hand-written future's cell);
//   - the join (block_on on the test thread, or co_await from a task on the runtime) yields
//     the value returned, rethrows the exception thrown, or throws join_error(task_aborted),
//     and only once the future has been destroyed (the probe's count is read when the join
//     returns or throws; is_finished() is held to the same);
//   - a task aborted before its first poll is never polled (all workers are kept busy while
//     it is spawned and aborted).
// An exception nobody observes (throws x {dropped, detached}) must not leak: it is destroyed
// with the task. Where the runtime has an unhandled-exception policy
// (<zokio/unhandled_exception.hpp>), those runtimes are built with the `log` policy.
#include <sys/prctl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <zokio/allocation.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/runtime.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#if __has_include(<zokio/unhandled_exception.hpp>)
#include <zokio/unhandled_exception.hpp>
#define ZOKIO_LC_HAS_UNHANDLED_POLICY 1
#else
#define ZOKIO_LC_HAS_UNHANDLED_POLICY 0
#endif

#include "../support/stderr_capture.hpp"
#include "../support/test_util.hpp"

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;

// A named namespace: the data test case's lambdas capture these types (-Wsubobject-linkage).
namespace task_lifecycle_test {

// 50 in every build: the whole file takes under 2 s with ThreadSanitizer too.
constexpr int kRounds = 50;
constexpr auto kQuiesceLimit = 10s;
constexpr auto kOwnerWakeLimit = 20ms;  // then the workers are woken (see run_round)
constexpr const char* kWorkerName = "zlc";  // workers are "zlc-<i>": their events count

enum class outcome { returns, throws, aborted_before_first_poll, aborted_mid_await };
enum class handle_fate { dropped_at_once, dropped_after_first_poll, joined, detached };
enum class future_kind { coroutine, hand_written };

std::ostream& operator<<(std::ostream& os, outcome o) {
  constexpr const char* names[] = {"returns", "throws", "aborted before first poll",
                                   "aborted mid-await"};
  return os << names[static_cast<int>(o)];
}
std::ostream& operator<<(std::ostream& os, handle_fate f) {
  constexpr const char* names[] = {"handle dropped at once", "handle dropped after first poll",
                                   "joined", "detached"};
  return os << names[static_cast<int>(f)];
}
std::ostream& operator<<(std::ostream& os, future_kind k) {
  return os << (k == future_kind::coroutine ? "zokio::task coroutine" : "hand-written future");
}

// --- objects that count their lifetimes -----------------------------------------------------

constexpr std::uint32_t kAlive = 0xA11CE5u, kDead = 0xDEADu;

struct lifetime_count {
  std::atomic<long> made{0}, destroyed{0}, destroyed_twice{0};
  long live() const { return made.load() - destroyed.load(); }
  void reset() {
    made = 0;
    destroyed = 0;
    destroyed_twice = 0;
  }
  void on_destroy(std::atomic<std::uint32_t>& magic) {
    // An atomic store: g++ drops plain stores to a dying object (lifetime DSE).
    if (magic.exchange(kDead) != kAlive) destroyed_twice.fetch_add(1);
    destroyed.fetch_add(1);
  }
};
inline lifetime_count g_outputs, g_errors;

/// The task's output: every construction (value, copy, move) against every destruction.
struct counted_out {
  int value;
  std::atomic<std::uint32_t> magic{kAlive};
  explicit counted_out(int v) noexcept : value(v) { g_outputs.made.fetch_add(1); }
  counted_out(const counted_out& o) noexcept : value(o.value) { g_outputs.made.fetch_add(1); }
  counted_out(counted_out&& o) noexcept : value(o.value) { g_outputs.made.fetch_add(1); }
  counted_out& operator=(const counted_out&) = delete;
  ~counted_out() { g_outputs.on_destroy(magic); }
};

/// The exception a "throws" task throws, counted the same way.
struct counted_error : std::exception {
  int tag;
  std::atomic<std::uint32_t> magic{kAlive};
  explicit counted_error(int t) noexcept : tag(t) { g_errors.made.fetch_add(1); }
  counted_error(const counted_error& o) noexcept : std::exception(o), tag(o.tag) {
    g_errors.made.fetch_add(1);
  }
  counted_error& operator=(const counted_error&) = delete;
  ~counted_error() override { g_errors.on_destroy(magic); }
  const char* what() const noexcept override { return "task_lifecycle counted_error"; }
};

// --- zokio's allocation hook: the task's block, allocated and freed once --------------------

struct alloc_tally {
  // [0]: alloc_category::frame, [1]: alloc_category::task; on the counted threads only.
  std::atomic<long> allocs[2] = {}, frees[2] = {};
  // Blocks of the target task's category and size.
  std::atomic<int> target_cat{-1};
  std::atomic<std::size_t> target_bytes{0};
  std::atomic<long> target_allocs{0}, target_frees{0};
  std::atomic<long> others{0};  // on threads not counted: reported only
  void reset() {
    for (int c = 0; c < 2; ++c) {
      allocs[c] = 0;
      frees[c] = 0;
    }
    target_allocs = 0;
    target_frees = 0;
    others = 0;
  }
  long balance() const {
    return allocs[0].load() + allocs[1].load() - frees[0].load() - frees[1].load();
  }
};
inline alloc_tally g_tally;
inline std::thread::id g_test_thread;
inline thread_local std::size_t* tl_capture_frame_bytes = nullptr;

/// The test thread and this file's runtime workers ("zlc-<i>"); not threads left over by
/// other test files of the executable. Allocation-free (it runs inside the hook).
inline bool counted_thread() noexcept {
  if (std::this_thread::get_id() == g_test_thread) return true;
  char name[17] = {};
  return ::prctl(PR_GET_NAME, name) == 0 && std::strncmp(name, "zlc-", 4) == 0;
}

inline void hook(const zokio::alloc_event& e) noexcept {
  const int c = e.category == zokio::alloc_category::frame  ? 0
                : e.category == zokio::alloc_category::task ? 1
                                                            : -1;
  if (c < 0) return;
  if (c == 0 && !e.deallocate && tl_capture_frame_bytes) {
    *tl_capture_frame_bytes = e.bytes;
    tl_capture_frame_bytes = nullptr;
  }
  if (!counted_thread()) {
    g_tally.others.fetch_add(1);
    return;
  }
  (e.deallocate ? g_tally.frees : g_tally.allocs)[c].fetch_add(1);
  if (c == g_tally.target_cat.load() && e.bytes == g_tally.target_bytes.load())
    (e.deallocate ? g_tally.target_frees : g_tally.target_allocs).fetch_add(1);
}

struct hook_fixture {
  hook_fixture() {
    g_test_thread = std::this_thread::get_id();
    prev_ = zokio::set_alloc_hook(&hook);
  }
  ~hook_fixture() { zokio::set_alloc_hook(prev_); }
  zokio::alloc_hook prev_;
};

// --- the target task's pieces ---------------------------------------------------------------

/// A gate the target awaits: opened by the test; the waiting future drops its registration
/// when destroyed (as a real future must), so an aborted waiter leaves no waker behind.
class gate {
 public:
  void open() {
    zokio::waker w;
    {
      std::lock_guard lk(m_);
      open_ = true;
      w = std::move(w_);
    }
    w.wake();
  }
  /// A spurious wake: the waiter is polled again and finds the gate still closed.
  void poke() {
    zokio::waker w;
    {
      std::lock_guard lk(m_);
      w = w_;
    }
    w.wake_by_ref();
  }
  bool waiting() {
    std::lock_guard lk(m_);
    return w_.valid();
  }

  // Not an aggregate (g++ 12 and co_await of aggregates with destructors).
  class wait_future {
   public:
    using output = void;
    explicit wait_future(gate* g) noexcept : g_(g) {}
    wait_future(wait_future&& o) noexcept
        : g_(std::exchange(o.g_, nullptr)), registered_(std::exchange(o.registered_, false)) {}
    wait_future& operator=(wait_future&&) = delete;
    ~wait_future() {
      if (!g_ || !registered_) return;
      zokio::waker w;  // dropped outside the lock
      std::lock_guard lk(g_->m_);
      w = std::move(g_->w_);
    }
    zokio::poll<void> poll(zokio::context& cx) {
      zokio::waker old;  // dropped outside the lock
      std::lock_guard lk(g_->m_);
      if (g_->open_) {
        registered_ = false;
        old = std::move(g_->w_);
        return zokio::ready();
      }
      if (!g_->w_.will_wake(cx.waker())) {
        old = std::move(g_->w_);
        g_->w_ = cx.waker();
      }
      registered_ = true;
      return zokio::pending;
    }

   private:
    gate* g_;
    bool registered_ = false;
  };

 private:
  std::mutex m_;
  bool open_ = false;
  zokio::waker w_;
};

/// One round's shared state. Rounds are kept until the runtime is gone (nothing dangles).
struct round_state {
  int value = 0;  // returned (or thrown as the tag)
  outcome what = outcome::returns;
  gate g;
  std::atomic<int> polls{0};
  std::atomic<int> future_destroyed{0};
};

/// Owned by the target future: counts the future's destruction (moved-from ones do not count).
class probe {
 public:
  explicit probe(round_state* s) noexcept : s_(s) {}
  probe(probe&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  probe& operator=(probe&&) = delete;
  ~probe() {
    if (s_) s_->future_destroyed.fetch_add(1);
  }

 private:
  round_state* s_;
};

/// The coroutine target. The probe is a parameter: its frame copy dies with the frame. The
/// ballast makes the frame bigger than any other coroutine frame of this file, so that the
/// hook tells its block apart by size.
zokio::task<counted_out> target_coro(probe p, round_state* s) {
  (void)p;
  std::array<unsigned char, 512> ballast;
  ballast.fill(static_cast<unsigned char>(s->value));
  s->polls.fetch_add(1);
  co_await gate::wait_future(&s->g);
  if (ballast[s->value % ballast.size()] != static_cast<unsigned char>(s->value))
    throw std::logic_error("ballast");
  if (s->what == outcome::throws) throw counted_error(s->value);
  co_return counted_out(s->value);
}

/// The hand-written target. The padding gives its task cell a size of its own.
struct hand_future {
  using output = counted_out;
  explicit hand_future(round_state* st) noexcept : s(st), wait(&st->g), p(st) {}
  hand_future(hand_future&&) noexcept = default;

  zokio::poll<counted_out> poll(zokio::context& cx) {
    s->polls.fetch_add(1);
    if (wait.poll(cx).is_pending()) return zokio::pending;
    if (s->what == outcome::throws) throw counted_error(s->value);
    return zokio::poll<counted_out>(counted_out(s->value));
  }

  round_state* s;
  gate::wait_future wait;
  probe p;
  std::array<char, 328> pad{};
};

template <future_kind K>
auto make_target(round_state* s) {
  if constexpr (K == future_kind::coroutine)
    return target_coro(probe(s), s);
  else
    return hand_future(s);
}

/// A target made out of line: clang elides the frame allocation (HALO) of a coroutine
/// created and destroyed in the same function.
[[gnu::noinline]] zokio::task<counted_out> unspawned_target(round_state* s) {
  return target_coro(probe(nullptr), s);
}

/// The target's block: its category (0 frame, 1 task) and size, as the hook reports them.
template <future_kind K>
std::pair<int, std::size_t> target_block() {
  if constexpr (K == future_kind::coroutine) {
    // A frame allocated on this thread and freed unspawned: the hook records its size.
    std::size_t bytes = 0;
    round_state dummy;
    tl_capture_frame_bytes = &bytes;
    { auto t = unspawned_target(&dummy); }
    tl_capture_frame_bytes = nullptr;
    return {0, bytes};
  } else {
    return {1, sizeof(zokio::detail::task_cell<hand_future>)};
  }
}

/// Spins in its poll until released: `n` of them keep `n` workers busy.
struct blocker {
  using output = void;
  std::atomic<int>* started;
  std::atomic<bool>* release;
  bool counted = false;
  zokio::poll<void> poll(zokio::context&) {
    if (!counted) {
      counted = true;
      started->fetch_add(1);
    }
    while (!release->load()) std::this_thread::yield();
    return zokio::ready();
  }
};

// --- joining --------------------------------------------------------------------------------

struct join_record {
  enum kind { got_nothing, got_value, got_error, got_join_error, got_other } got = got_nothing;
  int value = 0;
  bool cancelled = false;
  int future_destroyed = -1;  // the probe's count when the join returned or threw
  std::string what;
};

zokio::task<void> joiner(zokio::join_handle<counted_out> h, round_state* s, join_record* rec) {
  try {
    counted_out v = co_await std::move(h);
    rec->future_destroyed = s->future_destroyed.load();
    rec->got = join_record::got_value;
    rec->value = v.value;
  } catch (const counted_error& e) {
    rec->future_destroyed = s->future_destroyed.load();
    rec->got = join_record::got_error;
    rec->value = e.tag;
  } catch (const zokio::join_error& e) {
    rec->future_destroyed = s->future_destroyed.load();
    rec->got = join_record::got_join_error;
    rec->cancelled = e.is_cancelled();
    rec->what = e.what();
  } catch (const std::exception& e) {
    rec->future_destroyed = s->future_destroyed.load();
    rec->got = join_record::got_other;
    rec->what = e.what();
  }
}

/// Joins `h` on the test thread (block_on) or from a task on the runtime; `meanwhile` runs
/// once the join is under way (from a task), or just before it (block_on).
template <class Runtime, class F>
join_record join_target(Runtime& rt, zokio::join_handle<counted_out> h, round_state& s,
                        bool from_task, F meanwhile) {
  join_record rec;
  if (from_task) {
    auto j = rt.spawn(joiner(std::move(h), &s, &rec));
    meanwhile();
    rt.block_on(std::move(j));
    return rec;
  }
  meanwhile();
  try {
    counted_out v = rt.block_on(std::move(h));
    rec.future_destroyed = s.future_destroyed.load();
    rec.got = join_record::got_value;
    rec.value = v.value;
  } catch (const counted_error& e) {
    rec.future_destroyed = s.future_destroyed.load();
    rec.got = join_record::got_error;
    rec.value = e.tag;
  } catch (const zokio::join_error& e) {
    rec.future_destroyed = s.future_destroyed.load();
    rec.got = join_record::got_join_error;
    rec.cancelled = e.is_cancelled();
    rec.what = e.what();
  } catch (const std::exception& e) {
    rec.future_destroyed = s.future_destroyed.load();
    rec.got = join_record::got_other;
    rec.what = e.what();
  }
  return rec;
}

/// Spins (yielding) until pred() or the limit; returns pred().
template <class Pred>
bool spin_until(Pred pred, std::chrono::steady_clock::duration limit = kQuiesceLimit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    std::this_thread::yield();
  }
  return true;
}

// --- one combination ------------------------------------------------------------------------

/// Outlives the runtime (declared first): the rounds' state and the blockers' flags.
struct case_state {
  std::vector<std::unique_ptr<round_state>> rounds;
  std::atomic<int> started{0};
  std::atomic<bool> release{true};
  int freed_after_nudge = 0;  // rounds whose memory waited for a parked owner worker
};

/// Releases the blockers whatever happens, before the runtime joins its workers.
struct release_guard {
  case_state& cs;
  ~release_guard() { cs.release = true; }
};

/// An exception nobody will observe: the `log` policy where the runtime has policies.
bool unobserved_throw(outcome what, handle_fate fate) {
  return what == outcome::throws && fate != handle_fate::joined;
}

zokio::runtime make_lc_runtime(unsigned workers, bool unobserved) {
#if ZOKIO_LC_HAS_UNHANDLED_POLICY
  if (unobserved)
    return zokio::runtime::builder()
        .worker_threads(workers)
        .thread_name(kWorkerName)
        .unhandled_exception(zokio::unhandled_exception_policy::log)
        .build();
#else
  (void)unobserved;
#endif
  return zokio::test::make_runtime(workers, kWorkerName);
}

/// One round; false when it failed badly enough (no quiescence) that the case must stop.
template <future_kind K>
bool run_round(zokio::runtime& rt, case_state& cs, unsigned workers, outcome what,
               handle_fate fate, int r) {
  BOOST_TEST_CONTEXT("round " << r) {
    auto& s = *cs.rounds.emplace_back(std::make_unique<round_state>());
    s.value = 1000 + r;
    s.what = what;
    const bool aborted =
        what == outcome::aborted_before_first_poll || what == outcome::aborted_mid_await;
    // Spawned from the test thread (injector) or from a task on a worker (its LIFO slot);
    // joined by block_on or by a task.
    const bool spawn_on_worker = what != outcome::aborted_before_first_poll && r % 2 == 1;
    const bool join_from_task = (r / 2) % 2 == 1;

    const long outputs_made0 = g_outputs.made.load(), errors_made0 = g_errors.made.load();
    const long target_allocs0 = g_tally.target_allocs.load();
    const long target_frees0 = g_tally.target_frees.load();

    // Aborted before its first poll: every worker spins in a blocker meanwhile.
    std::vector<zokio::join_handle<void>> blockers;
    if (what == outcome::aborted_before_first_poll) {
      cs.started = 0;
      cs.release = false;
      for (unsigned i = 0; i < workers; ++i)
        blockers.push_back(rt.spawn(blocker{&cs.started, &cs.release}));
      BOOST_TEST_REQUIRE(spin_until([&] { return cs.started.load() == int(workers); }),
                         "the blockers never occupied all " << workers << " workers");
    }
    auto release_blockers = [&] { cs.release = true; };

    zokio::join_handle<counted_out> h;
    if (spawn_on_worker) {
      h = rt.block_on(rt.spawn(zokio::co_invoke(
          [&s]() -> zokio::task<zokio::join_handle<counted_out>> {
            co_return zokio::spawn(make_target<K>(&s));
          })));
    } else {
      h = rt.spawn(make_target<K>(&s));
    }
    BOOST_TEST_REQUIRE(h.valid());

    if (what == outcome::aborted_before_first_poll) {
      h.abort();
    } else if (what == outcome::aborted_mid_await) {
      BOOST_TEST_REQUIRE(spin_until([&] { return s.g.waiting(); }),
                         "the task never reached its await");
      if (r % 2 == 1) s.g.poke();  // a wake racing the abort
      h.abort();
    }

    std::optional<join_record> rec;
    switch (fate) {
      case handle_fate::dropped_at_once:
        { auto gone = std::move(h); }
        if (aborted)
          release_blockers();
        else
          s.g.open();
        break;
      case handle_fate::dropped_after_first_poll:
        if (aborted) {
          // After the worker's first run of the task, which for an abort is the
          // cancellation (the task aborted before its first poll is never polled).
          release_blockers();
          BOOST_TEST_REQUIRE(spin_until([&] { return h.is_finished(); }));
          BOOST_TEST(s.future_destroyed.load() == 1,
                     "when is_finished(), the future had been destroyed "
                         << s.future_destroyed.load() << " times (expected once, before)");
          { auto gone = std::move(h); }
        } else {
          BOOST_TEST_REQUIRE(spin_until([&] { return s.polls.load() > 0; }));
          { auto gone = std::move(h); }
          s.g.open();
        }
        break;
      case handle_fate::joined:
        rec = join_target(rt, std::move(h), s, join_from_task, [&] {
          if (aborted)
            release_blockers();
          else
            s.g.open();
        });
        break;
      case handle_fate::detached:
        if (aborted)
          release_blockers();  // the cancellation races the detach
        else
          s.g.open();  // the completion races the detach
        h.detach();
        BOOST_TEST(!h.valid());
        break;
    }
    release_blockers();
    for (auto& b : blockers) rt.block_on(std::move(b));

    // Quiescence. First what completion itself does: the future destroyed, every output and
    // exception of the round gone.
    const bool done = spin_until([&] {
      return s.future_destroyed.load() >= 1 && g_outputs.live() == 0 && g_errors.live() == 0;
    });
    // Then the memory: every frame and task block of the round freed. A task completed on
    // another worker than the one that spawned it is handed back to that owner, which frees
    // it at its next drain: a parked owner keeps it until it wakes (owned_tasks.hpp). A
    // no-op posted to every worker's io_context wakes them.
    auto freed = [&] {
      return g_tally.target_frees.load() > target_frees0 && g_tally.balance() == 0;
    };
    if (!spin_until(freed, kOwnerWakeLimit)) {
      ++cs.freed_after_nudge;
      spin_until([&] {
        for (std::size_t i = 0; i < rt.num_workers(); ++i)
          boost::asio::post(rt.worker_io_context(i), [] {});
        return spin_until(freed, 2ms);
      });
    }
    const bool quiet = done && freed();
    BOOST_TEST(quiet, "the round did not quiesce within " << kQuiesceLimit.count() << " s");
    BOOST_TEST(s.future_destroyed.load() == 1, "future destroyed " << s.future_destroyed.load()
                                                                  << " times");
    BOOST_TEST(g_tally.target_allocs.load() - target_allocs0 == 1);
    BOOST_TEST(g_tally.target_frees.load() - target_frees0 == 1,
               "task block freed " << g_tally.target_frees.load() - target_frees0 << " times");
    BOOST_TEST(g_tally.balance() == 0, "blocks still live: frame "
                                           << g_tally.allocs[0].load() - g_tally.frees[0].load()
                                           << ", task "
                                           << g_tally.allocs[1].load() - g_tally.frees[1].load());
    BOOST_TEST(g_outputs.live() == 0, "outputs made " << g_outputs.made.load() << ", destroyed "
                                                      << g_outputs.destroyed.load());
    BOOST_TEST(g_errors.live() == 0, "exceptions made " << g_errors.made.load() << ", destroyed "
                                                        << g_errors.destroyed.load());
    BOOST_TEST(g_outputs.destroyed_twice.load() == 0);
    BOOST_TEST(g_errors.destroyed_twice.load() == 0);

    // What ran.
    switch (what) {
      case outcome::returns:
        BOOST_TEST(g_outputs.made.load() - outputs_made0 >= 1, "no output was ever made");
        BOOST_TEST(g_errors.made.load() - errors_made0 == 0);
        break;
      case outcome::throws:
        BOOST_TEST(g_errors.made.load() - errors_made0 >= 1, "the exception was never thrown");
        BOOST_TEST(g_outputs.made.load() - outputs_made0 == 0);
        break;
      case outcome::aborted_before_first_poll:
        BOOST_TEST(s.polls.load() == 0, "aborted before its first poll, polled " << s.polls.load()
                                                                                 << " times");
        BOOST_TEST(g_outputs.made.load() - outputs_made0 == 0);
        break;
      case outcome::aborted_mid_await:
        BOOST_TEST(s.polls.load() >= 1);
        BOOST_TEST(g_outputs.made.load() - outputs_made0 == 0);
        BOOST_TEST(g_errors.made.load() - errors_made0 == 0);
        break;
    }
    if (rec) {
      BOOST_TEST_CONTEXT("joined " << (join_from_task ? "from a task" : "by block_on")) {
        BOOST_TEST(rec->future_destroyed == 1,
                   "when the join completed, the future had been destroyed "
                       << rec->future_destroyed << " times (expected once, before)");
        switch (what) {
          case outcome::returns:
            BOOST_TEST(rec->got == join_record::got_value, "join: " << rec->what);
            BOOST_TEST(rec->value == s.value);
            break;
          case outcome::throws:
            BOOST_TEST(rec->got == join_record::got_error, "join did not rethrow: " << rec->what);
            BOOST_TEST(rec->value == s.value);
            break;
          default:
            BOOST_TEST(rec->got == join_record::got_join_error, "join: " << rec->what);
            BOOST_TEST(rec->cancelled, "join_error: " << rec->what);
            break;
        }
      }
    }
    return quiet;
  }
  return false;
}

template <future_kind K>
void run_combination(unsigned workers, outcome what, handle_fate fate) {
  BOOST_TEST_CONTEXT(K) {
    g_outputs.reset();
    g_errors.reset();
    const auto [cat, bytes] = target_block<K>();
    BOOST_TEST_REQUIRE(bytes != 0u);
    g_tally.target_cat = cat;
    g_tally.target_bytes = bytes;
    g_tally.reset();

    const bool unobserved = unobserved_throw(what, fate);
    case_state cs;
    int rounds = 0;
    {
      auto rt = make_lc_runtime(workers, unobserved);
      release_guard guard{cs};
#if ZOKIO_LC_HAS_UNHANDLED_POLICY && !defined(ZOKIO_SANITIZER_BUILD)
      // The log policy's lines, one per round, kept out of the test log (not under the
      // sanitizers, whose reports must reach the terminal).
      std::optional<zokio::test::stderr_capture> log;
      if (unobserved) log.emplace();
#endif
      for (int r = 0; r < kRounds; ++r) {
        ++rounds;
        if (!run_round<K>(rt, cs, workers, what, fate, r)) break;
#if ZOKIO_LC_HAS_UNHANDLED_POLICY && !defined(ZOKIO_SANITIZER_BUILD)
        if (log) log->peek();  // drains the pipe
#endif
      }
#if ZOKIO_LC_HAS_UNHANDLED_POLICY && !defined(ZOKIO_SANITIZER_BUILD)
      if (log) {
        // Not asserted: whether an exception left in the result slot by a task that finished
        // before its handle was dropped counts as unhandled is the policy's business.
        const std::string& text = log->text();
        int lines = 0;
        for (auto p = text.find("task_lifecycle counted_error"); p != std::string::npos;
             p = text.find("task_lifecycle counted_error", p + 1))
          ++lines;
        BOOST_TEST_MESSAGE("unhandled_exception_policy::log: " << lines << " of " << rounds
                                                               << " exceptions logged");
      }
#endif
    }
    // The runtime is gone: nothing of any round may be left, nor freed twice.
    BOOST_TEST(g_tally.target_allocs.load() == rounds);
    BOOST_TEST(g_tally.target_frees.load() == rounds);
    BOOST_TEST(g_tally.balance() == 0);
    BOOST_TEST(g_outputs.live() == 0);
    BOOST_TEST(g_errors.live() == 0);
    BOOST_TEST(g_outputs.destroyed_twice.load() == 0);
    BOOST_TEST(g_errors.destroyed_twice.load() == 0);
    for (auto& s : cs.rounds) BOOST_TEST(s->future_destroyed.load() == 1);
    BOOST_TEST_MESSAGE(workers << " workers, " << what << ", " << fate << ", " << K << ": "
                               << rounds << " rounds, " << cs.freed_after_nudge
                               << " of them freed the task only once its owner was woken; "
                                  "frame/task blocks on other threads: "
                               << g_tally.others.load());
  }
}

const std::vector<outcome> kOutcomes = {outcome::returns, outcome::throws,
                                        outcome::aborted_before_first_poll,
                                        outcome::aborted_mid_await};
const std::vector<handle_fate> kFates = {handle_fate::dropped_at_once,
                                         handle_fate::dropped_after_first_poll,
                                         handle_fate::joined, handle_fate::detached};

}  // namespace task_lifecycle_test

using namespace task_lifecycle_test;

BOOST_FIXTURE_TEST_SUITE(task_lifecycle, hook_fixture)

BOOST_DATA_TEST_CASE(every_combination,
                     bdata::make({1u, 3u}) * bdata::make(kOutcomes) * bdata::make(kFates),
                     workers, what, fate) {
  run_combination<future_kind::coroutine>(workers, what, fate);
  run_combination<future_kind::hand_written>(workers, what, fate);
}

BOOST_AUTO_TEST_SUITE_END()
