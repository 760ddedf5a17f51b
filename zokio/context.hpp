// zokio::context: what a future's poll receives; gives access to the current task's waker.
#ifndef ZOKIO_CONTEXT_HPP
#define ZOKIO_CONTEXT_HPP

#include <zokio/waker.hpp>

namespace zokio {

/// Passed to every `poll`. Borrowed: valid only during that call; clone the waker to keep it.
class context {
 public:
  explicit context(const zokio::waker& w) noexcept : waker_(&w) {}
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  const zokio::waker& waker() const noexcept { return *waker_; }

 private:
  const zokio::waker* waker_;
};

}  // namespace zokio

#endif
