#!/bin/bash
# Rebuilds the tables and plots of docs/results/round1/RESULTS-round1.md from the run directories under runs/.
# Usage: scripts/experiments/make_results.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
S=scripts/experiments/summarize.py
OUT=docs/results/round1
mkdir -p "$OUT"
table() {  # name target dirs...
  local name=$1 target=$2; shift 2
  local have=()
  for d in "$@"; do [ -d "$d" ] && have+=("$d"); done
  [ ${#have[@]} -gt 0 ] || return 0
  $PY $S "${have[@]}" --target "$target" --md "$OUT/$name.md" --csv "$OUT/$name.csv" \
      --plots "$OUT" --prefix "$name" > /dev/null
  echo "wrote $OUT/$name.md"
}
table const-lr 0.80 runs/main
table cosine 0.80 runs/cos
table knobs 0.80 runs/cos-knobs
table tta-10mbit 0.80 runs/tta-10mbit
table cifar-reduced 0.25 runs/cifar-reduced
table tta-faults 0.80 runs/tta-faults
table head-loopback 0.80 runs/head-loopback
table paper-mnist 0.95 runs/paper-mnist
table steps 0.80 runs/cos-steps210 runs/cos-steps200
table tta-10mbit-smallbuf 0.80 runs/tta-10mbit-smallbuf
table cos-seed2 0.80 runs/cos-seed2
