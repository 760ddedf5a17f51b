// zokio::runtime_hooks: user callbacks at a runtime's thread, park, spawn and poll events.
#ifndef ZOKIO_RUNTIME_HOOKS_HPP
#define ZOKIO_RUNTIME_HOOKS_HPP

#include <functional>
#include <string_view>

#include <zokio/task_id.hpp>

namespace zokio {

/// What a task hook is told about the task (valid during the call only).
struct task_info {
  task_id id{0};
  std::string_view name;  ///< spawn_options::name ("" when unnamed)
  source_location where;  ///< the spawn call
};

/**
 * Callbacks a runtime calls at its events (Tokio's `on_thread_start`, `on_thread_park`,
 * `on_task_spawn`, `on_before_task_poll`...). A compile-time feature:
 * `runtime_config::enable_hooks`. Without it a runtime has no hook code at all, and building
 * one with a hook set throws std::invalid_argument. With it, an unset hook costs a test of an
 * empty std::function at its event. Hooks run on the runtime's threads, inline, so they must
 * be short; one that throws has its exception handed to the unhandled-exception policy ("a
 * runtime hook"), and the runtime goes on.
 */
struct runtime_hooks {
  /// A worker thread (multi_thread) or blocking-pool thread starts, before it runs anything;
  /// stops, after it ran its last task or job. current_thread's driver is the caller's thread:
  /// no thread events for it.
  std::function<void()> on_thread_start, on_thread_stop;
  /// A worker goes to sleep (no work anywhere) / wakes up from that sleep.
  std::function<void()> on_thread_park, on_thread_unpark;
  /// A task is registered (spawned), before it can first run / it is complete (returned,
  /// threw, was aborted or cancelled at shutdown), on the thread that completes it.
  std::function<void(const task_info&)> on_task_spawn, on_task_terminate;
  /// Around each poll of a task (a child run inline by its joiner is polled inside its
  /// parent's poll: its pair nests in the parent's).
  std::function<void(const task_info&)> before_poll, after_poll;

  /// True when at least one hook is set.
  bool any() const noexcept {
    return on_thread_start || on_thread_stop || on_thread_park || on_thread_unpark ||
           on_task_spawn || on_task_terminate || before_poll || after_poll;
  }
};

}  // namespace zokio

#endif
