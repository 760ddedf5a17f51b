// zokio::task_scope: structured concurrency. A scope's future finishes only when its body and
// every child have; the first exception cancels the rest and is rethrown at the scope.
#ifndef ZOKIO_TASK_SCOPE_HPP
#define ZOKIO_TASK_SCOPE_HPP

#include <cstddef>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <zokio/allocator.hpp>
#include <zokio/detail/task_cell.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/spawn.hpp>

namespace zokio {

template <class Body>
class scope_future;

/**
 * The children of one structured scope. Made by `task_scope::run`, handed to its body.
 *
 * @code
 * int a = 0, b = 0;                       // children may borrow the enclosing frame
 * co_await zokio::task_scope::run([&](zokio::task_scope& s) -> zokio::task<void> {
 *   s.spawn(fill(a));                     // zokio::task<void> fill(int&);
 *   s.spawn(fill(b));
 *   co_return;
 * });                                     // here both children have finished
 * @endcode
 *
 * Two kinds of children:
 * - `spawn(f)`: an inline child, polled by the scope's own future, in the scope's task. It
 *   may borrow anything that outlives the scope (the enclosing frame, the body lambda's
 *   captures). Children interleave at their co_awaits but do not run in parallel.
 * - `spawn_task(f)`: a runtime task (zokio::spawn) joined by the scope, for parallel work. It
 *   must own what it uses, like any spawned task: if the scope is cancelled, the task is only
 *   aborted (asynchronously), not waited for.
 *
 * Errors: the first exception from the body or a child cancels every other child (their
 * futures are destroyed; spawned tasks aborted) and the body, then is rethrown where the scope
 * is awaited. Later exceptions are dropped.
 *
 * Cancellation: destroying the scope's future destroys the inline children, then the body,
 * synchronously; nothing borrowed can be used afterwards. doc/scopes.md says why the children
 * are inline rather than spawned.
 *
 * Cost: each poll of the scope polls the body and every live child (they share the task's
 * waker), O(children) per wake; an inline child is one allocation (category other).
 */
class task_scope {
 public:
  task_scope() = default;
  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;
  ~task_scope() { cancel_children(); }

  /// Runs `body(scope)` (a callable returning a future, typically a coroutine lambda) and
  /// returns the future of the whole scope: it yields the body's output once the body and all
  /// children have finished. The callable is kept inside the returned future, so a capturing
  /// lambda is safe here (no co_invoke needed).
  template <class Body>
    requires future<std::invoke_result_t<Body&, task_scope&>>
  static scope_future<std::decay_t<Body>> run(Body&& body) {
    return scope_future<std::decay_t<Body>>(std::forward<Body>(body));
  }

  /// Adds an inline child (its output, if any, is discarded). Usable from the body, from a
  /// child, or from anywhere while the scope runs on the scope's task.
  template <future F>
  void spawn(F f) {
    using node = child<std::remove_cvref_t<F>>;
    if (children_.size() == children_.capacity())  // so that push_back below cannot throw
      children_.reserve(children_.empty() ? 8 : 2 * children_.size());
    void* mem = detail::allocate(sizeof(node), alloc_category::other, alignof(node));
    child_base* c;
    try {
      c = ::new (mem) node(std::move(f));
    } catch (...) {
      detail::deallocate(mem, sizeof(node), alloc_category::other, alignof(node));
      throw;
    }
    children_.push_back(c);
  }

  /// Spawns `f` on the runtime (parallel to the scope) and makes its join a child: the scope
  /// waits for it and gets its exception; cancelling the scope aborts it. `f` must own its data.
  template <future F>
  void spawn_task(F f, source_location where = source_location::current()) {
    spawn(aborting_handle<future_output_t<F>>(zokio::spawn(std::move(f), where)));
  }

  /// Children not finished yet.
  std::size_t size() const noexcept { return children_.size(); }

  /// A future that is ready once every child has finished: `co_await s.join();` at the end of
  /// the body lets children borrow the body's own locals.
  class join_future {
   public:
    using output = void;
    explicit join_future(task_scope& s) noexcept : s_(&s) {}
    zokio::poll<void> poll(context&) noexcept {
      if (s_->children_.empty()) return ready();
      s_->join_waiting_ = true;  // the scope re-polls the body when the last child is done
      return pending;
    }

