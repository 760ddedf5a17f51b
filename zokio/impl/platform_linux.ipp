// The platform layer on Linux: sched_getaffinity, libnuma (where the build found it),
// pthread affinity and names.
#ifndef ZOKIO_IMPL_PLATFORM_LINUX_IPP
#define ZOKIO_IMPL_PLATFORM_LINUX_IPP

#include <pthread.h>
#include <sched.h>
#if ZOKIO_HAS_LIBNUMA
#include <numa.h>
#endif

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>

#include <zokio/detail/platform.hpp>

namespace zokio::detail {

namespace {
namespace linux_platform {

// Far above any real machine (Linux's NR_CPUS tops out at 8192).
constexpr unsigned max_cpu = 65535;

struct cpu_set_deleter {
  void operator()(cpu_set_t* s) const noexcept { CPU_FREE(s); }
};
using cpu_set_ptr = std::unique_ptr<cpu_set_t, cpu_set_deleter>;

cpu_set_ptr alloc_cpu_set(std::size_t ncpus) {
  cpu_set_ptr s(CPU_ALLOC(ncpus));
  if (!s) throw std::bad_alloc();
  CPU_ZERO_S(CPU_ALLOC_SIZE(ncpus), s.get());
  return s;
}

#if ZOKIO_HAS_LIBNUMA
// Owns a libnuma cpumask for the length of os_numa_nodes().
struct numa_mask_deleter {
  void operator()(bitmask* m) const noexcept { numa_free_cpumask(m); }
};
#endif

}  // namespace linux_platform
}  // namespace

ZOKIO_DECL std::vector<unsigned> allowed_cpus() {
  // The kernel's mask may be wider than cpu_set_t (over 1024 cpus): grow until it fits.
  for (std::size_t ncpus = CPU_SETSIZE;; ncpus *= 2) {
    auto set = linux_platform::alloc_cpu_set(ncpus);
    std::size_t size = CPU_ALLOC_SIZE(ncpus);
    if (sched_getaffinity(0, size, set.get()) == 0) {
      std::vector<unsigned> cpus;
      for (std::size_t c = 0; c < ncpus; ++c)
        if (CPU_ISSET_S(c, size, set.get())) cpus.push_back(static_cast<unsigned>(c));
      return cpus;
    }
    if (errno != EINVAL || ncpus >= (std::size_t{1} << 20))
      throw std::system_error(errno, std::generic_category(), "zokio: sched_getaffinity");
  }
}

ZOKIO_DECL std::vector<numa_node> os_numa_nodes(const std::vector<unsigned>& allowed,
                                                std::string& source) {
  std::vector<numa_node> nodes;
#if ZOKIO_HAS_LIBNUMA
  source = "libnuma";
  if (numa_available() < 0) return nodes;
  std::unique_ptr<bitmask, linux_platform::numa_mask_deleter> mask(numa_allocate_cpumask());
  int max_node = numa_max_node();
  for (int n = 0; mask && n <= max_node; ++n) {
    // Node ids can have holes (memory-only or offline nodes): skip those libnuma lacks.
    if (!numa_bitmask_isbitset(numa_nodes_ptr, static_cast<unsigned>(n))) continue;
    numa_bitmask_clearall(mask.get());
    if (numa_node_to_cpus(n, mask.get()) < 0) continue;
    numa_node node{static_cast<unsigned>(n), {}};
    for (unsigned c : allowed)
      if (numa_bitmask_isbitset(mask.get(), c)) node.cpus.push_back(c);
    // A node with no cpu we may use (cpuset, taskset, memory-only node) gets no workers.
    if (!node.cpus.empty()) nodes.push_back(std::move(node));
  }
#else
  (void)allowed;  // no nodes: topology::discover makes one of the affinity ("affinity")
  (void)source;
#endif
  return nodes;
}

ZOKIO_DECL void pin_current_thread(unsigned cpu) {
  if (cpu > linux_platform::max_cpu)
    throw std::system_error(EINVAL, std::generic_category(),
                            "zokio: cannot pin to cpu " + std::to_string(cpu));
  auto set = linux_platform::alloc_cpu_set(cpu + 1);
  std::size_t size = CPU_ALLOC_SIZE(cpu + 1);
  CPU_SET_S(cpu, size, set.get());
  if (int rc = pthread_setaffinity_np(pthread_self(), size, set.get()); rc != 0)
    throw std::system_error(rc, std::generic_category(),
                            "zokio: pthread_setaffinity_np to cpu " + std::to_string(cpu));
}

ZOKIO_DECL void bind_current_thread(const std::vector<unsigned>& cpus) {
  unsigned top = 0;
  for (unsigned c : cpus) top = c > top ? c : top;
  auto set = linux_platform::alloc_cpu_set(top + 1);
  std::size_t size = CPU_ALLOC_SIZE(top + 1);
  for (unsigned c : cpus) CPU_SET_S(c, size, set.get());
  if (int rc = pthread_setaffinity_np(pthread_self(), size, set.get()); rc != 0)
    throw std::system_error(rc, std::generic_category(),
                            "zokio: pthread_setaffinity_np to a NUMA node's cpus");
}

ZOKIO_DECL void set_current_thread_name(const char* name) noexcept {
  char cut[16];  // the kernel's limit, terminator included: longer names are refused
  std::strncpy(cut, name, sizeof cut - 1);
  cut[sizeof cut - 1] = '\0';
  pthread_setname_np(pthread_self(), cut);
}

}  // namespace zokio::detail

#endif
