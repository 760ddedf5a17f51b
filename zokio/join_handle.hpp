// zokio::join_handle<T>: the future of a spawned task's result; abort() and detach().
#ifndef ZOKIO_JOIN_HANDLE_HPP
#define ZOKIO_JOIN_HANDLE_HPP

#include <utility>
#include <vector>

#include <zokio/detail/task_cell.hpp>
#include <zokio/future.hpp>

namespace zokio {

/**
 * Owned permission to join a spawned task. It is a `zokio::future<T>`: awaiting it yields the
 * task's output, rethrows the exception the task threw, or throws `zokio::join_error`
 * (`errc::task_aborted` after abort(), `errc::runtime_shutdown` when the runtime went away
 * first).
 *
 * Dropping the handle detaches the task: it keeps running and its output is discarded.
 *
 * @par Thread Safety
 * A handle may be polled, aborted and destroyed from any thread, one thread at a time.
 */
template <class T>
class [[nodiscard]] join_handle {
 public:
  using output = T;

  join_handle() noexcept = default;
  explicit join_handle(detail::task_core<T>* t) noexcept : t_(t) {}
  join_handle(join_handle&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      reset();
      t_ = std::exchange(o.t_, nullptr);
    }
    return *this;
  }
  ~join_handle() { reset(); }

  zokio::poll<T> poll(context& cx) {
    if (finished()) throw_polled_after_ready();
    // A task that has not started yet runs here, inline, when this poll is on one of its
    // runtime's workers: the joiner would only wait for it (fork-join; doc/architecture.md).
    // When it completes there, the result is moved out before the completion is published,
    // and the handle's reference goes in the same RMW (task_finish_joined).
    if (detail::task_state::claimable(t_->state.load(std::memory_order_relaxed)) &&
        detail::task_join_inline(t_) == detail::inline_run::held) {
      auto r = std::move(t_->result);
      // The moved-from object goes now, not when the last reference does (a stale queue
      // entry on a parked worker may hold the task for long). A trivially destructible value
      // holds nothing (nor does a moved-from exception_ptr): nothing to do for it.
      if constexpr (!std::is_trivially_destructible_v<detail::stored_t<T>>)
        t_->result.template emplace<0>();
      if (r.index() == 3) [[unlikely]] throw_inline_error(std::get<3>(r));
      finish();
      if constexpr (std::is_void_v<T>) {
        detail::task_core<T>::take(r);
        return ready();
      } else {
        return zokio::poll<T>(detail::task_core<T>::take(r));
      }
    }
    if (!detail::task_set_join_waker(t_, cx.waker())) return pending;
    if constexpr (std::is_void_v<T>) {
      t_->take_result();
      return ready();
    } else {
      return zokio::poll<T>(t_->take_result());
    }
  }

  /// Requests cancellation. The future is dropped on a worker before its next poll (or right
  /// after the poll in progress); the join then throws join_error(task_aborted). No effect on
  /// a finished task.
  void abort() noexcept {
    if (t_ && !finished()) detail::task_abort(t_);
  }

  /// Lets the task run on without a handle (same as destroying the handle).
  void detach() noexcept { reset(); }

  /// True once the task has finished (completed, failed, or cancelled).
  bool is_finished() const noexcept {
    return finished() || (t_ && detail::task_state::is_complete(t_->state));
  }
  bool valid() const noexcept { return t_ != nullptr; }
  /// The task's id (zokio::task_id), also after it finished. Precondition: made by a spawn
  /// and not detached.
  task_id id() const noexcept {
    return task_id(finished() ? reinterpret_cast<std::uintptr_t>(t_) >> 1 : t_->id);
  }

 private:
  void reset() noexcept {
    auto* t = std::exchange(t_, nullptr);
    if (t && !(reinterpret_cast<std::uintptr_t>(t) & 1)) detail::task_drop_join_handle(t);
  }
  // After a join that ran the task inline and released it (the task may be freed), the handle
  // owns nothing and holds the task's id instead of its address, tagged by the low bit (tasks
  // are aligned): it is finished and still knows its id.
  bool finished() const noexcept { return reinterpret_cast<std::uintptr_t>(t_) & 1; }
  void finish() noexcept {
    detail::task_core<T>* t = std::exchange(
        t_, reinterpret_cast<detail::task_core<T>*>(static_cast<std::uintptr_t>(t_->id) << 1 | 1));
    detail::task_finish_joined(t);
  }
  [[noreturn, gnu::cold, gnu::noinline]] void throw_polled_after_ready() const {
    throw join_error(errc::task_aborted, id(), {}, {});
  }
  // The inline join found the task ended with an errc (aborted before it ran): named while
  // the task is still there, thrown once it is released.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_inline_error(errc e) {
    std::exception_ptr err;
    try {
      throw detail::task_core<T>::error_of(t_, e);
    } catch (...) {
      err = std::current_exception();  // whatever making the error threw included
    }
    finish();
    std::rethrow_exception(std::move(err));
  }
  detail::task_core<T>* t_ = nullptr;
};

namespace detail {
/// join_handles for tasks spawned together (scheduler::spawn_many).
template <class T>
std::vector<join_handle<T>> to_handles(const std::vector<task_core<T>*>& ts) {
  std::vector<join_handle<T>> hs;
  hs.reserve(ts.size());
  for (auto* t : ts) hs.emplace_back(t);
  return hs;
}
}  // namespace detail

}  // namespace zokio

#endif
