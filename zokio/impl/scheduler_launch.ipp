// Launch and placement of detail::scheduler: the topology and the NUMA plan (place_flat,
// place_on_nodes), the workers built and pinned by their own threads (start), the io_uring
// probe, construction and the destructor's teardown.
//
// Invariants: every configuration error is thrown by place_*(), before any thread exists; each
// worker struct is allocated and first touched by its own thread (its memory is on its node),
// and no worker runs its loop before all are built (the start barrier in the constructor).
#ifndef ZOKIO_IMPL_SCHEDULER_LAUNCH_IPP
#define ZOKIO_IMPL_SCHEDULER_LAUNCH_IPP

// Part of the scheduler's single translation unit (impl/src.hpp): included after
// impl/scheduler.ipp, whose thread_locals (tl_worker, tl_entered, tl_stack_base) it uses.
#include <zokio/detail/platform.hpp>
#include <zokio/impl/scheduler.ipp>

namespace zokio::detail {

scheduler::placement scheduler::place_flat(const scheduler_options& opts) {
  // Every configuration error is thrown here, before a thread exists.
  placement p;
  p.topo.nodes.push_back({0, allowed_cpus()});
  // current_thread: one worker, on whichever thread calls block_on: no placement.
  if (opts.flavour == runtime_flavour::current_thread) {
    p.topo.source = "current_thread";
    p.plan.push_back(worker_placement{0, 0, -1});
    return p;
  }
  p.topo.source = "numa_aware off";
  p.plan = plan_workers(p.topo, opts.worker_threads, opts.topology);
  return p;
}

scheduler::placement scheduler::place_on_nodes(const scheduler_options& opts) {
  if (opts.flavour == runtime_flavour::current_thread) return place_flat(opts);
  placement p;
  p.topo = topology::resolve(opts.topology);
  p.plan = plan_workers(p.topo, opts.worker_threads, opts.topology);
  return p;
}

scheduler::scheduler(const scheduler_options& opts, placement where)
    : opts_(opts),
      inject_(1024),
      idle_(where.plan.size()),
      owned_(where.plan.size()),
      topology_(where.topo.describe()),
      has_priorities_(opts.priority_levels > 1),
      blocking_(this, blocking_pool_options{opts.max_blocking_threads, opts.blocking_keep_alive,
                                            opts.thread_name, opts.hooks.on_thread_start,
                                            opts.hooks.on_thread_stop}) {
  for (unsigned l = 1; l < opts_.priority_levels; ++l)
    high_.push_back(std::make_unique<inject_queue>(64));
  const unsigned n = static_cast<unsigned>(where.plan.size());
  single_worker_ = n == 1;
  opts_.worker_threads = n;
  for (unsigned i = 0; i < n; ++i) idle_.set_node(i, where.plan[i].node_index);
  // A real multi-node machine: unpinned workers still stay on their node's cpus.
  bind_to_node_ = !where.topo.fake && where.topo.nodes.size() > 1;
  where_ = std::move(where);
}

void scheduler::start(worker_counters* counters, void (*bind)(const std::vector<unsigned>&)) {
  const topology& topo = where_.topo;
  const std::vector<worker_placement>& plan = where_.plan;
  const unsigned n = static_cast<unsigned>(plan.size());
  metrics_ = counters != nullptr;
  if (!bind_to_node_) bind = nullptr;
  auto counters_of = [counters](unsigned i) { return counters ? counters + i : nullptr; };
  if (opts_.flavour == runtime_flavour::current_thread) {
    // No thread of its own: block_on's caller drives worker 0 (impl/current_thread.ipp).
    workers_.assign(1, make_worker(0, plan[0], counters_of(0)));
    start_io();
    return;
  }
  // Each worker thread places itself, then builds its own worker (first touch on its node);
  // they wait for `go` until all are built, since stealing reads the siblings' deques.
  workers_.assign(n, nullptr);
  threads_.reserve(n);
  std::mutex m;
  std::condition_variable cv;
  unsigned built = 0, passed = 0;  // passed: threads out of the gate (m and cv are ours)
  bool go = false, failed = false;
  std::exception_ptr error;
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([&, i, place = plan[i]] {
      worker* w = nullptr;
      std::exception_ptr caught;
      try {
        if (place.cpu >= 0)
          pin_current_thread(static_cast<unsigned>(place.cpu));
        else if (bind)
          bind(topo.nodes[place.node_index].cpus);
        w = make_worker(i, place, counters_of(i));
      } catch (...) {
        caught = std::current_exception();  // published after the catch block (report_unhandled)
      }
      if (caught) {
        std::lock_guard lk(m);
        if (!error) error = std::move(caught);
      }
      {
        std::unique_lock lk(m);
        workers_[i] = w;
        ++built;
        cv.notify_all();
        cv.wait(lk, [&] { return go || failed; });
        ++passed;
        cv.notify_all();
        if (failed) return;
      }
      char name[16];  // Linux keeps 15 bytes of a thread name
      std::snprintf(name, sizeof name, "%.11s-%u", opts_.thread_name.c_str(), i);
      set_current_thread_name(name);
      enter_worker_thread(*w, reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)));
      {
        // A long-lived Asio thread_info under everything this worker runs: Asio memory taken
        // outside io_context::poll (an operation started in a task, a cancellation slot) is
        // recycled here instead of reaching malloc every time (doc/performance.md).
        boost::asio::detail::thread_info_base asio_info;
        asio_call_stack_key key;
        asio_call_stack::context asio_ctx(&key, asio_info);
        if (opts_.hooks.on_thread_start) call_hook(opts_.hooks.on_thread_start);
        run_thread_loop(*w);
        if (opts_.hooks.on_thread_stop) call_hook(opts_.hooks.on_thread_stop);
      }
      leave_worker_thread();
      worker_exited();  // may delete this scheduler (destroyed from inside): touch nothing after
    });
  }
  {
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return built == n; });
    failed = error != nullptr;
  }
  if (!failed) {
    for (unsigned i = 0; i < n; ++i) {
      for (unsigned j = 0; j < n; ++j) {
        if (j == i) continue;
        (plan[j].node_index == plan[i].node_index ? workers_[i]->near_siblings : workers_[i]->far_siblings)
            .push_back(j);
      }
    }
    start_io();
  }
  if (!failed) running_workers_ = n;  // before `go`: the workers count down after it
  {
    std::unique_lock lk(m);
    go = !failed;
    cv.notify_all();
    // m and cv live on this stack: return only when no thread can touch them any more.
    cv.wait(lk, [&] { return passed == n; });
  }
  if (failed) {
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (worker* w : workers_) delete w;
    workers_.clear();
    joined_ = true;
    shutdown_ = true;
    std::rethrow_exception(error);
  }
}

