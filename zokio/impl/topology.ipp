// NUMA topology: discovery (through the platform layer), fake specs, the worker placement plan.
#ifndef ZOKIO_IMPL_TOPOLOGY_IPP
#define ZOKIO_IMPL_TOPOLOGY_IPP

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <system_error>

#include <zokio/detail/topology.hpp>

namespace zokio::detail {

namespace {
namespace topo {

// Far above any real machine (Linux's NR_CPUS tops out at 8192), low enough that a typo such
// as "0-4000000000" is rejected instead of allocating gigabytes.
constexpr unsigned max_id = 65535;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "0-3,6" for {0,1,2,3,6}: runs of three or more print as a range, shorter ones one by one.
std::string format_cpus(const std::vector<unsigned>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    auto add = [&](unsigned c) {
      if (!out.empty()) out += ',';
      out += std::to_string(c);
    };
    if (j - i >= 2) {
      add(cpus[i]);
      out += '-';
      out += std::to_string(cpus[j]);
      i = j + 1;
    } else {
      add(cpus[i]);
      ++i;
    }
  }
  return out;
}

// Builds the parse errors: every message quotes the whole spec and then the bad part.
struct spec_error {
  std::string_view spec;
  std::string_view origin;  // "" or " (from ZOKIO_TOPOLOGY)"

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("zokio: bad topology spec \"" + std::string(spec) + "\"" +
                                std::string(origin) + ": " + what);
  }

  unsigned number(std::string_view text, const char* what, std::string_view part) const {
    text = trim(text);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size())
      fail(std::string(what) + " \"" + std::string(text) + "\" is not a number (in \"" +
           std::string(part) + "\")");
    if (ec == std::errc::result_out_of_range || v > max_id)
      fail(std::string(what) + " " + std::string(text) + " is too large (max " +
           std::to_string(max_id) + ", in \"" + std::string(part) + "\")");
    return v;
  }
};

