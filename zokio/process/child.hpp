// zokio::process::child: a running child process: its piped stdio as Asio pipes on the
// runtime, wait() as a future, try_wait, kill, and kill-and-reap when it is dropped.
#ifndef ZOKIO_PROCESS_CHILD_HPP
#define ZOKIO_PROCESS_CHILD_HPP

#include <optional>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/writable_pipe.hpp>
// The whole of Boost.Process v2: in 1.81 its headers do not all stand alone (process_handle.hpp
// alone misses detail::still_active).
#include <boost/process/v2.hpp>
#include <boost/system/result.hpp>

#include <zokio/executor.hpp>
#include <zokio/process/exit_status.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>

namespace zokio::process {

class command;

/**
 * A child process started by command::spawn(). Move-only.
 *
 * - `in`, `out`, `err`: the pipes of the streams spawned as `stdio::piped` (else empty), Asio
 *   pipes on the runtime: use them with `zokio::io` (buffered_reader, read_to_end, write_all,
 *   lines()) or any Asio operation with `zokio::use_future`. Reset `in` to send end-of-file.
 * - `wait()`: a future of the exit status. It first closes `in` (a child reading its input to
 *   the end would otherwise never exit). Cancel-safe: dropped, it leaves the child running
 *   and a later wait() still reports it.
 * - **Dropping the child kills it** (SIGKILL) if it is still running, and reaps it either
 *   way: no zombie is left, also when the task that owns it is cancelled or its runtime shuts
 *   down. `detach()` lets it run on instead (nothing reaps it then).
 *
 * The child must outlive its wait() future.
 */
class child {
 public:
  using writable_pipe = boost::asio::basic_writable_pipe<zokio::executor>;
  using readable_pipe = boost::asio::basic_readable_pipe<zokio::executor>;

  std::optional<writable_pipe> in;   ///< its stdin, when spawned with stdio::piped
  std::optional<readable_pipe> out;  ///< its stdout, when piped
  std::optional<readable_pipe> err;  ///< its stderr, when piped

  child(child&& o) noexcept
      : in(std::move(o.in)),
        out(std::move(o.out)),
        err(std::move(o.err)),
        handle_(std::move(o.handle_)),
        status_(o.status_) {
    o.handle_.reset();  // the moved-from child must not kill or reap
  }
  child& operator=(child&& o) noexcept {
    if (this != &o) {
      reap_or_kill();
      in = std::move(o.in);
      out = std::move(o.out);
      err = std::move(o.err);
      handle_ = std::move(o.handle_);
      status_ = o.status_;
      o.handle_.reset();
    }
    return *this;
  }
  ~child() { reap_or_kill(); }

  /// The process id (-1 once detached).
  int id() const noexcept { return handle_ ? handle_->id() : -1; }

  /// Waits for the child to exit (see the class comment); the error is the wait's.
  zokio::task<boost::system::result<exit_status>> wait() {
    if (status_) co_return *status_;
    in.reset();
    if (!handle_) co_return boost::system::result<exit_status>(boost::system::in_place_error, make_error_code(boost::asio::error::bad_descriptor));
    auto r = co_await handle_->async_wait(zokio::use_future);
    if (!r) co_return boost::system::result<exit_status>(boost::system::in_place_error, r.error());
    status_ = exit_status{*r};
    co_return *status_;
  }

  /// The exit status if it has exited (it is then reaped), nullopt while it runs.
  boost::system::result<std::optional<exit_status>> try_wait() {
    if (status_) return std::optional(*status_);
    if (!handle_) return {boost::system::in_place_error, make_error_code(boost::asio::error::bad_descriptor)};
    int raw = 0;
    boost::system::error_code ec;
    if (handle_->running(raw, ec)) return std::optional<exit_status>();
    if (ec) return {boost::system::in_place_error, ec};
    status_ = exit_status{raw};
    return std::optional(*status_);
  }

  /// Sends SIGKILL (wait() then reports the signal). No error once it exited.
  boost::system::result<void> kill() {
    if (status_ || !handle_) return {};
    int raw = 0;
    boost::system::error_code ec;
    handle_->terminate(raw, ec);
    if (ec && ec != boost::system::errc::no_such_process) return {boost::system::in_place_error, ec};
    return {};
  }

  /// Lets the child run on after this object goes (not killed, not reaped).
  void detach() noexcept { handle_.reset(); }  // closes the pidfd, nothing more

 private:
  friend class command;
  using handle_type = boost::process::v2::basic_process_handle<zokio::executor>;
  explicit child(handle_type h) : handle_(std::in_place, std::move(h)) {}

  // Kill-and-reap on drop: a child still running gets SIGKILL, then waitpid (it dies at once);
  // one that exited unreaped is reaped. Not after our own wait reaped it: its pid may belong
  // to another process by now.
  void reap_or_kill() noexcept {
    if (handle_ && !status_) {
      boost::system::error_code ec;
      handle_->terminate_if_running(ec);
    }
    handle_.reset();
  }

  std::optional<handle_type> handle_;   // empty: detached or moved from
  std::optional<exit_status> status_;   // reaped, with this status
};

}  // namespace zokio::process

#endif
