// Bounded per-worker run queue: single producer (the owner), many consumers, steal-half.
#ifndef ZOKIO_DETAIL_WORK_STEALING_DEQUE_HPP
#define ZOKIO_DETAIL_WORK_STEALING_DEQUE_HPP

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>

#include <zokio/allocator.hpp>
#include <zokio/detail/config.hpp>

namespace zokio::detail {

/**
 * A fixed-capacity ring of `T*` owned by one worker (the design of Tokio's local queue, which
 * replaced Chase-Lev there because Chase-Lev cannot steal a batch safely).
 *
 * Algorithm. The owner pushes at `tail_`; everyone (owner included) takes from the head. The
 * head is one 64-bit atomic packing two 32-bit indices:
 *   - `real`  : the next slot a consumer claims;
 *   - `steal` : the oldest slot still being copied by a thief (== real when no thief runs).
 * A thief claims [steal, real + n) by advancing `real` only (phase 1), copies the n slots into
 * its own queue, then sets steal = real (phase 2). Meanwhile the owner can keep popping (it
 * advances `real`) and pushing, but push treats `steal` as the head, so it never overwrites
 * slots a thief is still reading. Only one thief at a time: a thief seeing steal != real backs
 * off (another one is busy; it will try elsewhere).
 *
 * Invariants: real - steal <= capacity; tail - steal <= capacity; indices wrap modulo 2^32.
 * Only the owner writes `tail_`. Slots are atomics accessed relaxed: the orderings below
 * (tail release/acquire, head acq_rel) order them, the atomics only make a racing reader
 * that loses its CAS well-defined.
 */
template <class T>
class work_stealing_deque {
 public:
  explicit work_stealing_deque(std::size_t capacity)
      : cap_(round_up(capacity)), mask_(cap_ - 1) {
    // From the runtime allocator, on the calling thread: the worker builds its own deque
    // after it is placed on its NUMA node, so the pages are first touched there.
    void* mem = allocate(cap_ * sizeof(std::atomic<T*>), alloc_category::worker, ZOKIO_CACHE_LINE);
    buf_ = static_cast<std::atomic<T*>*>(mem);
    for (std::size_t i = 0; i < cap_; ++i) ::new (&buf_[i]) std::atomic<T*>(nullptr);
  }
  ~work_stealing_deque() {
    deallocate(buf_, cap_ * sizeof(std::atomic<T*>), alloc_category::worker, ZOKIO_CACHE_LINE);
  }
  work_stealing_deque(const work_stealing_deque&) = delete;
  work_stealing_deque& operator=(const work_stealing_deque&) = delete;

  std::size_t capacity() const noexcept { return cap_; }

