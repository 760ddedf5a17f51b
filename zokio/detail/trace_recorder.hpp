// The flight recorder (runtime_config::enable_trace): per-worker rings of timestamped
// scheduler events (spawn, poll begin/end, wake, park/unpark, steal), written out as Chrome
// Trace Event JSON.
//
// Invariants: worker i's ring is written by worker i's thread only (single writer, no lock);
// events from other threads (an outside spawn or wake) go to one more ring under a spin
// lock. Each slot is two relaxed atomics, so a reader never races in the C++ sense; what it
// must know is which slots the writer may have overwritten while it copied them. The writer
// raises `reserved` to n + 1 (relaxed) and issues a release fence before it writes event n's
// slot, then publishes `head` = n + 1 (release). A reader loads `head` (acquire: pairs with
// that store; events below it are whole), copies, issues an acquire fence and reads
// `reserved`: a slot it copied that the writer had overwritten was written after the
// writer's fence, so the reader's fence synchronizes with it and `reserved` shows the
// overwrite. The reader keeps events n >= reserved - capacity only (the seqlock argument).
//
// Timestamps: a clock read costs more than the rest of an event (rdtsc: 25-40 cycles on bare
// metal, 16-20 ns on a VM), so a worker's ring reads the clock once per poll, not per event.
// Writer-private state (`last_`, `depth_`, `chain_`) decides, per event on a worker's ring:
// - poll_end, park, unpark, steal: a fresh read;
// - a spawn or wake during a poll: the ring's latest stamp (the poll's begin, or the end of
//   a child polled inline), so it shows which poll did it, not the ns inside that poll;
// - between two tasks run by the worker loop, while it does only the scheduler's own work
//   (taking the next task): the stamp of the previous task's last event, for spawns and
//   wakes and for the next outermost poll_begin. The loop says so (chain(), after a task's
//   poll and completion); anything else it does between polls (I/O turns, searching,
//   spinning, parking, leaving a block_on) calls gap() first, and any other event ends it
//   too, so the events after it get a fresh read. Polls nested in a poll, and polls run
//   outside the worker loop (a block_on's join running its child inline), always do.
// Stamps on one ring never decrease. The ring for other threads always reads the clock.
// Cost per event: four relaxed stores and a release store, plus about one clock read per
// poll on a busy worker (its poll_end).
#ifndef ZOKIO_DETAIL_TRACE_RECORDER_HPP
#define ZOKIO_DETAIL_TRACE_RECORDER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/tick_clock.hpp>

namespace zokio::detail {

enum class trace_kind : std::uint8_t {
  poll_begin,  // a task's poll starts (value: its id)
  poll_end,    // and ends (value: its id)
  park,        // the worker goes to sleep
  unpark,      // and wakes
  spawn,       // a task is spawned (value: its id)
  wake,        // a task is woken and queued (value: its id)
  steal,       // this worker took tasks from a sibling (value: how many)
};

class alignas(ZOKIO_CACHE_LINE) trace_ring {
 public:
  /// Before any use: room for `capacity` events (a power of two).
  ZOKIO_DECL void init(std::size_t capacity);

  /// Owner only: a worker's ring, stamped as the invariants say.
  void push(trace_kind k, std::uint64_t value) noexcept { write(k, value, stamp(k)); }

  /// Under the outside ring's lock: every event gets its own clock read.
  void push_exact(trace_kind k, std::uint64_t value) noexcept { write(k, value, ticks_now()); }

  /// Owner only: the worker loop finished a task (its poll and completion) and goes on to
  /// take the next: until gap() or another event, spawns, wakes and the next outermost
  /// poll_begin take the latest stamp.
  void chain() noexcept { chain_ = depth_ == 0; }

  /// Owner only: the worker does something between polls; the next event reads the clock.
  void gap() noexcept { chain_ = false; }

  struct event {
    std::uint64_t ticks;
    trace_kind kind;
    std::uint64_t value;
  };
  /// A consistent copy of the events still in the ring, oldest first (any thread).
  ZOKIO_DECL void copy(std::vector<event>& out) const;

