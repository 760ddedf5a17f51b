// Helpers shared by the tests: lifetime tracking, counting wakers, sanitizer-aware sizes,
// runtimes and timed tasks.
#ifndef ZOKIO_TEST_SUPPORT_TEST_UTIL_HPP
#define ZOKIO_TEST_SUPPORT_TEST_UTIL_HPP

#include <stdlib.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zokio/context.hpp>
#include <zokio/future.hpp>
#include <zokio/runtime.hpp>
#include <zokio/sleep.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>

#include <zokio/detail/config.hpp>
#include <zokio/waker.hpp>

#if defined(_WIN32)
#include <windows.h>
#else
#include <sched.h>
#endif

// ThreadSanitizer builds (some cases cannot run there, e.g. Boost.Context stack switches).
#if defined(__SANITIZE_THREAD__)
#  define ZOKIO_TEST_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define ZOKIO_TEST_TSAN 1
#  endif
#endif
#ifndef ZOKIO_TEST_TSAN
#  define ZOKIO_TEST_TSAN 0
#endif

namespace zokio::test {

/// The cpu the calling thread runs on, numbered as zokio::detail::allowed_cpus() numbers them.
inline int current_cpu() {
#if defined(_WIN32)
  PROCESSOR_NUMBER p{};
  GetCurrentProcessorNumberEx(&p);
  return p.Group * 64 + p.Number;
#else
  return ::sched_getcpu();
#endif
}

/// True when running under Wine (its ntdll exports wine_get_version): where Wine's Windows
/// differs from Windows, tests accept both and doc/platforms.md says what differs.
inline bool under_wine() {
#if defined(_WIN32)
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

// Signals a test may raise in its own process (with a handler installed first): SIGUSR1 and
// SIGUSR2 on POSIX; Windows' C runtime has neither, so SIGTERM and SIGBREAK stand in there.
#if defined(_WIN32)
inline constexpr int test_signal_1 = SIGTERM;
inline constexpr int test_signal_2 = SIGBREAK;
#else
inline constexpr int test_signal_1 = SIGUSR1;
inline constexpr int test_signal_2 = SIGUSR2;
#endif

/// Sets (value) or unsets (nullptr) an environment variable for one scope and puts back
/// whatever was there.
class env_guard {
 public:
  env_guard(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    set(name, value);
  }
  ~env_guard() { set(name_.c_str(), old_ ? old_->c_str() : nullptr); }
  env_guard(const env_guard&) = delete;
  env_guard& operator=(const env_guard&) = delete;

  static void set(const char* name, const char* value) {
#if defined(_WIN32)
    ::_putenv_s(name, value ? value : "");  // "" removes it
#else
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
#endif
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Sanitizers slow everything 5-20x: big stress counts are divided by this there.
#if defined(ZOKIO_SANITIZER_BUILD)
inline constexpr int stress_divisor = 10;
#else
inline constexpr int stress_divisor = 1;
#endif

/// A runtime with exactly `workers` workers, every other option at its default. Runtime is
/// zokio::runtime or a basic_runtime<Config> for compile-time options (e.g. enable_metrics).
template <class Runtime = zokio::runtime>
Runtime make_runtime(unsigned workers) {
  return typename Runtime::builder().worker_threads(workers).build();
}

/// The same, with the workers named "<thread_name>-<i>" (tests that tell workers apart).
template <class Runtime = zokio::runtime>
Runtime make_runtime(unsigned workers, std::string thread_name) {
  return typename Runtime::builder()
      .worker_threads(workers)
      .thread_name(std::move(thread_name))
      .build();
}

/// Fork-join Fibonacci as a user writes it: spawn fib(n - 1), run fib(n - 2) inline, join.
inline zokio::task<long> fib(int n) {
  if (n < 2) co_return n;
  auto h = zokio::spawn(fib(n - 1));
  long b = co_await fib(n - 2);
  co_return co_await std::move(h) + b;
}

/// Sleeps `d`, then returns `v`.
inline zokio::task<int> value_after(std::chrono::milliseconds d, int v) {
  co_await zokio::sleep(d);
  co_return v;
}

/// A check for code that runs in a task beside other tasks: Boost.Test's macros are not
/// thread-safe (two workers asserting at once race on its checkpoint, which TSan reports), so
/// such tasks throw instead and the test checks on its own thread, where it joins them.
inline void must(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("must: ") + what);
}

/// Sleeps `d`, then throws std::runtime_error: value_after's failing twin.
inline zokio::task<int> error_after(std::chrono::milliseconds d) {
  co_await zokio::sleep(d);
  throw std::runtime_error("error_after");
}

/// Counts live instances (Tokio's Track trick): a leak or double destroy shows in `live`.
struct tracked {
  static inline std::atomic<long> live{0};
  tracked() noexcept { live.fetch_add(1); }
  tracked(const tracked&) noexcept { live.fetch_add(1); }
  tracked(tracked&&) noexcept { live.fetch_add(1); }
  ~tracked() { live.fetch_sub(1); }
};

/// A waker whose calls are counted, for testing futures by hand.
struct counting_waker {
  std::atomic<int> clones{0}, wakes{0}, wakes_by_ref{0}, drops{0};

  zokio::waker make() {
    clones.fetch_add(1);
    return zokio::waker::from_raw({this, &vtable});
  }
  int refs() const { return clones.load() - drops.load() - wakes.load(); }

  static void clone_fn(void* p) noexcept { static_cast<counting_waker*>(p)->clones++; }
  static void wake_fn(void* p) noexcept { static_cast<counting_waker*>(p)->wakes++; }
  static void wake_by_ref_fn(void* p) noexcept { static_cast<counting_waker*>(p)->wakes_by_ref++; }
  static void drop_fn(void* p) noexcept { static_cast<counting_waker*>(p)->drops++; }
  static constexpr zokio::waker_vtable vtable{&clone_fn, &wake_fn, &wake_by_ref_fn, &drop_fn};
};

/// Wakes `cw` has seen, by value or by reference.
inline int woken(const counting_waker& cw) { return cw.wakes.load() + cw.wakes_by_ref.load(); }

/// Polls a future once by hand with `w`.
template <class F>
auto poll_once(F& f, const zokio::waker& w) {
  zokio::context cx(w);
  return f.poll(cx);
}

/// A counting waker and a context for polling futures by hand (`f.poll(h.cx)`).
struct hand {
  counting_waker cw;
  zokio::waker w = cw.make();
  zokio::context cx{w};
};

/// Spins until pred() or the deadline; returns pred().
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

/// Joins every handle through rt.block_on; returns how many threw an E (a failed task or an
/// aborted one: join_error derives from std::exception). Other exceptions propagate.
template <class E = std::exception, class Runtime, class Handles>
int count_join_failures(Runtime& rt, Handles& hs) {
  int failed = 0;
  for (auto& h : hs) {
    try {
      (void)rt.block_on(std::move(h));
    } catch (const E&) {
      ++failed;
    }
  }
  return failed;
}

/// Both runtime flavours, for BOOST_DATA_TEST_CASE(..., bdata::make(flavours) * ...).
inline const std::vector<zokio::runtime_flavour> flavours{zokio::runtime_flavour::multi_thread,
                                                          zokio::runtime_flavour::current_thread};

/// make_runtime of a flavour (current_thread ignores `workers`: it has one, the caller's).
template <class Runtime = zokio::runtime>
Runtime make_runtime(zokio::runtime_flavour f, unsigned workers) {
  return typename Runtime::builder().flavour(f).worker_threads(workers).build();
}

/// wait_until for a test on either flavour: on current_thread nothing runs unless a thread
/// drives the runtime, so this thread does (block_on) while it waits.
template <class Runtime, class Pred>
bool settle(Runtime& rt, Pred pred,
            std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  if (rt.flavour() == zokio::runtime_flavour::multi_thread) return wait_until(pred, limit);
  const auto end = std::chrono::steady_clock::now() + limit;
  try {
    return rt.block_on(zokio::co_invoke([&]() -> zokio::task<bool> {
      while (!pred()) {
        if (std::chrono::steady_clock::now() > end) co_return false;
        co_await zokio::sleep(std::chrono::milliseconds(1));
      }
      co_return true;
    }));
  } catch (const boost::system::system_error& e) {
    // The runtime was stopped meanwhile (what the predicate may be waiting for).
    if (e.code() != zokio::make_error_code(zokio::errc::runtime_shutdown)) throw;
    return pred();
  }
}

/// A one-shot event with a waiting future (mutex-based: the test's yardstick, not a product).
class event {
 public:
  void notify() {
    zokio::waker w;
    {
      std::lock_guard lk(m_);
      set_ = true;
      w = std::move(w_);
    }
    w.wake();
  }
  bool is_set() {
    std::lock_guard lk(m_);
    return set_;
  }
  /// A wait() future has been polled and is parked on the event.
  bool waiting() {
    std::lock_guard lk(m_);
    return w_.valid();
  }
  struct wait_future {
    using output = void;
    event* e;
    zokio::poll<void> poll(zokio::context& cx) {
      std::lock_guard lk(e->m_);
      if (e->set_) return zokio::ready();
      if (!e->w_.will_wake(cx.waker())) e->w_ = cx.waker();
      return zokio::pending;
    }
  };
  wait_future wait() { return {this}; }

 private:
  std::mutex m_;
  bool set_ = false;
  zokio::waker w_;
};

/// Pending forever, never wakes; tracks its own lifetime. Not an aggregate on purpose: g++ 12
/// miscompiles `co_await aggregate{}` when a member has a destructor (see doc/architecture.md).
struct never {
  using output = int;
  never() noexcept {}
  tracked t;
  zokio::poll<int> poll(zokio::context&) { return zokio::pending; }
};

}  // namespace zokio::test

namespace zokio {
/// For Boost.Test's data-driven cases' names and messages.
inline std::ostream& operator<<(std::ostream& o, runtime_flavour f) {
  return o << (f == runtime_flavour::current_thread ? "current_thread" : "multi_thread");
}
}  // namespace zokio

#endif
