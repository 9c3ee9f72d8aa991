#!/usr/bin/env bash
# Builds murmur and its tests with AddressSanitizer and UndefinedBehaviorSanitizer (build dir
# build-asan/, RelWithDebInfo) and runs the whole ctest suite under them. Slower than
# scripts/test.sh (about 3x); run it before a change to memory-handling code lands.
#   scripts/sanitize.sh [extra ctest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${MURMUR_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMURMUR_WERROR=ON \
  -DMURMUR_BUILD_BENCH=OFF -DMURMUR_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j "$(nproc)"
# Leak checking stays off: OpenMP's thread pool and oneDNN's primitive cache live until exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure --timeout 1200 -j 2 "$@"
