// The global injector: an unbounded MPMC queue (Boost.Lockfree) of tasks and task batches,
// for tasks woken or spawned from outside the workers and for local-queue overflow.
#ifndef ZOKIO_DETAIL_INJECT_QUEUE_HPP
#define ZOKIO_DETAIL_INJECT_QUEUE_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <boost/lockfree/queue.hpp>

#include <zokio/allocator.hpp>
#include <zokio/detail/config.hpp>
#include <zokio/detail/task_header.hpp>

#if ZOKIO_LSAN
#  include <sanitizer/lsan_interface.h>
#endif

namespace zokio::detail {

/**
 * The runtime allocator for Boost.Lockfree's queue nodes. On x86-64 and AArch64 Boost.Lockfree
 * keeps a tag in the top 16 bits of every node pointer (the queue's head and tail, each node's
 * next, its free list), so LeakSanitizer cannot follow them: whenever no stray plain copy of a
 * pointer sat on some stack, a check run while a runtime was alive (libFuzzer's, after an input
 * that allocated) reported all 1,024 preallocated nodes as leaked. In ASan builds each node is
 * therefore marked with __lsan_ignore_object, which makes it a root for the scan: it is never
 * reported, and what its value points to (a queued task or batch) stays reachable. The queue
 * frees its nodes in its destructor; ASan still checks every access to them.
 */
template <class T>
class lockfree_node_allocator : public zokio::allocator<T, alloc_category::queue> {
  using base = zokio::allocator<T, alloc_category::queue>;

 public:
  template <class U>
  struct rebind {
    using other = lockfree_node_allocator<U>;
  };
  constexpr lockfree_node_allocator() noexcept = default;
  template <class U>
  constexpr lockfree_node_allocator(const lockfree_node_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    T* p = base::allocate(n);
#if ZOKIO_LSAN
    __lsan_ignore_object(p);
#endif
    return p;
  }
  template <class U>
  constexpr bool operator==(const lockfree_node_allocator<U>&) const noexcept {
    return true;
  }
};

/// Up to half a deque of tasks moved in one injector operation.
struct inject_batch {
  std::uint32_t n = 0;    // filled entries
  std::uint32_t cap = 0;  // allocated entries
  task_header* items[1];  // really `cap` entries

  static inject_batch* create(std::size_t cap) {
    void* mem = allocate(bytes(cap), alloc_category::queue);
    auto* b = ::new (mem) inject_batch;
    b->cap = static_cast<std::uint32_t>(cap);
    return b;
  }
  static void destroy(inject_batch* b) noexcept { deallocate(b, bytes(b->cap), alloc_category::queue); }
  static std::size_t bytes(std::size_t n) noexcept {
    return sizeof(inject_batch) + (n > 1 ? n - 1 : 0) * sizeof(task_header*);
  }
};

/**
 * Each entry is a single task (a wake from outside) or, tagged in the low pointer bit, an
 * inject_batch (half an overflowing deque). One lock-free push/pop per batch rather than per
 * task, and an array rather than a linked chain, so that moving a batch never touches the task
 * headers themselves (a chain walk was a serial cache miss per task in spawn_many's profile).
 */
class inject_queue {
 public:
  /// What pop() returns: one task, or a batch the caller must empty and destroy.
  struct entry {
    std::uintptr_t bits = 0;
    explicit operator bool() const noexcept { return bits != 0; }
    bool is_batch() const noexcept { return bits & 1u; }
    task_header* task() const noexcept { return reinterpret_cast<task_header*>(bits); }
    inject_batch* batch() const noexcept { return reinterpret_cast<inject_batch*>(bits & ~std::uintptr_t{1}); }
  };

  explicit inject_queue(std::size_t initial_nodes = 1024) : q_(initial_nodes) {}

  void push(task_header* t) { push_bits(reinterpret_cast<std::uintptr_t>(t), 1); }
  void push(inject_batch* b) { push_bits(reinterpret_cast<std::uintptr_t>(b) | 1u, b->n); }

  /// Pops one entry. The caller reports how many tasks it removed with `taken(n)`.
  entry pop() noexcept {
    if (len_.load(std::memory_order_relaxed) <= 0 && q_.empty()) return {};
    entry e;
    if (!q_.pop(e.bits)) return {};
    return e;
  }
  void taken(std::size_t n) noexcept {
    len_.fetch_sub(static_cast<std::ptrdiff_t>(n), std::memory_order_relaxed);
  }

  /// Tasks queued (may be briefly stale).
  std::size_t size_hint() const noexcept {
    auto n = len_.load(std::memory_order_relaxed);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  bool empty() const noexcept { return q_.empty(); }

 private:
  void push_bits(std::uintptr_t bits, std::size_t n) {
    // Boost.Lockfree allocates a node only when its free list is empty.
    while (!q_.push(bits)) {
    }
    // Relaxed: len_ is a hint for cheap emptiness checks; the queue itself synchronizes, and
    // parking re-checks after a seq_cst fence (see idle.hpp).
    len_.fetch_add(static_cast<std::ptrdiff_t>(n), std::memory_order_relaxed);
  }

  // Nodes come from the runtime allocator too (and are reused through the queue's free list).
  boost::lockfree::queue<std::uintptr_t, boost::lockfree::allocator<lockfree_node_allocator<void>>> q_;
  alignas(ZOKIO_CACHE_LINE) std::atomic<std::ptrdiff_t> len_{0};
};

}  // namespace zokio::detail

#endif
