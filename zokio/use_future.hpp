// zokio::use_future: a completion token that turns any Asio asynchronous operation into a
// zokio::future (pollable, co_await-able in zokio::task, spawnable, joinable).
#ifndef ZOKIO_USE_FUTURE_HPP
#define ZOKIO_USE_FUTURE_HPP

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <zokio/detail/coop.hpp>
#include <zokio/detail/spin_mutex.hpp>
#include <zokio/allocator.hpp>
#include <zokio/executor.hpp>
#include <zokio/future.hpp>

namespace zokio {

/// Completion token: `sock.async_read_some(buf, zokio::use_future)` returns a
/// `zokio::op_future<Signature>`. Do not combine `using namespace boost::asio;` with
/// `using namespace zokio;`: Asio has its own `use_future` (for std::future).
struct use_future_t {
  constexpr use_future_t() noexcept = default;
};
inline constexpr use_future_t use_future{};

namespace detail {

/// What an operation with completion signature `void(Args...)` yields when awaited:
///   void()                                 -> void
///   void(error_code)                       -> boost::system::result<void>
///   void(error_code, T)                    -> boost::system::result<T>
///   void(std::exception_ptr)               -> void, rethrows (co_spawn)
///   void(std::exception_ptr, T)            -> T, rethrows (co_spawn)
///   void(T)                                -> T
///   anything else                          -> std::tuple<Args...>
template <class... Args>
struct op_traits {
  using output = std::tuple<std::decay_t<Args>...>;
  static output make(Args... a) { return output(std::move(a)...); }
};
template <>
struct op_traits<> {
  using output = void;
};
template <>
struct op_traits<boost::system::error_code> {
  using output = boost::system::result<void>;
  static output make(boost::system::error_code ec) {
    if (ec) return output(boost::system::in_place_error, ec);
    return output();
  }
};
template <class T>
struct op_traits<boost::system::error_code, T> {
  using output = boost::system::result<std::decay_t<T>>;
  static output make(boost::system::error_code ec, T v) {
    if (ec) return output(boost::system::in_place_error, ec);
    return output(std::move(v));
  }
};
template <>
struct op_traits<std::exception_ptr> {
  using output = void;
};
template <class T>
struct op_traits<std::exception_ptr, T> {
  using output = std::decay_t<T>;
};
template <class T>
  requires(!std::is_same_v<std::decay_t<T>, boost::system::error_code> &&
           !std::is_same_v<std::decay_t<T>, std::exception_ptr>)
struct op_traits<T> {
  using output = std::decay_t<T>;
  static output make(T v) { return output(std::move(v)); }
};

template <class... Args>
inline constexpr bool first_is_exception_ptr = false;
template <class First, class... Rest>
inline constexpr bool first_is_exception_ptr<First, Rest...> =
    std::is_same_v<std::decay_t<First>, std::exception_ptr>;

/// Shared by the operation's handler and the future: the result slot and the waker slot.
template <class... Args>
struct op_state {
  using traits = op_traits<Args...>;
  using output = typename traits::output;
  using stored = std::conditional_t<std::is_void_v<output>, std::monostate, output>;

  spin_mutex mu;
  bool done = false;
  std::optional<stored> value;
  std::exception_ptr error;  // co_spawn's exception
  waker w;
  // Cancellation: Asio's signal and slot are not thread-safe, so every change of the slot's
  // handler (the operation installs one, a composed operation re-installs one per step, on
  // whichever thread runs it) and every emit are made under slot_mu (locked_slot below). The
  // future then emits synchronously, on its own thread, while the I/O object is alive: a
  // cancellation posted for later could reach an operation whose socket or timer the caller
  // has destroyed in the meantime (the reactor's per-object state is freed with it).
  spin_mutex slot_mu;
  boost::asio::cancellation_signal cancel;

  void emit_cancel() noexcept {
    std::lock_guard lk(slot_mu);
    // Asio's cancellation handlers only queue the cancelled operation's completion (posted,
    // never run inline), so nothing here calls back into this state.
    cancel.emit(boost::asio::cancellation_type::all);
  }

