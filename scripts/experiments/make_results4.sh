#!/bin/bash
# Rebuilds the generated tables and plots of docs/RESULTS.md (fourth round) from runs/.
# Usage: scripts/experiments/make_results4.sh   (from the repository root)
OUT=docs/results/round4
source "$(dirname "$0")/results_lib.sh"
seedtable goals --csv runs/s4-seed{1,2,3,4,5}
summary s4-explore "" runs/s4-explore
summary s4-lr "" runs/s4-lr0.03 runs/s4-lr0.07 runs/s4-lr0.1
summary s4-cifar-5ep "--target 0.5 --plots $OUT --prefix cifar-5ep" runs/s4-cifar-5ep
ls "$OUT"