 private:
  std::uint64_t stamp(trace_kind k) noexcept {
    switch (k) {
      case trace_kind::poll_begin:
        if (depth_++ == 0 && chain_) {
          chain_ = false;
          return last_;
        }
        break;
      case trace_kind::poll_end:
        if (depth_ != 0) --depth_;
        chain_ = false;  // until the worker loop says it goes on to its next task (chain())
        return last_ = ticks_now();
      case trace_kind::spawn:
      case trace_kind::wake:
        if (depth_ != 0 || chain_) return last_;  // in a poll, or right after one
        break;
      default:
        break;
    }
    chain_ = false;
    return last_ = ticks_now();
  }

  void write(trace_kind k, std::uint64_t value, std::uint64_t ticks) noexcept {
    const std::uint64_t n = head_.load(std::memory_order_relaxed);
    reserved_.store(n + 1, std::memory_order_relaxed);
    // Release fence: pairs with the reader's acquire fence (see the invariants).
    std::atomic_thread_fence(std::memory_order_release);
    const std::size_t i = static_cast<std::size_t>(n & mask_) * 2;
    slots_[i].store(ticks, std::memory_order_relaxed);
    slots_[i + 1].store(static_cast<std::uint64_t>(k) << 56 | (value & kValueMask),
                        std::memory_order_relaxed);
    // Release: pairs with the reader's acquire load of head.
    head_.store(n + 1, std::memory_order_release);
  }

  static constexpr std::uint64_t kValueMask = (std::uint64_t{1} << 56) - 1;
  std::uint64_t mask_ = 0;
  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;  // ticks, kind << 56 | value
  std::atomic<std::uint64_t> head_{0};      // events published
  std::atomic<std::uint64_t> reserved_{0};  // events whose slot may be being written
  // The writer's own (see the invariants): the latest stamp, polls open, and whether the
  // worker loop is between two tasks (chain(), until gap() or another event), so that the
  // next outermost poll_begin and any spawn or wake may take `last_`.
  std::uint64_t last_ = 0;
  std::uint32_t depth_ = 0;
  bool chain_ = false;
};

class trace_recorder {
 public:
  /// `capacity`: events kept per worker (rounded up to a power of two).
  ZOKIO_DECL trace_recorder(unsigned workers, std::size_t capacity);

  /// On worker `worker`'s thread, or with worker == -1 from any other thread.
  void record(int worker, trace_kind k, std::uint64_t value) noexcept {
    if (worker >= 0) [[likely]]
      rings_[static_cast<std::size_t>(worker)].push(k, value);
    else
      record_outside(k, value);
  }

  /// On worker `worker`'s thread: it did something between polls besides queue work (an I/O
  /// turn, a search, a spin, a park), so its next poll's begin reads the clock.
  void gap(unsigned worker) noexcept { rings_[worker].gap(); }
  /// On worker `worker`'s thread: its loop finished a task and takes the next.
  void chain(unsigned worker) noexcept { rings_[worker].chain(); }

  /// Everything still in the rings as Chrome Trace Event JSON (chrome://tracing, Perfetto):
  /// one thread row per worker (and one for other threads), a slice per poll ("task <id>")
  /// and per sleep ("parked"), instant events for spawns, wakes and steals. Slices are
  /// balanced: an end whose begin was overwritten is dropped, and a slice still open (a poll
  /// running now) ends at the time of the call, marked "unfinished".
  ZOKIO_DECL std::string chrome_json() const;

 private:
  // Out of line: the spin lock would otherwise cost the workers' path register spills.
  [[gnu::noinline, gnu::cold]] void record_outside(trace_kind k, std::uint64_t value) noexcept {
    std::lock_guard lk(outside_mu_);
    rings_[n_].push_exact(k, value);
  }

  const unsigned n_;
  std::unique_ptr<trace_ring[]> rings_;  // n_ workers, then the outside ring
  spin_mutex outside_mu_;
  // Clock calibration: ticks and steady ns when the recorder started.
  std::uint64_t ticks0_ = 0;
  std::int64_t ns0_ = 0;
};

/// basic_scheduler's member: the recorder with the feature, nothing without it.
template <bool On>
struct trace_storage {};
template <>
struct trace_storage<true> {
  std::unique_ptr<trace_recorder> recorder;
};

}  // namespace zokio::detail

#endif