  void complete(Args... args) {
    waker to_wake;
    {
      std::lock_guard lk(mu);
      if constexpr (first_is_exception_ptr<Args...>) {
        auto tup = std::forward_as_tuple(args...);
        error = std::get<0>(tup);
        if constexpr (sizeof...(Args) == 2) {
          if (!error) value.emplace(std::move(std::get<1>(tup)));
        } else {
          value.emplace();
        }
      } else if constexpr (std::is_void_v<output>) {
        value.emplace();
      } else {
        value.emplace(traits::make(std::move(args)...));
      }
      done = true;
      to_wake = std::move(w);
    }
    to_wake.wake();
  }
};

/// The cancellation slot an operation started with use_future sees: the op_state's slot,
/// with each change of its handler made under op_state::slot_mu (see op_state).
class locked_slot {
 public:
  locked_slot(boost::asio::cancellation_slot s, spin_mutex& mu) noexcept : s_(s), mu_(&mu) {}

  template <class Handler, class... Args>
  Handler& emplace(Args&&... args) {
    std::lock_guard lk(*mu_);
    return s_.template emplace<Handler>(std::forward<Args>(args)...);
  }
  template <class Handler>
  std::decay_t<Handler>& assign(Handler&& h) {
    std::lock_guard lk(*mu_);
    return s_.assign(std::forward<Handler>(h));
  }
  void clear() {
    std::lock_guard lk(*mu_);
    s_.clear();
  }
  bool is_connected() const noexcept { return s_.is_connected(); }
  bool has_handler() const noexcept {
    std::lock_guard lk(*mu_);
    return s_.has_handler();
  }
  friend bool operator==(const locked_slot& a, const locked_slot& b) noexcept {
    return a.s_ == b.s_;
  }
  friend bool operator!=(const locked_slot& a, const locked_slot& b) noexcept {
    return a.s_ != b.s_;
  }

 private:
  boost::asio::cancellation_slot s_;
  spin_mutex* mu_;
};

/// What inline_executor becomes under `require(blocking.never)`: `asio::post` of a handler
/// whose executor is inline_executor, which composed operations do when a step completes at
/// once (Beast's http::async_read posts its continuation so as not to complete inside the
/// initiating call). The function runs later as a task of the runtime the calling thread runs
/// in (a worker, or a thread inside block_on), or on Asio's system executor off any runtime.
struct deferred_executor {
  template <class F>
  void execute(F&& f) const {
    namespace ex = boost::asio::execution;
    if (scheduler* s = scheduler::current())
      ex::execute(boost::asio::require(zokio::executor(*s, zokio::executor::unplaced), ex::blocking.never),
                  std::forward<F>(f));
    else
      ex::execute(boost::asio::require(boost::asio::system_executor(), ex::blocking.never), std::forward<F>(f));
  }
  static constexpr boost::asio::execution::blocking_t::never_t query(
      boost::asio::execution::blocking_t) noexcept {
    return boost::asio::execution::blocking.never;
  }
  friend constexpr bool operator==(const deferred_executor&, const deferred_executor&) noexcept {
    return true;
  }
  friend constexpr bool operator!=(const deferred_executor&, const deferred_executor&) noexcept {
    return false;
  }
};

/// The executor of op_handler: runs the completion inline, wherever Asio completes the
/// operation. op_handler only stores the result and wakes (thread-safe), and a concrete
/// executor spares Asio the type-erased (allocating) dispatch through the I/O object's
/// any_io_executor.
struct inline_executor {
  template <class F>
  void execute(F&& f) const {
    std::forward<F>(f)();
  }
  static constexpr boost::asio::execution::blocking_t::always_t query(
      boost::asio::execution::blocking_t) noexcept {
    return boost::asio::execution::blocking.always;
  }
  /// For asio::post (see deferred_executor).
  static constexpr deferred_executor require(boost::asio::execution::blocking_t::never_t) noexcept {
    return {};
  }
  friend constexpr bool operator==(const inline_executor&, const inline_executor&) noexcept {
    return true;
  }
  friend constexpr bool operator!=(const inline_executor&, const inline_executor&) noexcept {
    return false;
  }
};

template <class... Args>
struct op_handler {
  std::shared_ptr<op_state<Args...>> st;

