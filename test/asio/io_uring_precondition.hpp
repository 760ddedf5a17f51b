// The precondition of the tests that need io_uring (asio::stream_file, random_access_file):
// without it they are reported as skipped, with the reason, instead of passing untested.
#ifndef ZOKIO_TEST_ASIO_IO_URING_PRECONDITION_HPP
#define ZOKIO_TEST_ASIO_IO_URING_PRECONDITION_HPP

#include <string>

#include <boost/test/unit_test.hpp>

#include <zokio/runtime.hpp>

#include "../support/stderr_capture.hpp"

namespace zokio::test {

/// True when a runtime built now, in this environment, runs io_uring on its workers. Else the
/// message is the runtime's own fallback line (ZOKIO_FORCE_NO_IO_URING=1, the kernel's
/// refusal, ...), or says that this build has no io_uring support.
/// Use: `BOOST_AUTO_TEST_CASE(name, *boost::unit_test::precondition(io_uring_available))`.
inline boost::test_tools::assertion_result io_uring_available(boost::unit_test::test_unit_id) {
  bool active = false;
  std::string log;
  {
    stderr_capture cap;
    {
      auto rt = zokio::runtime::builder().worker_threads(1).build();
      active = rt.io_uring_active();
    }
    log = cap.text();
  }
  boost::test_tools::assertion_result r(active);
  if (!active) {
    const auto at = log.find("zokio: io_uring");
    if (at != std::string::npos) {
      const auto end = log.find('\n', at);
      r.message() << "io_uring unavailable here (" << log.substr(at, end - at) << ")";
    } else {
      r.message() << "io_uring unavailable here: the runtime reports none and logged no reason "
                     "(Asio built without BOOST_ASIO_HAS_IO_URING?)";
    }
  }
  return r;
}

}  // namespace zokio::test

#endif
