// Precompiled header for the tests: Boost.Test and the whole Zokio API.
#include <boost/test/unit_test.hpp>
#include <boost/asio.hpp>
#include <zokio/zokio.hpp>
