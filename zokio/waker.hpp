// zokio::waker: a type-erased, reference-counted handle that reschedules a pending future.
#ifndef ZOKIO_WAKER_HPP
#define ZOKIO_WAKER_HPP

#include <utility>

namespace zokio {

/// The operations behind a waker, as in Rust's RawWakerVTable. Every function must be
/// thread-safe: a waker may be cloned, woken and dropped from any thread.
struct waker_vtable {
  void (*clone)(void* data);        ///< add one reference to `data`
  void (*wake)(void* data);         ///< wake and release one reference
  void (*wake_by_ref)(void* data);  ///< wake, keep the reference
  void (*drop)(void* data);         ///< release one reference
};

/// A raw waker: the pair a waker owns. Used to build wakers without touching the count.
struct raw_waker {
  void* data = nullptr;
  const waker_vtable* vtable = nullptr;
};

/**
 * Handle used to tell an executor that a task is ready to be polled again.
 *
 * Copying clones (one more reference), moving transfers it, destruction drops it.
 *
 * @par Thread Safety
 * Distinct objects: safe. Shared objects: const members are safe.
 */
class waker {
 public:
  waker() noexcept = default;

  /// Adopts one reference already held by `raw`.
  static waker from_raw(raw_waker raw) noexcept { return waker(raw); }

  waker(const waker& other) noexcept : raw_(other.raw_) {
    if (raw_.vtable) raw_.vtable->clone(raw_.data);
  }
  waker(waker&& other) noexcept : raw_(std::exchange(other.raw_, raw_waker{})) {}
  waker& operator=(const waker& other) noexcept {
    if (this != &other) *this = waker(other);
    return *this;
  }
  waker& operator=(waker&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, raw_waker{});
    }
    return *this;
  }
  ~waker() { reset(); }

  /// Rust's `Waker::clone`, spelled out.
  waker clone() const noexcept { return waker(*this); }

  /// Wakes the task and releases this handle.
  void wake() && noexcept {
    if (auto r = std::exchange(raw_, raw_waker{}); r.vtable) r.vtable->wake(r.data);
  }
  /// Wakes the task and keeps this handle usable.
  void wake_by_ref() const noexcept {
    if (raw_.vtable) raw_.vtable->wake_by_ref(raw_.data);
  }
  /// Same as `std::move(*this).wake()` (lvalue convenience).
  void wake() & noexcept { std::move(*this).wake(); }

  /// True when both wake the same task, so storing `other` instead is pointless.
  bool will_wake(const waker& other) const noexcept {
    return raw_.data == other.raw_.data && raw_.vtable == other.raw_.vtable;
  }

  bool valid() const noexcept { return raw_.vtable != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  /// Gives up ownership without dropping the reference.
  raw_waker release() noexcept { return std::exchange(raw_, raw_waker{}); }
  const raw_waker& raw() const noexcept { return raw_; }

  void reset() noexcept {
    if (auto r = std::exchange(raw_, raw_waker{}); r.vtable) r.vtable->drop(r.data);
  }

 private:
  explicit waker(raw_waker raw) noexcept : raw_(raw) {}
  raw_waker raw_;
};

/// A waker that does nothing: for polling futures outside any executor.
const waker& noop_waker() noexcept;

namespace detail {
inline void noop_fn(void*) noexcept {}
inline constexpr waker_vtable noop_waker_vtable{&noop_fn, &noop_fn, &noop_fn, &noop_fn};
}  // namespace detail

inline const waker& noop_waker() noexcept {
  static const waker w = waker::from_raw({nullptr, &detail::noop_waker_vtable});
  return w;
}

}  // namespace zokio

#endif
