// The single translation unit of libzokio (CMake and b2 alike).
#include <zokio/impl/src.hpp>
