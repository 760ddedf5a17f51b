// Group header: the async synchronization primitives (locks, notify, barrier) and channels.
#ifndef ZOKIO_SYNC_HPP
#define ZOKIO_SYNC_HPP

#include <zokio/barrier.hpp>
#include <zokio/broadcast.hpp>
#include <zokio/cancellation_token.hpp>
#include <zokio/mpmc.hpp>
#include <zokio/mpsc.hpp>
#include <zokio/mutex.hpp>
#include <zokio/notify.hpp>
#include <zokio/oneshot.hpp>
#include <zokio/rwlock.hpp>
#include <zokio/semaphore.hpp>
#include <zokio/watch.hpp>

#endif
