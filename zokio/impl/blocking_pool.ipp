// detail::blocking_pool: thread start on demand, keep-alive exit, shutdown.
#ifndef ZOKIO_IMPL_BLOCKING_POOL_IPP
#define ZOKIO_IMPL_BLOCKING_POOL_IPP

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <utility>

#include <zokio/detail/blocking_pool.hpp>
#include <zokio/detail/platform.hpp>
#include <zokio/detail/scheduler.hpp>

namespace zokio::detail {

struct blocking_pool::shared {
  scheduler* owner = nullptr;
  blocking_pool_options opts;
  std::mutex m;
  std::condition_variable work_cv;  // idle threads wait here for a job
  std::condition_variable done_cv;  // shutdown waits here for threads == 0
  blocking_job* head = nullptr;     // FIFO of jobs not started
  blocking_job* tail = nullptr;
  std::size_t queued = 0;
  std::size_t threads = 0, idle = 0, spawned = 0, peak = 0, next_id = 0;
  // Wake-ups handed to idle threads and not yet consumed: a submitter that finds an idle
  // thread claims it (idle--, notify++) instead of starting a new one (Tokio's protocol).
  std::size_t notify = 0;
  bool closed = false;
  bool owner_adopted = false;  // adopt_owner(): the last thread to exit deletes `owner`
  std::unordered_map<std::size_t, std::thread> running;  // handles of live threads
  std::vector<std::thread> exited;                        // finished, not yet joined

  ~shared() {
    // Only reached with threads left after a shutdown timeout (they co-own this block): the
    // last of them destroys it, and may find its own handle here.
    for (auto& [id, t] : running)
      if (t.joinable()) t.detach();
    for (auto& t : exited)
      if (t.joinable()) t.detach();
  }

