// Relacy model of the work-stealing deque (see doc/relacy.md).
//
// Mirrors zokio/detail/work_stealing_deque.hpp as of commit e89a87b: push (lines 55-65),
// push_overflow (71-88), pop (91-105), steal_into (109-155) and the head packing (171-179),
// with the same memory orders, plus the retry logic of scheduler::push_local in
// zokio/impl/scheduler.ipp. A change to any of those needs the same change here.
//
// Checked: one owner pushes (push_local: push, else push_overflow to the injector, else one
// more push, else the injector) and pops; one or two thieves steal_into their own deques (a
// thief's deque is stolen from too) and pop them; capacities 2 and 4, so the ring wraps and
// overflows. Every item is taken exactly once (nothing lost, nothing duplicated, no slot read
// before it was written), the deque's own asserts hold, and every deque ends empty.
//
// Differences from the real code: items are ints (1..N, 0 = a slot never written) instead of
// task_header*; the injector is a list owned by the owner thread (an item handed to it counts
// as taken); capacities are runtime values up to kMaxCap.
//
// Seeded bugs (`--seed-bug n`, each must make the model fail):
//   1  steal_into claims its batch with a plain store instead of the CAS (no re-check of head
//      against a concurrent pop or steal): an item is taken twice.
//   2  push treats `real` instead of `steal` as the head: it overwrites a slot a thief is
//      still copying.
//   3  push_overflow without the `tail - real < cap` re-check: after a thief made room it
//      hands out slots past the tail (stale items).
#include <cstddef>
#include <cstdint>

#include "model_common.hpp"

namespace {

constexpr std::uint32_t kMaxCap = 4;
constexpr int kMaxItems = 16;

// Bookkeeping outside the model (plain ints: Relacy runs every thread on one OS thread, and
// these must not add synchronization the algorithm does not have).
struct ledger {
  int taken[kMaxItems + 1];
  int n_items;
  void reset(int n) {
    n_items = n;
    for (int& t : taken) t = 0;
  }
  void take(int item) {
    RL_ASSERT(item >= 1 && item <= n_items);  // 0: a slot read before it was written
    if (item < 1 || item > n_items) return;
    RL_ASSERT(taken[item] == 0);  // taken twice
    taken[item] += 1;
  }
};

// How often each interesting path ran (summed over all iterations; printed per run), so that a
// model change that stops reaching a path shows up in the log.
struct path_counts {
  unsigned long overflow_moved, overflow_refused, injected_one, wrapped, steal_batch,
      pop_during_steal, steal_backed_off;
};
path_counts paths;

class ws_deque {
 public:
  void init(std::uint32_t cap) {
    cap_ = cap;
    mask_ = cap - 1;
    head_.store(0, rl::memory_order_relaxed);
    tail_.store(0, rl::memory_order_relaxed);
    for (std::uint32_t i = 0; i < cap_; ++i) buf_[i].store(0, rl::memory_order_relaxed);
  }
  std::uint32_t capacity() const { return cap_; }

  bool push(int item) {
    auto head = head_.load(rl::memory_order_acquire);
    // Seeded bug 2: ignores a thief still copying.
    std::uint32_t steal = seed_bug(2) ? unpack_real(head) : unpack_steal(head);
    std::uint32_t tail = tail_.load(rl::memory_order_relaxed);
    if (static_cast<std::uint32_t>(tail - steal) >= cap_) return false;
    if (tail >= cap_ && (tail & mask_) == 0) ++paths.wrapped;
    buf_[tail & mask_].store(item, rl::memory_order_relaxed);
    tail_.store(tail + 1, rl::memory_order_release);
    return true;
  }

  template <class Sink>
  bool push_overflow(Sink&& sink) {
    auto head = head_.load(rl::memory_order_acquire);
    std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
    if (steal != real) return false;
    std::uint32_t n = cap_ / 2;
    std::uint32_t tail = tail_.load(rl::memory_order_relaxed);
    // Seeded bug 3: no re-check that the queue is still full.
    if (!seed_bug(3) && static_cast<std::uint32_t>(tail - real) < cap_) return false;
    auto next = pack(real + n, real + n);
    if (!head_.compare_exchange_strong(head, next, rl::memory_order_acq_rel,
                                       rl::memory_order_acquire))
      return false;
    for (std::uint32_t i = 0; i < n; ++i)
      sink(buf_[(real + i) & mask_].load(rl::memory_order_relaxed));
    return true;
  }

