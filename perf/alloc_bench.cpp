// perf_alloc: the task allocation path against the allocators underneath it.
//
// Setups (every one allocates and frees through the same loop, touching one word per block):
//   zokio          zokio::detail::allocate / deallocate (category task): the per-thread
//                  recycling cache, then oneTBB's scalable_malloc (Release builds; sanitizer
//                  builds use ::operator new and no cache, and say so)
//   malloc         std::malloc / std::free
//   std::allocator std::allocator<char> (::operator new / ::operator delete)
//   tbb            tbb::scalable_allocator<char> alone (scalable_malloc / scalable_free)
//
// Workloads, block sizes 128, 256 and 512 bytes (a hand-written future's task is ~100 bytes,
// a small coroutine frame with its task cell ~250):
//   1t_batch_N   one thread: batches of 64 allocations, then the 64 frees in allocation order
//                (tasks spawned together, completed in order), kOps blocks per run
//   2t_batch_N   two threads doing 1t_batch_N at the same time (kOps blocks each)
//   2t_cross_N   two threads: one allocates, hands each block over a single-producer ring, the
//                other frees it (a task spawned outside the workers and freed by one), kOps
//                blocks per run
// The second thread is created once and reused (a futex hand-off starts each run); it is
// inside the timed region only as the time both threads need to finish.
//
// Usage: perf_alloc [--samples N] [--only WORKLOAD[,...]] [--setup SUBSTRING] [--timeout S]
// Exit status: 0 ok, 1 a workload's check failed, 2 usage error, 3 a sample hung.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/scalable_allocator.h>

#include <zokio/allocator.hpp>
#include <zokio/version.hpp>

#include "bench.hpp"

namespace {

constexpr std::size_t kOps = 200'000;  // blocks allocated and freed per run (per thread)
constexpr std::size_t kBatch = 64;
constexpr std::size_t kSizes[] = {128, 256, 512};

/// Keeps the compiler from eliding an allocation/free pair.
inline void escape(void* p) noexcept { asm volatile("" : : "g"(p) : "memory"); }

// ---------------------------------------------------------------------------------------------
// The allocators

struct zokio_path {
  static void* alloc(std::size_t n) {
    return zokio::detail::allocate(n, zokio::alloc_category::task);
  }
  static void free(void* p, std::size_t n) noexcept {
    zokio::detail::deallocate(p, n, zokio::alloc_category::task);
  }
};
struct malloc_path {
  static void* alloc(std::size_t n) {
    void* p = std::malloc(n);
    if (!p) throw std::bad_alloc();
    return p;
  }
  static void free(void* p, std::size_t) noexcept { std::free(p); }
};
struct std_path {
  static void* alloc(std::size_t n) { return std::allocator<char>().allocate(n); }
  static void free(void* p, std::size_t n) noexcept {
    std::allocator<char>().deallocate(static_cast<char*>(p), n);
  }
};
struct tbb_path {
  static void* alloc(std::size_t n) { return tbb::scalable_allocator<char>().allocate(n); }
  static void free(void* p, std::size_t n) noexcept {
    tbb::scalable_allocator<char>().deallocate(static_cast<char*>(p), n);
  }
};

const std::string kZokio = "zokio";
const std::vector<std::string> kBaselines = {"malloc", "std::allocator", "tbb"};

// ---------------------------------------------------------------------------------------------
// The loops

/// kOps blocks of `size` in batches: allocate kBatch, then free them in allocation order.
/// Returns a checksum of what was written (every block is written and read back).
template <class A>
std::uint64_t batch_loop(std::size_t size) {
  void* blocks[kBatch];
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kOps; i += kBatch) {
    for (std::size_t j = 0; j < kBatch; ++j) {
      void* p = A::alloc(size);
      *static_cast<std::uint64_t*>(p) = i + j;  // the task's header line is written at spawn
      escape(p);
      blocks[j] = p;
    }
    for (std::size_t j = 0; j < kBatch; ++j) {
      sum += *static_cast<std::uint64_t*>(blocks[j]);
      A::free(blocks[j], size);
    }
  }
  return sum;
}

constexpr std::uint64_t batch_sum() {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < kOps / kBatch * kBatch; ++i) s += i;
  return s;
}

