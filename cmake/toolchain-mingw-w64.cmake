# Cross build for 64-bit Windows with Debian's mingw-w64 (g++-mingw-w64-x86-64-posix: the
# posix thread model, which std::thread needs), run under Wine (wine64) by ctest:
#   cmake -S . -B build/windows -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake
# test/windows.sh does this and runs the portable suites (doc/platforms.md).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

# Libraries and packages from the mingw sysroot only: the host's (oneTBB, libnuma, Boost's
# compiled parts) are Linux binaries.
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Boost's headers are platform-neutral: the host's serve (header-only use, see CMakeLists.txt).
set(ZOKIO_BOOST_INCLUDE_DIR /usr/include CACHE PATH "The directory holding boost/")

# libstdc++ and libgcc linked in; winpthread as its DLL (libwinpthread-1.dll, found through
# WINEPATH=/usr/x86_64-w64-mingw32/lib under Wine; shipped beside the .exe otherwise): with a
# static winpthread, thread_local destructors run after the thread's emulated TLS is gone
# (a 20-line program without Zokio crashes in free() at thread exit; doc/platforms.md).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

# ctest starts test executables through Wine (add_test with a target as its command).
find_program(ZOKIO_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(ZOKIO_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ZOKIO_WINE})
endif()
