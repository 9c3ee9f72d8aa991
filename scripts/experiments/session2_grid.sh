#!/bin/bash
# The 8-node grids of docs/RESULTS.md (second round, 2026-11-22): every method for the same
# 5 epochs of each node's shard, on the ring and the 2x4 torus, Fashion-MNIST (lenet5) and MNIST
# (mnist-cnn), one seed per call. Usage, from the repository root:
#   scripts/experiments/session2_grid.sh SEED BASE_PORT [MURMUR_BINARY]
# GOALS_ONLY=1 runs only D-PSGD and the tuned settings the brief's goals are checked on.
set -euo pipefail
cd "$(dirname "$0")/../.."
seed=${1:?seed}; port=${2:?base port}; bin=${3:-build/murmur}
PM="public_mix=true,public_mix_step=0.5"
METHODS="dpsgd;local-sgd;eventgrad;eventgrad@tuned:scale=3,$PM,warmup=10;eventgrad-topk"
METHODS+=";eventgrad-vote;eventgrad-vote@periodic:trigger=periodic,period=10,mix=at-round,topk=0.1,fp16=true,mask_flush_every=0,public_mix=true,public_mix_step=0.3"
METHODS+=";aet-sgd;aet-sgd@tuned:aet_a=2,max_round_lead=0,fp16=true;ri-sgd"
if [ "${GOALS_ONLY:-0}" = 1 ]; then
  METHODS="dpsgd;eventgrad@tuned:scale=3,$PM,warmup=10"
  METHODS+=";eventgrad-vote@periodic:trigger=periodic,period=10,mix=at-round,topk=0.1,fp16=true,mask_flush_every=0,public_mix=true,public_mix_step=0.3"
  METHODS+=";aet-sgd@tuned:aet_a=2,max_round_lead=0,fp16=true"
fi
for ds in fashion-mnist mnist; do
  for topo in ring torus2x4; do
    nice -n 19 /usr/bin/python3 scripts/experiments/run_grid.py --grid "r2-seed$seed" \
      --seed "$seed" --epochs 5 --eval-every 117 --murmur "$bin" --deadline 900 \
      --extra=--schedule=cosine --datasets "$ds" --topologies "$topo" --base-port "$port" \
      --methods "$METHODS"
    port=$((port + 1500))
  done
done
