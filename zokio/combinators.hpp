// Group header: join, join_all, select / race, try_join.
#ifndef ZOKIO_COMBINATORS_HPP
#define ZOKIO_COMBINATORS_HPP

#include <zokio/join.hpp>
#include <zokio/join_all.hpp>
#include <zokio/select.hpp>
#include <zokio/try_join.hpp>

#endif
