#!/usr/bin/env bash
# Quick start 1: installs what is missing, builds Zokio and runs the hello_world example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/.ci/install_deps.sh"
zokio_install_deps
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build/release" --target hello_world
"$root/build/release/example/hello_world"
