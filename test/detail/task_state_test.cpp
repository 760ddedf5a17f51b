// The task state machine (zokio/detail/task_state.hpp) on its own: each named transition's
// result code and the word it leaves, from each state it can meet. Concurrency is checked by
// the Relacy model (test/relacy/task_state_model.cpp) and the runtime suites.
#include <zokio/detail/task_state.hpp>

#include <boost/test/unit_test.hpp>

namespace ts = zokio::detail::task_state;
using ts::CANCELLED;
using ts::COMPLETE;
using ts::JOIN_INTEREST;
using ts::JOIN_WAKER;
using ts::NOTIFIED;
using ts::REF_ONE;
using ts::RUNNING;

namespace {
// A freshly spawned task: queued (NOTIFIED), joinable, three references (handle, queue
// entry, owned list), as scheduler::spawn makes it.
constexpr std::uint64_t spawned = NOTIFIED | JOIN_INTEREST | 3 * REF_ONE;

std::uint64_t flags(const ts::word& w) { return w.load() & ts::FLAGS_MASK; }
std::uint64_t refs(const ts::word& w) { return ts::ref_count(w.load()); }
}  // namespace

BOOST_AUTO_TEST_SUITE(task_state_suite)

BOOST_AUTO_TEST_CASE(a_spawned_task_runs_goes_idle_is_woken_and_completes) {
  ts::word w{spawned};
  BOOST_TEST((ts::to_running(w) == ts::run_result::success));
  BOOST_TEST(flags(w) == (RUNNING | JOIN_INTEREST));
  BOOST_TEST(refs(w) == 3u);  // the entry's reference is the run's now
  // Pending, not woken: idle, the run's reference dropped.
  BOOST_TEST((ts::to_idle(w) == ts::idle_result::idle));
  BOOST_TEST(flags(w) == JOIN_INTEREST);
  BOOST_TEST(refs(w) == 2u);
  // A wake of an idle task submits it, with a reference for the entry; a second coalesces.
  BOOST_TEST((ts::to_notified_by_ref(w) == ts::notify_result::submit));
  BOOST_TEST(flags(w) == (NOTIFIED | JOIN_INTEREST));
  BOOST_TEST(refs(w) == 3u);
  BOOST_TEST((ts::to_notified_by_ref(w) == ts::notify_result::done));
  BOOST_TEST(refs(w) == 3u);
  BOOST_TEST((ts::to_running(w) == ts::run_result::success));
  // The run's and the owned list's references go in the COMPLETE RMW; the result is the
  // join side's (nothing dropped).
  bool dropped = false;
  const auto r = ts::to_complete(w, 2, [&] { dropped = true; });
  BOOST_TEST(!r.join_waker);
  BOOST_TEST(!r.last);
  BOOST_TEST(!dropped);
  BOOST_TEST(flags(w) == (COMPLETE | JOIN_INTEREST));
  BOOST_TEST(refs(w) == 1u);  // the handle's
  // A wake after completion does nothing.
  BOOST_TEST((ts::to_notified_by_ref(w) == ts::notify_result::done));
  BOOST_TEST(flags(w) == (COMPLETE | JOIN_INTEREST));
}

BOOST_AUTO_TEST_CASE(a_wake_during_the_poll_requeues_it_and_keeps_the_reference) {
  ts::word w{spawned};
  BOOST_TEST((ts::to_running(w) == ts::run_result::success));
  BOOST_TEST((ts::to_notified_by_ref(w) == ts::notify_result::done));  // running: no entry
  BOOST_TEST(flags(w) == (RUNNING | NOTIFIED | JOIN_INTEREST));
  BOOST_TEST((ts::to_idle(w) == ts::idle_result::requeue));
  BOOST_TEST(flags(w) == (NOTIFIED | JOIN_INTEREST));
  BOOST_TEST(refs(w) == 3u);  // the run's reference moved to the new entry
}

BOOST_AUTO_TEST_CASE(wake_by_value_consumes_or_hands_over_the_reference) {
  ts::word w{JOIN_INTEREST | 3 * REF_ONE};  // idle; one of the references is a waker's
  BOOST_TEST((ts::to_notified_by_val(w) == ts::notify_by_val_result::submit));
  BOOST_TEST(refs(w) == 3u);  // the waker's reference became the entry's
  w.fetch_add(REF_ONE);       // another waker
  BOOST_TEST((ts::to_notified_by_val(w) == ts::notify_by_val_result::done));  // coalesced
  BOOST_TEST(refs(w) == 3u);
  BOOST_TEST((ts::to_running(w) == ts::run_result::success));
  w.fetch_add(REF_ONE);
  BOOST_TEST((ts::to_notified_by_val(w) == ts::notify_by_val_result::done));  // on RUNNING
  BOOST_TEST(flags(w) == (RUNNING | NOTIFIED | JOIN_INTEREST));
  BOOST_TEST(refs(w) == 3u);
  ts::to_complete(w, 0, [] {});
  BOOST_TEST((ts::to_notified_by_val(w) == ts::notify_by_val_result::drop_ref));
}