  // Asio allocates the operation with this (recycled, see zokio/allocator.hpp).
  using allocator_type = zokio::allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }

  using executor_type = inline_executor;
  executor_type get_executor() const noexcept { return {}; }

  using cancellation_slot_type = locked_slot;
  cancellation_slot_type get_cancellation_slot() const noexcept {
    return locked_slot(st->cancel.slot(), st->slot_mu);
  }

  void operator()(Args... args) { st->complete(std::move(args)...); }
};

}  // namespace detail

/**
 * The future of one Asio operation started with `zokio::use_future`. The operation starts at
 * once (as with Asio's own use_future); polling reports its result. Results carry errors
 * (`boost::system::result<T>`), they do not throw, except the exception a `co_spawn`ed
 * coroutine ended with, which is rethrown.
 *
 * Dropping the future before the operation completed cancels it (cancellation type `all`
 * through the operation's cancellation slot), synchronously, on the dropping thread: the
 * operation finishes with `operation_aborted` and its result is discarded. The I/O object
 * may therefore be closed or destroyed right after the future is dropped (an aborted task
 * that owned its socket, a select lost to a timeout): nothing reaches it afterwards. The
 * I/O object must still be alive when the future is dropped (Asio's own rule for
 * cancellation: destroy the operation's future first, then its socket or timer).
 */
template <class... Args>
class [[nodiscard]] op_future {
  using state = detail::op_state<Args...>;

 public:
  using output = typename state::output;

  explicit op_future(std::shared_ptr<state> st) noexcept : st_(std::move(st)) {}
  op_future(op_future&&) noexcept = default;
  op_future& operator=(op_future&& o) noexcept {
    if (this != &o) {
      cancel();
      st_ = std::move(o.st_);
    }
    return *this;
  }
  ~op_future() { cancel(); }

  zokio::poll<output> poll(context& cx) {
    if (!detail::coop::poll_proceed(cx)) return pending;  // budget spent: yield (coop.hpp)
    std::unique_lock lk(st_->mu);
    if (!st_->done) {
      if (!st_->w.will_wake(cx.waker())) st_->w = cx.waker();
      return pending;
    }
    lk.unlock();
    if (st_->error) std::rethrow_exception(st_->error);
    if constexpr (std::is_void_v<output>)
      return ready();
    else
      return zokio::poll<output>(std::move(*st_->value));
  }

  /// Requests cancellation of the operation now, from any thread (the future stays usable
  /// and reports what the operation ends with, usually operation_aborted).
  void cancel() noexcept {
    if (!st_) return;
    {
      std::lock_guard lk(st_->mu);
      if (st_->done) return;
    }
    st_->emit_cancel();
  }

  bool is_ready() const noexcept {
    std::lock_guard lk(st_->mu);
    return st_->done;
  }

 private:
  std::shared_ptr<state> st_;
};

}  // namespace zokio

template <class R, class... Args>
struct boost::asio::async_result<zokio::use_future_t, R(Args...)> {
  using return_type = zokio::op_future<std::decay_t<Args>...>;

  template <class Initiation, class... InitArgs>
  static return_type initiate(Initiation&& init, zokio::use_future_t, InitArgs&&... args) {
    // The shared state comes from the runtime allocator's recycling cache: in steady state an
    // operation through use_future reaches no upstream allocator.
    using state = zokio::detail::op_state<std::decay_t<Args>...>;
    auto st = std::allocate_shared<state>(zokio::allocator<state>());
    std::forward<Initiation>(init)(zokio::detail::op_handler<std::decay_t<Args>...>{st},
                                   std::forward<InitArgs>(args)...);
    return return_type(std::move(st));
  }
};

#endif
