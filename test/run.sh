#!/usr/bin/env bash
# Quick start 2: installs what is missing, then builds and runs every test through ctest:
#   1. Release build (g++): all suites, examples, the install-tree consumer; perf is built.
#   2. ThreadSanitizer build (clang): the concurrency suites (label tsan).
#   3. AddressSanitizer + UBSan build (clang, LeakSanitizer on): the memory suites (label asan).
#   4. b2: the library, one test suite and an example through the Jamroot.
#   5. Windows: mingw-w64 cross build of the portable suites and examples, run under Wine
#      (test/windows.sh, doc/platforms.md).
# ZOKIO_TEST_STAGES="release tsan asan b2 windows" selects stages (default: all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/.ci/install_deps.sh"
stages=${ZOKIO_TEST_STAGES:-"release tsan asan b2 windows"}
extra=(clang libclang-rt-14-dev gdb)
[[ " $stages " == *" windows "* ]] && extra+=(g++-mingw-w64-x86-64-posix wine64)
zokio_install_deps "${extra[@]}"
jobs=$(nproc)
start=$(date +%s)

has() { [[ " $stages " == *" $1 "* ]]; }
stage() { echo; echo "=== $1 ($(( $(date +%s) - start )) s elapsed)"; }

if has release; then
  stage "release build (g++)"
  cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DZOKIO_BUILD_PERF=ON >/dev/null
  cmake --build "$root/build/release" -j "$jobs"
  # Label "parallel": tests that time nothing (Relacy models, the install-tree consumer, the
  # benchmarks' smoke run, which checks results only, the fixed-time stress programs) run side
  # by side; the rest one at a time.
  ctest --test-dir "$root/build/release" --output-on-failure -j "$jobs" -L parallel
  ctest --test-dir "$root/build/release" --output-on-failure -j 1 -LE parallel
fi
if has tsan; then
  stage "ThreadSanitizer build (clang)"
  CC=clang CXX=clang++ cmake -S "$root" -B "$root/build/tsan" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZOKIO_SANITIZE=thread \
    -DZOKIO_BUILD_PERF=OFF -DZOKIO_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$root/build/tsan" -j "$jobs"
  ctest --test-dir "$root/build/tsan" --output-on-failure -j "$jobs" -L stress
  ctest --test-dir "$root/build/tsan" --output-on-failure -L tsan -LE stress
fi
if has asan; then
  stage "AddressSanitizer + UBSan build (clang)"
  CC=clang CXX=clang++ cmake -S "$root" -B "$root/build/asan" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZOKIO_SANITIZE=address -DZOKIO_BUILD_PERF=OFF >/dev/null
  cmake --build "$root/build/asan" -j "$jobs"
  # The fuzz targets and the stress programs run side by side (fixed time each, so on 2 cores
  # each gets a share of the CPU time it had alone); the rest one at a time.
  ctest --test-dir "$root/build/asan" --output-on-failure -L "fuzz|stress" -j 5
  ctest --test-dir "$root/build/asan" --output-on-failure -L asan -LE "fuzz|stress"
fi
if has b2; then
  stage "b2 (Jamroot): library, future_tests, hello_world"
  (cd "$root" && b2 -j "$jobs" -q test//future_tests example//hello_world)
fi
if has windows; then
  stage "Windows: mingw-w64 cross build, tests under Wine"
  bash "$root/test/windows.sh"
fi
stage "all stages passed"
