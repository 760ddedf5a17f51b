// zokio::watch: a single value with a version; receivers wait for changes and read the
// latest (Tokio's tokio::sync::watch), for configuration reloads and shutdown signals.
#ifndef ZOKIO_WATCH_HPP
#define ZOKIO_WATCH_HPP

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <utility>

#include <boost/system/result.hpp>

#include <zokio/detail/coop.hpp>
#include <zokio/allocator.hpp>
#include <zokio/context.hpp>
#include <zokio/detail/chan_error.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/chan_waiters.hpp>
#include <zokio/poll.hpp>

namespace zokio::detail {

/**
 * The value sits behind a std::shared_mutex (readers share it, a send takes it exclusively;
 * a seqlock would need a trivially copyable T). `version` = number of sends << 1 | CLOSED,
 * bumped inside the write lock so that a reader holding the read lock sees the version of
 * the value it reads. Waiting receivers are intrusive nodes under `mu`, all woken per send.
 */
template <class T>
struct watch_chan {
  template <class... A>
  explicit watch_chan(A&&... a) : value(std::forward<A>(a)...) {}

  template <class... A>
  static watch_chan* create(A&&... a) {
    void* p = allocate(sizeof(watch_chan), alloc_category::channel, alignof(watch_chan));
    return ::new (p) watch_chan(std::forward<A>(a)...);
  }
  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void drop_ref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~watch_chan();
      deallocate(this, sizeof(watch_chan), alloc_category::channel, alignof(watch_chan));
    }
  }

  void notify_all() noexcept {
    std::unique_lock lk(mu);
    std::size_t budget = n_waiters;  // those waiting now, not those that queue again
    while (budget > 0 && !waiters.empty()) {
      chan_wake_batch wakes;
      while (budget > 0 && !waiters.empty() && !wakes.full()) {
        chan_wait_node* n = waiters.pop_front();
        --n_waiters;
        --budget;
        wakes.push(std::move(n->w));
      }
      lk.unlock();
      wakes.wake_all();
      lk.lock();
    }
  }

  void dequeue(chan_wait_node& node) noexcept {
    if (!node.owner_waiting) return;
    node.owner_waiting = false;
    {
      std::lock_guard lk(mu);
      if (node.queued) {
        waiters.remove(&node);
        --n_waiters;
      }
    }
    node.w.reset();
  }

  // Ready when the version differs from `seen` (which it updates) or the sender is gone.
  poll<boost::system::result<void>> poll_changed(std::uint64_t& seen, chan_wait_node& node,
                                                 context& cx) {
    using out = poll<boost::system::result<void>>;
    auto check = [&](std::uint64_t v) -> int {
      if ((v >> 1) != seen) {
        seen = v >> 1;
        return 1;
      }
      return (v & CLOSED) ? 2 : 0;
    };
    // Ordering: acquire pairs with the send's release (the version after the new value).
    int r = check(version.load(std::memory_order_acquire));
    if (r == 0) {
      std::lock_guard lk(mu);
      // Re-check under mu: a send bumps the version before it takes mu to wake.
      r = check(version.load(std::memory_order_acquire));
      if (r == 0) {
        if (node.queued) {
          if (!node.w.will_wake(cx.waker())) node.w = cx.waker();
        } else {
          node.w = cx.waker();
          node.owner_waiting = true;
          waiters.push_back(&node);
          ++n_waiters;
        }
        return pending;
      }
    }
    dequeue(node);
    if (r == 1) return out(boost::system::result<void>());
    return out(boost::system::result<void>(make_error_code(channel_errc::closed)));
  }

  static constexpr std::uint64_t CLOSED = 1;
  std::shared_mutex value_mu;
  T value;
  std::atomic<std::uint64_t> version{0};
  spin_mutex mu;
  chan_wait_list waiters;
  std::size_t n_waiters = 0;
  std::atomic<std::size_t> rx_count{1};
  std::atomic<std::size_t> refs{2};  // the sender and each receiver
};

}  // namespace zokio::detail

namespace zokio::watch {

template <class T>
class sender;
template <class T>
class receiver;

/// A read guard: the value, locked for reading while the guard lives. Keep it short (a send
/// waits for it); do not hold it across a co_await.
template <class T>
class ref {
 public:
  const T& operator*() const noexcept { return *v_; }
  const T* operator->() const noexcept { return v_; }
  const T& get() const noexcept { return *v_; }
  /// True when this read marked a change as seen (borrow_and_update on a new version).
  bool has_changed() const noexcept { return changed_; }

 private:
  friend class sender<T>;
  friend class receiver<T>;
  ref(std::shared_mutex& m, const T& v, bool changed) : lk_(m), v_(&v), changed_(changed) {}
  ref(std::shared_lock<std::shared_mutex> lk, const T& v, bool changed)
      : lk_(std::move(lk)), v_(&v), changed_(changed) {}
  std::shared_lock<std::shared_mutex> lk_;
  const T* v_;
  bool changed_;
};

template <class T, class... A>
std::pair<sender<T>, receiver<T>> channel(A&&... init);

/**
 * A receiver: a version it has seen, and access to the latest value.
 *
 * changed() is **cancel-safe**: the seen version moves only when it completes, so dropping
 * it and calling changed() again misses nothing. Changes coalesce: several sends between two
 * changed() calls count as one, and borrow() shows only the latest value. A changed future
 * borrows the receiver and must not be moved once polled (its waiter node is linked).
 */
template <class T>
class receiver {
 public:
  receiver() noexcept = default;
  receiver(const receiver& o) noexcept : c_(o.c_), seen_(o.seen_) {
    if (c_) {
      c_->rx_count.fetch_add(1, std::memory_order_relaxed);
      c_->add_ref();
    }
  }
  receiver(receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)), seen_(o.seen_) {}
  receiver& operator=(receiver o) noexcept {
    std::swap(c_, o.c_);
    std::swap(seen_, o.seen_);
    return *this;
  }
  ~receiver() {
    if (c_) {
      c_->rx_count.fetch_sub(1, std::memory_order_acq_rel);
      c_->drop_ref();
    }
  }

