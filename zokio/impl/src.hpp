// Every out-of-line body of the compiled library; included once by zokio/src.cpp.
#ifndef ZOKIO_IMPL_SRC_HPP
#define ZOKIO_IMPL_SRC_HPP

#if defined(ZOKIO_HEADER_ONLY)
#error Do not compile Zokio library source with ZOKIO_HEADER_ONLY defined
#endif

#include <zokio/impl/blocking_pool.ipp>
#include <zokio/impl/scheduler.ipp>
#include <zokio/impl/scheduler_launch.ipp>
#include <zokio/impl/scheduler_queue.ipp>
#include <zokio/impl/scheduler_worker.ipp>
#include <zokio/impl/current_thread.ipp>
#include <zokio/impl/io_driver.ipp>
#include <zokio/impl/scheduler_metrics.ipp>
#include <zokio/impl/sim_core.ipp>
#include <zokio/impl/stall_watchdog.ipp>
#include <zokio/impl/task_dump.ipp>
#include <zokio/impl/task_header.ipp>
#include <zokio/impl/task_registry.ipp>
#include <zokio/impl/trace_recorder.ipp>
#include <zokio/impl/topology.ipp>
#if defined(_WIN32)
#include <zokio/impl/platform_windows.ipp>
#else
#include <zokio/impl/platform_linux.ipp>
#endif
#include <zokio/impl/wake_gate.ipp>

// The feature sets of the default configurations, compiled once (basic_scheduler.hpp declares
// them extern): runtime_config{} and runtime_config{.enable_metrics = true}.
#include <zokio/detail/basic_scheduler.hpp>
namespace zokio::detail {
template class basic_scheduler<scheduler_features{}>;
template class basic_scheduler<scheduler_features{.metrics = true}>;
}  // namespace zokio::detail

#endif
