// zokio::topology_options: which NUMA nodes a runtime's workers use and whether they are pinned.
#ifndef ZOKIO_TOPOLOGY_HPP
#define ZOKIO_TOPOLOGY_HPP

#include <string>
#include <vector>

namespace zokio {

/**
 * How a runtime lays its workers over the machine's NUMA nodes. Workers are placed in
 * contiguous blocks, one block per node used (detail::plan_workers has the rules); a
 * misconfiguration throws std::invalid_argument when the runtime is built rather than
 * silently falling back to another layout.
 */
struct topology_options {
  bool pin_workers = false;       ///< pin each worker thread to one cpu of its node
  unsigned workers_per_node = 0;  ///< 0: spread worker_threads evenly over the nodes used
  std::vector<unsigned> nodes;    ///< node ids to use, in this order; empty: all nodes
  /// A fake topology, e.g. "0:0-1;1:2-3" (node:cpu-list, ';' between nodes), for testing
  /// NUMA layouts on a machine without them. Empty: the ZOKIO_TOPOLOGY environment variable
  /// if set and non-empty, else the topology discovered through libnuma.
  std::string fake;
};

}  // namespace zokio

#endif
