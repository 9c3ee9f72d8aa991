#!/usr/bin/env bash
# What lock-step costs in wall-clock time: the same `murmur run` (8 nodes on this machine,
# lenet5 on Fashion-MNIST, D-PSGD, ring) free-running, lock-step and lock-step with the sweep,
# interleaved REPEATS times, and the median training time of each (the slowest node's training
# loop, from its final metrics record). Side by side in one run: this machine is shared.
#   bench/run_lockstep_bench.sh [MURMUR_BINARY] [REPEATS] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/murmur}; repeats=${2:-5}; epochs=${3:-1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
modes=("free:max_step_lag=2" "lockstep:lockstep=true" "sweep:lockstep=true,lockstep_sweep=true")
port=7600
for r in $(seq 1 "$repeats"); do
  for m in "${modes[@]}"; do
    name=${m%%:*}; params=${m#*:}
    args=()
    IFS=, read -ra kv <<<"$params"
    for p in "${kv[@]}"; do args+=(--param "$p"); done
    port=$((port + 20))
    "$bin" run --quiet --nodes 8 --graph ring --method dpsgd --epochs "$epochs" --seed 1 \
      --test-limit 500 --eval-every 1000000 --base-port "$port" --out "$out/$name-$r" \
      "${args[@]}" >/dev/null
    /usr/bin/python3 - "$out/$name-$r" "$name" >>"$out/times.txt" <<'PY'
import json, pathlib, sys
run, name = pathlib.Path(sys.argv[1]), sys.argv[2]
t = max(json.loads(p.read_text().splitlines()[-1])["time"] for p in run.glob("node-*/metrics.jsonl"))
print(name, t)
PY
  done
done
/usr/bin/python3 - "$out/times.txt" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    name, t = line.split()
    times.setdefault(name, []).append(float(t))
free = statistics.median(times["free"])
for name, ts in times.items():
    m = statistics.median(ts)
    print(f"{name:9s} median {m:6.2f} s over {len(ts)} runs (min {min(ts):.2f}, max {max(ts):.2f}); "
          f"{m / free:.2f}x free-running")
PY
