// zokio::priority: the priority level of a spawned task.
#ifndef ZOKIO_PRIORITY_HPP
#define ZOKIO_PRIORITY_HPP

namespace zokio {

/**
 * A task's priority level, for `rt.spawn(f, zokio::priority{1})` and `zokio::spawn(f, p)`.
 * Level 0, the default, is the lowest. A runtime has `runtime_config::priority_levels`
 * levels, a compile-time setting (default 1: no priorities, and nothing to pay for them);
 * spawning at a level it does not have throws std::invalid_argument.
 *
 * A task of level l > 0 waits in that level's queue, shared by all workers; every worker takes
 * the oldest task of the highest non-empty level before any of its own work, and the task
 * keeps its level for its whole life (its wakes and yields go back to that queue). The
 * starvation guard: after 32 such tasks in a row a worker gives one turn to its other work,
 * so level 0 still gets at least 1 poll in 33 while higher levels are always ready.
 * Priorities order the polls of ready tasks; they do not preempt a poll, and a task's I/O
 * completions are delivered as any other's.
 */
struct priority {
  unsigned level = 0;
};

}  // namespace zokio

#endif
