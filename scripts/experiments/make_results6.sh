#!/bin/bash
# Rebuilds the generated tables of docs/RESULTS.md (sixth round: free-running, the whole test
# set, two learning rates) from runs/. Usage: scripts/experiments/make_results6.sh (from the root)
OUT=docs/results/round6
source "$(dirname "$0")/results_lib.sh"
# Every method at every learning rate against D-PSGD at its better one, per dataset.
lr_table() {
  local name=$1 ds=$2; shift 2
  local args=() lr d
  for lr in "$@"; do
    for d in runs/s7f-lr"$lr"-seed*; do [ -d "$d" ] && args+=("$lr=$d"); done
  done
  [ ${#args[@]} -gt 0 ] || return 0
  local table
  table=$($PY $E/best_lr.py "${args[@]}" --dataset "$ds" --csv "$OUT/$name.csv")
  printf '%s\n' "$table" > "$OUT/$name.md"
}
lr_table fashion-mnist fashion-mnist 0.05 0.065 0.08 0.1
lr_table mnist mnist 0.02 0.032 0.05 0.08
# The same grids one learning rate at a time (D-PSGD at that learning rate as the baseline).
for lr in 0.05 0.08; do
  seedtable "fashion-mnist-lr$lr" --csv --dataset fashion-mnist runs/s7f-lr"$lr"-seed*
done
# D-PSGD past its learning rate, seeds 1-2: free-running at 0.12, lock-step at 0.1 and 0.12.
summary lr-probes "" runs/t7-lr0.12-seed1 runs/t7-lr0.12-seed2 runs/t7ls-lr0.1-seed1 \
  runs/t7ls-lr0.1-seed2 runs/t7ls-lr0.12-seed1 runs/t7ls-lr0.12-seed2
ls "$OUT"
