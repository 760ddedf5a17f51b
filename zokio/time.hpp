// The time utilities in one include: sleep, sleep_until, interval, timeout (doc/time.md).
#ifndef ZOKIO_TIME_HPP
#define ZOKIO_TIME_HPP

#include <zokio/interval.hpp>
#include <zokio/sleep.hpp>
#include <zokio/timeout.hpp>

#endif
