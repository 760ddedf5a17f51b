// The machine's NUMA nodes (discovered, or faked from a spec) and the worker-to-node plan.
#ifndef ZOKIO_DETAIL_TOPOLOGY_HPP
#define ZOKIO_DETAIL_TOPOLOGY_HPP

#include <string>
#include <string_view>
#include <vector>

#include <zokio/detail/config.hpp>
#include <zokio/detail/platform.hpp>
#include <zokio/topology.hpp>

namespace zokio::detail {

/// NUMA nodes ascending by id, each with the cpus this process may run on.
struct topology {
  std::vector<numa_node> nodes;
  std::string source;  // "libnuma", "windows", "fake:<spec>", or "affinity" (no NUMA view)
  bool fake = false;

  /// The system's nodes (os_numa_nodes) restricted to this process's allowed cpus; nodes left
  /// with no allowed cpu are dropped. Without a NUMA view, or if the system's view misses an
  /// allowed cpu, one node 0 holding the affinity set (source "affinity").
  ZOKIO_DECL static topology discover();

  /// Parses "0:0-1;1:2-3": nodes separated by ';', each "id:cpu-list", a cpu list being
  /// comma-separated cpus and ranges ("0-3,6,8-9"); spaces around tokens are allowed.
  /// Throws std::invalid_argument quoting the spec and the bad part for an empty spec, node or
  /// cpu list, a non-number, a bad range (a-b with a > b), a node id given twice, or a cpu
  /// given twice (in one node or in two). Cpus need not exist: faking is the point.
  ZOKIO_DECL static topology parse(std::string_view spec);

  /// opts.fake if non-empty, else $ZOKIO_TOPOLOGY if set and non-empty, else discover().
  ZOKIO_DECL static topology resolve(const topology_options& opts);

  /// "2 nodes (fake:0:0-1;1:2-3): 0:[0,1] 1:[2,3]"; runs of 3+ cpus print as "a-b".
  ZOKIO_DECL std::string describe() const;
};

struct worker_placement {
  unsigned node_index;  // index into topology::nodes
  unsigned node_id;
  int cpu;              // -1 when not pinned
};

/**
 * Where each of a runtime's workers goes.
 *
 * Worker count: worker_threads if non-zero; else workers_per_node * (nodes used) if that is
 * non-zero; else one per cpu of the nodes used (each node then gets as many workers as it
 * has cpus, so unequal nodes are not split evenly).
 * Layout: contiguous blocks in the order of opts.nodes (or of topo.nodes when it is empty):
 * workers 0..k-1 on the first node used, and so on; workers_per_node each if given, else an
 * even split with the remainder going one each to the first nodes. Within a node, worker j
 * gets cpus[j % cpus.size()] when pinned (more workers than cpus share them round robin).
 *
 * Throws std::invalid_argument, message starting "zokio::runtime: ", for: a node id that
 * does not exist (the message lists the ids there are and names ZOKIO_TOPOLOGY); a node id
 * listed twice; workers_per_node set with a non-zero worker_threads other than
 * workers_per_node * (nodes used); fewer workers than nodes used (we refuse rather than leave
 * a node idle: the caller asked for those nodes); a used node with no cpus; and pin_workers
 * with a cpu outside allowed_cpus(), fake topologies included (faking nodes is fine
 * unpinned, pinning to a cpu that is absent or forbidden is not).
 */
ZOKIO_DECL std::vector<worker_placement> plan_workers(const topology& topo,
                                                      unsigned worker_threads,
                                                      const topology_options& opts);

}  // namespace zokio::detail

#endif
