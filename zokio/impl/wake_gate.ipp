// wake_gate: one slot per thread that ever woke a task of a runtime it does not work for, in a
// process-wide list that teardown scans.
#ifndef ZOKIO_IMPL_WAKE_GATE_IPP
#define ZOKIO_IMPL_WAKE_GATE_IPP

#include <atomic>
#include <mutex>
#include <thread>

#include <zokio/detail/platform.hpp>
#include <zokio/detail/wake_gate.hpp>

namespace zokio::detail {

namespace {

struct gate_slot {
  std::atomic<const void*> sched{nullptr};
  gate_slot* prev = nullptr;
  gate_slot* next = nullptr;
};

struct gate_registry {
  std::mutex m;  // guards the list links, not the slots' values
  gate_slot* head = nullptr;
};

gate_registry& registry() noexcept {
  // Never destroyed: threads may still wake (and exit) during static destruction.
  static gate_registry* r = new gate_registry;
  return *r;
}

// Registered in the list for the thread's life, on its first foreign wake.
struct gate_slot_owner {
  gate_slot slot;
  gate_slot_owner() {
    auto& r = registry();
    std::lock_guard lk(r.m);
    slot.next = r.head;
    if (r.head) r.head->prev = &slot;
    r.head = &slot;
  }
  ~gate_slot_owner() {
    auto& r = registry();
    std::lock_guard lk(r.m);
    if (slot.prev) slot.prev->next = slot.next;
    else r.head = slot.next;
    if (slot.next) slot.next->prev = slot.prev;
  }
};

#if defined(_WIN32)
// Windows: the owner is on the heap and unlinked by a thread-exit callback (platform.hpp:
// mingw-w64 may destroy a thread_local after its storage is freed). A thread whose callback
// cannot be registered keeps its slot linked for the process's life.
void release_gate_slot(void* p) noexcept { delete static_cast<gate_slot_owner*>(p); }
gate_slot& local_slot() noexcept {
  thread_local gate_slot_owner* owner = nullptr;
  if (!owner) {
    owner = new gate_slot_owner;
    (void)at_thread_exit(&release_gate_slot, owner);
  }
  return owner->slot;
}
#else
gate_slot& local_slot() noexcept {
  thread_local gate_slot_owner owner;
  return owner.slot;
}
#endif

}  // namespace

void wake_gate::enter(const void* sched) noexcept {
  gate_slot& s = local_slot();
  s.sched.store(sched, std::memory_order_relaxed);
  // Ordering: seq_cst fence, pairs with the one in wait_idle (the Dekker pair in the header):
  // the task state read after it sees COMPLETE, or wait_idle sees this slot.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void wake_gate::leave() noexcept {
  // Ordering: release, pairs with wait_idle's acquire: the wake's queue push is visible to
  // the drain that follows wait_idle.
  local_slot().sched.store(nullptr, std::memory_order_release);
}

void wake_gate::wait_idle(const void* sched) noexcept {
  // Ordering: seq_cst fence, pairs with enter()'s (every task was made COMPLETE before it).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto& r = registry();
  std::lock_guard lk(r.m);
  for (gate_slot* s = r.head; s; s = s->next)
    while (s->sched.load(std::memory_order_acquire) == sched) std::this_thread::yield();
}

}  // namespace zokio::detail

#endif
