// Zokio's error codes (zokio::errc) and the exception a join reports for an aborted task.
#ifndef ZOKIO_ERROR_HPP
#define ZOKIO_ERROR_HPP

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <zokio/task_id.hpp>

namespace zokio {

enum class errc {
  task_aborted = 1,      ///< the task was aborted through its join_handle
  runtime_shutdown,      ///< the runtime was stopped or destroyed before the task finished
  nested_block_on,       ///< block_on called from a worker thread of a runtime
  no_runtime,            ///< zokio::spawn called outside any runtime worker
  shutdown_from_inside,  ///< shutdown() called on one of the runtime's own threads
  not_on_worker,         ///< spawn_local called on a thread that is no runtime worker
  line_too_long,         ///< zokio::io: a line (or text frame) longer than the reader's limit
  frame_too_large,       ///< zokio::io: a length-delimited frame over the codec's limit
  truncated_frame,       ///< zokio::io: the stream ended inside a frame
  buffer_full,           ///< zokio::io: a buffered reader is full and needs more bytes
  actor_stopped,         ///< zokio::actor: the actor has stopped; its mailbox takes nothing
  no_reply,              ///< zokio::actor: the request was dropped unanswered (a failure, a stop)
  no_io_driver,          ///< a timer or I/O object on a runtime built without the I/O driver
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Thrown at the join of a task that did not run to completion (aborted, or runtime shut down).
/// Names the task: "task 42 \"fetch\" spawned at main.cpp:17: task aborted".
class join_error : public boost::system::system_error {
 public:
  explicit join_error(errc e) : boost::system::system_error(make_error_code(e)) {}
  join_error(errc e, task_id id, std::string_view name, source_location where)
      : boost::system::system_error(make_error_code(e), describe(id, name, where)),
        id_(id),
        name_(name),
        where_(where) {}
  bool is_cancelled() const noexcept { return code() == make_error_code(errc::task_aborted); }
  /// The task's id (nullopt: not known, e.g. a handle polled again after its result).
  std::optional<task_id> id() const noexcept { return id_; }
  /// The name given at its spawn (spawn_options::name), or empty.
  const std::string& name() const noexcept { return name_; }
  /// Where it was spawned (line 0: not known).
  const source_location& where() const noexcept { return where_; }

  /// "task 42 \"fetch\" spawned at main.cpp:17", the prefix of what().
  static std::string describe(task_id id, std::string_view name, source_location where) {
    std::string s = "task " + std::to_string(id.value());
    if (!name.empty()) {
      s += " \"";
      s.append(name);
      s += '"';
    }
    if (where.line() != 0) {
      s += " spawned at ";
      s += where.file_name();
      s += ':';
      s += std::to_string(where.line());
    }
    return s;
  }

 private:
  std::optional<task_id> id_;
  std::string name_;
  source_location where_;
};

namespace detail {
class zokio_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "zokio"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::task_aborted: return "task aborted";
      case errc::runtime_shutdown: return "runtime shut down before the task finished";
      case errc::nested_block_on:
        return "block_on called from a runtime worker thread; co_await the future instead";
      case errc::no_runtime: return "zokio::spawn called outside a runtime worker thread";
      case errc::shutdown_from_inside:
        return "shutdown() called on one of the runtime's own threads (a worker or a blocking "
               "job), which it would have to wait for; call stop() there, or destroy the "
               "runtime, which then stops it without waiting";
      case errc::not_on_worker:
        return "zokio::spawn_local called on a thread that is not one of a runtime's workers "
               "(there is no worker to keep the task on)";
      case errc::line_too_long: return "line longer than the reader's limit";
      case errc::frame_too_large: return "frame larger than the codec's limit";
      case errc::truncated_frame: return "the stream ended inside a frame";
      case errc::buffer_full: return "the buffered reader is full (its max_buffer) and needs more";
      case errc::actor_stopped: return "the actor has stopped";
      case errc::no_reply: return "the actor dropped the request without replying";
      case errc::no_io_driver:
        return "this runtime was built without its I/O driver (runtime_config::enable_io_driver"
               " = false): it has no io_context for timers, sockets, strands or other Asio "
               "objects";
    }
    return "unknown zokio error";
  }
};
}  // namespace detail

inline const boost::system::error_category& error_category() noexcept {
  static const detail::zokio_category cat;
  return cat;
}

}  // namespace zokio

namespace boost::system {
template <>
struct is_error_code_enum<zokio::errc> : std::true_type {};
}  // namespace boost::system

#endif
