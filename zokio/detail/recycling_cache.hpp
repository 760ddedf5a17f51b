// A per-thread cache of freed runtime blocks, by 64-byte size class, on top of oneTBB.
#ifndef ZOKIO_DETAIL_RECYCLING_CACHE_HPP
#define ZOKIO_DETAIL_RECYCLING_CACHE_HPP

#include <array>
#include <cstddef>
#include <cstdint>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

/**
 * Blocks up to max_block bytes are kept, when freed, in a per-thread free list of their size
 * class and handed out again by the next allocation of that class on the same thread: a task
 * spawned, run and freed by one worker never reaches oneTBB in steady state.
 *
 * Why on top of oneTBB's own thread caches: a hit here is a thread-local pointer pop with no
 * size lookup and no call; scalable_malloc still served 11% of spawn_many's profile.
 * Each list is bounded (max_bytes_per_class), so a burst freed on one thread goes back
 * upstream instead of being hoarded. Bounded is not enough to give a burst back: a few
 * hundred cached blocks scattered over a burst's memory keep whole oneTBB regions alive, so
 * a thread's cache is emptied when the thread exits, and the destroying thread's when a
 * runtime is destroyed (release_memory, allocator.hpp). Blocks may move between threads
 * (freed where the task completed): they are plain upstream blocks, so any thread may free
 * them.
 */
class recycling_cache {
 public:
  static constexpr std::size_t granule = ZOKIO_CACHE_LINE;  // also the alignment of every block
  static constexpr std::size_t classes = 16;                // 64 .. 1024 bytes
  static constexpr std::size_t max_block = granule * classes;
  static constexpr std::size_t max_bytes_per_class = 32 * 1024;

  static constexpr std::size_t class_of(std::size_t bytes) noexcept {
    return bytes == 0 ? 0 : (bytes - 1) / granule;
  }
  static constexpr std::size_t class_bytes(std::size_t cls) noexcept { return (cls + 1) * granule; }
  /// Blocks kept per class. A table: the division it holds was a run-time divide on every
  /// free (the class is not a constant there).
  static constexpr std::uint32_t class_limit(std::size_t cls) noexcept { return limits_[cls]; }

  recycling_cache() noexcept = default;
  recycling_cache(const recycling_cache&) = delete;
  recycling_cache& operator=(const recycling_cache&) = delete;
  ~recycling_cache();  // clear()

  /// Returns every cached block upstream (allocator.hpp).
  void clear() noexcept;

  void* pop(std::size_t cls) noexcept {
    node* n = heads_[cls];
    if (!n) return nullptr;
    heads_[cls] = n->next;
    --counts_[cls];
    return n;
  }
  /// False when the class's list is full: the caller frees upstream.
  bool push(std::size_t cls, void* p) noexcept {
    if (counts_[cls] >= class_limit(cls)) return false;
    auto* n = static_cast<node*>(p);
    n->next = heads_[cls];
    heads_[cls] = n;
    ++counts_[cls];
    return true;
  }
  std::size_t cached(std::size_t cls) const noexcept { return counts_[cls]; }

 private:
  struct node {
    node* next;
  };
  static constexpr auto limits_ = [] {
    std::array<std::uint32_t, classes> l{};
    for (std::size_t c = 0; c < classes; ++c)
      l[c] = static_cast<std::uint32_t>(max_bytes_per_class / ((c + 1) * granule));
    return l;
  }();
  node* heads_[classes] = {};
  std::uint32_t counts_[classes] = {};
};

}  // namespace zokio::detail

#endif