  int pop() {
    auto head = head_.load(rl::memory_order_acquire);
    for (;;) {
      std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
      std::uint32_t tail = tail_.load(rl::memory_order_relaxed);
      if (real == tail) return 0;
      std::uint32_t next_real = real + 1;
      auto next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      if (head_.compare_exchange_weak(head, next, rl::memory_order_acq_rel,
                                      rl::memory_order_acquire)) {
        if (steal != real) ++paths.pop_during_steal;
        return buf_[real & mask_].load(rl::memory_order_relaxed);
      }
    }
  }

  int steal_into(ws_deque& dst, std::uint32_t& stolen) {
    stolen = 0;
    std::uint32_t dst_tail = dst.tail_.load(rl::memory_order_relaxed);
    std::uint32_t dst_steal = unpack_steal(dst.head_.load(rl::memory_order_acquire));
    if (static_cast<std::uint32_t>(dst_tail - dst_steal) > dst.cap_ / 2) return 0;

    auto head = head_.load(rl::memory_order_acquire);
    std::uint32_t first, n;
    for (;;) {
      std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
      if (steal != real) {
        ++paths.steal_backed_off;
        return 0;
      }
      std::uint32_t tail = tail_.load(rl::memory_order_acquire);
      n = tail - real;
      n -= n / 2;
      if (n == 0) return 0;
      if (n > dst.cap_ / 2) n = dst.cap_ / 2;
      auto next = pack(steal, real + n);
      if (seed_bug(1)) {
        head_.store(next, rl::memory_order_release);  // BUG: claims without re-checking head
        first = real;
        break;
      }
      if (head_.compare_exchange_weak(head, next, rl::memory_order_acq_rel,
                                      rl::memory_order_acquire)) {
        first = real;
        break;
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      int item = buf_[(first + i) & mask_].load(rl::memory_order_relaxed);
      dst.buf_[(dst_tail + i) & dst.mask_].store(item, rl::memory_order_relaxed);
    }
    head = head_.load(rl::memory_order_acquire);
    for (;;) {
      std::uint32_t real = unpack_real(head);
      // (Seeded bug 1's plain store above breaks this invariant by design.)
      if (!seed_bug(1)) {
        RL_ASSERT(unpack_steal(head) == first);
      }
      if (head_.compare_exchange_weak(head, pack(real, real), rl::memory_order_acq_rel,
                                      rl::memory_order_acquire))
        break;
    }
    stolen = n;
    if (n > 1) ++paths.steal_batch;
    int ret = dst.buf_[(dst_tail + n - 1) & dst.mask_].load(rl::memory_order_relaxed);
    if (n > 1) dst.tail_.store(dst_tail + n - 1, rl::memory_order_release);
    return ret;
  }

  // Checks the documented invariants on one snapshot (owner side).
  void check_invariants() {
    auto head = head_.load(rl::memory_order_acquire);
    std::uint32_t tail = tail_.load(rl::memory_order_relaxed);  // owner: exact
    RL_ASSERT(static_cast<std::uint32_t>(unpack_real(head) - unpack_steal(head)) <= cap_);
    RL_ASSERT(static_cast<std::uint32_t>(tail - unpack_steal(head)) <= cap_);
  }

  bool empty_at_end() {
    return unpack_real(head_.load(rl::memory_order_acquire)) ==
               tail_.load(rl::memory_order_acquire) &&
           unpack_steal(head_.load(rl::memory_order_acquire)) ==
               unpack_real(head_.load(rl::memory_order_acquire));
  }

 private:
  static std::uint32_t unpack_steal(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32); }
  static std::uint32_t unpack_real(std::uint64_t h) { return static_cast<std::uint32_t>(h); }
  static std::uint64_t pack(std::uint32_t steal, std::uint32_t real) {
    return (std::uint64_t{steal} << 32) | real;
  }

  rl::atomic<std::uint64_t> head_;
  rl::atomic<std::uint32_t> tail_;
  std::uint32_t cap_ = 0;
  std::uint32_t mask_ = 0;
  rl::atomic<int> buf_[kMaxCap];
};

// Config: the owner's script ('p' = push_local of the next item, 'o' = pop one) and, per
// thief, the victims it steals from in order (0 = the owner, k = thief k).
struct deque_config {
  std::uint32_t owner_cap;
  std::uint32_t thief_cap[2];
  const char* owner_script;
  const char* thief_victims[2];
};

template <int Thieves, const deque_config& C>
struct deque_test : rl::test_suite<deque_test<Thieves, C>, 1 + Thieves> {
  ws_deque q[1 + Thieves];
  ledger led;
  int next_item;

