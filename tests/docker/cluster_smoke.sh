#!/usr/bin/env bash
# End-to-end check of the docker cluster: builds the murmur image from BINARY's build directory,
# brings up a 4-node ring in docker-compose, SIGKILLs node 2's container mid-training and checks
#   - every node connected to both ring neighbours by service name (its log says "up"),
#   - nodes 0, 1, 3 keep training after the kill and exit 0 with a final eval in metrics.jsonl,
#   - node 2's container exited 137 (killed),
#   - the neighbours of node 2 (1 and 3) logged the edge to it going down.
# Exits 77 (ctest SKIP) when docker, compose or the murmur-base image is unavailable, so hosts
# without docker skip it; never leaves containers behind.
#
# Usage: tests/docker/cluster_smoke.sh BUILD_DIR [RUN_DIR]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${1:?usage: cluster_smoke.sh BUILD_DIR [RUN_DIR]}"
run_dir="${2:-$(mktemp -d /tmp/murmur-docker-smoke.XXXXXX)}"
tag="murmur:smoke"
cluster=("$repo_root/scripts/docker_cluster.sh" --run-dir "$run_dir")

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || skip "no docker CLI"
docker info >/dev/null 2>&1 || skip "the Docker engine is not reachable"
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 \
  || skip "no docker compose / docker-compose"
docker image inspect murmur-base:bookworm >/dev/null 2>&1 \
  || skip "image murmur-base:bookworm is missing; build it once with scripts/docker_build.sh --base-only"
[[ -x "$build_dir/murmur" ]] || skip "no murmur binary at $build_dir/murmur (build the murmur target)"

"$repo_root/scripts/docker_build.sh" --build-dir "$build_dir" --tag "$tag"

cleanup() {
  "${cluster[@]}" down >/dev/null 2>&1 || true
  docker image rm "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# 12000 images over 4 nodes, 4 epochs: 184 steps per node (10-60 s, depending on the load),
# long enough to kill one mid-way.
"${cluster[@]}" up --image "$tag" --nodes 4 --graph ring -- \
  --epochs 4 --train-limit 12000 --test-limit 300 --eval-every 10 --method eventgrad

# Kill node 2 once it has made progress (its first eval at step 10), well before the end. The
# container id is looked up first: compose v1 takes seconds to start, and the nodes do not wait.
node2="$("${cluster[@]}" id 2)"
deadline=$(( $(date +%s) + 120 ))
until grep -q '"event":"eval"' "$run_dir/node-2/metrics.jsonl" 2>/dev/null; do
  [[ $(date +%s) -lt $deadline ]] || { "${cluster[@]}" logs | tail -n 40; fail "node 2 made no eval in 120 s"; }
  sleep 0.2
done
docker kill "$node2" >/dev/null
last_step() { grep -oE '"step":[0-9]+' "$1" 2>/dev/null | tail -n1 | grep -oE '[0-9]+' || echo 0; }
declare -A step_at_kill
for i in 0 1 3; do step_at_kill[$i]="$(last_step "$run_dir/node-$i/metrics.jsonl")"; done
echo "node 2 killed; survivors at steps 0:${step_at_kill[0]} 1:${step_at_kill[1]} 3:${step_at_kill[3]}"

set +e
codes="$("${cluster[@]}" wait 150)"
set -e
echo "$codes"
logs="$("${cluster[@]}" logs)"

for i in 0 1 3; do
  grep -q -E "node-${i}[_-]1 exit 0$" <<<"$codes" || { echo "$logs" | grep -E "node-${i}[_-]1" | tail -n 20; fail "node $i did not exit 0"; }
done
grep -q -E "node-2[_-]1 exit 137$" <<<"$codes" || fail "node 2 was not killed (exit 137 expected)"

for i in 0 1 2 3; do
  n="$(grep -E "node-${i}[_-]1 .*\(edge [0-9]+-[0-9]+\) up" <<<"$logs" | wc -l)"
  [[ "$n" -ge 2 ]] || fail "node $i logged $n neighbour connections, 2 expected"
done
for i in 1 3; do
  grep -qE "node-${i}[_-]1 .*node 2 \(edge [0-9]-[0-9]\) down" <<<"$logs" \
    || fail "node $i did not notice node 2 going down"
done
for i in 0 1 3; do
  m="$run_dir/node-$i/metrics.jsonl"
  final="$(grep '"event":"final"' "$m" || true)"
  [[ -n "$final" ]] || fail "node $i wrote no final record to $m"
  step="$(grep -oE '"step":[0-9]+' <<<"$final" | grep -oE '[0-9]+')"
  total="$(grep -oE '"total_steps":[0-9]+' <<<"$final" | grep -oE '[0-9]+')"
  [[ "$step" == "$total" ]] || fail "node $i stopped at step $step of $total"
  [[ "$step" -gt "${step_at_kill[$i]}" ]] || fail "node $i made no step after node 2 was killed"
  grep -qE "node-${i}[_-]1 .*node $i finished at step $step" <<<"$logs" \
    || fail "node $i did not log that it finished at step $step"
done
echo "PASS: 4-node ring connected by service name; nodes 0, 1, 3 finished after node 2 was killed"
