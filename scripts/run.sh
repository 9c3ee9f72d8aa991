#!/usr/bin/env bash
# Installs the dependencies, builds murmur and runs the main job: a local cluster (4 nodes on a
# ring, EventGraD) training lenet5 on Fashion-MNIST. Extra arguments go to `murmur run`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target murmur
exec ./build/murmur run "$@"
