// The shared state of a zokio::cancellation_token: a sticky flag, and the callbacks to run
// once when it is set (waiting futures, child tokens, user registrations).
//
// Invariants:
// - `cancelled_` goes false -> true once and never back. cancel() sets it (acq_rel exchange:
//   the acquire side pairs with a racing cancel's release, so one of them drains) before it
//   takes `mu_`; whoever reads it true under `mu_` knows the drain has begun or finished,
//   so a node may be linked only while it is false under `mu_`.
// - A node is in `list_` from add() until the drain pops it or remove() unlinks it, both
//   under `mu_`. The drain calls a popped node's `fire` with `mu_` released (a callback may
//   register, deregister or cancel other tokens), and marks it `running_` meanwhile:
//   remove() of that node from another thread waits until the call has returned, so a
//   callback never runs after its owner's remove() returned (the same thread may remove it
//   from inside the call: no wait then).
// - A child token's state holds a reference to its parent and a node in the parent's list
//   that cancels it; the parent holds no reference to the child (the child removes its node
//   when it dies). Locks nest parent -> child only through `fire`, which runs unlocked.
#ifndef ZOKIO_DETAIL_CANCEL_STATE_HPP
#define ZOKIO_DETAIL_CANCEL_STATE_HPP

#include <atomic>
#include <mutex>
#include <thread>

#include <zokio/detail/spin_mutex.hpp>
#include <zokio/detail/wait_list.hpp>

namespace zokio::detail {

/// One callback in a token's list; the owner keeps it alive until remove() returned.
struct cancel_node : wait_link {
  void (*fire)(cancel_node*) noexcept = nullptr;
};

class cancel_state {
 public:
  cancel_state() noexcept = default;
  /// A child: cancelled when `parent` is (at once when it already is).
  explicit cancel_state(cancel_state* parent) noexcept : parent_(parent) {
    parent_->acquire();
    link_.child = this;
    link_.fire = [](cancel_node* n) noexcept {
      cancel_state* c = static_cast<child_link*>(n)->child;
      // A child whose last handle is going (its destructor waits in remove() for this call)
      // is not revived: nobody can observe it any more.
      if (c->try_acquire()) {
        c->cancel();
        c->release();
      }
    };
    if (!parent_->add(&link_)) cancel();
  }
  cancel_state(const cancel_state&) = delete;
  cancel_state& operator=(const cancel_state&) = delete;

  void acquire() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last owner sees every other owner's writes before deleting.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  /// Acquire: pairs with cancel()'s exchange, so what the canceller wrote before is visible.
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }

  /// Sets the flag and runs every registered callback once, oldest first; idempotent. The
  /// caller holds a reference (a callback may drop the others).
  void cancel() noexcept {
    if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
    acquire();  // alive through the drain, whatever the callbacks drop
    {
      std::unique_lock lk(mu_);
      canceller_ = std::this_thread::get_id();
      while (cancel_node* n = list_.pop_back()) {
        running_ = n;
        lk.unlock();
        n->fire(n);
        lk.lock();
        running_ = nullptr;
      }
      canceller_ = std::thread::id();
    }
    release();
  }

  /// Links `n` unless already cancelled (then returns false and links nothing).
  bool add(cancel_node* n) noexcept {
    return add_or_update(n, [] {});
  }

  /// Links `n` (if not linked yet) and calls `update` under the lock, unless already
  /// cancelled (then false, and neither). A future's poll sets its node's waker in `update`:
  /// the drain cannot read it meanwhile, since it pops a node only after the flag is set.
  template <class Update>
  bool add_or_update(cancel_node* n, Update update) noexcept {
    std::lock_guard lk(mu_);
    if (cancelled_.load(std::memory_order_relaxed)) return false;  // (under mu_: see above)
    update();
    if (!n->linked()) list_.push_front(n);
    return true;
  }

  /// Unlinks `n`; if its callback is running on another thread, waits until it returned.
  void remove(cancel_node* n) noexcept {
    for (;;) {
      {
        std::lock_guard lk(mu_);
        if (n->linked()) {
          n->unlink();
          return;
        }
        if (running_ != n || canceller_ == std::this_thread::get_id()) return;
      }
      std::this_thread::yield();  // a callback is short: wake a task, cancel a child
    }
  }

 private:
  struct child_link : cancel_node {
    cancel_state* child = nullptr;
  };

  ~cancel_state() {
    if (parent_) {
      parent_->remove(&link_);
      parent_->release();
    }
  }
  bool try_acquire() noexcept {
    unsigned r = refs_.load(std::memory_order_relaxed);
    while (r != 0)
      if (refs_.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) return true;
    return false;
  }

  std::atomic<bool> cancelled_{false};
  std::atomic<unsigned> refs_{1};
  spin_mutex mu_;
  wait_list<cancel_node> list_;     // guarded by mu_
  cancel_node* running_ = nullptr;  // guarded by mu_: the node being fired now
  std::thread::id canceller_;       // guarded by mu_: the thread draining
  cancel_state* parent_ = nullptr;
  child_link link_;                 // in parent_'s list, when there is a parent
};

}  // namespace zokio::detail

#endif
