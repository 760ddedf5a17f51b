// The task dump (runtime_config::enable_task_dump): what runtime::dump() returns, printable
// as text and as JSON.
#ifndef ZOKIO_TASK_DUMP_HPP
#define ZOKIO_TASK_DUMP_HPP

#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/task_id.hpp>

namespace zokio {

/// Where a live task is when the dump looks at it.
enum class task_status {
  queued,   ///< woken (or just spawned), waiting in a run queue for a worker
  running,  ///< being polled now
  waiting,  ///< suspended on a future that has not woken it
};

/// One live task in a dump.
struct task_snapshot {
  task_id id{0};
  std::string name;            ///< spawn_options::name; empty when none
  source_location spawned_at;  ///< the spawn call
  task_status status = task_status::queued;
  /// How long ago its last poll started (running: how long the current poll has run);
  /// std::nullopt before its first poll. Millisecond resolution (a coarse clock).
  std::optional<std::chrono::milliseconds> since_poll;
  /// For a waiting `zokio::task`: the file:line of the `co_await` each frame is suspended at,
  /// innermost first (the leaf's future, then the awaiting parents up to the spawned task).
  /// Empty for other futures and for queued or running tasks (their frames are moving).
  std::vector<source_location> awaiting;
};

/// One await point and how many waiting tasks are suspended there (innermost frames).
struct await_point_count {
  source_location at;
  std::size_t tasks = 0;
};

/**
 * Every live task of a runtime at one moment (runtime::dump()).
 *
 * Not an atomic snapshot: tasks are looked at one after another while the runtime goes on,
 * each one consistently (a waiting task is held still while its frames are read).
 */
struct task_dump {
  std::vector<task_snapshot> tasks;
  /// Tasks spawned while the registry could not grow (out of memory): live, but not in
  /// `tasks`. Said in both forms when not 0.
  std::size_t unlisted = 0;

  /// The waiting tasks' innermost await points, most tasks first (then by file and line).
  ZOKIO_DECL std::vector<await_point_count> await_points() const;
  /// How many tasks have status `s`.
  ZOKIO_DECL std::size_t count(task_status s) const noexcept;
  /// A report for people: totals, the await points by count, then one block per task.
  ZOKIO_DECL std::string to_text() const;
  /// The same as one JSON object: {"tasks": [...], "await_points": [...]} (see
  /// doc/observability.md for the fields).
  ZOKIO_DECL std::string to_json() const;
};

/// "queued", "running" or "waiting".
ZOKIO_DECL const char* to_string(task_status s) noexcept;
inline std::ostream& operator<<(std::ostream& os, task_status s) { return os << to_string(s); }

}  // namespace zokio

#endif
