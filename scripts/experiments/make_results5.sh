#!/bin/bash
# Rebuilds the generated tables and plots of docs/RESULTS.md (fifth round: lock-step runs) from
# runs/. Usage: scripts/experiments/make_results5.sh   (from the repository root)
OUT=docs/results/round5
source "$(dirname "$0")/results_lib.sh"
seedtable goals --csv runs/s5-seed{1,2,3,4,5}
seedtable async --csv --dataset fashion-mnist runs/s5async-seed{1,2,3,4,5}
# Seeds 6-10 (the same settings, a second set of five seeds) and MNIST free-running (seeds 1-5).
seedtable goals-seeds6-10 --csv runs/s5-seed{6,7,8,9,10}
seedtable async-seeds6-10 --csv runs/s5async-seed{6,7,8,9,10}
seedtable async-mnist --csv --dataset mnist runs/s5async-seed{1,2,3,4,5}
seedtable sweep --csv runs/s5sweep-seed{1,2,3,4,5}
summary s5-explore "" runs/s5-explore
summary s5-probes "" runs/s5-egprobe-seed1 runs/s5-egprobe-seed2 runs/s5-aetprobe-seed1 \
  runs/s5-aetprobe-seed2 runs/s5-voteprobe-seed1 runs/s5-fresh-seed1
summary s5-cifar-5ep "--target 0.5 --plots $OUT --prefix cifar-5ep" runs/s5-cifar-5ep
ls "$OUT"