  class changed_future {
   public:
    using output = boost::system::result<void>;
    explicit changed_future(receiver& r) noexcept : r_(&r) {}
    changed_future(changed_future&& o) noexcept : r_(o.r_) {}  // before the first poll only
    changed_future(const changed_future&) = delete;
    changed_future& operator=(const changed_future&) = delete;
    ~changed_future() {
      if (node_.owner_waiting) r_->c_->dequeue(node_);
    }
    zokio::poll<output> poll(context& cx) {
      if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
      return r_->c_->poll_changed(r_->seen_, node_, cx);
    }

   private:
    receiver* r_;
    detail::chan_wait_node node_;
  };

  /// Completes when a value newer than the last seen was sent (marking it seen), or with
  /// channel_errc::closed once the sender is gone and nothing new is left.
  changed_future changed() noexcept { return changed_future(*this); }

  /// The latest value, read-locked; does not mark it seen.
  ref<T> borrow() const { return ref<T>(c_->value_mu, c_->value, false); }

  /// The latest value, marking its version seen.
  ref<T> borrow_and_update() {
    std::shared_lock lk(c_->value_mu);
    const std::uint64_t v = c_->version.load(std::memory_order_acquire) >> 1;
    const bool changed = v != seen_;
    seen_ = v;
    return ref<T>(std::move(lk), c_->value, changed);
  }

  /// Whether a version not yet seen exists; channel_errc::closed once the sender is gone.
  boost::system::result<bool> has_changed() const {
    const std::uint64_t v = c_->version.load(std::memory_order_acquire);
    if (v & detail::watch_chan<T>::CLOSED) return {boost::system::in_place_error, make_error_code(channel_errc::closed)};
    return {boost::system::in_place_value, (v >> 1) != seen_};
  }

  void mark_changed() noexcept { seen_ = ~std::uint64_t{0}; }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  friend class sender<T>;
  template <class U, class... A>
  friend std::pair<sender<U>, receiver<U>> channel(A&&...);
  receiver(detail::watch_chan<T>* c, std::uint64_t seen) noexcept : c_(c), seen_(seen) {}
  detail::watch_chan<T>* c_ = nullptr;
  std::uint64_t seen_ = 0;
};

/// The sender (one per channel, move-only). Destroying it wakes every changed() with closed.
template <class T>
class sender {
 public:
  sender() noexcept = default;
  sender(sender&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  sender& operator=(sender&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~sender() { reset(); }

  /// Replaces the value and notifies; fails (value back) when no receiver is left.
  send_result<T> send(T v) const {
    if (c_->rx_count.load(std::memory_order_acquire) == 0)
      return send_result<T>(channel_errc::closed, std::move(v));
    send_replace(std::move(v));
    return {};
  }

  /// Replaces the value (even without receivers), notifies, returns the old value.
  T send_replace(T v) const {
    {
      std::unique_lock lk(c_->value_mu);
      std::swap(v, c_->value);
      bump();
    }
    c_->notify_all();
    return v;
  }

  /// Modifies the value in place under the write lock, then notifies.
  template <class F>
  void send_modify(F&& f) const {
    {
      std::unique_lock lk(c_->value_mu);
      std::forward<F>(f)(c_->value);
      bump();
    }
    c_->notify_all();
  }

  /// Like send_modify, but notifies only when `f` returns true.
  template <class F>
  bool send_if_modified(F&& f) const {
    bool modified;
    {
      std::unique_lock lk(c_->value_mu);
      modified = std::forward<F>(f)(c_->value);
      if (modified) bump();
    }
    if (modified) c_->notify_all();
    return modified;
  }

  ref<T> borrow() const { return ref<T>(c_->value_mu, c_->value, false); }

  /// A new receiver that has seen the current value.
  receiver<T> subscribe() const {
    c_->rx_count.fetch_add(1, std::memory_order_relaxed);
    c_->add_ref();
    return receiver<T>(c_, c_->version.load(std::memory_order_acquire) >> 1);
  }
  std::size_t receiver_count() const noexcept {
    return c_->rx_count.load(std::memory_order_acquire);
  }
  bool is_closed() const noexcept { return receiver_count() == 0; }
  bool valid() const noexcept { return c_ != nullptr; }

 private:
  template <class U, class... A>
  friend std::pair<sender<U>, receiver<U>> channel(A&&...);
  explicit sender(detail::watch_chan<T>* c) noexcept : c_(c) {}
  // Ordering: release publishes the new value with the version (under the write lock too).
  void bump() const noexcept { c_->version.fetch_add(2, std::memory_order_release); }
  void reset() noexcept {
    if (auto* c = std::exchange(c_, nullptr)) {
      c->version.fetch_or(detail::watch_chan<T>::CLOSED, std::memory_order_release);
      c->notify_all();
      c->drop_ref();
    }
  }
  detail::watch_chan<T>* c_ = nullptr;
};

/// `auto [tx, rx] = zokio::watch::channel<T>(initial...);` the receiver has seen the initial
/// value (changed() waits for the first send).
template <class T, class... A>
std::pair<sender<T>, receiver<T>> channel(A&&... init) {
  auto* c = detail::watch_chan<T>::create(std::forward<A>(init)...);
  return {sender<T>(c), receiver<T>(c, 0)};
}

}  // namespace zokio::watch

#endif
