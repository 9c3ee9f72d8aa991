#!/bin/bash
# Rebuilds the generated tables and plots of docs/RESULTS.md (third round) from runs/.
# Usage: scripts/experiments/make_results3.sh   (from the repository root)
OUT=docs/results/round3
source "$(dirname "$0")/results_lib.sh"
seedtable goals --csv runs/r3-seed{1,2,3,4,5}
summary seed1 "--target 0.8 --plots $OUT --prefix seed1" runs/r3-seed1
for g in s3-explore s3-explore5 s3-ablate r3-cifar-2ep; do summary "$g" "" "runs/$g"; done
ls "$OUT"