   private:
    task_scope* s_;
  };
  join_future join() noexcept { return join_future(*this); }

 private:
  template <class Body>
  friend class scope_future;

  struct child_base {
    virtual bool poll(context& cx) = 0;  // true when finished; may throw
    virtual void destroy() noexcept = 0;

   protected:
    ~child_base() = default;
  };
  template <class F>
  struct child final : child_base {
    F f;
    explicit child(F&& x) : f(std::move(x)) {}
    bool poll(context& cx) override { return f.poll(cx).is_ready(); }
    void destroy() noexcept override {
      this->~child();
      detail::deallocate(this, sizeof(child), alloc_category::other, alignof(child));
    }
  };

  // A join handle that aborts its task when dropped before the task finished.
  template <class T>
  class aborting_handle {
   public:
    using output = T;
    explicit aborting_handle(join_handle<T> h) noexcept : h_(std::move(h)) {}
    aborting_handle(aborting_handle&&) noexcept = default;
    ~aborting_handle() { h_.abort(); }  // no effect on a finished task (or a moved-from one)
    zokio::poll<T> poll(context& cx) { return h_.poll(cx); }

   private:
    join_handle<T> h_;
  };

  // Polls every child; finished ones are destroyed at once. Stops at the first exception,
  // which it returns. Children spawned during the pass are polled in the same pass.
  std::exception_ptr poll_children(context& cx) {
    std::exception_ptr err;
    std::size_t i = 0;
    for (; i < children_.size(); ++i) {
      child_base* c = children_[i];
      bool done;
      try {
        done = c->poll(cx);
      } catch (...) {
        err = std::current_exception();
        done = true;
      }
      if (done) {
        children_[i] = nullptr;
        c->destroy();
      }
      if (err) break;
    }
    std::erase(children_, nullptr);
    return err;
  }

  // Newest first: a child spawned by another may borrow from it.
  void cancel_children() noexcept {
    while (!children_.empty()) {
      child_base* c = children_.back();
      children_.pop_back();
      c->destroy();  // a destructor that spawns more children appends: handled by the loop
    }
  }

  std::vector<child_base*> children_;
  bool join_waiting_ = false;
};

/**
 * The future returned by `task_scope::run`: output is the body's output. Not moved after its
 * first poll (the body and children refer to the scope inside it); moving it before is fine,
 * nothing has started.
 */
template <class Body>
class [[nodiscard]] scope_future {
  using body_future = std::invoke_result_t<Body&, task_scope&>;

 public:
  using output = future_output_t<body_future>;

  explicit scope_future(Body b) : body_(std::move(b)) {}
  scope_future(scope_future&& o) : body_(std::move(o.body_)) {}  // never-polled only
  scope_future& operator=(scope_future&&) = delete;
  ~scope_future() { cancel(); }

  zokio::poll<output> poll(context& cx) {
    if (!started_) {
      started_ = true;
      try {
        fut_.emplace(std::invoke(body_, scope_));
      } catch (...) {
        cancel();
        throw;
      }
    }
    for (;;) {
      std::exception_ptr err;
      if (!body_done_) {
        try {
          auto r = fut_->poll(cx);
          if (r.is_ready()) {
            body_done_ = true;
            if constexpr (!std::is_void_v<output>) result_.emplace(std::move(r).take());
          }
        } catch (...) {
          err = std::current_exception();
        }
      }
      if (!err) err = scope_.poll_children(cx);
      if (err) {
        cancel();  // children, then the body
        std::rethrow_exception(err);
      }
      if (body_done_ && scope_.children_.empty()) {
        fut_.reset();
        if constexpr (std::is_void_v<output>)
          return ready();
        else
          return zokio::poll<output>(std::move(*result_));
      }
      // The body waits in join() and the last child just finished: poll the body again.
      if (!body_done_ && scope_.join_waiting_ && scope_.children_.empty()) {
        scope_.join_waiting_ = false;
        continue;
      }
      return pending;
    }
  }

 private:
  void cancel() noexcept {
    scope_.cancel_children();
    fut_.reset();
    scope_.cancel_children();  // children spawned by the body's destructors, if any
  }

  Body body_;
  task_scope scope_;
  std::optional<body_future> fut_;
  std::optional<detail::stored_t<output>> result_;
  bool started_ = false;
  bool body_done_ = false;
};

}  // namespace zokio

#endif
