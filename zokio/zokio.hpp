// Umbrella header: the whole public API of Zokio.
#ifndef ZOKIO_ZOKIO_HPP
#define ZOKIO_ZOKIO_HPP

#include <zokio/block_on.hpp>
#include <zokio/context.hpp>
#include <zokio/error.hpp>
#include <zokio/executor.hpp>
#include <zokio/future.hpp>
#include <zokio/join_handle.hpp>
#include <zokio/metrics.hpp>
#include <zokio/poll.hpp>
#include <zokio/runtime.hpp>
#include <zokio/runtime_config.hpp>
#include <zokio/spawn.hpp>
#include <zokio/task.hpp>
#include <zokio/use_future.hpp>
#include <zokio/version.hpp>
#include <zokio/waker.hpp>

#endif
