// Fuzz target: the topology spec parser (ZOKIO_TOPOLOGY, topology_options::fake), bytes in.
// Every input either throws std::invalid_argument (with the spec quoted) or gives a topology
// that keeps the parser's promises: ids ascending and unique, cpus ascending, never empty,
// never in two nodes; and printing it back as a spec parses to the same topology.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include <zokio/detail/topology.hpp>

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "topology_spec_fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

std::string to_spec(const zokio::detail::topology& t) {
  std::string s;
  for (const auto& n : t.nodes) {
    if (!s.empty()) s += ';';
    s += std::to_string(n.id) + ':';
    for (std::size_t i = 0; i < n.cpus.size(); ++i) s += (i ? "," : "") + std::to_string(n.cpus[i]);
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  zokio::detail::topology t;
  try {
    t = zokio::detail::topology::parse(spec);
  } catch (const std::invalid_argument& e) {
    check(std::string_view(e.what()).starts_with("zokio: bad topology spec \""), "error message names the spec");
    return 0;
  }
  check(!t.nodes.empty(), "at least one node");
  std::set<unsigned> cpus;
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    const auto& n = t.nodes[i];
    check(i == 0 || t.nodes[i - 1].id < n.id, "node ids ascending and unique");
    check(!n.cpus.empty(), "no node without cpus");
    for (std::size_t k = 0; k < n.cpus.size(); ++k) {
      check(k == 0 || n.cpus[k - 1] < n.cpus[k], "cpus ascending");
      check(cpus.insert(n.cpus[k]).second, "no cpu in two nodes");
    }
  }
  (void)t.describe();
  const auto again = zokio::detail::topology::parse(to_spec(t));
  check(again.nodes.size() == t.nodes.size(), "round trip: node count");
  for (std::size_t i = 0; i < t.nodes.size(); ++i)
    check(again.nodes[i].id == t.nodes[i].id && again.nodes[i].cpus == t.nodes[i].cpus, "round trip: nodes");
  return 0;
}
