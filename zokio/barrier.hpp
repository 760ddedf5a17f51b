// zokio::barrier: n tasks wait until all n have arrived, then all go on (reusable).
#ifndef ZOKIO_BARRIER_HPP
#define ZOKIO_BARRIER_HPP

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

#include <zokio/context.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/wait_list.hpp>
#include <zokio/poll.hpp>
#include <zokio/waker.hpp>

namespace zokio {

/// What barrier::wait() yields: exactly one task per generation is the leader.
class barrier_wait_result {
 public:
  explicit barrier_wait_result(bool leader) noexcept : leader_(leader) {}
  /// True for the task whose arrival released the generation (the last to arrive).
  bool is_leader() const noexcept { return leader_; }

 private:
  bool leader_;
};

/**
 * A reusable barrier, like `tokio::sync::Barrier`: `co_await b.wait()` suspends until `n`
 * tasks are waiting, then releases them all and starts a new generation.
 *
 * @code
 * zokio::barrier b(3);
 * // in each of 3 tasks:
 * auto r = co_await b.wait();
 * if (r.is_leader()) merge_results();
 * @endcode
 *
 * @par Cancellation safety
 * Destroying a wait() future that has arrived but was not released withdraws its arrival:
 * the generation then needs one more task (unlike Tokio, where the arrival would count). A
 * future destroyed after its generation was released changes nothing. A wait() future must
 * not be moved after it was polled.
 *
 * @par Thread Safety
 * All members may be called from any thread. The barrier must outlive its futures.
 */
class barrier {
  struct node : detail::wait_link {
    std::atomic<bool> released{false};  // set (release) as the leader's last access
    zokio::waker waker_;                // guarded by mu_
    std::uint64_t generation = 0;
  };

 public:
  /// A barrier for `n` tasks (0 counts as 1, as in Tokio).
  explicit barrier(std::size_t n) noexcept : n_(n == 0 ? 1 : n) {}
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  std::size_t size() const noexcept { return n_; }

  class [[nodiscard]] wait_future {
   public:
    using output = barrier_wait_result;
    wait_future(wait_future&& o) noexcept : b_(o.b_), st_(o.st_) {
      assert(o.st_ != waiting && "a barrier wait future must not be moved once it waits");
    }
    wait_future& operator=(wait_future&&) = delete;
    ~wait_future() {
      if (st_ == waiting) b_->cancel(node_);
    }

    zokio::poll<barrier_wait_result> poll(context& cx) {
      if (st_ == init) {
        if (b_->arrive(node_, cx)) {
          st_ = done;
          return barrier_wait_result(true);
        }
        st_ = waiting;
        return pending;
      }
      if (st_ == waiting && !b_->poll_waiting(node_, cx)) return pending;
      st_ = done;
      return barrier_wait_result(false);
    }

   private:
    friend class barrier;
    enum state : std::uint8_t { init, waiting, done };
    explicit wait_future(barrier* b) noexcept : b_(b) {}
    barrier* b_;
    state st_ = init;
    node node_;
  };

  /// Arrives and waits for the rest of this generation.
  wait_future wait() noexcept { return wait_future(this); }

 private:
  // First poll: true if we are the n-th (the leader: everyone is released); else queued.
  bool arrive(node& me, context& cx) {
    mu_.lock();
    if (++arrived_ < n_) {
      me.generation = generation_;
      me.waker_ = cx.waker();
      waiters_.push_front(&me);
      mu_.unlock();
      return false;
    }
    arrived_ = 0;
    ++generation_;
    // Take this generation's waiters aside and wake them in batches; the next generation's
    // arrivals queue meanwhile on waiters_.
    detail::wait_list<node> woken;
    waiters_.move_all_to(woken);
    detail::wake_all_unlocking(woken, mu_, [](node& w) {
      w.released.store(true, std::memory_order_release);  // last access to the node
    });
    return true;
  }

  bool poll_waiting(node& me, context& cx) {
    // Ordering: acquire pairs with the leader's release store.
    if (me.released.load(std::memory_order_acquire)) return true;
    zokio::waker old;  // dropped after unlocking
    std::lock_guard lk(mu_);
    if (me.released.load(std::memory_order_relaxed)) return true;
    if (me.generation != generation_) {
      // Released, but the leader has not reached our node yet: leave its batch now.
      me.unlink();
      return true;
    }
    if (!me.waker_.will_wake(cx.waker())) old = std::exchange(me.waker_, cx.waker());
    return false;
  }

  void cancel(node& me) noexcept {
    zokio::waker w;
    std::lock_guard lk(mu_);
    if (!me.linked()) return;  // released
    me.unlink();
    if (me.generation == generation_) --arrived_;  // withdraw the arrival
    w = std::move(me.waker_);
  }

  const std::size_t n_;
  detail::spin_mutex mu_;
  std::size_t arrived_ = 0;
  std::uint64_t generation_ = 0;
  detail::wait_list<node> waiters_;
};

}  // namespace zokio

#endif
