// The runtime's allocator: a per-thread recycling cache on top of oneTBB's scalable allocator
// (the std allocator in sanitizer builds), with categories for the hook and leak accounting,
// and zokio::allocator<T>, the same memory as a standard allocator for Asio handlers.
#ifndef ZOKIO_ALLOCATOR_HPP
#define ZOKIO_ALLOCATOR_HPP

#include <cstddef>
#include <new>

#include <zokio/allocation.hpp>
#include <zokio/detail/config.hpp>
#include <zokio/detail/platform.hpp>
#include <zokio/detail/recycling_cache.hpp>

#if ZOKIO_USE_TBB_ALLOCATOR
#include <oneapi/tbb/scalable_allocator.h>
#elif defined(__GLIBC__) && !defined(ZOKIO_SANITIZER_BUILD)
#include <malloc.h>
#endif

namespace zokio::detail {

inline void* upstream_allocate(std::size_t size, std::size_t align) {
#if ZOKIO_USE_TBB_ALLOCATOR
  void* p = align <= alignof(std::max_align_t) ? scalable_malloc(size)
                                               : scalable_aligned_malloc(size, align);
  if (!p) throw std::bad_alloc();
  return p;
#else
  return ::operator new(size, std::align_val_t(align));
#endif
}

inline void upstream_deallocate(void* p, std::size_t align) noexcept {
#if ZOKIO_USE_TBB_ALLOCATOR
  if (align <= alignof(std::max_align_t))
    scalable_free(p);
  else
    scalable_aligned_free(p);
#else
  ::operator delete(p, std::align_val_t(align));
#endif
}

inline void recycling_cache::clear() noexcept {
  for (std::size_t c = 0; c < classes; ++c)
    while (void* p = pop(c)) upstream_deallocate(p, granule);
}

inline recycling_cache::~recycling_cache() { clear(); }

/// oneTBB only: asks it to give back what the calling thread's own heap keeps, the empty
/// slabs among its bins (after collecting the blocks other threads freed into them), its
/// free-slab pool and its large-object cache (TBBMALLOC_CLEAN_THREAD_BUFFERS). oneTBB's own
/// thread-exit cleanup skips the slabs that only other threads emptied: it orphans them.
inline void release_upstream_thread_caches() noexcept {
#if ZOKIO_USE_TBB_ALLOCATOR
  (void)scalable_allocation_command(TBBMALLOC_CLEAN_THREAD_BUFFERS, nullptr);
#endif
}

#if ZOKIO_RECYCLING
// The calling thread's cache. Once it is destroyed (thread exit), frees go upstream. Every
// cached block is then given back, and so are oneTBB's caches of this thread: a worker or
// blocking-pool thread that exits after a burst keeps nothing (doc/performance.md, "Giving
// memory back").
//
// Why a plain pointer in front of it: every access to a thread_local with a destructor goes
// through its guard function (__tls_init); the pointer is trivially destructible, so the hot
// path is one TLS load (the guard was 6.7M calls in a 1.1M-task skynet).
inline thread_local bool tl_cache_gone = false;
inline thread_local recycling_cache* tl_cache_ptr = nullptr;
#if defined(_WIN32)
// Windows: the cache is on the heap and given back by a thread-exit callback (platform.hpp:
// mingw-w64 may destroy a thread_local after its storage is freed).
inline void release_thread_cache(void* p) noexcept {
  tl_cache_gone = true;
  tl_cache_ptr = nullptr;
  auto* c = static_cast<recycling_cache*>(p);
  c->clear();
  release_upstream_thread_caches();
  delete c;
}
[[gnu::noinline, gnu::cold]] inline recycling_cache* this_thread_cache_slow() noexcept {
  if (tl_cache_gone) return nullptr;
  auto* c = new (std::nothrow) recycling_cache;
  if (!c) return nullptr;
  if (!at_thread_exit(&release_thread_cache, c)) {
    delete c;
    return nullptr;
  }
  return tl_cache_ptr = c;
}
#else
struct thread_cache : recycling_cache {
  ~thread_cache() {
    tl_cache_gone = true;
    tl_cache_ptr = nullptr;
    clear();
    release_upstream_thread_caches();
  }
};
[[gnu::noinline, gnu::cold]] inline recycling_cache* this_thread_cache_slow() noexcept {
  if (tl_cache_gone) return nullptr;
  // Function-local: mingw-w64's g++ 12 emits the TLS init function of a namespace-scope
  // inline thread_local with a destructor in every object file, a duplicate symbol at link.
  static thread_local thread_cache cache;
  return tl_cache_ptr = &cache;  // constructs it (and registers its destructor) once
}
#endif
inline recycling_cache* this_thread_cache() noexcept {
  if (recycling_cache* c = tl_cache_ptr) [[likely]] return c;
  return this_thread_cache_slow();
}
#endif

/**
 * Gives back to the system what the allocators keep for reuse, process-wide. Called when a
 * runtime is destroyed, after all its members; off every hot path.
 *
 *  - the calling thread's recycling cache, every block upstream: the destroying thread
 *    collects the frames of the tasks it cancels, and a cached block pins oneTBB memory far
 *    beyond its size (its 16 KiB slab, and through it the slab's whole 1 MiB region): 515
 *    cached blocks held 40 MB after a 1M-task burst;
 *  - oneTBB (TBBMALLOC_CLEAN_ALL_BUFFERS): every thread's free-slab pool and large-object
 *    cache, the calling thread's bins, the slabs orphaned by exited threads (a worker that
 *    exits while other threads still hold its blocks leaves its slabs to oneTBB, which
 *    otherwise only reuses them for new allocations: hundreds of MB after 1M sleeps), the
 *    global large-object cache and the backend's free regions;
 *  - with the std allocator (ZOKIO_USE_TBB_ALLOCATOR=0) outside sanitizer builds, glibc's
 *    malloc_trim(0): the workers' arenas keep what was freed in them.
 *
 * The oneTBB clean takes about 150 us on a small heap, up to a millisecond after a burst;
 * then the next runtime maps again the regions it released, and the threads of any other
 * live runtime refill their oneTBB caches.
 */
inline void release_memory() noexcept {
#if ZOKIO_RECYCLING
  if (recycling_cache* c = this_thread_cache()) c->clear();
#endif
#if ZOKIO_USE_TBB_ALLOCATOR
  (void)scalable_allocation_command(TBBMALLOC_CLEAN_ALL_BUFFERS, nullptr);
#elif defined(__GLIBC__) && !defined(ZOKIO_SANITIZER_BUILD)
  (void)::malloc_trim(0);
#endif
}

/// Allocates `size` bytes for `c`. Small blocks (<= 1 KiB, alignment <= 64) come from the
/// calling thread's recycling cache when it has one of their class.
[[gnu::always_inline]] inline void* allocate(std::size_t size, alloc_category c,
                      std::size_t align = alignof(std::max_align_t)) {
#if ZOKIO_RECYCLING
  if (size <= recycling_cache::max_block && align <= recycling_cache::granule) {
    const std::size_t cls = recycling_cache::class_of(size);
    if (recycling_cache* cache = this_thread_cache())
      if (void* p = cache->pop(cls)) {
        account(c, size, false, false);
        return p;
      }
    void* p = upstream_allocate(recycling_cache::class_bytes(cls), recycling_cache::granule);
    account(c, size, false, true);
    return p;
  }
#endif
  void* p = upstream_allocate(size, align);
  account(c, size, false, true);
  return p;
}

/// Frees a block from allocate(); `size`, `c` and `align` must be the ones it was given.
[[gnu::always_inline]] inline void deallocate(void* p, std::size_t size, alloc_category c,
                       std::size_t align = alignof(std::max_align_t)) noexcept {
#if ZOKIO_RECYCLING
  if (size <= recycling_cache::max_block && align <= recycling_cache::granule) {
    if (recycling_cache* cache = this_thread_cache())
      if (cache->push(recycling_cache::class_of(size), p)) {
        account(c, size, true, false);
        return;
      }
    account(c, size, true, true);
    upstream_deallocate(p, recycling_cache::granule);
    return;
  }
#endif
  account(c, size, true, true);
  upstream_deallocate(p, align);
}

}  // namespace zokio::detail

namespace zokio {

/**
 * A standard allocator over the runtime's memory (recycling cache, then oneTBB).
 *
 * zokio::use_future gives it to every Asio operation as the handler's associated allocator,
 * so an operation started on a worker and completed on another reuses their caches instead
 * of reaching malloc. Any container or Asio handler may use it
 * (`asio::bind_allocator(zokio::allocator<void>(), handler)`).
 */
template <class T, alloc_category Category = alloc_category::handler>
class allocator {
 public:
  using value_type = T;
  template <class U>
  struct rebind {
    using other = allocator<U, Category>;
  };

  constexpr allocator() noexcept = default;
  template <class U>
  constexpr allocator(const allocator<U, Category>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(detail::allocate(n * sizeof(T), Category, alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    detail::deallocate(p, n * sizeof(T), Category, alignof(T));
  }

  template <class U>
  constexpr bool operator==(const allocator<U, Category>&) const noexcept {
    return true;
  }
};

}  // namespace zokio

#endif
