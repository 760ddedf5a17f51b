// zokio::detail::block_list<T>: the lock-free multi-producer, single-consumer queue under
// zokio::mpsc: a linked list of 32-slot blocks, recycled by the consumer (Tokio's list.rs).
#ifndef ZOKIO_DETAIL_BLOCK_LIST_HPP
#define ZOKIO_DETAIL_BLOCK_LIST_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include <zokio/allocator.hpp>

namespace zokio::detail {

/**
 * Senders claim a position with one fetch_add on `tail_position_`, find the block that holds
 * it (walking from `block_tail_`, appending a block when needed), construct the value in the
 * slot and publish it with a release fetch_or of the slot's bit in the block's ready word.
 * The receiver reads positions in order; it needs no atomic read-modify-write except to
 * reclaim blocks.
 *
 * Reclamation: a sender that walks past a block whose 32 slots are all written moves
 * `block_tail_` beyond it and marks it RELEASED with the tail position it observed right after.
 * Every sender that can still be walking through that block claimed a position below the
 * observed one (its fetch_add comes before its load of `block_tail_`; seq_cst puts both in one
 * order with the advancing CAS and the observing load). Once the receiver has consumed every
 * position below it, those senders have finished, and the block is recycled: re-appended at
 * the end of the chain (three tries) or freed.
 *
 * Close: the last sender claims one more position and sets TX_CLOSED on its block; a receiver
 * that reaches an unwritten slot in a TX_CLOSED block is at that position, all earlier
 * positions being written before the last sender left.
 */
template <class T>
class block_list {
 public:
  static constexpr std::uint64_t block_cap = 32;

  block_list() {
    block* b = new_block(0);
    head_ = free_head_ = b;
    block_tail_.store(b, std::memory_order_relaxed);
  }
  block_list(const block_list&) = delete;
  block_list& operator=(const block_list&) = delete;

  /// Destroys the values still queued and frees every block. No sender or receiver may run.
  ~block_list() {
    while (pop_status() == pop_result::value) {
    }
    block* b = free_head_;
    while (b) {
      block* n = b->next.load(std::memory_order_relaxed);
      delete_block(b);
      b = n;
    }
  }

  // ------------------------------------------------------------------------- sender side

  template <class... A>
  void push(A&&... a) {
    // Ordering: seq_cst (see the class comment: before our load of block_tail_).
    const std::uint64_t pos = tail_position_.fetch_add(1, std::memory_order_seq_cst);
    block* b = find_block(pos);
    const unsigned slot = static_cast<unsigned>(pos & (block_cap - 1));
    ::new (static_cast<void*>(b->slot_ptr(slot))) T(std::forward<A>(a)...);
    // Ordering: release publishes the value to the receiver's acquire load of ready; seq_cst
    // also orders it before the caller's check of whether the receiver is parked (Dekker, see
    // mpsc_chan::push_and_wake; on x86 this is the same locked instruction).
    b->ready.fetch_or(std::uint64_t{1} << slot, std::memory_order_seq_cst);
  }

  /// Called once, by the last sender: marks the end of the stream.
  void close() {
    const std::uint64_t pos = tail_position_.fetch_add(1, std::memory_order_seq_cst);
    block* b = find_block(pos);
    b->ready.fetch_or(TX_CLOSED, std::memory_order_release);
  }

  // ------------------------------------------------------------------------- receiver side

  enum class pop_result { value, empty, closed };

  /// Moves the next value into `out` (a T-constructing callable receives `T&&`).
  /// `order` is acquire, or seq_cst for the re-check after the receiver announced it parks.
  template <class F>
  pop_result pop(F&& out, std::memory_order order = std::memory_order_acquire) {
    if (!advance_head()) return pop_result::empty;
    reclaim_blocks();
    block* b = head_;
    const unsigned slot = static_cast<unsigned>(index_ & (block_cap - 1));
    // Ordering: acquire pairs with the sender's release of this bit (and with close's).
    const std::uint64_t ready = b->ready.load(order);
    if (!(ready & (std::uint64_t{1} << slot)))
      return (ready & TX_CLOSED) ? pop_result::closed : pop_result::empty;
    T* p = b->slot_ptr(slot);
    out(std::move(*p));
    p->~T();
    ++index_;
    return pop_result::value;
  }

  /// Pops and destroys one value (used to drain).
  pop_result pop_status() {
    return pop([](T&&) {});
  }

 private:
  static constexpr std::uint64_t READY_MASK = 0xffffffffull;
  static constexpr std::uint64_t RELEASED = 1ull << 32;
  static constexpr std::uint64_t TX_CLOSED = 1ull << 33;

