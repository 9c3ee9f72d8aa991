#!/usr/bin/env bash
# Installs the dependencies, builds murmur warning-free from a clean build directory and runs
# the whole test suite with ctest (plus a short fuzzing run of the frame decoder).
#   scripts/test.sh            build dir: build-test/
#   MURMUR_FUZZ_SECONDS=0 scripts/test.sh    skip the fuzzing run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
build=${MURMUR_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMURMUR_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

fuzz_seconds=${MURMUR_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" -gt 0 ] && [ -x scripts/fuzz.sh ]; then
  bash scripts/fuzz.sh "$fuzz_seconds"
fi

cd "$build"
ctest --output-on-failure --timeout 600 -j 2
