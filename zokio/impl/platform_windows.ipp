// The platform layer on Windows: processor groups and the process affinity, NUMA nodes from
// GetLogicalProcessorInformationEx, SetThreadGroupAffinity, SetThreadDescription.
// A cpu is numbered group * 64 + its index in the group, in every function here.
#ifndef ZOKIO_IMPL_PLATFORM_WINDOWS_IPP
#define ZOKIO_IMPL_PLATFORM_WINDOWS_IPP

#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#if defined(__MINGW32__) && __has_include(<pthread.h>)
#include <pthread.h>  // winpthreads: std::thread's threads, with names of their own
#define ZOKIO_WINPTHREADS 1
#endif

#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <system_error>

#include <zokio/detail/platform.hpp>

namespace zokio::detail {

namespace {
namespace windows_platform {

constexpr unsigned group_width = 64;  // bits in a KAFFINITY

[[noreturn]] void fail(const char* call) {
  throw std::system_error(static_cast<int>(GetLastError()), std::system_category(),
                          std::string("zokio: ") + call);
}

void add_mask(std::vector<unsigned>& out, WORD group, KAFFINITY mask) {
  for (unsigned b = 0; b < group_width; ++b)
    if (mask & (KAFFINITY{1} << b)) out.push_back(group * group_width + b);
}

}  // namespace windows_platform
}  // namespace

ZOKIO_DECL std::vector<unsigned> allowed_cpus() {
  namespace wp = windows_platform;
  DWORD_PTR process_mask = 0, system_mask = 0;
  if (!GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask))
    wp::fail("GetProcessAffinityMask");
  // The affinity mask covers the process's primary group; a process that spans several groups
  // (Windows 11 schedules across all of them by default) may also run on every active
  // processor of the others.
  GROUP_AFFINITY current{};
  if (!GetThreadGroupAffinity(GetCurrentThread(), &current)) wp::fail("GetThreadGroupAffinity");
  std::vector<unsigned> cpus;
  USHORT count = 0;
  GetProcessGroupAffinity(GetCurrentProcess(), &count, nullptr);
  std::unique_ptr<USHORT[]> groups(new USHORT[count ? count : 1]);
  if (count == 0 || !GetProcessGroupAffinity(GetCurrentProcess(), &count, groups.get())) {
    count = 1;
    groups[0] = current.Group;
  }
  for (USHORT i = 0; i < count; ++i) {
    const WORD g = groups[i];
    if (g == current.Group) {
      wp::add_mask(cpus, g, process_mask);
    } else {
      DWORD n = GetActiveProcessorCount(g);
      wp::add_mask(cpus, g, n >= wp::group_width ? ~KAFFINITY{0} : (KAFFINITY{1} << n) - 1);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  if (cpus.empty()) wp::fail("GetProcessAffinityMask (no cpu)");
  return cpus;
}

ZOKIO_DECL std::vector<numa_node> os_numa_nodes(const std::vector<unsigned>& allowed,
                                                std::string& source) {
  source = "windows";
  std::vector<numa_node> nodes;
  DWORD len = 0;
  GetLogicalProcessorInformationEx(RelationNumaNode, nullptr, &len);
  if (GetLastError() != ERROR_INSUFFICIENT_BUFFER || len == 0) return nodes;
  std::unique_ptr<char[]> buf(new char[len]);
  auto* first = reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX*>(buf.get());
  if (!GetLogicalProcessorInformationEx(RelationNumaNode, first, &len)) return nodes;
  for (DWORD off = 0; off < len;) {
    auto* info = reinterpret_cast<SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX*>(buf.get() + off);
    if (info->Size == 0) break;
    off += info->Size;
    if (info->Relationship != RelationNumaNode) continue;
    // One GROUP_AFFINITY per node: a node wider than a processor group (over 64 cpus) is
    // seen through its first group only, and discover() then falls back to "affinity".
    const GROUP_AFFINITY& ga = info->NumaNode.GroupMask;
    std::vector<unsigned> node_cpus;
    windows_platform::add_mask(node_cpus, ga.Group, ga.Mask);
    numa_node node{static_cast<unsigned>(info->NumaNode.NodeNumber), {}};
    for (unsigned c : node_cpus)
      if (std::binary_search(allowed.begin(), allowed.end(), c)) node.cpus.push_back(c);
    if (!node.cpus.empty()) nodes.push_back(std::move(node));
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const numa_node& a, const numa_node& b) { return a.id < b.id; });
  return nodes;
}

ZOKIO_DECL void pin_current_thread(unsigned cpu) {
  GROUP_AFFINITY ga{};
  ga.Group = static_cast<WORD>(cpu / windows_platform::group_width);
  ga.Mask = KAFFINITY{1} << (cpu % windows_platform::group_width);
  if (!SetThreadGroupAffinity(GetCurrentThread(), &ga, nullptr))
    throw std::system_error(static_cast<int>(GetLastError()), std::system_category(),
                            "zokio: SetThreadGroupAffinity to cpu " + std::to_string(cpu));
}

ZOKIO_DECL void bind_current_thread(const std::vector<unsigned>& cpus) {
  if (cpus.empty()) return;
  GROUP_AFFINITY ga{};
  ga.Group = static_cast<WORD>(cpus.front() / windows_platform::group_width);
  for (unsigned c : cpus)
    if (c / windows_platform::group_width == ga.Group)
      ga.Mask |= KAFFINITY{1} << (c % windows_platform::group_width);
  if (!SetThreadGroupAffinity(GetCurrentThread(), &ga, nullptr))
    windows_platform::fail("SetThreadGroupAffinity to a NUMA node's cpus");
}

namespace {
namespace windows_platform {

// The calling thread's exit callbacks, newest first, in its fiber-local slot.
struct exit_entry {
  void (*fn)(void*);
  void* arg;
  exit_entry* next;
};

void WINAPI run_exit_entries(void* head) {
  for (auto* e = static_cast<exit_entry*>(head); e;) {
    exit_entry* next = e->next;
    e->fn(e->arg);
    delete e;
    e = next;
  }
}

DWORD exit_slot() noexcept {
  static const DWORD slot = FlsAlloc(&run_exit_entries);
  return slot;
}

}  // namespace windows_platform
}  // namespace

ZOKIO_DECL bool at_thread_exit(void (*fn)(void*), void* arg) noexcept {
  const DWORD slot = windows_platform::exit_slot();
  if (slot == FLS_OUT_OF_INDEXES) return false;
  auto* e = new (std::nothrow)
      windows_platform::exit_entry{fn, arg, static_cast<windows_platform::exit_entry*>(FlsGetValue(slot))};
  if (!e) return false;
  if (!FlsSetValue(slot, e)) {
    delete e;
    return false;
  }
  return true;
}

ZOKIO_DECL void set_current_thread_name(const char* name) noexcept {
#if defined(ZOKIO_WINPTHREADS)
  pthread_setname_np(pthread_self(), name);  // what pthread_getname_np reads back
#endif
  // SetThreadDescription exists from Windows 10 1607 on: looked up, so older systems run.
  using set_description = HRESULT(WINAPI*)(HANDLE, PCWSTR);
  static const auto fn = reinterpret_cast<set_description>(reinterpret_cast<void (*)()>(
      GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "SetThreadDescription")));
  if (!fn) return;
  wchar_t wide[64];
  std::size_t i = 0;
  for (; name[i] && i + 1 < sizeof wide / sizeof wide[0]; ++i)
    wide[i] = static_cast<unsigned char>(name[i]);  // names are ASCII
  wide[i] = L'\0';
  fn(GetCurrentThread(), wide);
}

}  // namespace zokio::detail

#endif
