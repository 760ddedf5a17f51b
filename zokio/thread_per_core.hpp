// zokio::thread_per_core: N shards, each a one-worker runtime on its own (pinned) thread, and
// submit_to(shard, fut) to run work on a given shard.
#ifndef ZOKIO_THREAD_PER_CORE_HPP
#define ZOKIO_THREAD_PER_CORE_HPP

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <zokio/detail/scheduler.hpp>
#include <zokio/detail/topology.hpp>
#include <zokio/runtime.hpp>

namespace zokio {

/**
 * The thread-per-core flavour (Seastar's and Glommio's model) on Zokio's task core: shard i is
 * a runtime with one worker, pinned to the i-th cpu this process may use. Nothing moves
 * between shards by itself: a task, everything it spawns with zokio::spawn, its timers and
 * the I/O objects made from `shard(i).get_executor()` stay on that shard's thread, so data
 * owned by a shard needs no locks and stays in one core's cache. Work crosses shards only
 * when asked to, with submit_to(j, fut) (a spawn into shard j from anywhere: its injector and
 * one wake-up), and the result comes back through the join_handle.
 *
 * @code
 * zokio::thread_per_core tpc = zokio::thread_per_core::builder().shards(4).build();
 * auto h = tpc.submit_to(2, handle_partition(2));   // runs on shard 2's thread
 * tpc.block_on(std::move(h));
 * @endcode
 *
 * Against the multi-thread runtime: no work stealing, so a shard with more work than the
 * others is not helped (partition the work, or submit_to the idle shard); in exchange no
 * steal, no cross-core cache traffic on the run queues, and per-shard state without
 * synchronisation.
 *
 * @par Thread Safety
 * submit_to, block_on and shard() may be called from any thread.
 */
class thread_per_core {
 public:
  /// A shard: a one-worker runtime built without work stealing (nobody to steal from).
  using shard_runtime =
      basic_runtime<runtime_config{.worker_threads = 1, .enable_work_stealing = false}>;

  class builder {
   public:
    /// Number of shards (default: one per cpu this process may use). At least 1.
    builder& shards(unsigned n) {
      shards_ = n;
      shards_set_ = true;
      return *this;
    }
    /// Pin shard i's thread to the i-th allowed cpu (default: true; shards beyond the cpu
    /// count share cpus round robin). Off: the OS places the threads.
    builder& pin(bool on) {
      pin_ = on;
      return *this;
    }
    /// Thread name prefix (default "zokio-shard"; shard i's thread is "<prefix>" truncated by
    /// the OS to 15 characters).
    builder& thread_name(std::string name) {
      name_ = std::move(name);
      return *this;
    }
    /// Each shard's unhandled-exception policy (default: propagate, rethrown by block_on on
    /// the shard that block_on drives).
    builder& unhandled_exception(unhandled_exception_policy p) {
      policy_ = p;
      return *this;
    }
    /// How long an idle shard keeps looking for work before it parks (default 0; see
    /// runtime::builder::park_spin): a message between shards then costs a memory read
    /// instead of a wake-up, as long as its shard is still spinning.
    builder& spin_before_park(std::chrono::nanoseconds d) {
      spin_ = d;
      return *this;
    }
    /// Throws std::invalid_argument for 0 shards.
    thread_per_core build() const;

   private:
    unsigned shards_ = 0;
    bool shards_set_ = false;
    bool pin_ = true;
    std::string name_ = "zokio-shard";
    unhandled_exception_policy policy_ = unhandled_exception_policy::propagate;
    std::chrono::nanoseconds spin_{0};
  };

  /// One shard per allowed cpu, pinned.
  thread_per_core() : thread_per_core(builder().build()) {}
  thread_per_core(thread_per_core&&) noexcept = default;
  thread_per_core& operator=(thread_per_core&&) noexcept = default;
  /// Shuts the shards down in reverse order (each as ~runtime does: tasks cancelled, memory
  /// freed). A task of one shard that holds a join_handle of another's is fine: handles
  /// outlive their runtime.
  ~thread_per_core() {
    while (!shards_.empty()) shards_.pop_back();
  }

  unsigned shard_count() const noexcept { return static_cast<unsigned>(shards_.size()); }

  /// Shard i's runtime: its executor for Asio I/O objects, its metrics, spawn.
  shard_runtime& shard(unsigned i) { return shards_.at(i); }

  /// The shard whose thread calls this, or nullopt on any other thread.
  std::optional<unsigned> current_shard() const noexcept {
    detail::scheduler* s = detail::scheduler::current();
    if (!s || !s->on_worker_thread()) return std::nullopt;
    for (unsigned i = 0; i < shards_.size(); ++i)
      if (&const_cast<shard_runtime&>(shards_[i]).scheduler() == s) return i;
    return std::nullopt;
  }

  /// Runs `f` as a task of shard `i` (from any thread, that shard's included). Throws
  /// std::out_of_range for a shard that does not exist.
  template <future F>
  join_handle<future_output_t<F>> submit_to(unsigned i, F f) {
    return shards_.at(i).spawn(std::move(f));
  }

  /// Fire and forget onto shard `i`.
  template <future F>
  bool submit_detached_to(unsigned i, F f) {
    return shards_.at(i).spawn_detached(std::move(f));
  }

  /// Polls `f` on the calling thread, with shard 0 as the runtime zokio::spawn uses there
  /// (runtime::block_on of shard 0). Typical: `tpc.block_on(tpc.submit_to(k, root()))`.
  template <future F>
  future_output_t<F> block_on(F f) {
    return shards_.at(0).block_on(std::move(f));
  }

 private:
  explicit thread_per_core(std::vector<shard_runtime> shards) : shards_(std::move(shards)) {}
  std::vector<shard_runtime> shards_;
};

inline thread_per_core thread_per_core::builder::build() const {
  if (shards_set_ && shards_ == 0)
    throw std::invalid_argument("zokio::thread_per_core: shards(0): at least one shard is needed");
  const std::vector<unsigned> cpus = detail::allowed_cpus();
  const unsigned n = shards_set_ ? shards_ : static_cast<unsigned>(cpus.size());
  // NUMA nodes only matter for pinning (each shard keeps its cpu's real node).
  const detail::topology topo = pin_ ? detail::topology::discover() : detail::topology{};
  std::vector<shard_runtime> shards;
  shards.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    shard_runtime::builder b;
    b.worker_threads(1).thread_name(name_).unhandled_exception(policy_).park_spin(spin_);
    if (pin_ && !cpus.empty()) {
      // A one-cpu topology (its real node id kept): the runtime pins its worker there.
      const unsigned cpu = cpus[i % cpus.size()];
      unsigned node = 0;
      for (const auto& nd : topo.nodes)
        for (unsigned c : nd.cpus)
          if (c == cpu) node = nd.id;
      b.topology(std::to_string(node) + ":" + std::to_string(cpu)).pin_workers(true);
    } else {
      // One node of every cpu this process may use, given as a spec: not bound to a node.
      std::string spec = "0:";
      for (unsigned c : cpus) spec += std::to_string(c) + ",";
      if (!cpus.empty()) spec.pop_back();
      b.topology(spec);
    }
    shards.push_back(b.build());
  }
  return thread_per_core(std::move(shards));
}

}  // namespace zokio

#endif
