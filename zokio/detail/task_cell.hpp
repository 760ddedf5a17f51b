// The typed task: header, result slot and the future, in one allocation.
#ifndef ZOKIO_DETAIL_TASK_CELL_HPP
#define ZOKIO_DETAIL_TASK_CELL_HPP

#include <exception>
#include <new>
#include <type_traits>
#include <utility>
#include <variant>

#include <zokio/allocator.hpp>
#include <zokio/detail/task_header.hpp>
#include <zokio/error.hpp>
#include <zokio/future.hpp>

namespace zokio::detail {

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Header plus the result slot: all a join_handle<T> needs to know.
template <class T>
struct task_core : task_header {
  // 0: nothing, 1: value, 2: exception thrown by the future, 3: why it did not finish.
  std::variant<std::monostate, stored_t<T>, std::exception_ptr, errc> result;

  using task_header::task_header;


  using result_type = std::variant<std::monostate, stored_t<T>, std::exception_ptr, errc>;

  /// Moves the result out; rethrows the task's exception or throws join_error (naming it).
  T take_result() { return take(result, this); }

  /// The join_error of task `t` that ended with `e` (its id, name and spawn location).
  static join_error error_of(const task_header* t, errc e) {
    return join_error(e, task_id(t->id), t->name ? std::string_view(t->name) : std::string_view(),
                      t->where());
  }

  /// The same for a result already moved out of the cell (an inline join, join_handle.hpp:
  /// `who` is then null, the caller having thrown error_of() for an errc itself).
  static T take(result_type& result, const task_header* who = nullptr) {
    switch (result.index()) {
      case 1:
        if constexpr (std::is_void_v<T>)
          return;
        else
          return std::move(std::get<1>(result));
      case 2: {
        // Moved out: the exception then belongs to the joiner alone, not also to a cell that
        // another thread may free (TSan cannot see libstdc++'s exception refcount).
        std::exception_ptr e = std::move(std::get<2>(result));
        std::rethrow_exception(std::move(e));
      }
      case 3:
        if (who) throw error_of(who, std::get<3>(result));
        throw join_error(std::get<3>(result));
      default: throw join_error(errc::task_aborted);  // unreachable once COMPLETE was seen
    }
  }
};

template <future F>
struct task_cell final : task_core<future_output_t<F>> {
  using output = future_output_t<F>;
  using core = task_core<output>;

  union {
    F fut;
  };
  bool fut_alive = true;
  // Nonzero: lives in the prefix of the coroutine frame it polls (task.hpp), a block of this
  // many bytes.
  std::size_t frame_block = 0;

  task_cell(std::uint64_t initial, task_scheduler* s, F&& f)
      : core(initial, &vtable_, s), fut(std::move(f)) {}
  ~task_cell() { drop_future(); }

  void drop_future() noexcept {
    if (fut_alive) {
      fut_alive = false;
      fut.~F();
    }
  }

  /// A new task of `f` for scheduler `s`, named and located by `m` (its name copied: on
  /// failure the task is freed and the exception goes on).
  static task_cell* create(std::uint64_t initial, task_scheduler* s, F&& f,
                           const spawn_meta& m = {}) {
    task_cell* c = make(initial, s, std::move(f));
    c->set_where(m.where);
    if (!m.name.empty()) [[unlikely]] {
      try {
        c->set_name(m.name);
      } catch (...) {
        dealloc_fn(c);  // never shared: destroys the future with the cell
        throw;
      }
    }
    return c;
  }

  static task_cell* make(std::uint64_t initial, task_scheduler* s, F&& f) {
    if constexpr (requires(std::size_t n) { f.adopt_cell_storage(n); }) {
      // A zokio::task: build the cell in the space its frame reserved (one allocation).
      std::size_t block = 0;
      if (void* mem = f.adopt_cell_storage(block)) {
        auto* c = ::new (mem) task_cell(initial, s, std::move(f));  // noexcept: moves a handle
        c->frame_block = block;
        return c;
      }
    }
    void* mem = allocate(sizeof(task_cell), alloc_category::task, alignof(task_cell));
    try {
      return ::new (mem) task_cell(initial, s, std::move(f));
    } catch (...) {
      deallocate(mem, sizeof(task_cell), alloc_category::task, alignof(task_cell));
      throw;
    }
  }

  static bool poll_fn(task_header* h, context& cx) {
    auto* self = static_cast<task_cell*>(h);
    try {
      auto r = self->fut.poll(cx);
      if (r.is_pending()) return false;
      if constexpr (std::is_void_v<output>)
        self->result.template emplace<1>();
      else
        self->result.template emplace<1>(std::move(r).take());
    } catch (...) {
      self->result.template emplace<2>(std::current_exception());
    }
    self->drop_future();
    return true;
  }
  /// A spawn refused after shutdown (never registered, never queued): the future dropped, the
  /// result errc::runtime_shutdown, only the handle's reference left. Every runtime's spawn
  /// (scheduler, simulation) refuses this way.
  static void complete_refused(task_header* h) {
    cancel_fn(h, static_cast<int>(errc::runtime_shutdown));
    h->state.store(task_state::COMPLETE | task_state::JOIN_INTEREST | task_state::REF_ONE,
                   std::memory_order_release);
  }
  static void cancel_fn(task_header* h, int e) {
    auto* self = static_cast<task_cell*>(h);
    self->drop_future();
    self->result.template emplace<3>(static_cast<errc>(e));
  }
  static std::exception_ptr drop_output_fn(task_header* h) {
    auto* self = static_cast<task_cell*>(h);
    std::exception_ptr e;
    if (self->result.index() == 2) e = std::move(std::get<2>(self->result));
    self->result.template emplace<0>();
    return e;
  }
  static void dealloc_fn(task_header* h) {
    auto* self = static_cast<task_cell*>(h);
    const std::size_t frame_block = self->frame_block;
    // Destroys the frame first when the cell lives in its prefix: the frame's delete sees the
    // adopted tag and leaves the block, which is freed below as a whole.
    self->~task_cell();
    if (frame_block)
      deallocate(self, frame_block, alloc_category::frame);
    else
      deallocate(self, sizeof(task_cell), alloc_category::task, alignof(task_cell));
  }
  static void await_chain_fn(const task_header* h, std::vector<source_location>& out) {
    auto* self = static_cast<const task_cell*>(h);
    if (self->fut_alive) self->fut.await_chain(out);
  }
  static constexpr auto await_chain_ptr() noexcept {
    using fn = void (*)(const task_header*, std::vector<source_location>&);
    if constexpr (requires(const F& f, std::vector<source_location>& v) { f.await_chain(v); })
      return fn{&await_chain_fn};
    else
      return fn{nullptr};
  }
  static constexpr task_vtable vtable_{&poll_fn, &cancel_fn, &drop_output_fn, &dealloc_fn,
                                       await_chain_ptr()};
};

}  // namespace zokio::detail

#endif
