#!/bin/bash
# Rebuilds the generated tables and plots of docs/RESULTS.md (third round) from runs/.
# Usage: scripts/experiments/make_results3.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
E=scripts/experiments
OUT=docs/results/round3
mkdir -p "$OUT"
have() { for d in "$@"; do [ -d "$d" ] || return 1; done; }
seeds=()
for s in 1 2 3 4 5; do have "runs/r3-seed$s" && seeds+=("runs/r3-seed$s"); done
if [ ${#seeds[@]} -gt 0 ]; then
  $PY $E/seeds.py "${seeds[@]}" --csv "$OUT/goals.csv" > "$OUT/goals.md"
  $PY $E/summarize.py "${seeds[0]}" --target 0.8 --md "$OUT/seed1.md" --csv "$OUT/seed1.csv" \
      --plots "$OUT" --prefix seed1 > /dev/null
fi
for g in s3-explore s3-explore5 s3-ablate r3-cifar-2ep; do
  if have "runs/$g"; then
    $PY $E/summarize.py "runs/$g" --md "$OUT/$g.md" --csv "$OUT/$g.csv" > /dev/null
  fi
done
ls "$OUT"
