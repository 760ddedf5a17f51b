// The Boost.Test main of every test executable (explicit, so it works behind the PCH).
#include <boost/test/unit_test.hpp>

namespace {
bool init_zokio_tests() {
  boost::unit_test::framework::master_test_suite().p_name.value = "zokio";
  return true;
}
}  // namespace

int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_zokio_tests, argc, argv);
}