  blocking_job* pop() noexcept {
    blocking_job* j = head;
    if (!j) return nullptr;
    head = j->next;
    if (!head) tail = nullptr;
    --queued;
    return j;
  }
};

blocking_pool::blocking_pool(scheduler* owner, blocking_pool_options opts)
    : opts_(std::move(opts)), s_(std::make_shared<shared>()) {
  s_->owner = owner;
  s_->opts = opts_;
  if (s_->opts.max_threads == 0) s_->opts.max_threads = 1;
}

blocking_pool::~blocking_pool() { shutdown(); }

bool blocking_pool::submit(blocking_job* j) {
  std::vector<std::thread> to_join;
  {
    std::unique_lock lk(s_->m);
    if (s_->closed) return false;
    j->next = nullptr;
    (s_->tail ? s_->tail->next : s_->head) = j;
    s_->tail = j;
    ++s_->queued;
    if (s_->idle > 0) {
      --s_->idle;
      ++s_->notify;
      lk.unlock();
      s_->work_cv.notify_one();
      return true;
    }
    if (s_->threads >= s_->opts.max_threads) return true;  // waits for a busy thread
    const std::size_t id = s_->next_id++;
    ++s_->threads;
    try {
      // Started under the lock: the new thread cannot exit (and look up its handle) before
      // the handle is stored.
      s_->running.emplace(id, std::thread(&blocking_pool::thread_main, s_, id));
    } catch (...) {
      --s_->threads;
      if (s_->threads == 0) {
        // Nobody could ever run it: take it back (it is the tail; find its predecessor).
        blocking_job** p = &s_->head;
        blocking_job* prev = nullptr;
        while (*p != j) {
          prev = *p;
          p = &(*p)->next;
        }
        *p = nullptr;
        s_->tail = prev;
        --s_->queued;
        throw;
      }
      return true;
    }
    ++s_->spawned;
    s_->peak = std::max(s_->peak, s_->threads);
    to_join.swap(s_->exited);
  }
  for (auto& t : to_join) t.join();  // threads that ended by keep-alive: already exiting
  return true;
}

namespace {
// The pool whose thread this is (on_pool_thread), or nullptr.
thread_local const void* tl_pool = nullptr;
}  // namespace

bool blocking_pool::on_pool_thread() const noexcept { return tl_pool == s_.get(); }

void blocking_pool::thread_main(std::shared_ptr<shared> s, std::size_t id) {
  tl_pool = s.get();
  {
    char name[16];  // Linux keeps 15 bytes of a thread name
    std::snprintf(name, sizeof name, "%.11s-blk", s->opts.thread_name.c_str());
    set_current_thread_name(name);
  }
  scheduler* reclaim = nullptr;  // the owner, handed over (adopt_owner) to the last thread
  {
    scheduler::enter_guard entered(s->owner);
    if (s->opts.on_thread_start) s->owner->call_hook(s->opts.on_thread_start);
    std::unique_lock lk(s->m);
    for (;;) {
      if (blocking_job* j = s->pop()) {
        lk.unlock();
        j->run(j);  // noexcept: the job stores its own exception
        lk.lock();
        continue;
      }
      if (s->closed) break;
      ++s->idle;
      const auto deadline = std::chrono::steady_clock::now() + s->opts.keep_alive;
      bool expired = false;
      for (;;) {
        if (s->notify > 0) {  // a submitter claimed us (already took us off `idle`)
          --s->notify;
          break;
        }
        if (s->closed) {
          --s->idle;
          break;
        }
        if (s->work_cv.wait_until(lk, deadline) == std::cv_status::timeout && s->notify == 0 &&
            !s->closed) {
          --s->idle;
          expired = true;
          break;
        }
      }
      if (expired) break;
    }
    if (s->opts.on_thread_stop) {
      // Outside the lock (the hook may use the pool). Still counted in `threads`, so the
      // owner outlives the call; no longer idle, so no submitter counts on this thread (at
      // max_threads, a job queued meanwhile waits for a busy thread, as it would anyway).
      lk.unlock();
      s->owner->call_hook(s->opts.on_thread_stop);
      lk.lock();
    }
    --s->threads;
    auto it = s->running.find(id);
    s->exited.push_back(std::move(it->second));  // empty when shutdown detached it
    s->running.erase(it);
    if (s->threads == 0) {
      if (s->owner_adopted) reclaim = s->owner;
      s->done_cv.notify_all();
    }
  }  // past this point the thread touches neither the owner nor the pool (but `s`)
  // The runtime was destroyed while this thread's job ran past a shutdown timeout: the owner
  // was kept alive for the jobs (scheduler::current() of their threads) and goes now. Its
  // pool's shutdown finds no thread left; `s` outlives it here.
  tl_pool = nullptr;  // the owner's destructor below runs as from outside the pool
  if (reclaim) delete reclaim;
}

bool blocking_pool::adopt_owner() noexcept {
  std::lock_guard lk(s_->m);
  if (!s_->closed || s_->threads == 0) return false;
  s_->owner_adopted = true;
  return true;
}

bool blocking_pool::shutdown(std::chrono::nanoseconds timeout) {
  blocking_job* dropped = nullptr;
  {
    std::lock_guard lk(s_->m);
    if (!s_->closed) {
      s_->closed = true;
      dropped = s_->head;
      s_->head = s_->tail = nullptr;
      s_->queued = 0;
    }
  }
  s_->work_cv.notify_all();
  while (dropped) {
    blocking_job* next = dropped->next;
    dropped->drop(dropped);
    dropped = next;
  }
  std::vector<std::thread> to_join, to_detach;
  bool all_done;
  {
    std::unique_lock lk(s_->m);
    auto done = [&] { return s_->threads == 0; };
    if (timeout == std::chrono::nanoseconds::max())
      s_->done_cv.wait(lk, done);
    else
      s_->done_cv.wait_for(lk, timeout, done);
    all_done = done();
    to_join.swap(s_->exited);
    if (!all_done)
      for (auto& [id, t] : s_->running)
        if (t.joinable()) to_detach.push_back(std::move(t));  // not by an earlier call
  }
  for (auto& t : to_join)
    if (t.joinable()) t.join();  // a detached thread leaves an empty handle there
  for (auto& t : to_detach) t.detach();  // still running a job: they co-own `shared`
  return all_done;
}

blocking_pool_stats blocking_pool::stats() const {
  std::lock_guard lk(s_->m);
  blocking_pool_stats st;
  st.threads = s_->threads;
  st.idle = s_->idle;
  st.queued = s_->queued;
  st.spawned = s_->spawned;
  st.peak_threads = s_->peak;
  return st;
}

}  // namespace zokio::detail

#endif
