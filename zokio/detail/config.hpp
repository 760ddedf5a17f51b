// Build configuration: compiled vs header-only, allocator choice, sanitizer detection.
#ifndef ZOKIO_DETAIL_CONFIG_HPP
#define ZOKIO_DETAIL_CONFIG_HPP

#if defined(ZOKIO_HEADER_ONLY)
#  define ZOKIO_DECL inline
#else
#  define ZOKIO_DECL
#endif

// Sanitizer builds use the std allocator: oneTBB's allocator hides heap objects from ASan/LSan
// and its fences are invisible to TSan.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define ZOKIO_SANITIZER_BUILD 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define ZOKIO_SANITIZER_BUILD 1
#  endif
#endif

// LeakSanitizer is part of AddressSanitizer builds (not of TSan's).
#if defined(__SANITIZE_ADDRESS__)
#  define ZOKIO_LSAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define ZOKIO_LSAN 1
#  endif
#endif
#if !defined(ZOKIO_LSAN)
#  define ZOKIO_LSAN 0
#endif

#if !defined(ZOKIO_USE_TBB_ALLOCATOR)
#  if defined(ZOKIO_SANITIZER_BUILD)
#    define ZOKIO_USE_TBB_ALLOCATOR 0
#  else
#    define ZOKIO_USE_TBB_ALLOCATOR 1
#  endif
#endif

// Per-thread recycling of freed blocks (allocator.hpp), over oneTBB or over the system
// allocator where the build has no oneTBB (ZOKIO_USE_TBB_ALLOCATOR=0, as on Windows). Off in
// sanitizer builds, where a recycled block would hide a use-after-free from ASan.
#if !defined(ZOKIO_RECYCLING)
#  if defined(ZOKIO_SANITIZER_BUILD)
#    define ZOKIO_RECYCLING 0
#  else
#    define ZOKIO_RECYCLING 1
#  endif
#endif

// libnuma: set by the build where it found it (Linux); without it the topology is the
// process's affinity, one node (platform.hpp).
#if !defined(ZOKIO_HAS_LIBNUMA)
#  define ZOKIO_HAS_LIBNUMA 0
#endif

// Leak accounting (allocation.hpp): live blocks per category, reported when the last runtime
// is destroyed. On by default where assertions are (no NDEBUG); every translation unit of a
// program must agree, as they do on NDEBUG.
#if !defined(ZOKIO_DEBUG_ALLOC)
#  if defined(NDEBUG)
#    define ZOKIO_DEBUG_ALLOC 0
#  else
#    define ZOKIO_DEBUG_ALLOC 1
#  endif
#endif

#define ZOKIO_CACHE_LINE 64

#endif