/// A bounded single-producer single-consumer ring of blocks.
class spsc_ring {
 public:
  void push(void* p) noexcept {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    // Ordering: acquire pairs with the consumer's release of head_ (the slot is free).
    while (t - head_.load(std::memory_order_acquire) == kCap) std::this_thread::yield();
    slots_[t % kCap] = p;
    tail_.store(t + 1, std::memory_order_release);  // publishes the slot
  }
  void* pop() noexcept {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    while (tail_.load(std::memory_order_acquire) == h) std::this_thread::yield();
    void* p = slots_[h % kCap];
    head_.store(h + 1, std::memory_order_release);
    return p;
  }
  void reset() noexcept {
    head_.store(0, std::memory_order_relaxed);
    tail_.store(0, std::memory_order_relaxed);
  }

 private:
  static constexpr std::size_t kCap = 256;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::array<void*, kCap> slots_{};
};

template <class A>
std::uint64_t cross_produce(spsc_ring& ring, std::size_t size) {
  for (std::size_t i = 0; i < kOps; ++i) {
    void* p = A::alloc(size);
    *static_cast<std::uint64_t*>(p) = i;
    ring.push(p);
  }
  return 0;
}
template <class A>
std::uint64_t cross_consume(spsc_ring& ring, std::size_t size) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kOps; ++i) {
    void* p = ring.pop();
    sum += *static_cast<std::uint64_t*>(p);
    A::free(p, size);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// The second thread: created once, runs one job per run.

class helper {
 public:
  helper() : th_([this] { loop(); }) {}
  ~helper() {
    stop_.store(true, std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_one();
    th_.join();
  }
  helper(const helper&) = delete;
  helper& operator=(const helper&) = delete;

  /// Starts `fn(arg)` on the helper thread; wait() returns its result.
  void start(std::uint64_t (*fn)(void*), void* arg) noexcept {
    fn_ = fn;
    arg_ = arg;
    done_.reset();
    gen_.fetch_add(1, std::memory_order_release);  // publishes fn_, arg_
    gen_.notify_one();
  }
  std::uint64_t wait() noexcept {
    done_.wait();
    return result_;
  }

 private:
  void loop() {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t g;
      while ((g = gen_.load(std::memory_order_acquire)) == seen)
        gen_.wait(seen, std::memory_order_acquire);
      seen = g;
      if (stop_.load(std::memory_order_relaxed)) return;
      result_ = fn_(arg_);
      done_.set();  // publishes result_
    }
  }

  std::uint64_t (*fn_)(void*) = nullptr;
  void* arg_ = nullptr;
  std::uint64_t result_ = 0;
  std::atomic<std::uint32_t> gen_{0};
  std::atomic<bool> stop_{false};
  bench::event done_;
  std::thread th_;
};

// ---------------------------------------------------------------------------------------------
// Runs

std::string size_name(const char* kind, std::size_t size) {
  return std::string(kind) + "_" + std::to_string(size);
}

template <class A>
void run_1t_batch(std::size_t size) {
  bench::check_eq(batch_loop<A>(size), batch_sum(), "1t_batch: checksum");
}

template <class A>
void run_2t_batch(helper& h, std::size_t size) {
  struct arg_t {
    std::size_t size;
  } arg{size};
  h.start([](void* a) { return batch_loop<A>(static_cast<arg_t*>(a)->size); }, &arg);
  std::uint64_t mine = batch_loop<A>(size);
  std::uint64_t theirs = h.wait();
  bench::check_eq(mine, batch_sum(), "2t_batch: checksum (main thread)");
  bench::check_eq(theirs, batch_sum(), "2t_batch: checksum (second thread)");
}

template <class A>
void run_2t_cross(helper& h, spsc_ring& ring, std::size_t size) {
  struct arg_t {
    spsc_ring* ring;
    std::size_t size;
  } arg{&ring, size};
  ring.reset();
  h.start([](void* a) {
    auto* x = static_cast<arg_t*>(a);
    return cross_consume<A>(*x->ring, x->size);
  }, &arg);
  cross_produce<A>(ring, size);
  bench::check_eq(h.wait(), kOps * (kOps - 1) / 2, "2t_cross: checksum");
}

template <class A>
void add_setup(bench::runner& r, const std::string& name, helper& h, spsc_ring& ring) {
  for (std::size_t size : kSizes)
    r.add(size_name("1t_batch", size), name, [size] { run_1t_batch<A>(size); });
  for (std::size_t size : kSizes)
    r.add(size_name("2t_batch", size), name, [&h, size] { run_2t_batch<A>(h, size); });
  for (std::size_t size : kSizes)
    r.add(size_name("2t_cross", size), name, [&h, &ring, size] { run_2t_cross<A>(h, ring, size); });
}

std::vector<std::string> workloads() {
  std::vector<std::string> w;
  for (const char* kind : {"1t_batch", "2t_batch", "2t_cross"})
    for (std::size_t size : kSizes) w.push_back(size_name(kind, size));
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> kWorkloads = workloads();
  bench::options opts = bench::parse_options(argc, argv, kWorkloads);
  auto t_start = bench::clock::now();

  std::printf("perf_alloc: Zokio %d.%d.%d task allocation path vs malloc, std::allocator and "
              "oneTBB's scalable_allocator, %u hardware threads, %u samples\n",
              ZOKIO_VERSION / 10000, ZOKIO_VERSION / 100 % 100, ZOKIO_VERSION % 100,
              std::thread::hardware_concurrency(), opts.samples);
#ifndef NDEBUG
  std::printf("WARNING: assertions are enabled (not a Release build): numbers are not "
              "representative\n");
#endif
#if !ZOKIO_USE_TBB_ALLOCATOR || !ZOKIO_RECYCLING
  std::printf("WARNING: sanitizer-style build: the zokio path has %s and %s\n",
              ZOKIO_RECYCLING ? "its recycling cache" : "no recycling cache",
              ZOKIO_USE_TBB_ALLOCATOR ? "oneTBB upstream" : "::operator new upstream");
#endif
  std::printf("sizes: %zu blocks per run (per thread), batches of %zu, block sizes 128/256/512 "
              "bytes\n",
              kOps, kBatch);
  std::fflush(stdout);

  helper h;
  spsc_ring ring;
  bench::runner r;
  add_setup<zokio_path>(r, kZokio, h, ring);
  add_setup<malloc_path>(r, kBaselines[0], h, ring);
  add_setup<std_path>(r, kBaselines[1], h, ring);
  add_setup<tbb_path>(r, kBaselines[2], h, ring);

  bool ok = r.run(opts);

  std::printf("\nTimes are per workload run (median of %u samples, min - max).\n", opts.samples);
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    std::printf("\n== %s\n", w.c_str());
    r.print_table(w);
    std::printf("  speed-up = baseline median / zokio median (> 1: Zokio faster)\n");
    std::printf("  %-8s", "");
    for (auto& b : kBaselines) std::printf("  %s", bench::pad(b, 16, false).c_str());
    std::printf("\n  %-8s", kZokio.c_str());
    const bench::summary* zs = r.result(w, kZokio);
    for (auto& b : kBaselines) {
      const bench::summary* bs = r.result(w, b);
      std::string cell = zs && bs ? bench::format_ratio(bench::ratio(*bs, *zs)) : "n/a";
      std::printf("  %s", bench::pad(cell, 16, false).c_str());
    }
    std::printf("\n");
  }

  // One line per workload: time per block (one allocation and one free), and the ratios.
  std::printf("\n== summary: median ns per block (allocate + free), ratio = baseline / zokio\n");
  std::printf("  %-14s  %8s", "workload", kZokio.c_str());
  for (auto& b : kBaselines) std::printf("  %14s", b.c_str());
  for (auto& b : kBaselines) std::printf("  %16s", ("vs " + b).c_str());
  std::printf("\n");
  for (auto& w : kWorkloads) {
    if (!opts.selected(w)) continue;
    const bench::summary* zs = r.result(w, kZokio);
    auto per_block = [](const bench::summary* s) {
      return s ? std::to_string(s->median / kOps * 1e9).substr(0, 6) : std::string("n/a");
    };
    std::printf("  %-14s  %8s", w.c_str(), per_block(zs).c_str());
    for (auto& b : kBaselines) std::printf("  %14s", per_block(r.result(w, b)).c_str());
    for (auto& b : kBaselines) {
      const bench::summary* bs = r.result(w, b);
      std::printf("  %16s",
                  zs && bs ? bench::format_ratio(bench::ratio(*bs, *zs)).c_str() : "n/a");
    }
    std::printf("\n");
  }

  std::printf("\ntotal wall time %.1f s\n", bench::seconds_since(t_start));
  if (!ok) std::printf("RESULT CHECK FAILED: see FAILED lines above\n");
  std::fflush(stdout);
  return ok ? 0 : 1;
}
