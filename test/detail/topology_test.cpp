// Tests for detail::topology and plan_workers: spec parsing, resolve order, discovery, the
// worker layout and its errors, thread pinning.
#include <zokio/detail/topology.hpp>  // self-contained header check

#if !defined(_WIN32)
#include <sched.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../support/test_util.hpp"

using zokio::topology_options;
using zokio::detail::allowed_cpus;
using zokio::detail::plan_workers;
using zokio::detail::topology;
using zokio::detail::worker_placement;

namespace {

// Runs f, which must throw E; returns the message (empty, and a failed check, if it did not).
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  BOOST_ERROR("no exception thrown");
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string parse_error(const std::string& spec) {
  return message_of<std::invalid_argument>([&] { topology::parse(spec); });
}

// ZOKIO_TOPOLOGY set (or unset) for one scope.
struct env_guard : zokio::test::env_guard {
  explicit env_guard(const char* value) : zokio::test::env_guard("ZOKIO_TOPOLOGY", value) {}
};

std::vector<unsigned> node_ids(const std::vector<worker_placement>& plan) {
  std::vector<unsigned> ids;
  for (auto& p : plan) ids.push_back(p.node_id);
  return ids;
}

std::vector<int> cpus_of(const std::vector<worker_placement>& plan) {
  std::vector<int> cpus;
  for (auto& p : plan) cpus.push_back(p.cpu);
  return cpus;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(topology_suite)

// ---------------------------------------------------------------------------------------------
// parse

BOOST_AUTO_TEST_CASE(parse_two_nodes_with_ranges) {
  auto t = topology::parse("0:0-1;1:2-3");
  BOOST_TEST(t.fake);
  BOOST_TEST(t.source == "fake:0:0-1;1:2-3");
  BOOST_REQUIRE(t.nodes.size() == 2u);
  BOOST_TEST(t.nodes[0].id == 0u);
  BOOST_TEST(t.nodes[0].cpus == (std::vector<unsigned>{0, 1}), boost::test_tools::per_element());
  BOOST_TEST(t.nodes[1].id == 1u);
  BOOST_TEST(t.nodes[1].cpus == (std::vector<unsigned>{2, 3}), boost::test_tools::per_element());
  BOOST_TEST(t.describe() == "2 nodes (fake:0:0-1;1:2-3): 0:[0,1] 1:[2,3]");
}

BOOST_AUTO_TEST_CASE(parse_lists_ranges_spaces_and_order) {
  // Mixed lists and ranges, spaces, node ids with holes given out of order: nodes come back
  // ascending by id, cpus ascending.
  auto t = topology::parse(" 3 : 9, 4-6 ; 1:0-3,8,10-11 ");
  BOOST_REQUIRE(t.nodes.size() == 2u);
  BOOST_TEST(t.nodes[0].id == 1u);
  BOOST_TEST(t.nodes[0].cpus == (std::vector<unsigned>{0, 1, 2, 3, 8, 10, 11}),
             boost::test_tools::per_element());
  BOOST_TEST(t.nodes[1].id == 3u);
  BOOST_TEST(t.nodes[1].cpus == (std::vector<unsigned>{4, 5, 6, 9}),
             boost::test_tools::per_element());
  BOOST_TEST(contains(t.describe(), "1:[0-3,8,10,11] 3:[4-6,9]"), t.describe());
}

BOOST_AUTO_TEST_CASE(parse_one_node_one_cpu_and_many_nodes) {
  auto one = topology::parse("0:7");
  BOOST_REQUIRE(one.nodes.size() == 1u);
  BOOST_TEST(one.nodes[0].cpus == (std::vector<unsigned>{7}), boost::test_tools::per_element());
  BOOST_TEST(one.describe() == "1 node (fake:0:7): 0:[7]");

  auto four = topology::parse("0:0;1:1;2:2;3:3-4095");
  BOOST_REQUIRE(four.nodes.size() == 4u);
  for (unsigned i = 0; i < 4; ++i) BOOST_TEST(four.nodes[i].id == i);
  BOOST_TEST(four.nodes[3].cpus.size() == 4093u);
  BOOST_TEST(four.nodes[3].cpus.back() == 4095u);
}

BOOST_AUTO_TEST_CASE(parse_rejects_empty_specs_and_parts) {
  for (const char* spec : {"", "   "}) BOOST_TEST(contains(parse_error(spec), "empty spec"));
  for (const char* spec : {"0:0;;1:1", "0:0;", ";0:0"}) {
    auto m = parse_error(spec);
    BOOST_TEST(contains(m, "empty node entry"), m);
    BOOST_TEST(contains(m, std::string("\"") + spec + "\""), m);  // quotes the spec
  }
  auto m = parse_error("0:0;1:");
  BOOST_TEST(contains(m, "node 1 has an empty cpu list"), m);
  BOOST_TEST(contains(m, "\"1:\""), m);
  m = parse_error("0:0,,1");
  BOOST_TEST(contains(m, "empty cpu item"), m);
  BOOST_TEST(contains(m, "\"0:0,,1\""), m);
  m = parse_error("0:0;1");
  BOOST_TEST(contains(m, "\"1\" is not node:cpu-list"), m);
}

BOOST_AUTO_TEST_CASE(parse_rejects_duplicate_node_ids) {
  auto m = parse_error("0:0-1;1:2;0:3");
  BOOST_TEST(contains(m, "\"0:0-1;1:2;0:3\""), m);
  BOOST_TEST(contains(m, "node id 0 given twice"), m);
  BOOST_TEST(contains(m, "\"0:3\""), m);
}

BOOST_AUTO_TEST_CASE(parse_rejects_a_cpu_in_two_nodes_or_twice) {
  auto m = parse_error("0:0-3;1:3-5");
  BOOST_TEST(contains(m, "cpu 3 is in node 0 and in node 1"), m);
  BOOST_TEST(contains(m, "\"1:3-5\""), m);
  m = parse_error("0:0-3,2");
  BOOST_TEST(contains(m, "cpu 2 listed twice"), m);
}

BOOST_AUTO_TEST_CASE(parse_rejects_bad_ranges) {
  auto m = parse_error("0:3-1");
  BOOST_TEST(contains(m, "bad range \"3-1\""), m);
  m = parse_error("0:1-");
  BOOST_TEST(contains(m, "cpu \"\" is not a number"), m);
  BOOST_TEST(contains(m, "\"0:1-\""), m);
  m = parse_error("0:1-2-3");
  BOOST_TEST(contains(m, "\"2-3\" is not a number"), m);
  m = parse_error("0:0-70000");
  BOOST_TEST(contains(m, "70000 is too large"), m);
  m = parse_error("0:99999999999999999999");
  BOOST_TEST(contains(m, "too large"), m);
}

BOOST_AUTO_TEST_CASE(parse_rejects_non_numbers) {
  auto m = parse_error("x:0");
  BOOST_TEST(contains(m, "node id \"x\" is not a number"), m);
  BOOST_TEST(contains(m, "\"x:0\""), m);
  m = parse_error("0:0;1:a-b");
  BOOST_TEST(contains(m, "cpu \"a\" is not a number"), m);
  BOOST_TEST(contains(m, "\"1:a-b\""), m);
  m = parse_error("0:-1");
  BOOST_TEST(contains(m, "is not a number"), m);
  m = parse_error("0:1x");
  BOOST_TEST(contains(m, "cpu \"1x\" is not a number"), m);
  m = parse_error("+1:0");
  BOOST_TEST(contains(m, "node id \"+1\" is not a number"), m);
}

// ---------------------------------------------------------------------------------------------
// resolve, discover

BOOST_AUTO_TEST_CASE(resolve_prefers_the_option_over_the_env_var) {
  env_guard env("0:0;1:1;2:2");
  topology_options opts;
  opts.fake = "0:0-1";
  auto t = topology::resolve(opts);
  BOOST_TEST(t.fake);
  BOOST_TEST(t.source == "fake:0:0-1");
  BOOST_TEST(t.nodes.size() == 1u);
}

BOOST_AUTO_TEST_CASE(resolve_prefers_the_env_var_over_discovery) {
  env_guard env("0:0;5:1");
  auto t = topology::resolve({});
  BOOST_TEST(t.fake);
  BOOST_TEST(t.source == "fake:0:0;5:1");
  BOOST_REQUIRE(t.nodes.size() == 2u);
  BOOST_TEST(t.nodes[1].id == 5u);
  // A bad env var is an error that names the variable, not a silent fall back to discovery.
  env_guard bad("0:zz");
  auto m = message_of<std::invalid_argument>([] { topology::resolve({}); });
  BOOST_TEST(contains(m, "ZOKIO_TOPOLOGY"), m);
  BOOST_TEST(contains(m, "\"zz\""), m);
}

BOOST_AUTO_TEST_CASE(resolve_discovers_without_option_or_env_var) {
  {
    env_guard env(nullptr);
    auto t = topology::resolve({});
    BOOST_TEST(!t.fake);
    BOOST_TEST(t.source == topology::discover().source);
    BOOST_TEST(t.source.rfind("fake:", 0) == std::string::npos);
  }
  {
    env_guard env("");  // set but empty counts as unset
    BOOST_TEST(!topology::resolve({}).fake);
  }
}

BOOST_AUTO_TEST_CASE(env_guard_restores_the_variable) {
  env_guard outer("0:1");  // and this one puts back whatever the runner had
  {
    env_guard env(nullptr);
    BOOST_TEST(std::getenv("ZOKIO_TOPOLOGY") == nullptr);
  }
  const char* back = std::getenv("ZOKIO_TOPOLOGY");
  BOOST_TEST((back && std::string(back) == "0:1"));
}

BOOST_AUTO_TEST_CASE(discover_covers_exactly_the_affinity_set) {
  auto t = topology::discover();
  BOOST_TEST_MESSAGE("discovered: " << t.describe());
  BOOST_TEST(!t.fake);
  BOOST_TEST((t.source == "libnuma" || t.source == "windows" || t.source == "affinity"),
             t.source);
  BOOST_REQUIRE(!t.nodes.empty());

  auto allowed = allowed_cpus();
  BOOST_REQUIRE(!allowed.empty());
  BOOST_TEST(std::is_sorted(allowed.begin(), allowed.end()));
#if defined(_WIN32)
  // Cross-check allowed_cpus() against the process's affinity in its primary group.
  DWORD_PTR process_mask = 0, system_mask = 0;
  BOOST_REQUIRE(GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask));
  for (unsigned c = 0; c < 64; ++c)
    if (process_mask & (DWORD_PTR{1} << c))
      BOOST_TEST(std::binary_search(allowed.begin(), allowed.end(), c), "cpu " << c);
#else
  // Cross-check allowed_cpus() against the plain cpu_set_t call (fine below 1024 cpus).
  cpu_set_t set;
  CPU_ZERO(&set);
  BOOST_REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  BOOST_TEST(allowed.size() == static_cast<std::size_t>(CPU_COUNT(&set)));
  for (unsigned c : allowed) BOOST_TEST(CPU_ISSET(c, &set), "cpu " << c);
#endif

  std::vector<unsigned> all;
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    BOOST_TEST(!t.nodes[i].cpus.empty());
    if (i > 0) BOOST_TEST(t.nodes[i - 1].id < t.nodes[i].id);
    all.insert(all.end(), t.nodes[i].cpus.begin(), t.nodes[i].cpus.end());
  }
  std::sort(all.begin(), all.end());
  // Each allowed cpu exactly once over all nodes, and nothing else.
  BOOST_TEST(all == allowed, boost::test_tools::per_element());
}

