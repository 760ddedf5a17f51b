// Tests for detail::inject_queue: tasks and batches in order, the length hint, and (in ASan
// builds) that a live queue's nodes are never reported by LeakSanitizer.
#include <zokio/detail/inject_queue.hpp>  // self-contained header check

#include <memory>

#include <boost/test/unit_test.hpp>

#if ZOKIO_LSAN
#  include <sanitizer/lsan_interface.h>
#endif

namespace {

using zokio::detail::inject_batch;
using zokio::detail::inject_queue;
using zokio::detail::task_header;

// Fake task pointers: the queue never dereferences a task (aligned, so the batch bit is free).
task_header* fake(std::uintptr_t i) { return reinterpret_cast<task_header*>(i * 64); }

// Out of line so that no plain copy of a node pointer is left in the caller's live frame.
[[gnu::noinline]] std::unique_ptr<inject_queue> make_used_queue() {
  auto q = std::make_unique<inject_queue>(1024);
  for (std::uintptr_t i = 1; i <= 2000; ++i) q->push(fake(i));  // past the preallocated nodes
  for (int i = 0; i < 1990; ++i) {
    auto e = q->pop();
    if (e) q->taken(1);
  }
  return q;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(inject_queue_suite)

BOOST_AUTO_TEST_CASE(tasks_and_batches_come_out_in_order) {
  inject_queue q(4);
  BOOST_TEST(q.empty());
  q.push(fake(1));
  inject_batch* b = inject_batch::create(3);
  b->items[0] = fake(2);
  b->items[1] = fake(3);
  b->n = 2;
  q.push(b);
  q.push(fake(4));
  BOOST_TEST(q.size_hint() == 4u);  // the batch counts its tasks

  auto e = q.pop();
  BOOST_TEST((e && !e.is_batch() && e.task() == fake(1)));
  q.taken(1);
  e = q.pop();
  BOOST_TEST((e && e.is_batch() && e.batch() == b && e.batch()->n == 2u));
  BOOST_TEST((e.batch()->items[1] == fake(3)));
  q.taken(e.batch()->n);
  inject_batch::destroy(e.batch());
  e = q.pop();
  BOOST_TEST((e && e.task() == fake(4)));
  q.taken(1);
  BOOST_TEST(!q.pop());
  BOOST_TEST(q.size_hint() == 0u);
}

// Regression (CI, fuzz_http_request): Boost.Lockfree tags the top bits of its node pointers,
// which LeakSanitizer cannot follow, so a leak check during a runtime's life reported the
// injector's nodes. Fails on the old allocator (without __lsan_ignore_object).
BOOST_AUTO_TEST_CASE(live_queue_nodes_are_not_reported_as_leaks) {
  auto q = make_used_queue();
  BOOST_TEST(q->size_hint() == 10u);
#if ZOKIO_LSAN
  BOOST_TEST(__lsan_do_recoverable_leak_check() == 0);
#endif
  int left = 0;
  while (auto e = q->pop()) {
    q->taken(1);
    ++left;
  }
  BOOST_TEST(left == 10);
}

BOOST_AUTO_TEST_SUITE_END()
