// Precompiled header of the example programs (example/CMakeLists.txt): Asio and the whole
// Zokio API, parsed once per build instead of once per program. Not part of any example.
#include <boost/asio.hpp>
#include <zokio/zokio.hpp>
