// Tests for detail::idle: searching limits and the sleeper hand-off.
#include <zokio/detail/idle.hpp>  // self-contained header check

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(idle_suite)

BOOST_AUTO_TEST_CASE(at_most_half_search) {
  zokio::detail::idle idle(4);
  BOOST_TEST(idle.transition_to_searching());
  BOOST_TEST(idle.transition_to_searching());
  BOOST_TEST(!idle.transition_to_searching());  // 2 of 4 already searching
  BOOST_TEST(!idle.transition_from_searching());
  BOOST_TEST(idle.transition_from_searching());  // the last one
}

BOOST_AUTO_TEST_CASE(notify_wakes_one_sleeper_as_searching) {
  zokio::detail::idle idle(2);
  BOOST_TEST(!idle.needs_notify());
  idle.register_sleeper(0);
  idle.register_sleeper(1);
  BOOST_TEST(idle.needs_notify());
  int w = idle.pop_sleeper();
  BOOST_TEST((w == 0 || w == 1));
  BOOST_TEST(idle.num_searching() == 1u);
  BOOST_TEST(!idle.needs_notify());  // a searcher now exists: no second wake
  BOOST_TEST(!idle.unregister_sleeper(static_cast<unsigned>(w)));  // it was woken
  BOOST_TEST(idle.unregister_sleeper(static_cast<unsigned>(1 - w)));  // still registered
  BOOST_TEST(idle.transition_from_searching());
}

BOOST_AUTO_TEST_SUITE_END()
