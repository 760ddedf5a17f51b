// Umbrella header: the whole public API of Zokio, except zokio/fiber.hpp (it needs
// Boost.Context linked). Headers are flat, one concept each, as Asio's are; zokio/time.hpp,
// zokio/sync.hpp and zokio/combinators.hpp group the toolkit by area.
#ifndef ZOKIO_ZOKIO_HPP
#define ZOKIO_ZOKIO_HPP

#include <zokio/actor.hpp>
#include <zokio/allocation.hpp>
#include <zokio/allocator.hpp>
#include <zokio/async_generator.hpp>
#include <zokio/block_on.hpp>
#include <zokio/blocking.hpp>
#include <zokio/combinators.hpp>
#include <zokio/context.hpp>
#include <zokio/error.hpp>
#include <zokio/task_dump.hpp>
#include <zokio/task_id.hpp>
#include <zokio/executor.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/join_set.hpp>
#include <zokio/metrics.hpp>
#include <zokio/poll.hpp>
#include <zokio/priority.hpp>
#include <zokio/runtime.hpp>
#include <zokio/unhandled_exception.hpp>
#include <zokio/runtime_config.hpp>
#include <zokio/signal.hpp>
#include <zokio/spawn.hpp>
#include <zokio/stream.hpp>
#include <zokio/stream_ext.hpp>
#include <zokio/sync.hpp>
#include <zokio/task.hpp>
#include <zokio/task_local.hpp>
#include <zokio/task_scope.hpp>
#include <zokio/task_tracker.hpp>
#include <zokio/thread_per_core.hpp>
#include <zokio/time.hpp>
#include <zokio/topology.hpp>
#include <zokio/use_future.hpp>
#include <zokio/version.hpp>
#include <zokio/waker.hpp>

#endif
