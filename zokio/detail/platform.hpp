// What differs per operating system, behind one set of functions: the cpus this process may
// run on, the NUMA nodes they belong to, pinning and binding threads, naming threads.
// Bodies: impl/platform_linux.ipp or impl/platform_windows.ipp, chosen at build time.
#ifndef ZOKIO_DETAIL_PLATFORM_HPP
#define ZOKIO_DETAIL_PLATFORM_HPP

#include <string>
#include <vector>

#include <zokio/detail/config.hpp>

namespace zokio::detail {

struct numa_node {
  unsigned id;
  std::vector<unsigned> cpus;  // ascending, never empty
};

/// The cpus this process may run on, ascending. Linux: sched_getaffinity. Windows: the
/// process's affinity in its processor groups, cpu = group * 64 + index in the group.
/// Throws std::system_error on failure.
ZOKIO_DECL std::vector<unsigned> allowed_cpus();

/// The call allowed_cpus() reads, for error messages.
#if defined(_WIN32)
inline constexpr const char* affinity_call = "GetProcessAffinityMask";
#else
inline constexpr const char* affinity_call = "sched_getaffinity";
#endif

/// The operating system's NUMA nodes restricted to `allowed`, ascending by id, nodes left
/// with no allowed cpu dropped; empty where the system gives no NUMA view (Linux without
/// libnuma or with numa_available() < 0). `source` names where they came from ("libnuma",
/// "windows").
ZOKIO_DECL std::vector<numa_node> os_numa_nodes(const std::vector<unsigned>& allowed,
                                                std::string& source);

/// Pins the calling thread to `cpu`; throws std::system_error.
ZOKIO_DECL void pin_current_thread(unsigned cpu);

/// Lets the calling thread run on any of `cpus` (a node's), nowhere else; throws
/// std::system_error. Windows: a thread runs in one processor group, so only the cpus in the
/// group of the first one count.
ZOKIO_DECL void bind_current_thread(const std::vector<unsigned>& cpus);

/// Calls fn(arg) when the calling thread exits; false if it could not be registered (out of
/// memory). Windows only (thread_local destructors serve elsewhere): mingw-w64 may run a
/// thread_local's destructor after the thread's emulated TLS block is freed (GCC bug 80816),
/// so what must run at exit is kept on the heap and handed to a fiber-local-storage callback,
/// which Windows runs before the thread's TLS callbacks; fn may still use thread_locals.
#if defined(_WIN32)
ZOKIO_DECL bool at_thread_exit(void (*fn)(void*), void* arg) noexcept;
#endif

/// Names the calling thread for debuggers and `top -H` (Linux: up to 15 bytes are kept).
/// Best effort: a system that cannot name threads leaves them unnamed.
ZOKIO_DECL void set_current_thread_name(const char* name) noexcept;

}  // namespace zokio::detail

#endif