BOOST_AUTO_TEST_CASE(the_last_reference_is_reported_once) {
  ts::word w{JOIN_INTEREST | RUNNING | 1 * REF_ONE};  // only the run holds it
  BOOST_TEST((ts::to_idle(w) == ts::idle_result::last));
  ts::word v{3 * REF_ONE};
  BOOST_TEST(!ts::ref_dec(v));
  BOOST_TEST(!ts::ref_dec(v));
  BOOST_TEST(ts::ref_dec(v));
  ts::word u{5 * REF_ONE};
  BOOST_TEST(!ts::ref_dec(u, 2));
  BOOST_TEST(ts::ref_dec(u, 3));
}

BOOST_AUTO_TEST_CASE(a_claim_takes_a_task_that_has_not_started_and_its_entry_goes_stale) {
  ts::word w{spawned};
  BOOST_TEST(ts::claim(w));
  BOOST_TEST(flags(w) == (RUNNING | JOIN_INTEREST));
  BOOST_TEST(refs(w) == 4u);  // + the run's own; the entry keeps its one
  BOOST_TEST(!ts::claim(w));  // running: not claimable
  // The stale entry, popped while the claimed run goes on, or after it completed.
  BOOST_TEST((ts::to_running(w) == ts::run_result::stale));
  BOOST_TEST((ts::to_idle(w) == ts::idle_result::idle));
  BOOST_TEST((ts::to_running(w) == ts::run_result::stale));  // idle, not notified
  BOOST_TEST(flags(w) == JOIN_INTEREST);
  // Not claimable: idle without a wake, complete, or aborted.
  BOOST_TEST(!ts::claim(w));
  ts::word c{spawned | CANCELLED};
  BOOST_TEST(!ts::claim(c));
  ts::word d{COMPLETE | JOIN_INTEREST | REF_ONE};
  BOOST_TEST(!ts::claim(d));
  BOOST_TEST((ts::to_running(d) == ts::run_result::stale));
}

BOOST_AUTO_TEST_CASE(cancel_from_each_state) {
  ts::word idle{JOIN_INTEREST | 2 * REF_ONE};
  BOOST_TEST((ts::cancel(idle) == ts::abort_result::submit));  // queued so a worker drops it
  BOOST_TEST(flags(idle) == (CANCELLED | NOTIFIED | JOIN_INTEREST));
  BOOST_TEST(refs(idle) == 3u);
  BOOST_TEST((ts::to_running(idle) == ts::run_result::cancelled));
  ts::word queued{spawned};
  BOOST_TEST((ts::cancel(queued) == ts::abort_result::done));  // its entry sees CANCELLED
  BOOST_TEST((ts::to_running(queued) == ts::run_result::cancelled));
  ts::word running{RUNNING | JOIN_INTEREST | 2 * REF_ONE};
  BOOST_TEST((ts::cancel(running) == ts::abort_result::done));
  BOOST_TEST((ts::to_idle(running) == ts::idle_result::cancelled));  // still RUNNING
  BOOST_TEST((flags(running) & RUNNING) != 0u);
  ts::word done{COMPLETE | JOIN_INTEREST | REF_ONE};
  BOOST_TEST((ts::cancel(done) == ts::abort_result::done));
  BOOST_TEST(flags(done) == (COMPLETE | JOIN_INTEREST));  // no CANCELLED after COMPLETE
}

