// detail::fiber_stack_pool: a process-wide free list of guarded fiber stacks (mmap + guard
// page), so that starting a fiber in steady state maps no memory.
#ifndef ZOKIO_DETAIL_FIBER_STACK_POOL_HPP
#define ZOKIO_DETAIL_FIBER_STACK_POOL_HPP

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/context/stack_context.hpp>

#include <zokio/detail/config.hpp>
#include <zokio/detail/spin_mutex.hpp>

#if defined(__SANITIZE_ADDRESS__)
#  define ZOKIO_FIBER_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define ZOKIO_FIBER_ASAN 1
#  endif
#endif
#ifndef ZOKIO_FIBER_ASAN
#  define ZOKIO_FIBER_ASAN 0
#endif
#if ZOKIO_FIBER_ASAN
#  include <sanitizer/asan_interface.h>
#endif

namespace zokio {

/// Counters of the fiber stack pool (process-wide).
struct fiber_stack_stats {
  std::size_t mapped = 0;  ///< stacks ever mapped (mmap calls)
  std::size_t in_use = 0;  ///< held by live fibers
  std::size_t cached = 0;  ///< free, kept for reuse
};

namespace detail {

class fiber_stack_pool {
 public:
  /// Free stacks kept per size; more are unmapped on release.
  static constexpr std::size_t max_cached = 256;

  static fiber_stack_pool& instance() noexcept {
    static fiber_stack_pool p;
    return p;
  }

  boost::context::stack_context acquire(std::size_t size) {
    {
      std::lock_guard lk(mu_);
      for (auto& c : classes_)
        if (c.size == size && !c.free.empty()) {
          auto s = c.free.back();
          c.free.pop_back();
          ++in_use_;
          return s;
        }
    }
    auto s = boost::context::protected_fixedsize_stack(size).allocate();  // throws bad_alloc
    std::lock_guard lk(mu_);
    ++mapped_;
    ++in_use_;
    return s;
  }

  void release(boost::context::stack_context s, std::size_t size) noexcept {
#if ZOKIO_FIBER_ASAN
    // Frames left poisoned by an unwound fiber must not haunt the next one on this stack.
    __asan_unpoison_memory_region(static_cast<char*>(s.sp) - s.size, s.size);
#endif
    {
      std::lock_guard lk(mu_);
      --in_use_;
      auto it = std::find_if(classes_.begin(), classes_.end(),
                             [&](const size_class& c) { return c.size == size; });
      try {
        if (it == classes_.end()) it = classes_.insert(classes_.end(), size_class{size, {}});
        if (it->free.size() < max_cached) {
          it->free.push_back(s);
          return;
        }
      } catch (...) {  // no memory for the list: unmap instead
      }
    }
    boost::context::protected_fixedsize_stack(size).deallocate(s);
  }

  fiber_stack_stats stats() noexcept {
    std::lock_guard lk(mu_);
    fiber_stack_stats st;
    st.mapped = mapped_;
    st.in_use = in_use_;
    for (auto& c : classes_) st.cached += c.free.size();
    return st;
  }

  /// Unmaps every cached stack (tests, or to give memory back).
  void trim() noexcept {
    std::vector<size_class> old;
    {
      std::lock_guard lk(mu_);
      old.swap(classes_);
    }
    for (auto& c : old)
      for (auto& s : c.free) boost::context::protected_fixedsize_stack(c.size).deallocate(s);
  }

  ~fiber_stack_pool() { trim(); }

 private:
  struct size_class {
    std::size_t size;
    std::vector<boost::context::stack_context> free;
  };
  spin_mutex mu_;
  std::vector<size_class> classes_;  // a handful of sizes at most
  std::size_t mapped_ = 0, in_use_ = 0;
};

}  // namespace detail

/// The fiber stack pool's counters.
inline fiber_stack_stats fiber_stacks() noexcept {
  return detail::fiber_stack_pool::instance().stats();
}
/// Unmaps the cached (free) fiber stacks.
inline void trim_fiber_stacks() noexcept { detail::fiber_stack_pool::instance().trim(); }

}  // namespace zokio

#endif
