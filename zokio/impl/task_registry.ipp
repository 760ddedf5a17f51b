// The bodies of task_registry and dump_on_signal (detail/task_registry.hpp): listing live
// tasks, looking at each for a dump, and the signal thread.
#ifndef ZOKIO_IMPL_TASK_REGISTRY_IPP
#define ZOKIO_IMPL_TASK_REGISTRY_IPP

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <zokio/detail/task_header.hpp>
#include <zokio/detail/task_registry.hpp>
#include <zokio/detail/task_state.hpp>

extern "C" {
zokio::detail::task_registry* zokio_task_registries = nullptr;
}

namespace zokio::detail {

namespace {
std::mutex& registries_mu() {
  static std::mutex m;
  return m;
}
}  // namespace

ZOKIO_DECL task_registry::task_registry(unsigned workers)
    // A few shards per worker: spawns and completions on different workers rarely meet.
    : mask_(std::bit_ceil(std::max(8u, 4 * workers)) - 1),
      shards_(std::make_unique<shard[]>(mask_ + 1)) {
  std::lock_guard lk(registries_mu());
  next_in_process_ = zokio_task_registries;
  if (next_in_process_) next_in_process_->prev_in_process_ = this;
  zokio_task_registries = this;
}

ZOKIO_DECL task_registry::~task_registry() {
  std::lock_guard lk(registries_mu());
  if (prev_in_process_)
    prev_in_process_->next_in_process_ = next_in_process_;
  else
    zokio_task_registries = next_in_process_;
  if (next_in_process_) next_in_process_->prev_in_process_ = prev_in_process_;
}

std::size_t task_registry::ptr_set::hash(const task_header* t) noexcept {
  auto a = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(t));
  a ^= a >> 29;
  a *= 0x9e3779b97f4a7c15ull;  // Fibonacci hashing: the high bits mix every input bit
  return static_cast<std::size_t>(a >> 32);
}

void task_registry::ptr_set::rehash(std::size_t capacity) {
  std::vector<task_header*> old(capacity, nullptr);
  old.swap(slots_);  // allocated before anything changes: a throw leaves the set as it was
  const std::size_t mask = capacity - 1;
  for (task_header* t : old) {
    if (!t || t == tomb()) continue;
    std::size_t i = hash(t) & mask;
    while (slots_[i]) i = (i + 1) & mask;
    slots_[i] = t;
  }
  filled_ = live_;
}

void task_registry::ptr_set::insert(task_header* t) {
  if ((filled_ + 1) * 2 > slots_.size()) {
    // Half full: grow to keep live entries at a quarter (or just sweep the tombstones).
    rehash(std::max<std::size_t>(64, std::bit_ceil((live_ + 1) * 4)));
  }
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hash(t) & mask;
  while (slots_[i] && slots_[i] != tomb()) i = (i + 1) & mask;
  if (!slots_[i]) ++filled_;
  slots_[i] = t;
  ++live_;
}

void task_registry::ptr_set::erase(task_header* t) noexcept {
  if (slots_.empty()) return;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash(t) & mask; slots_[i]; i = (i + 1) & mask) {
    if (slots_[i] == t) {
      slots_[i] = tomb();
      --live_;
      return;
    }
  }
}

task_registry::shard& task_registry::shard_of(const task_header* t) noexcept {
  // Tasks are at least 64-byte blocks: the low bits say nothing.
  const auto a = reinterpret_cast<std::uintptr_t>(t);
  return shards_[(a >> 6 ^ a >> 14) & mask_];
}

ZOKIO_DECL void task_registry::insert(task_header* t) noexcept {
  shard& s = shard_of(t);
  std::lock_guard lk(s.mu);
  try {
    s.tasks.insert(t);
  } catch (...) {  // std::bad_alloc: the task runs unlisted
    missed_.fetch_add(1, std::memory_order_relaxed);
  }
}

ZOKIO_DECL void task_registry::remove(task_header* t) noexcept {
  shard& s = shard_of(t);
  std::lock_guard lk(s.mu);
  s.tasks.erase(t);
}

ZOKIO_DECL void task_registry::close() noexcept {
  std::lock_guard lk(dump_mu_);
  closed_ = true;
}

ZOKIO_DECL std::uint32_t task_registry::now_ms() noexcept {
  std::uint64_t ms;
#if defined(CLOCK_MONOTONIC_COARSE)
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO, no syscall: a few ns
  ms = static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
#else
  ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
#endif
  const auto v = static_cast<std::uint32_t>(ms);
  return v ? v : 1;  // 0 means never polled
}

ZOKIO_DECL task_dump task_registry::dump() {
  std::lock_guard dl(dump_mu_);
  task_dump d;
  if (closed_) return d;
  // Pinned under each shard's lock; looked at outside it (an inspection may requeue a task,
  // and a requeue must not wait for a lock that a spawn on the same thread would need).
  std::vector<task_header*> pinned;
  struct unpin {
    std::vector<task_header*>& v;
    ~unpin() {
      for (task_header* t : v) t->ref_dec();
    }
  } guard{pinned};
  for (std::size_t i = 0; i <= mask_; ++i) {
    shard& s = shards_[i];
    std::lock_guard lk(s.mu);
    pinned.reserve(pinned.size() + s.tasks.size());
    s.tasks.for_each([&](task_header* t) {
      t->ref_inc();  // from the reference the listing stands on (released after removal)
      pinned.push_back(t);
    });
  }
  d.unlisted = missed_.load(std::memory_order_relaxed);
  const std::uint32_t now = now_ms();
  d.tasks.reserve(pinned.size());
  for (task_header* t : pinned) {
    task_snapshot s;
    s.id = task_id(t->id);
    if (t->name) s.name = t->name;
    s.spawned_at = t->where();
    if (const std::uint32_t p = t->polled_at.load(std::memory_order_relaxed))
      s.since_poll = std::chrono::milliseconds(static_cast<std::uint32_t>(now - p));
    if (task_inspect(t, s.awaiting)) {
      s.status = task_status::waiting;
    } else {
      const auto st = t->state.load(std::memory_order_acquire);
      if (st & task_state::COMPLETE) continue;  // ended since it was pinned
      s.status = (st & task_state::RUNNING) ? task_status::running : task_status::queued;
    }
    d.tasks.push_back(std::move(s));
  }
  return d;
}

struct dump_on_signal::impl {
  boost::asio::io_context io{1};
  boost::asio::signal_set signals{io};
  std::function<void()> print;
  std::thread thread;

  void arm() {
    signals.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;  // stopped
      try {
        print();
      } catch (...) {  // out of memory for the report: the next signal tries again
      }
      arm();
    });
  }
};

ZOKIO_DECL dump_on_signal::dump_on_signal(int signo, std::function<void()> print)
    : impl_(std::make_unique<impl>()) {
  impl_->print = std::move(print);
  impl_->signals.add(signo);  // throws for a signal that cannot be caught
  impl_->arm();
  impl_->thread = std::thread([i = impl_.get()] { i->io.run(); });
}

ZOKIO_DECL dump_on_signal::~dump_on_signal() {
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace zokio::detail

#endif
