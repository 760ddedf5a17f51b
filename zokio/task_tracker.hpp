// zokio::task_tracker: spawns tasks it keeps count of, and drains them for a graceful
// shutdown (tokio_util's TaskTracker with the drain step servers write by hand): cancel a
// token, wait for the tracked tasks up to a deadline, report the stragglers by id and name.
#ifndef ZOKIO_TASK_TRACKER_HPP
#define ZOKIO_TASK_TRACKER_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <zokio/cancellation_token.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/notify.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/task_id.hpp>
#include <zokio/timeout.hpp>

namespace zokio {

/// A tracked task still running when a drain's deadline passed.
struct straggler {
  task_id id;         ///< the task's id (join_handle::id())
  std::string name;   ///< spawn_options::name, or empty
  source_location where;  ///< where it was spawned
};

/// What task_tracker::drain() found.
struct drain_report {
  std::size_t finished = 0;          ///< tracked tasks that ended during the drain
  std::vector<straggler> stragglers;  ///< still running at the deadline, oldest first
  bool complete() const noexcept { return stragglers.empty(); }
  /// One line per straggler: `task 42 "session" spawned at server.cpp:17`.
  std::string to_string() const {
    std::string out;
    for (const auto& s : stragglers) {
      out += "task " + std::to_string(s.id.value());
      if (!s.name.empty()) out += " \"" + s.name + "\"";
      out += std::string(" spawned at ") + s.where.file_name() + ":" + std::to_string(s.where.line()) + "\n";
    }
    return out;
  }
};

namespace detail {

// Invariants: `live` holds an entry per tracked task from before its spawn until its future
// is destroyed (it completed, threw, was aborted, or its runtime dropped it); `empty` is
// notified (notify_waiters) each time `live` becomes empty. All under `mu`.
struct tracker_state {
  struct entry {
    task_id id;
    std::string name;
    source_location where;
    std::uint64_t seq;  // spawn order
  };
  std::mutex mu;
  std::unordered_map<std::uint64_t, entry> live;  // by seq
  std::uint64_t next_seq = 0;
  std::size_t ended = 0;  // tracked tasks ended so far
  zokio::notify empty;
  cancellation_token token;

  std::uint64_t add(std::string_view name, source_location where) {
    std::lock_guard lk(mu);
    const std::uint64_t seq = next_seq++;
    live.emplace(seq, entry{task_id(0), std::string(name), where, seq});  // id: set_id
    return seq;
  }
  void set_id(std::uint64_t seq, task_id id) {
    std::lock_guard lk(mu);
    if (auto it = live.find(seq); it != live.end()) it->second.id = id;
  }
  void remove(std::uint64_t seq) noexcept {
    bool now_empty;
    {
      std::lock_guard lk(mu);
      live.erase(seq);
      ++ended;
      now_empty = live.empty();
    }
    if (now_empty) empty.notify_waiters();
  }
};

/// The future a tracked task runs: the user's, plus its entry's lifetime.
template <future F>
class tracked_future {
 public:
  using output = future_output_t<F>;
  tracked_future(F f, std::shared_ptr<tracker_state> s, std::uint64_t seq)
      : f_(std::move(f)), s_(std::move(s)), seq_(seq) {}
  tracked_future(tracked_future&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
      : f_(std::move(o.f_)), s_(std::move(o.s_)), seq_(o.seq_) {}
  tracked_future& operator=(tracked_future&&) = delete;
  ~tracked_future() {
    if (s_) s_->remove(seq_);
  }
  zokio::poll<output> poll(context& cx) { return f_.poll(cx); }

 private:
  F f_;
  std::shared_ptr<tracker_state> s_;  // null once moved from
  std::uint64_t seq_;
};

}  // namespace detail

/**
 * Spawns tasks and keeps track of them until they end, for a graceful shutdown:
 *
 * @code
 * zokio::task_tracker tracker;
 * // accept loop: stops when the drain cancels the tracker's token
 * while (auto sock = co_await tracker.token().run_until_cancelled(acceptor.async_accept(zokio::use_future)))
 *   tracker.spawn(session(std::move(**sock), tracker.token()), {.name = "session"});
 * ...
 * co_await zokio::signal::ctrl_c();
 * auto report = co_await tracker.drain(5s);   // cancel, wait up to 5 s, name who is left
 * if (!report.complete()) std::fputs(report.to_string().c_str(), stderr);
 * // then leave block_on / shut the runtime down: it aborts the stragglers
 * @endcode
 *
 * A tracked task counts from its spawn until its future is destroyed: when it completes,
 * throws, is aborted, or its runtime drops it at shutdown. `drain` does not abort anyone:
 * tasks that should stop early watch `token()`; those that do not are the stragglers, which
 * the runtime's shutdown (or the caller, through their join handles) ends.
 *
 * @par Thread Safety
 * All members may be called from any thread; the tracker may be destroyed while its tasks
 * run (they keep its state alive).
 */
class task_tracker {
 public:
  task_tracker() : s_(std::make_shared<detail::tracker_state>()) {}

  /// Spawns `f` on the calling thread's runtime (as zokio::spawn) and tracks it.
  template <future F>
  join_handle<future_output_t<F>> spawn(F f, const spawn_options& o = {},
                                        source_location where = source_location::current()) {
    const std::uint64_t seq = s_->add(o.name, where);
    // (If the spawn throws, the tracked future is gone, and its entry with it.)
    auto h = zokio::spawn(detail::tracked_future<F>(std::move(f), s_, seq), o, where);
    s_->set_id(seq, h.id());
    return h;
  }

  /// Tracked tasks not ended yet.
  std::size_t live() const {
    std::lock_guard lk(s_->mu);
    return s_->live.size();
  }

  /// The token drain() cancels: tasks that should stop early watch it.
  const cancellation_token& token() const noexcept { return s_->token; }

  /// Cancels token(), then waits until every tracked task has ended or `grace` has passed;
  /// the report names those still running. Call it on a runtime.
  template <class Rep, class Period>
  task<drain_report> drain(std::chrono::duration<Rep, Period> grace) {
    // The state by value: the drain may outlive this tracker object (tasks are lazy).
    return drain_state(s_, std::chrono::duration_cast<std::chrono::steady_clock::duration>(grace));
  }

 private:
  static task<drain_report> drain_state(std::shared_ptr<detail::tracker_state> s,
                                        std::chrono::steady_clock::duration grace) {
    std::size_t ended_before;
    {
      std::lock_guard lk(s->mu);
      ended_before = s->ended;
    }
    s->token.cancel();
    (void)co_await zokio::timeout(wait_empty(s), grace);
    drain_report r;
    std::lock_guard lk(s->mu);
    r.finished = s->ended - ended_before;
    std::vector<const detail::tracker_state::entry*> left;
    for (const auto& [seq, e] : s->live) left.push_back(&e);
    std::sort(left.begin(), left.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    for (const auto* e : left) r.stragglers.push_back({e->id, e->name, e->where});
    co_return r;
  }

  static task<void> wait_empty(std::shared_ptr<detail::tracker_state> s) {
    for (;;) {
      auto f = s->empty.notified();  // before the check: a notify_waiters after it counts
      {
        std::lock_guard lk(s->mu);
        if (s->live.empty()) co_return;
      }
      co_await std::move(f);
    }
  }

  std::shared_ptr<detail::tracker_state> s_;
};

}  // namespace zokio

#endif
