#!/bin/bash
# Session 4 (docs/RESULTS.md, 2026-11-22): one dataset / topology cell, one seed per call, for
# settings measured after the final_dense fix (commit "algo: final_dense waits for every
# tensor's final update"). 8 nodes, 5 epochs, cosine schedule, as in session3_goals.sh.
# Usage, from the repository root:
#   scripts/experiments/session4_cell.sh SEED BASE_PORT DATASET TOPOLOGY [MURMUR_BINARY] [GRID]
# METHODS=... replaces the method list (';'-separated run_grid.py specs).
set -euo pipefail
cd "$(dirname "$0")/../.."
seed=${1:?seed}; port=${2:?base port}; ds=${3:?dataset}; topo=${4:?topology}
bin=${5:-build/murmur}; prefix=${6:-s4}
VOTE="trigger=periodic,mix=at-round,int8=true,mask_flush_every=0,public_mix=true,dense_below=256"
DEFAULT="dpsgd"
DEFAULT+=";eventgrad-vote@k20-i8:$VOTE,period=10,mask_every=20,topk=0.2,public_mix_step=0.5"
DEFAULT+=";eventgrad-vote@k20-i8-fd:$VOTE,period=10,mask_every=20,topk=0.2,public_mix_step=0.5,final_dense=true"
DEFAULT+=";eventgrad-vote@p8k16-i8:$VOTE,period=8,mask_every=16,topk=0.16,public_mix_step=0.5"
DEFAULT+=";eventgrad-vote@p8k16-i8-fd:$VOTE,period=8,mask_every=16,topk=0.16,public_mix_step=0.5,final_dense=true"
METHODS=${METHODS:-$DEFAULT}
nice -n 19 /usr/bin/python3 scripts/experiments/run_grid.py --grid "$prefix-seed$seed" \
  --seed "$seed" --epochs 5 --eval-every 117 --murmur "$bin" --deadline 900 \
  --extra=--schedule=cosine --datasets "$ds" --topologies "$topo" --base-port "$port" \
  --methods "$METHODS"
