#!/bin/bash
# The sixth round of goal runs (docs/RESULTS.md, 2026-12-08): free-running nodes (no lock-step,
# max_step_lag=2), accuracy on the whole 10,000-image test set instead of the first 2,000, and
# every method at two learning rates (0.05, lenet5's default, and 0.08), so each is compared at
# its better one against D-PSGD at its better one. 8 nodes, 5 epochs, cosine schedule.
# One seed per call; each learning rate is its own grid (runs/s7f-lrLR-seedN), so every grid
# holds exactly one D-PSGD baseline for seeds.py.
# Usage, from the repository root:
#   scripts/experiments/session7_fulltest.sh SEED BASE_PORT [MURMUR_BINARY]
# DATASETS / TOPOLOGIES narrow the grid (space-separated); LRS the learning rates; METHODS
# replaces the method list (';'-separated run_grid.py specs; the ';' appended below keeps a single
# spec from being split at the commas between its parameters).
set -euo pipefail
cd "$(dirname "$0")/../.."
seed=${1:?seed}; port=${2:?base port}; bin=${3:-build/murmur}
EG="eventgrad@s3-w30-g03:scale=3,public_mix=true,public_mix_step=0.3,warmup=30"
VOTE="eventgrad-vote@p4k20-sign:trigger=periodic,period=4,mix=at-round,mask_every=20,topk=0.2"
VOTE+=",sign=true,dense_below=256,mask_flush_every=0,public_mix=true,public_mix_step=0.5"
AETI8="aet-sgd@a04-i8:aet_a=0.4,max_round_lead=0,int8=true"
AETV="aet-sgd@a002-v20s:aet_a=0.02,max_round_lead=0,compression=voted-mask,topk=0.2"
AETV+=",mask_every=20,sign=true,dense_below=256,mask_flush_every=0,mix=at-round"
AETV+=",public_mix=true,public_mix_step=0.5"
METHODS=${METHODS:-"dpsgd@async;$EG;$VOTE;$AETI8;$AETV"}
for ds in ${DATASETS:-fashion-mnist}; do
  for topo in ${TOPOLOGIES:-ring torus2x4}; do
    for lr in ${LRS:-0.05 0.08}; do
      nice -n 19 /usr/bin/python3 scripts/experiments/run_grid.py --grid "s7f-lr$lr-seed$seed" \
        --seed "$seed" --epochs 5 --eval-every 117 --murmur "$bin" --deadline 900 \
        --extra="--schedule=cosine --lr=$lr" --datasets "$ds" --topologies "$topo" \
        --base-port "$port" --test-limit 0 --methods "$METHODS;"
      port=$((port + 1000))
    done
  done
done
