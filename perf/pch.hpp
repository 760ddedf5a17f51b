// Precompiled header of the benchmarks (perf/CMakeLists.txt): Asio and the whole Zokio API,
// parsed once per build instead of once per benchmark. Not part of any benchmark.
#include <boost/asio.hpp>
#include <zokio/zokio.hpp>
