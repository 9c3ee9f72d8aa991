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
  # libFuzzer prints a line per corpus change; keep them in a log and show the verdict.
  fuzz_log="$build/fuzz.log"
  if bash scripts/fuzz.sh "$fuzz_seconds" >"$fuzz_log" 2>&1; then
    echo "fuzz: frame decoder fuzzed for ${fuzz_seconds}s, no crash ($(grep -c . "$fuzz_log") log lines in $fuzz_log)"
  else
    tail -n 40 "$fuzz_log"
    echo "fuzz: the frame decoder fuzzer FAILED (full log: $fuzz_log)" >&2
    exit 1
  fi
fi

cd "$build"
ctest --output-on-failure --timeout 600 -j 2