  struct block {
    std::uint64_t start = 0;
    std::atomic<block*> next{nullptr};
    std::atomic<std::uint64_t> ready{0};
    std::uint64_t observed_tail = 0;  // written before RELEASED (release), read after acquire
    alignas(T) unsigned char storage[sizeof(T) * block_cap];

    T* slot_ptr(unsigned i) noexcept {
      return std::launder(reinterpret_cast<T*>(storage + i * sizeof(T)));
    }
  };

  static block* new_block(std::uint64_t start) {
    void* p = detail::allocate(sizeof(block), alloc_category::channel, alignof(block));
    block* b = ::new (p) block();
    b->start = start;
    return b;
  }
  static void delete_block(block* b) noexcept {
    b->~block();
    detail::deallocate(b, sizeof(block), alloc_category::channel, alignof(block));
  }

  block* find_block(std::uint64_t pos) {
    const std::uint64_t start = pos & ~(block_cap - 1);
    const std::uint64_t offset = pos & (block_cap - 1);
    block* b = block_tail_.load(std::memory_order_seq_cst);
    if (b->start == start) return b;
    // Only senders whose slot is early in their block try to move the tail: fewer CAS races.
    bool try_advance = offset < (start - b->start) / block_cap;
    for (;;) {
      block* next = next_or_grow(b);
      if (try_advance && (b->ready.load(std::memory_order_acquire) & READY_MASK) == READY_MASK) {
        block* expected = b;
        if (block_tail_.compare_exchange_strong(expected, next, std::memory_order_seq_cst,
                                                std::memory_order_seq_cst)) {
          // An RMW reads the latest position: a sender whose fetch_add comes later synchronises
          // with it and so sees the new block_tail_.
          b->observed_tail = tail_position_.fetch_add(0, std::memory_order_seq_cst);
          // Ordering: release publishes observed_tail to the receiver's reclaim check.
          b->ready.fetch_or(RELEASED, std::memory_order_release);
        } else {
          try_advance = false;
        }
      } else {
        try_advance = false;
      }
      b = next;
      if (b->start == start) return b;
    }
  }

  // The block after `b`, appending a new one when there is none yet.
  block* next_or_grow(block* b) {
    // Ordering: acquire pairs with the release CAS that linked it (its start is visible).
    if (block* n = b->next.load(std::memory_order_acquire)) return n;
    block* fresh = new_block(b->start + block_cap);
    block* expected = nullptr;
    if (b->next.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
      return fresh;
    // Someone linked one first: append ours further down instead of freeing it.
    block* n = expected;
    block* cur = n;
    for (;;) {
      fresh->start = cur->start + block_cap;
      block* e = nullptr;
      if (cur->next.compare_exchange_strong(e, fresh, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
        return n;
      cur = e;
    }
  }

  bool advance_head() {
    const std::uint64_t start = index_ & ~(block_cap - 1);
    while (head_->start != start) {
      block* n = head_->next.load(std::memory_order_acquire);
      if (!n) return false;
      head_ = n;
    }
    return true;
  }

  void reclaim_blocks() {
    while (free_head_ != head_) {
      // Ordering: acquire pairs with the RELEASED fetch_or (observed_tail is visible).
      const std::uint64_t r = free_head_->ready.load(std::memory_order_acquire);
      if (!(r & RELEASED) || free_head_->observed_tail > index_) return;
      block* b = free_head_;
      free_head_ = b->next.load(std::memory_order_relaxed);
      recycle(b);
    }
  }

  // Re-appends a consumed block at the end of the chain, or frees it after three tries.
  void recycle(block* b) {
    b->next.store(nullptr, std::memory_order_relaxed);
    b->ready.store(0, std::memory_order_relaxed);
    b->observed_tail = 0;
    block* cur = block_tail_.load(std::memory_order_acquire);
    for (int tries = 0; tries < 3; ++tries) {
      b->start = cur->start + block_cap;
      block* e = nullptr;
      // Ordering: release publishes the reset block (start, ready) to the sender that finds it.
      if (cur->next.compare_exchange_strong(e, b, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
        return;
      cur = e;
    }
    delete_block(b);
  }

  // Receiver state (one thread at a time).
  block* head_;
  block* free_head_;
  std::uint64_t index_ = 0;
  // Sender state.
  alignas(64) std::atomic<std::uint64_t> tail_position_{0};
  alignas(64) std::atomic<block*> block_tail_{nullptr};
};

}  // namespace zokio::detail

#endif
