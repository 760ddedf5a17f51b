// Blocks a non-runtime thread until its waker fires (used by block_on).
#ifndef ZOKIO_DETAIL_THREAD_PARKER_HPP
#define ZOKIO_DETAIL_THREAD_PARKER_HPP

#include <zokio/detail/counted_waker_target.hpp>
#include <zokio/detail/park_flag.hpp>

namespace zokio::detail {

/// Reference-counted, since a waker made from it may outlive the block_on call.
class thread_parker : public counted_waker_target<thread_parker> {
 public:
  static thread_parker* create() { return new thread_parker; }

  /// Sleeps until wake() was called since the last park().
  void park() noexcept {
    while (!flag_.take()) flag_.wait();
  }
  void wake() noexcept { flag_.raise_and_wake(); }

 private:
  friend class counted_waker_target<thread_parker>;  // deletes it
  thread_parker() = default;
  ~thread_parker() = default;

  park_flag flag_;
};

}  // namespace zokio::detail

#endif