scheduler::~scheduler() { teardown(); }

void scheduler::teardown() noexcept {
  if (workers_.empty()) return;  // the constructor failed and cleaned up, or done before
  shutdown_impl(std::chrono::nanoseconds::max(), false);
  // After a shutdown that timed out, jobs finished since may have woken tasks (a waker kept
  // by the job): their queue entries hold references.
  drain_queues();
  for (worker* w : workers_) delete w;
  workers_.clear();
  // Never silent: what the propagate policy kept for a block_on that never came.
  for (auto& e : unhandled_)
    log_unhandled(e, "the runtime (never rethrown: no block_on ran after it)");
  unhandled_.clear();
}

scheduler::live_token::live_token() noexcept {
  g_live_runtimes.fetch_add(1, std::memory_order_relaxed);
}

scheduler::live_token::~live_token() {
  // Every member is freed (the worker threads empty their own caches when they exit,
  // allocator.hpp): give back what this thread and the allocators still keep of the
  // runtime's bursts (release_memory; doc/performance.md, "Giving memory back").
  release_memory();
  // ZOKIO_DEBUG_ALLOC: once the last runtime is gone (every member of it freed, this is the
  // first member), whatever the runtime allocator still counts as live was leaked: a waker
  // never dropped, a task never joined nor detached...
  if (g_live_runtimes.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (std::string r = leak_report(); !r.empty())
      std::fprintf(stderr,
                   "zokio: leak report: still live after the last runtime was destroyed:\n%s",
                   r.c_str());
  }
}

void scheduler::setup_io_uring() {
#if defined(BOOST_ASIO_HAS_IO_URING)
  // Probe the kernel first: io_uring may be missing, disabled (io_uring_disabled sysctl),
  // filtered by seccomp, or over the memlock limit. ZOKIO_FORCE_NO_IO_URING=1 simulates a
  // refusal, for tests.
  std::string why;
  if (const char* force = std::getenv("ZOKIO_FORCE_NO_IO_URING"); force && *force && *force != '0') {
    why = "refused (forced by ZOKIO_FORCE_NO_IO_URING)";
  } else {
    ::io_uring ring;
    if (int r = ::io_uring_queue_init(8, &ring, 0); r < 0)
      why = std::string("refused by the kernel: ") + std::strerror(-r);
    else
      ::io_uring_queue_exit(&ring);
  }
  if (why.empty()) {
    try {
      // Eagerly, so that a failure shows here and not at the first file operation.
      for (auto& w : workers_)
        boost::asio::use_service<boost::asio::detail::io_uring_service>(w->driver->io);
      io_uring_active_ = true;
      return;
    } catch (const std::exception& e) {
      why = std::string("failed to start: ") + e.what();
    }
  }
  std::fprintf(stderr,
               "zokio: io_uring %s; falling back to epoll (sockets, timers and signals work; "
               "asio::stream_file and random_access_file are unavailable)\n",
               why.c_str());
#endif
}

}  // namespace zokio::detail

#endif