  void before() {
    int n = 0;
    for (const char* s = C.owner_script; *s; ++s) n += *s == 'p';
    led.reset(n);
    next_item = 1;
    q[0].init(C.owner_cap);
    for (int i = 0; i < Thieves; ++i) q[1 + i].init(C.thief_cap[i]);
  }

  // scheduler::push_local: push; when full, push_overflow to the injector (a batch), or, when
  // that moved nothing, one more push, else the injector.
  void push_local(int item) {
    ws_deque& d = q[0];
    for (;;) {
      if (d.push(item)) break;
      bool moved = d.push_overflow([this](int x) { led.take(x); });
      if (!moved) {
        ++paths.overflow_refused;
        if (!d.push(item)) {
          ++paths.injected_one;
          led.take(item);
        }
        break;
      }
      ++paths.overflow_moved;
    }
    d.check_invariants();
  }

  void thread(unsigned index) {
    if (index == 0) {
      for (const char* s = C.owner_script; *s; ++s) {
        if (*s == 'p') {
          push_local(next_item++);
        } else if (int x = q[0].pop()) {
          led.take(x);
        }
      }
      while (int x = q[0].pop()) led.take(x);
      return;
    }
    ws_deque& mine = q[index];
    for (const char* v = C.thief_victims[index - 1]; *v; ++v) {
      std::uint32_t stolen = 0;
      int victim = *v - '0';
      if (int x = q[victim].steal_into(mine, stolen)) {
        RL_ASSERT(stolen >= 1 && stolen <= mine.capacity() / 2);
        led.take(x);
      }
    }
    while (int x = mine.pop()) led.take(x);
  }

  void after() {
    for (auto& d : q) RL_ASSERT(d.empty_at_end());
    for (int i = 1; i <= led.n_items; ++i) RL_ASSERT(led.taken[i] == 1);  // 0: lost
  }
};

// Capacity 2: every second push wraps; the third push overflows unless a thief made room.
constexpr deque_config one_thief_cap2{2, {2, 2}, "ppppopppo", {"000", ""}};
// Capacity 4 with steal batches of 2 into a thief of capacity 4.
constexpr deque_config one_thief_cap4{4, {4, 4}, "pppppopppp", {"000", ""}};
// Two thieves; the second also steals from the first one's deque.
constexpr deque_config two_thieves_cap2{2, {2, 4}, "ppppppo", {"00", "010"}};
constexpr deque_config two_thieves_cap4{4, {4, 2}, "pppppppp", {"00", "100"}};
// Small enough for an exhaustive context-bound search.
constexpr deque_config small_cap2{2, {2, 2}, "pppo", {"00", ""}};

template <class Test>
bool run(const char* name, rl::scheduler_type_e sched, rl::iteration_t iterations,
         unsigned bound = 1) {
  paths = path_counts{};
  bool ok = zokio_relacy::run<Test>(name, sched, iterations, bound);
  std::printf("  paths: overflow moved %lu, refused %lu, one to injector %lu; wraps %lu; "
              "steal batches %lu; pops during a steal %lu; steals backed off %lu\n",
              paths.overflow_moved, paths.overflow_refused, paths.injected_one, paths.wrapped,
              paths.steal_batch, paths.pop_during_steal, paths.steal_backed_off);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (!zokio_relacy::parse_args(argc, argv)) return 2;
  bool ok = true;
  ok = ok && run<deque_test<1, small_cap2>>("deque: owner + 1 thief, cap 2 (exhaustive)",
                                            rl::sched_bound, 0, 2);
  ok = ok && run<deque_test<1, one_thief_cap2>>("deque: owner + 1 thief, cap 2",
                                                rl::sched_random, 100000);
  ok = ok && run<deque_test<1, one_thief_cap4>>("deque: owner + 1 thief, cap 4",
                                                rl::sched_random, 100000);
  ok = ok && run<deque_test<2, two_thieves_cap2>>("deque: owner + 2 thieves, cap 2/2/4",
                                                  rl::sched_random, 100000);
  ok = ok && run<deque_test<2, two_thieves_cap4>>("deque: owner + 2 thieves, cap 4/4/2",
                                                  rl::sched_random, 100000);
  return zokio_relacy::finish(ok);
}