  /// Owner only. False when full (the caller moves work to the injector: see push_overflow).
  bool push(T* item) noexcept {
    auto head = head_.load(std::memory_order_acquire);  // Ordering: pairs with phase-2 CAS in
                                                        // steal_into; slots are free to reuse.
    std::uint32_t steal = unpack_steal(head);
    std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // we are the only writer
    if (static_cast<std::uint32_t>(tail - steal) >= cap_) return false;
    buf_[tail & mask_].store(item, std::memory_order_relaxed);
    // Ordering: release publishes the slot to consumers that acquire tail_.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  /// Owner only, when push failed and no thief is active: claims the older half of the queue
  /// and hands it to `sink(T*)` (the injector). Returns false, moving nothing, when a thief is
  /// active or has already made room.
  template <class Sink>
  bool push_overflow(Sink&& sink) noexcept {
    auto head = head_.load(std::memory_order_acquire);
    std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
    if (steal != real) return false;
    std::uint32_t n = static_cast<std::uint32_t>(cap_ / 2);
    // A thief may have taken work since push() saw the queue full: then there is room, and
    // claiming `n` slots could run past tail (handing out stale slots, corrupting the ring).
    std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // we are the only writer
    if (static_cast<std::uint32_t>(tail - real) < cap_) return false;
    auto next = pack(real + n, real + n);
    // Ordering: acq_rel, as a consumer claiming slots (same as pop).
    if (!head_.compare_exchange_strong(head, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      return false;
    for (std::uint32_t i = 0; i < n; ++i)
      sink(buf_[(real + i) & mask_].load(std::memory_order_relaxed));
    return true;
  }

  /// Owner only: takes the oldest item (FIFO; the LIFO slot in front of it gives locality).
  T* pop() noexcept {
    auto head = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail) return nullptr;
      std::uint32_t next_real = real + 1;
      // No thief: move both indices; with a thief: leave `steal` for it to release.
      auto next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      // Ordering: acq_rel CAS; a success means slot `real` is ours alone.
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        return buf_[real & mask_].load(std::memory_order_relaxed);
    }
  }

  /// Owner, when no thief can exist (a one-worker runtime: nobody steals): pop() without the
  /// CAS, a plain load and store of `head_` (relaxed: only the owner's thread touches it).
  T* pop_unshared() noexcept {
    const auto head = head_.load(std::memory_order_relaxed);
    const std::uint32_t real = unpack_real(head);
    if (real == tail_.load(std::memory_order_relaxed)) return nullptr;
    head_.store(pack(real + 1, real + 1), std::memory_order_relaxed);
    return buf_[real & mask_].load(std::memory_order_relaxed);
  }

  /// Thief: moves about half of this queue into `dst` (owned by the calling thread) and
  /// returns one of the stolen items to run now, or nullptr. `stolen` gets the count taken.
  T* steal_into(work_stealing_deque& dst, std::uint32_t& stolen) noexcept {
    stolen = 0;
    std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);  // dst is ours
    std::uint32_t dst_steal = unpack_steal(dst.head_.load(std::memory_order_acquire));
    // Only steal into a queue with room for half of ours.
    if (static_cast<std::uint32_t>(dst_tail - dst_steal) > dst.cap_ / 2) return nullptr;

    // Phase 1: claim [real, real + n) by advancing real, keeping steal at the old real.
    auto head = head_.load(std::memory_order_acquire);
    std::uint32_t first, n;
    for (;;) {
      std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
      if (steal != real) return nullptr;  // another thief is copying
      // Ordering: acquire pairs with push's release, making slots up to tail visible.
      std::uint32_t tail = tail_.load(std::memory_order_acquire);
      n = tail - real;
      n -= n / 2;
      if (n == 0) return nullptr;
      if (n > dst.cap_ / 2) n = static_cast<std::uint32_t>(dst.cap_ / 2);
      auto next = pack(steal, real + n);
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        first = real;
        break;
      }
    }
    // Copy; the owner cannot overwrite these slots while steal == first.
    for (std::uint32_t i = 0; i < n; ++i) {
      T* item = buf_[(first + i) & mask_].load(std::memory_order_relaxed);
      dst.buf_[(dst_tail + i) & dst.mask_].store(item, std::memory_order_relaxed);
    }
    // Phase 2: release the slots (steal = real). The owner may have moved real meanwhile.
    head = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t real = unpack_real(head);
      assert(unpack_steal(head) == first);
      // Ordering: release so the owner's acquire in push sees our slot reads as done.
      if (head_.compare_exchange_weak(head, pack(real, real), std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        break;
    }
    stolen = n;
    // Keep the last copied item to run now; publish the rest to dst's consumers.
    T* ret = dst.buf_[(dst_tail + n - 1) & dst.mask_].load(std::memory_order_relaxed);
    if (n > 1) dst.tail_.store(dst_tail + n - 1, std::memory_order_release);
    return ret;
  }

  /// Approximate length; exact for the owner when no thief runs.
  std::size_t size() const noexcept {
    auto head = head_.load(std::memory_order_acquire);
    std::uint32_t tail = tail_.load(std::memory_order_acquire);
    return static_cast<std::uint32_t>(tail - unpack_real(head));
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  static std::size_t round_up(std::size_t n) {
    std::size_t c = 2;
    while (c < n) c <<= 1;
    return c;
  }
  static constexpr std::uint32_t unpack_steal(std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>(h >> 32);
  }
  static constexpr std::uint32_t unpack_real(std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>(h);
  }
  static constexpr std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
    return (std::uint64_t{steal} << 32) | real;
  }

  alignas(ZOKIO_CACHE_LINE) std::atomic<std::uint64_t> head_{0};  // written by all consumers
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::uint32_t> tail_{0};  // written by the owner only
  std::size_t cap_;
  std::size_t mask_;
  std::atomic<T*>* buf_;
};

}  // namespace zokio::detail

#endif
