// Raw allocation used by the runtime: oneTBB's scalable allocator, or the std one in
// sanitizer builds (ZOKIO_USE_TBB_ALLOCATOR=0).
#ifndef ZOKIO_ALLOCATOR_HPP
#define ZOKIO_ALLOCATOR_HPP

#include <cstddef>
#include <new>

#include <zokio/detail/config.hpp>

#if ZOKIO_USE_TBB_ALLOCATOR
#include <oneapi/tbb/scalable_allocator.h>
#endif

namespace zokio::detail {

inline void* allocate(std::size_t size, std::size_t align = alignof(std::max_align_t)) {
#if ZOKIO_USE_TBB_ALLOCATOR
  void* p = align <= alignof(std::max_align_t) ? scalable_malloc(size)
                                               : scalable_aligned_malloc(size, align);
  if (!p) throw std::bad_alloc();
  return p;
#else
  return ::operator new(size, std::align_val_t(align));
#endif
}

inline void deallocate(void* p, std::size_t size,
                       std::size_t align = alignof(std::max_align_t)) noexcept {
#if ZOKIO_USE_TBB_ALLOCATOR
  (void)size;
  if (align <= alignof(std::max_align_t))
    scalable_free(p);
  else
    scalable_aligned_free(p);
#else
  (void)size;
  ::operator delete(p, std::align_val_t(align));
#endif
}

}  // namespace zokio::detail

#endif
