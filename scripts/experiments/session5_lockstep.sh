#!/bin/bash
# The fifth round of goal runs (docs/RESULTS.md, 2026-12-04): the goal settings of round 3 and
# D-PSGD, every one with lockstep=true, so each run is reproducible bit for bit from its seed
# and the comparison between methods is paired by seed with no thread-timing noise. 8 nodes,
# 5 epochs, ring and 2x4 torus, Fashion-MNIST (lenet5) and MNIST (mnist-cnn), one seed per call.
# Usage, from the repository root:
#   scripts/experiments/session5_lockstep.sh SEED BASE_PORT [MURMUR_BINARY] [GRID_PREFIX]
# METHODS=... replaces the method list (';'-separated run_grid.py specs); DATASETS and
# TOPOLOGIES narrow the grid (space-separated). MNIST is read from $MURMUR_MNIST_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
seed=${1:?seed}; port=${2:?base port}; bin=${3:-build/murmur}; prefix=${4:-s5}
L="lockstep=true"
VOTE="$L,trigger=periodic,mix=at-round,int8=true,mask_flush_every=0,public_mix=true,period=10,mask_every=20,dense_below=256"
DEFAULT="dpsgd@ls:$L"
DEFAULT+=";eventgrad@s3-w30-ls:$L,scale=3,public_mix=true,public_mix_step=0.5,warmup=30"
DEFAULT+=";aet-sgd@a05-i8-ls:$L,aet_a=0.5,max_round_lead=0,int8=true"
DEFAULT+=";eventgrad-vote@k20-i8-ls:$VOTE,topk=0.2,public_mix_step=0.5"
METHODS=${METHODS:-$DEFAULT}
source scripts/experiments/goal_grid_lib.sh  # the cd above put us at the root
goal_grid "$seed" "$port" "$bin" "$prefix" "$METHODS" "${DATASETS:-fashion-mnist mnist}" \
  "${TOPOLOGIES:-ring torus2x4}"