// ---------------------------------------------------------------------------------------------
// plan_workers layout

BOOST_AUTO_TEST_CASE(plan_even_split_in_contiguous_blocks) {
  auto t = topology::parse("0:0-1;1:2-3");
  auto plan = plan_workers(t, 4, {});
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{0, 0, 1, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(cpus_of(plan) == (std::vector<int>(4, -1)), boost::test_tools::per_element());
  BOOST_TEST(plan[2].node_index == 1u);
}

BOOST_AUTO_TEST_CASE(plan_remainder_goes_to_the_first_nodes) {
  auto t = topology::parse("0:0-1;1:2-3;2:4-5");
  auto plan = plan_workers(t, 8, {});  // 8 = 3 + 3 + 2
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{0, 0, 0, 1, 1, 1, 2, 2}),
             boost::test_tools::per_element());
  plan = plan_workers(t, 4, {});  // 4 = 2 + 1 + 1
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{0, 0, 1, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(plan_cpus_round_robin_within_a_node) {
  // Pinning needs real cpus: build the fake topology from this process's own cpus.
  auto allowed = allowed_cpus();
  const std::string c0 = std::to_string(allowed.front());
  const bool two = allowed.size() >= 2;
  const std::string spec =
      two ? "0:" + c0 + "," + std::to_string(allowed[1]) : "0:" + c0;
  auto t = topology::parse(spec);
  topology_options opts;
  opts.pin_workers = true;
  auto plan = plan_workers(t, 5, opts);
  BOOST_REQUIRE(plan.size() == 5u);
  for (unsigned j = 0; j < 5; ++j) {
    unsigned want = two ? allowed[j % 2] : allowed[0];
    BOOST_TEST(plan[j].cpu == static_cast<int>(want), "worker " << j);
    BOOST_TEST(plan[j].node_id == 0u);
  }
}

BOOST_AUTO_TEST_CASE(plan_pinned_blocks_start_each_node_at_its_first_cpu) {
  // Two fake nodes over two real cpus (a cpu cannot be in two nodes, so this needs two).
  auto allowed = allowed_cpus();
  if (allowed.size() < 2) {
    BOOST_TEST_MESSAGE("one cpu: skipping the two-node pinned layout");
    BOOST_TEST(allowed.size() == 1u);
    return;
  }
  auto t = topology::parse("0:" + std::to_string(allowed[0]) + ";7:" +
                           std::to_string(allowed[1]));
  topology_options opts;
  opts.pin_workers = true;
  auto plan = plan_workers(t, 3, opts);  // 2 + 1
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{0, 0, 7}),
             boost::test_tools::per_element());
  BOOST_TEST(cpus_of(plan) == (std::vector<int>{int(allowed[0]), int(allowed[0]),
                                                int(allowed[1])}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(plan_workers_per_node) {
  auto t = topology::parse("0:0-1;1:2-3;2:4-5");
  topology_options opts;
  opts.workers_per_node = 3;
  auto plan = plan_workers(t, 0, opts);
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{0, 0, 0, 1, 1, 1, 2, 2, 2}),
             boost::test_tools::per_element());
  // A matching worker_threads is fine too.
  BOOST_TEST(plan_workers(t, 9, opts).size() == 9u);
  // With a node list: only those nodes, in the listed order.
  opts.workers_per_node = 2;
  opts.nodes = {2, 0};
  plan = plan_workers(t, 0, opts);
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{2, 2, 0, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(plan[0].node_index == 2u);
  BOOST_TEST(plan[3].node_index == 0u);
}

BOOST_AUTO_TEST_CASE(plan_zero_workers_means_one_per_cpu) {
  auto t = topology::parse("0:0-2;1:3;4:4-5");
  auto plan = plan_workers(t, 0, {});
  // Per node's cpu count (3, 1, 2), not an even split of 6.
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{0, 0, 0, 1, 4, 4}),
             boost::test_tools::per_element());
  topology_options opts;
  opts.nodes = {4};
  plan = plan_workers(t, 0, opts);
  BOOST_TEST(node_ids(plan) == (std::vector<unsigned>{4, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(plan_with_discovered_topology) {
  auto t = topology::discover();
  auto allowed = allowed_cpus();
  topology_options opts;
  opts.pin_workers = true;
  auto plan = plan_workers(t, 0, opts);
  BOOST_REQUIRE(plan.size() == allowed.size());
  std::vector<unsigned> got;
  for (auto& p : plan) got.push_back(static_cast<unsigned>(p.cpu));
  std::sort(got.begin(), got.end());
  BOOST_TEST(got == allowed, boost::test_tools::per_element());  // every cpu once
}

// ---------------------------------------------------------------------------------------------
// plan_workers errors

BOOST_AUTO_TEST_CASE(plan_rejects_unknown_node) {
  auto t = topology::parse("0:0-1;1:2-3");
  topology_options opts;
  opts.nodes = {0, 3};
  auto m = message_of<std::invalid_argument>([&] { plan_workers(t, 2, opts); });
  BOOST_TEST(m.rfind("zokio::runtime: ", 0) == 0u, m);
  BOOST_TEST(contains(m, "NUMA node 3 does not exist"), m);
  BOOST_TEST(contains(m, "nodes: 0, 1"), m);
  BOOST_TEST(contains(m, "ZOKIO_TOPOLOGY"), m);
}

BOOST_AUTO_TEST_CASE(plan_rejects_duplicate_node_ids) {
  auto t = topology::parse("0:0-1;1:2-3");
  topology_options opts;
  opts.nodes = {1, 0, 1};
  auto m = message_of<std::invalid_argument>([&] { plan_workers(t, 3, opts); });
  BOOST_TEST(m.rfind("zokio::runtime: ", 0) == 0u, m);
  BOOST_TEST(contains(m, "NUMA node 1 is listed twice"), m);
}

BOOST_AUTO_TEST_CASE(plan_rejects_workers_per_node_mismatch) {
  auto t = topology::parse("0:0-1;1:2-3");
  topology_options opts;
  opts.workers_per_node = 2;
  auto m = message_of<std::invalid_argument>([&] { plan_workers(t, 3, opts); });
  BOOST_TEST(m.rfind("zokio::runtime: ", 0) == 0u, m);
  BOOST_TEST(contains(m, "worker_threads is 3 but workers_per_node 2 x 2 NUMA nodes is 4"), m);
}

BOOST_AUTO_TEST_CASE(plan_rejects_fewer_workers_than_nodes) {
  auto t = topology::parse("0:0;1:1;2:2");
  auto m = message_of<std::invalid_argument>([&] { plan_workers(t, 2, {}); });
  BOOST_TEST(m.rfind("zokio::runtime: ", 0) == 0u, m);
  BOOST_TEST(contains(m, "2 worker threads for 3 NUMA nodes"), m);
  // Restricting the nodes makes the same count valid.
  topology_options opts;
  opts.nodes = {0, 2};
  BOOST_TEST(node_ids(plan_workers(t, 2, opts)) == (std::vector<unsigned>{0, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(plan_rejects_empty_topology_and_cpu_less_node) {
  topology empty;
  empty.source = "test";
  auto m = message_of<std::invalid_argument>([&] { plan_workers(empty, 1, {}); });
  BOOST_TEST(contains(m, "has no NUMA nodes"), m);
  topology hollow;
  hollow.nodes.push_back({0, {}});
  m = message_of<std::invalid_argument>([&] { plan_workers(hollow, 1, {}); });
  BOOST_TEST(contains(m, "NUMA node 0 has no cpus"), m);
}

BOOST_AUTO_TEST_CASE(pinning_to_an_absent_cpu_throws_at_plan_time) {
  auto allowed = allowed_cpus();
  BOOST_REQUIRE(std::find(allowed.begin(), allowed.end(), 4095u) == allowed.end());
  auto t = topology::parse("0:" + std::to_string(allowed[0]) + ";1:4095");
  // Faking the node is fine unpinned ...
  BOOST_TEST(plan_workers(t, 2, {}).size() == 2u);
  // ... pinning to it is not.
  topology_options opts;
  opts.pin_workers = true;
  auto m = message_of<std::invalid_argument>([&] { plan_workers(t, 2, opts); });
  BOOST_TEST(m.rfind("zokio::runtime: ", 0) == 0u, m);
  BOOST_TEST(contains(m, "cannot pin worker 1 to cpu 4095 (NUMA node 1)"), m);
  BOOST_TEST(contains(m, zokio::detail::affinity_call), m);
}

// ---------------------------------------------------------------------------------------------
// pin_current_thread

BOOST_AUTO_TEST_CASE(pin_current_thread_moves_the_thread) {
  auto allowed = allowed_cpus();
  // Each allowed cpu in turn, on a fresh thread so the test runner's own affinity is kept.
  std::vector<int> seen(allowed.size(), -2);
  std::string error;
  std::thread th([&] {
    try {
      for (std::size_t i = 0; i < allowed.size(); ++i) {
        zokio::detail::pin_current_thread(allowed[i]);
        seen[i] = zokio::test::current_cpu();  // the affinity call migrates before it returns
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  th.join();
  BOOST_TEST(error.empty(), error);
  for (std::size_t i = 0; i < allowed.size(); ++i)
    BOOST_TEST(seen[i] == static_cast<int>(allowed[i]), "cpu " << allowed[i]);
}

BOOST_AUTO_TEST_CASE(pin_current_thread_to_an_absent_cpu_throws) {
  // On a fresh thread: if it wrongly succeeded, the test runner's thread stays unpinned.
  std::string what = "no exception thrown";
  std::thread th([&] {
    try {
      zokio::detail::pin_current_thread(4095);
    } catch (const std::system_error& e) {
      what = e.what();
    }
  });
  th.join();
  BOOST_TEST(contains(what, "cpu 4095"), what);
}

BOOST_AUTO_TEST_SUITE_END()
