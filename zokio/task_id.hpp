// zokio::task_id: the identity of a spawned task (Tokio's task::Id), and the spawn options
// that name a task.
#ifndef ZOKIO_TASK_ID_HPP
#define ZOKIO_TASK_ID_HPP

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string_view>

namespace zokio {

/**
 * Every task spawned on any runtime (or simulation) gets an id, unique in the process for its
 * life and never reused: `join_handle::id()`, `task_id::current()` inside the task, and
 * `join_error::id()` when its join fails. Ids are not dense nor ordered by spawn time (each
 * thread takes them in blocks).
 */
class task_id {
 public:
  constexpr explicit task_id(std::uint64_t v) noexcept : v_(v) {}
  constexpr std::uint64_t value() const noexcept { return v_; }
  friend constexpr auto operator<=>(task_id, task_id) noexcept = default;
  friend std::ostream& operator<<(std::ostream& os, task_id id) { return os << id.v_; }

  /// The id of the task being polled (or dropped) on the calling thread; nullopt outside any
  /// task (a thread of its own, block_on's future, an Asio handler).
  static std::optional<task_id> current() noexcept;

 private:
  std::uint64_t v_;
};

/// Where a task was spawned: the calling file and line, recorded by spawn's default argument
/// `source_location::current()`. (std::source_location needs a compiler builtin that clang 14
/// lacks with libstdc++ 12; __builtin_FILE and __builtin_LINE work on both compilers.)
class source_location {
 public:
  constexpr source_location() noexcept = default;
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           std::uint_least32_t line = __builtin_LINE()) noexcept {
    return source_location(file, line);
  }
  constexpr const char* file_name() const noexcept { return file_; }
  /// 0: not known.
  constexpr std::uint_least32_t line() const noexcept { return line_; }

 private:
  constexpr source_location(const char* f, std::uint_least32_t l) noexcept : file_(f), line_(l) {}
  const char* file_ = "";
  std::uint_least32_t line_ = 0;
};

/// Options of a spawn: `zokio::spawn(f, zokio::spawn_options{.name = "fetch"})`.
struct spawn_options {
  /// Shown in join_error messages (and with the id); copied, so any string will do.
  std::string_view name;
};

}  // namespace zokio

template <>
struct std::hash<zokio::task_id> {
  std::size_t operator()(zokio::task_id id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value());
  }
};

#endif
