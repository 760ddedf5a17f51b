// The reference-counted object behind a waker that may outlive the call that made it
// (block_on's thread_parker, current_thread's driver_signal): the count and the vtable.
#ifndef ZOKIO_DETAIL_COUNTED_WAKER_TARGET_HPP
#define ZOKIO_DETAIL_COUNTED_WAKER_TARGET_HPP

#include <atomic>
#include <cstdint>

#include <zokio/waker.hpp>

namespace zokio::detail {

/// CRTP base: `Derived` provides `void wake() noexcept` and is created with `new` (one
/// reference, its creator's); the last release() deletes it.
template <class Derived>
class counted_waker_target {
 public:
  waker make_waker() noexcept {
    refs_.fetch_add(1, std::memory_order_relaxed);
    return waker::from_raw({static_cast<Derived*>(this), &vtable_});
  }
  void release() noexcept {
    // acq_rel: the last owner sees every other owner's writes before deleting.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete static_cast<Derived*>(this);
  }

 protected:
  counted_waker_target() = default;
  ~counted_waker_target() = default;

 private:
  static void clone_fn(void* p) noexcept {
    static_cast<Derived*>(p)->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  static void wake_fn(void* p) noexcept {
    static_cast<Derived*>(p)->wake();
    static_cast<Derived*>(p)->release();
  }
  static void wake_by_ref_fn(void* p) noexcept { static_cast<Derived*>(p)->wake(); }
  static void drop_fn(void* p) noexcept { static_cast<Derived*>(p)->release(); }
  static constexpr waker_vtable vtable_{&clone_fn, &wake_fn, &wake_by_ref_fn, &drop_fn};

  std::atomic<std::uint32_t> refs_{1};
};

}  // namespace zokio::detail

#endif
