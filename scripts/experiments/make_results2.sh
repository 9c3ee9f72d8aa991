#!/bin/bash
# Rebuilds the generated tables and plots of docs/RESULTS.md (second round) from runs/.
# Usage: scripts/experiments/make_results2.sh   (from the repository root)
OUT=docs/results/round2
source "$(dirname "$0")/results_lib.sh"
seedtable goals --csv runs/r2-seed1 runs/r2-seed2 runs/r2-seed3
summary seed1 "--target 0.8 --plots $OUT --prefix seed1" runs/r2-seed1
seedtable tuning-2epochs runs/s2a
seedtable tuning-2epochs-b runs/s2c
seedtable tuning-5epochs runs/s2e
summary tta-10mbit "--target 0.8 --plots $OUT --prefix tta" runs/r2-tta-10mbit
summary cifar "--target 0.4 --plots $OUT --prefix cifar" runs/r2-cifar
summary cifar-2ep "--target 0.4 --plots $OUT --prefix cifar-2ep" runs/r2-cifar-2ep
ls "$OUT"