topology parse_spec(std::string_view spec, std::string_view origin) {
  spec_error err{spec, origin};
  if (trim(spec).empty()) err.fail("empty spec (expected e.g. \"0:0-1;1:2-3\")");

  topology t;
  std::set<unsigned> all_cpus;
  std::string_view rest = spec;
  for (;;) {
    auto semi = rest.find(';');
    std::string_view part = trim(rest.substr(0, semi));
    if (part.empty()) err.fail("empty node entry (nothing between two ';' or at an end)");
    auto colon = part.find(':');
    if (colon == std::string_view::npos)
      err.fail("\"" + std::string(part) + "\" is not node:cpu-list");
    numa_node node{err.number(part.substr(0, colon), "node id", part), {}};
    for (const auto& n : t.nodes)
      if (n.id == node.id)
        err.fail("node id " + std::to_string(node.id) + " given twice (in \"" +
                 std::string(part) + "\")");

    std::string_view list = part.substr(colon + 1);
    if (trim(list).empty())
      err.fail("node " + std::to_string(node.id) + " has an empty cpu list (in \"" +
               std::string(part) + "\")");
    for (;;) {
      auto comma = list.find(',');
      std::string_view item = trim(list.substr(0, comma));
      if (item.empty())
        err.fail("empty cpu item (in \"" + std::string(part) + "\")");
      unsigned lo, hi;
      if (auto dash = item.find('-'); dash != std::string_view::npos) {
        lo = err.number(item.substr(0, dash), "cpu", part);
        hi = err.number(item.substr(dash + 1), "cpu", part);
        if (lo > hi)
          err.fail("bad range \"" + std::string(item) + "\" (in \"" + std::string(part) +
                   "\")");
      } else {
        lo = hi = err.number(item, "cpu", part);
      }
      for (unsigned c = lo; c <= hi; ++c) {
        if (!all_cpus.insert(c).second) {
          // Say which node had it first: the likely typo is in one of the two.
          for (const auto& n : t.nodes)
            if (std::find(n.cpus.begin(), n.cpus.end(), c) != n.cpus.end())
              err.fail("cpu " + std::to_string(c) + " is in node " + std::to_string(n.id) +
                       " and in node " + std::to_string(node.id) + " (in \"" +
                       std::string(part) + "\")");
          err.fail("cpu " + std::to_string(c) + " listed twice (in \"" + std::string(part) +
                   "\")");
        }
        node.cpus.push_back(c);
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    std::sort(node.cpus.begin(), node.cpus.end());
    t.nodes.push_back(std::move(node));
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  // Ascending ids, as discover() gives them, whatever order the spec used.
  std::sort(t.nodes.begin(), t.nodes.end(),
            [](const numa_node& a, const numa_node& b) { return a.id < b.id; });
  t.source = "fake:" + std::string(spec);
  t.fake = true;
  return t;
}

std::string ids_of(const topology& t) {
  std::string out;
  for (const auto& n : t.nodes) {
    if (!out.empty()) out += ", ";
    out += std::to_string(n.id);
  }
  return out.empty() ? "none" : out;
}

// plan_workers' errors surface from the runtime's constructor, hence the prefix.
[[noreturn]] void plan_fail(const std::string& what) {
  throw std::invalid_argument("zokio::runtime: " + what);
}

}  // namespace topo
}  // namespace

ZOKIO_DECL topology topology::discover() {
  auto allowed = allowed_cpus();
  topology t;
  t.nodes = os_numa_nodes(allowed, t.source);
  std::size_t covered = 0;
  for (const auto& n : t.nodes) covered += n.cpus.size();
  // Nodes' cpu sets are disjoint, so this says every allowed cpu landed in some node; if the
  // NUMA view disagrees with the scheduler's, trust the scheduler's.
  if (!t.nodes.empty() && covered == allowed.size()) return t;
  t.nodes.clear();
  t.nodes.push_back({0, std::move(allowed)});
  t.source = "affinity";
  return t;
}

ZOKIO_DECL topology topology::parse(std::string_view spec) { return topo::parse_spec(spec, ""); }

ZOKIO_DECL topology topology::resolve(const topology_options& opts) {
  if (!opts.fake.empty()) return topo::parse_spec(opts.fake, " (from topology_options::fake)");
  if (const char* env = std::getenv("ZOKIO_TOPOLOGY"); env && *env)
    return topo::parse_spec(env, " (from ZOKIO_TOPOLOGY)");
  return discover();
}

ZOKIO_DECL std::string topology::describe() const {
  std::string out = std::to_string(nodes.size()) + (nodes.size() == 1 ? " node (" : " nodes (") +
                    source + "):";
  for (const auto& n : nodes)
    out += " " + std::to_string(n.id) + ":[" + topo::format_cpus(n.cpus) + "]";
  return out;
}

ZOKIO_DECL std::vector<worker_placement> plan_workers(const topology& topo,
                                                      unsigned worker_threads,
                                                      const topology_options& opts) {
  auto& fail = topo::plan_fail;
  if (topo.nodes.empty()) fail("the topology (" + topo.source + ") has no NUMA nodes");

  // The nodes used, as indices into topo.nodes, in the order the caller listed them.
  std::vector<unsigned> used;
  if (opts.nodes.empty()) {
    for (unsigned i = 0; i < topo.nodes.size(); ++i) used.push_back(i);
  } else {
    for (std::size_t k = 0; k < opts.nodes.size(); ++k) {
      unsigned id = opts.nodes[k];
      if (std::find(opts.nodes.begin(), opts.nodes.begin() + k, id) != opts.nodes.begin() + k)
        fail("NUMA node " + std::to_string(id) + " is listed twice in topology_options::nodes");
      auto it = std::find_if(topo.nodes.begin(), topo.nodes.end(),
                             [&](const numa_node& n) { return n.id == id; });
      if (it == topo.nodes.end())
        fail("NUMA node " + std::to_string(id) + " does not exist; nodes: " +
             topo::ids_of(topo) + " (" + topo.source +
             "). Set ZOKIO_TOPOLOGY (e.g. \"0:0-1;1:2-3\") or topology_options::fake to fake "
             "more nodes");
      used.push_back(static_cast<unsigned>(it - topo.nodes.begin()));
    }
  }
  const auto nused = static_cast<unsigned>(used.size());
  for (unsigned i : used)
    if (topo.nodes[i].cpus.empty())
      fail("NUMA node " + std::to_string(topo.nodes[i].id) + " has no cpus");

  // How many workers each node used gets.
  std::vector<unsigned> per_node(nused);
  if (opts.workers_per_node != 0) {
    unsigned total = opts.workers_per_node * nused;
    if (worker_threads != 0 && worker_threads != total)
      fail("worker_threads is " + std::to_string(worker_threads) + " but workers_per_node " +
           std::to_string(opts.workers_per_node) + " x " + std::to_string(nused) +
           " NUMA nodes is " + std::to_string(total) + "; set only one, or make them agree");
    std::fill(per_node.begin(), per_node.end(), opts.workers_per_node);
  } else if (worker_threads == 0) {
    // One per cpu: a node with more cpus gets more workers, so every cpu gets exactly one.
    for (unsigned k = 0; k < nused; ++k)
      per_node[k] = static_cast<unsigned>(topo.nodes[used[k]].cpus.size());
  } else {
    // An idle node is almost certainly a mistake (the caller chose these nodes), so refuse
    // rather than silently leave one without workers.
    if (worker_threads < nused)
      fail(std::to_string(worker_threads) + " worker thread" +
           (worker_threads == 1 ? "" : "s") + " for " + std::to_string(nused) +
           " NUMA nodes would leave a node without a worker; use at least " +
           std::to_string(nused) + " workers, or fewer nodes (topology_options::nodes)");
    for (unsigned k = 0; k < nused; ++k)
      per_node[k] = worker_threads / nused + (k < worker_threads % nused ? 1 : 0);
  }

  std::vector<unsigned> allowed;
  if (opts.pin_workers) allowed = allowed_cpus();

  std::vector<worker_placement> plan;
  for (unsigned k = 0; k < nused; ++k) {
    const numa_node& node = topo.nodes[used[k]];
    for (unsigned j = 0; j < per_node[k]; ++j) {
      int cpu = -1;
      if (opts.pin_workers) {
        unsigned c = node.cpus[j % node.cpus.size()];
        if (!std::binary_search(allowed.begin(), allowed.end(), c))
          fail("cannot pin worker " + std::to_string(plan.size()) + " to cpu " +
               std::to_string(c) + " (NUMA node " + std::to_string(node.id) +
               "): this process may only run on cpus " + topo::format_cpus(allowed) +
               " (" + affinity_call + "). A fake topology may invent nodes, but pinned workers "
               "need real cpus; drop pin_workers or fake with those cpus");
        cpu = static_cast<int>(c);
      }
      plan.push_back({used[k], node.id, cpu});
    }
  }
  return plan;
}

}  // namespace zokio::detail

#endif
