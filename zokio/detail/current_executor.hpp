// zokio::detail::current_executor: an Asio executor of the runtime the calling thread runs in,
// for the I/O objects a toolkit type makes for itself (signal listeners, child processes).
#ifndef ZOKIO_DETAIL_CURRENT_EXECUTOR_HPP
#define ZOKIO_DETAIL_CURRENT_EXECUTOR_HPP

#include <boost/system/system_error.hpp>

#include <zokio/detail/scheduler.hpp>
#include <zokio/error.hpp>
#include <zokio/executor.hpp>

namespace zokio::detail {

/// Unplaced (each I/O object made from it goes to the next worker). Throws
/// `system_error(errc::no_runtime)` on a thread that runs no runtime (a worker or a block_on).
inline zokio::executor current_executor() {
  auto* s = scheduler::current();
  if (!s) throw boost::system::system_error(make_error_code(errc::no_runtime));
  return zokio::executor(*s, zokio::executor::unplaced);
}

}  // namespace zokio::detail

#endif
