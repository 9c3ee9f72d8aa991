#!/usr/bin/env bash
# Installs the dependencies, builds murmur warning-free from a clean build directory and runs
# the whole test suite with ctest (plus a short fuzzing run of the frame decoder).
#   scripts/test.sh            build dir: build-test/
#   MURMUR_FUZZ_SECONDS=0 scripts/test.sh    skip the fuzzing run
# The fuzzing run is repeatable: a fixed seed and number of inputs (MURMUR_FUZZ_SEED,
# MURMUR_FUZZ_RUNS), capped at MURMUR_FUZZ_SECONDS. A CI verdict should not depend on luck;
# open-ended exploration is `scripts/fuzz.sh SECONDS` (a new random seed each call).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
build=${MURMUR_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMURMUR_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

fuzz_seconds=${MURMUR_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ] && [ -x scripts/fuzz.sh ]; then
  # libFuzzer prints a line per corpus change; keep them in a log and show the verdict.
  fuzz_log="$build/fuzz.log"
  fuzz_seed=${MURMUR_FUZZ_SEED:-1}
  fuzz_runs=${MURMUR_FUZZ_RUNS:-500000}
  if bash scripts/fuzz.sh "$fuzz_seconds" -seed="$fuzz_seed" -runs="$fuzz_runs" >"$fuzz_log" 2>&1; then
    echo "fuzz: frame decoder, seed $fuzz_seed: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$fuzz_log" || echo "stopped at ${fuzz_seconds}s"), no crash (log: $fuzz_log)"
  else
    tail -n 40 "$fuzz_log"
    echo "fuzz: the frame decoder fuzzer FAILED (full log: $fuzz_log)" >&2
    exit 1
  fi
fi

# The docker cluster test (tests/docker/cluster_smoke.sh) needs the locally built base image;
# where a Docker engine answers, build it once (3-5 minutes, at most 15; reused after). Best
# effort: when it cannot be built, that test SKIPs and says why. MURMUR_DOCKER_BASE=0 skips it.
if [ "${MURMUR_DOCKER_BASE:-1}" != 0 ] && command -v docker >/dev/null 2>&1 \
   && timeout 30 docker info >/dev/null 2>&1 \
   && ! docker image inspect murmur-base:bookworm >/dev/null 2>&1; then
  if timeout 900 bash scripts/docker_build.sh --base-only >"$build/docker-base.log" 2>&1; then
    echo "docker: built murmur-base:bookworm for the docker cluster test"
  else
    echo "docker: could not build murmur-base:bookworm (log: $build/docker-base.log);" \
         "docker_cluster_smoke will skip"
  fi
fi

cd "$build"
ctest --output-on-failure --timeout 600 -j 2