BOOST_AUTO_TEST_CASE(join_waker_hand_off) {
  ts::word w{JOIN_INTEREST | 2 * REF_ONE};
  BOOST_TEST(ts::set_join_waker(w));
  BOOST_TEST(ts::has_join_waker(w));
  BOOST_TEST(ts::unset_join_waker(w));  // taken back to write another waker
  BOOST_TEST(!ts::has_join_waker(w));
  BOOST_TEST(ts::set_join_waker(w));
  w.fetch_or(RUNNING);
  const auto r = ts::to_complete(w, 1, [] {});
  BOOST_TEST(r.join_waker);  // the task side wakes it
  BOOST_TEST(!r.last);
  BOOST_TEST(refs(w) == 2u);  // kept for the slot's read: the caller drops them after the wake
  BOOST_TEST(!ts::unset_join_waker(w));  // completed: the slot stays with the task side
  BOOST_TEST(!ts::set_join_waker(w));
  // Nobody joins: the task side drops the result before COMPLETE, then its references; the
  // last one frees.
  ts::word detached{RUNNING | 2 * REF_ONE};
  int drops = 0;
  const auto d = ts::to_complete(detached, 2, [&] {
    BOOST_TEST((detached.load() & COMPLETE) == 0u);  // still the task side's result
    ++drops;
  });
  BOOST_TEST(drops == 1);
  BOOST_TEST(d.last);
  BOOST_TEST(!d.join_waker);
  ts::word waker_left{RUNNING | JOIN_WAKER | 3 * REF_ONE};  // handle dropped, slot left set
  BOOST_TEST(!ts::to_complete(waker_left, 2, [] {}).join_waker);  // nobody to wake
  BOOST_TEST(refs(waker_left) == 1u);
}

BOOST_AUTO_TEST_CASE(a_joiner_that_ran_the_task_inline_publishes_in_one_rmw) {
  ts::word w{spawned};
  BOOST_TEST(ts::claim(w));  // RUNNING, + the run's reference; the entry goes stale
  BOOST_TEST(refs(w) == 4u);
  w.fetch_add(REF_ONE);  // a waker the poll cloned
  // Run, handle and owned list: the stale entry and the waker keep it alive.
  BOOST_TEST(!ts::to_complete_joined(w, 3));
  BOOST_TEST(flags(w) == COMPLETE);  // the join interest went with the handle's reference
  BOOST_TEST(refs(w) == 2u);
  BOOST_TEST((ts::to_running(w) == ts::run_result::stale));  // the entry drops its own
  BOOST_TEST(!ts::ref_dec(w));
  BOOST_TEST(ts::ref_dec(w));  // the waker's, last
  // Entry taken back and the owned list's reference handed to its owner: two of three.
  ts::word v{spawned};
  BOOST_TEST((ts::to_running(v) == ts::run_result::success));
  BOOST_TEST(!ts::to_complete_joined(v, 2));
  BOOST_TEST(refs(v) == 1u);
  ts::word only{spawned};
  BOOST_TEST((ts::to_running(only) == ts::run_result::success));
  BOOST_TEST(ts::to_complete_joined(only, 3));  // all of them: the caller frees
}

BOOST_AUTO_TEST_CASE(dropping_the_join_handle) {
  // Before completion, no waker: one RMW clears the interest and drops the reference.
  ts::word a{NOTIFIED | JOIN_INTEREST | 2 * REF_ONE};
  bool last = true;
  BOOST_TEST((ts::drop_join_handle(a, last) == ts::handle_drop::freed_or_done));
  BOOST_TEST(!last);
  BOOST_TEST(flags(a) == NOTIFIED);
  BOOST_TEST(refs(a) == 1u);
  ts::word only{JOIN_INTEREST | REF_ONE};
  BOOST_TEST((ts::drop_join_handle(only, last) == ts::handle_drop::freed_or_done));
  BOOST_TEST(last);
  // With a registered waker: the slot comes back to the handle, which resets it.
  ts::word b{JOIN_INTEREST | JOIN_WAKER | 2 * REF_ONE};
  BOOST_TEST((ts::drop_join_handle(b, last) == ts::handle_drop::reset_waker));
  BOOST_TEST(flags(b) == 0u);
  BOOST_TEST(refs(b) == 2u);  // the caller drops its reference after the reset
  // After completion: drop the result, then interest and reference in one RMW.
  ts::word c{COMPLETE | JOIN_INTEREST | JOIN_WAKER | 2 * REF_ONE};
  BOOST_TEST((ts::drop_join_handle(c, last) == ts::handle_drop::drop_output));
  BOOST_TEST(!ts::release_join_interest(c));
  BOOST_TEST(flags(c) == (COMPLETE | JOIN_WAKER));
  BOOST_TEST(ts::ref_dec(c));
}

BOOST_AUTO_TEST_CASE(shutdown_takes_every_task_that_is_not_complete) {
  ts::word idle{JOIN_INTEREST | 2 * REF_ONE};
  BOOST_TEST(ts::to_shutdown(idle));
  BOOST_TEST((flags(idle) & RUNNING) != 0u);
  ts::word queued{spawned};
  BOOST_TEST(ts::to_shutdown(queued));
  ts::word done{COMPLETE | REF_ONE};
  BOOST_TEST(!ts::to_shutdown(done));
}

BOOST_AUTO_TEST_SUITE_END()
