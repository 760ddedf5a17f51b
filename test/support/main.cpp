// The Boost.Test main of every test executable (explicit, so it works behind the PCH).
#if defined(ZOKIO_TEST_INCLUDED_RUNNER)
// Windows builds have no compiled Boost.Test: its header-only runner, compiled here once
// (with BOOST_TEST_NO_MAIN and BOOST_TEST_ALTERNATIVE_INIT_API, as test/CMakeLists.txt sets).
#include <boost/test/included/unit_test.hpp>
#else
#include <boost/test/unit_test.hpp>
#endif

namespace {
bool init_zokio_tests() {
  boost::unit_test::framework::master_test_suite().p_name.value = "zokio";
  return true;
}
}  // namespace

int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_zokio_tests, argc, argv);
}
