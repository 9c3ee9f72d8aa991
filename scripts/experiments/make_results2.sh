#!/bin/bash
# Rebuilds the generated tables and plots of docs/RESULTS.md (second round) from runs/.
# Usage: scripts/experiments/make_results2.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
E=scripts/experiments
OUT=docs/results/round2
mkdir -p "$OUT"
have() { for d in "$@"; do [ -d "$d" ] || return 1; done; }
if have runs/r2-seed1; then
  seeds=(runs/r2-seed1); have runs/r2-seed2 && seeds+=(runs/r2-seed2); have runs/r2-seed3 && seeds+=(runs/r2-seed3)
  $PY $E/seeds.py "${seeds[@]}" --csv "$OUT/goals.csv" > "$OUT/goals.md"
  $PY $E/summarize.py runs/r2-seed1 --target 0.8 --md "$OUT/seed1.md" --csv "$OUT/seed1.csv" \
      --plots "$OUT" --prefix seed1 > /dev/null
fi
if have runs/s2a; then
  $PY $E/seeds.py runs/s2a > "$OUT/tuning-2epochs.md"
fi
if have runs/s2c; then
  $PY $E/seeds.py runs/s2c > "$OUT/tuning-2epochs-b.md"
fi
if have runs/s2e; then
  $PY $E/seeds.py runs/s2e > "$OUT/tuning-5epochs.md"
fi
if have runs/r2-tta-10mbit; then
  $PY $E/summarize.py runs/r2-tta-10mbit --target 0.8 --md "$OUT/tta-10mbit.md" \
      --csv "$OUT/tta-10mbit.csv" --plots "$OUT" --prefix tta > /dev/null
fi
if have runs/r2-cifar; then
  $PY $E/summarize.py runs/r2-cifar --target 0.4 --md "$OUT/cifar.md" --csv "$OUT/cifar.csv" \
      --plots "$OUT" --prefix cifar > /dev/null
fi
if have runs/r2-cifar-2ep; then
  $PY $E/summarize.py runs/r2-cifar-2ep --target 0.4 --md "$OUT/cifar-2ep.md" \
      --csv "$OUT/cifar-2ep.csv" --plots "$OUT" --prefix cifar-2ep > /dev/null
fi
ls "$OUT"
