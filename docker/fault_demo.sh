#!/usr/bin/env bash
# The fault-injection run recorded in docs/DOCKER.md: a 4-node ring on full Fashion-MNIST
# (12 epochs, ~2 minutes on 2 cores), with node 1 paused, node 3 partitioned and healed, node 2
# killed, on a fixed schedule. Prints a timestamp before every fault; the nodes' logs and
# metrics land in RUN_DIR/node-*/. Leaves the containers stopped (not removed) for inspection;
# `scripts/docker_cluster.sh --run-dir RUN_DIR down` removes them.
# Usage: docker/fault_demo.sh [RUN_DIR]   (needs the murmur:latest image: scripts/docker_build.sh)
set -uo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run_dir="${1:-$repo_root/runs/docker-faults}"
C=("$repo_root/scripts/docker_cluster.sh" --run-dir "$run_dir")
ts() { echo "== $(date +%T) $*"; }

"${C[@]}" down >/dev/null 2>&1
ts up
"${C[@]}" up --nodes 4 --graph ring -- --epochs 12 --test-limit 500 --eval-every 300 \
  --method eventgrad || exit 1
sleep 15; ts "pause 1"; "${C[@]}" pause 1
sleep 8; ts "unpause 1"; "${C[@]}" unpause 1
sleep 15; ts "partition 3"; "${C[@]}" partition 3
sleep 10; ts "heal 3"; "${C[@]}" heal 3
sleep 25; ts "kill 2"; "${C[@]}" kill 2
"${C[@]}" ps
"${C[@]}" wait 400
echo "wait exit $? (1 expected: node 2 was killed)"
ts end
