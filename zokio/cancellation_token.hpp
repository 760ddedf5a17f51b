// zokio::cancellation_token: a sticky, hierarchical cancellation flag usable from any thread
// (tokio_util's CancellationToken), with a future that waits for it, a combinator that
// stops a future when it is set, and callback registrations for everything else (Asio
// operations, join sets, task scopes).
#ifndef ZOKIO_CANCELLATION_TOKEN_HPP
#define ZOKIO_CANCELLATION_TOKEN_HPP

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/system/result.hpp>

#include <zokio/context.hpp>
#include <zokio/detail/cancel_state.hpp>
#include <zokio/future.hpp>
#include <zokio/poll.hpp>
#include <zokio/waker.hpp>

namespace zokio {

class cancellation_token;

/**
 * Waits until a token is cancelled: `co_await token.cancelled();`. Ready at once when the
 * token already is. Usable in `zokio::select` and `zokio::timeout`.
 *
 * @par Cancellation safety
 * Safe: dropping it only deregisters (it consumes nothing). Not movable after its first poll.
 */
class [[nodiscard]] cancelled_future {
 public:
  using output = void;
  explicit cancelled_future(detail::cancel_state* s) noexcept : s_(s) { s_->acquire(); }
  cancelled_future(cancelled_future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  cancelled_future& operator=(cancelled_future&&) = delete;
  ~cancelled_future() {
    if (!s_) return;
    s_->remove(&node_);  // waits for a wake of ours running on another thread
    s_->release();
  }

  zokio::poll<void> poll(context& cx) {
    if (s_->cancelled()) return zokio::ready();
    if (s_->add_or_update(&node_, [&] {
          if (!node_.waker.will_wake(cx.waker())) node_.waker = cx.waker();
        }))
      return pending;
    return zokio::ready();
  }

 private:
  struct node : detail::cancel_node {
    zokio::waker waker;  // set under the state's lock; read by the drain once popped
    node() noexcept {
      fire = [](detail::cancel_node* n) noexcept { static_cast<node*>(n)->waker.wake_by_ref(); };
    }
  };
  detail::cancel_state* s_;
  node node_;
};

class cancellation_registration;

template <future F>
class run_until_cancelled_future;

/**
 * A cancellation flag shared by copies of the token (tokio_util's `CancellationToken`).
 *
 * - **Sticky**: once cancelled it stays cancelled; anything that starts waiting afterwards
 *   (a `cancelled()` future, `run_until_cancelled`, `on_cancel`, a new child) sees it at
 *   once. So a cancel that races the start of an operation never gets lost (the race of
 *   asio#1574/#1576).
 * - **Hierarchical**: `child_token()` is cancelled with its parent (and the parent's
 *   ancestors), never the other way round. A child created from a cancelled token is
 *   cancelled from the start. The parent keeps no child alive.
 * - **Any thread**: every member may be called from any thread; `cancel()` runs the
 *   registered callbacks (and wakes the waiting futures) on the calling thread, oldest
 *   first, each once.
 *
 * @code
 * zokio::cancellation_token stop;
 * auto h = rt.spawn(stop.run_until_cancelled(serve(listener)));  // result<T>: aborted or T
 * zokio::join_set<void> set;
 * auto reg = stop.on_cancel([&]() noexcept { set.abort_all(); });  // cancel all children
 * ...
 * stop.cancel();
 * @endcode
 */
class cancellation_token {
 public:
  /// A new root token, not cancelled.
  cancellation_token() : s_(new detail::cancel_state()) {}
  cancellation_token(const cancellation_token& o) noexcept : s_(o.s_) { s_->acquire(); }
  cancellation_token(cancellation_token&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  cancellation_token& operator=(cancellation_token o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~cancellation_token() {
    if (s_) s_->release();
  }

  /// Cancels this token and its descendants; idempotent. Runs their callbacks here.
  void cancel() const noexcept { s_->cancel(); }
  /// Whether cancel() was called on this token or an ancestor.
  bool is_cancelled() const noexcept { return s_->cancelled(); }

  /// A token cancelled with this one (cancelled already if this one is).
  cancellation_token child_token() const { return cancellation_token(new detail::cancel_state(s_)); }

  /// A future that completes when this token is cancelled.
  cancelled_future cancelled() const noexcept { return cancelled_future(s_); }

  /// Runs `f(noexcept)` once when this token is cancelled (at once if it already is), until
  /// the returned registration is destroyed.
  template <class F>
    requires std::is_nothrow_invocable_v<F&>
  cancellation_registration on_cancel(F&& f) const;

  /// Runs `f` until it completes or this token is cancelled, whichever comes first (the
  /// cancellation is checked first at each poll). Output `boost::system::result<T>`: f's
  /// output, or `boost::asio::error::operation_aborted`, f having been destroyed before the
  /// caller sees it (an Asio operation of f's is cancelled then; see use_future).
  template <future F>
  run_until_cancelled_future<std::decay_t<F>> run_until_cancelled(F&& f) const {
    return run_until_cancelled_future<std::decay_t<F>>(cancelled(), std::forward<F>(f));
  }

 private:
  friend class cancellation_registration;
  explicit cancellation_token(detail::cancel_state* s) noexcept : s_(s) {}
  detail::cancel_state* s_;  // null only after a move
};

/**
 * A callback registered with `token.on_cancel(f)`: `f` runs once when the token is
 * cancelled, on the cancelling thread (at once, on this thread, when it already is). The
 * destructor deregisters; if `f` is running on another thread it waits until `f` returned,
 * so after destruction `f` neither runs nor is running. Keep `f` short and non-blocking
 * (wake something, abort tasks, cancel an Asio operation); it must not destroy its own
 * registration. Not movable (the token holds its address): hold it in a std::optional
 * (`opt.emplace(token, f)`) or a std::unique_ptr where it must be dropped early.
 */
class [[nodiscard]] cancellation_registration {
 public:
  /// Registers `f` with `token` (the same as `token.on_cancel(f)`).
  template <class F>
    requires std::is_nothrow_invocable_v<F&>
  cancellation_registration(const cancellation_token& token, F&& f)
      : s_(token.s_), f_(std::forward<F>(f)) {
    s_->acquire();
    node_.self = this;
    if (!s_->add(&node_)) f_();
  }
  cancellation_registration(const cancellation_registration&) = delete;
  cancellation_registration& operator=(const cancellation_registration&) = delete;
  ~cancellation_registration() {
    s_->remove(&node_);
    s_->release();
  }

 private:
  struct node : detail::cancel_node {
    cancellation_registration* self = nullptr;
    node() noexcept {
      fire = [](detail::cancel_node* n) noexcept { static_cast<node*>(n)->self->f_(); };
    }
  };
  detail::cancel_state* s_;
  std::function<void()> f_;
  node node_;
};

template <class F>
  requires std::is_nothrow_invocable_v<F&>
cancellation_registration cancellation_token::on_cancel(F&& f) const {
  return cancellation_registration(*this, std::forward<F>(f));
}


/**
 * The future of `token.run_until_cancelled(f)`.
 *
 * @par Cancellation safety
 * As f's: on cancellation f is destroyed, with what that loses.
 */
template <future F>
class [[nodiscard]] run_until_cancelled_future {
 public:
  using inner_output = future_output_t<F>;
  using output = boost::system::result<inner_output>;

  run_until_cancelled_future(cancelled_future c, F f)
      : cancelled_(std::move(c)), inner_(std::in_place, std::move(f)) {}
  run_until_cancelled_future(run_until_cancelled_future&&) = default;
  run_until_cancelled_future& operator=(run_until_cancelled_future&&) = delete;

  zokio::poll<output> poll(context& cx) {
    if (cancelled_.poll(cx).is_ready()) {
      inner_.reset();
      return zokio::poll<output>(
          output(boost::system::in_place_error, make_error_code(boost::asio::error::operation_aborted)));
    }
    auto r = inner_->poll(cx);
    if (!r.is_ready()) return pending;
    inner_.reset();
    if constexpr (std::is_void_v<inner_output>)
      return zokio::poll<output>(output());
    else
      return zokio::poll<output>(output(boost::system::in_place_value, std::move(r).take()));
  }

 private:
  cancelled_future cancelled_;
  std::optional<F> inner_;
};

}  // namespace zokio

#endif
