#!/bin/bash
# Time to accuracy of docs/RESULTS.md (second round): Fashion-MNIST 8-node ring, 2 epochs, every
# link capped by murmur's fault layer at 10 Mbit/s with 5 ms one-way delay
# (scripts/scenarios/10mbit-5ms.faults).   scripts/experiments/session2_tta.sh BASE_PORT [MURMUR]
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:?base port}; bin=${2:-build/murmur}
PM="public_mix=true,public_mix_step=0.5"
METHODS="dpsgd;dpsgd@lag2:max_step_lag=2;eventgrad@tuned-lag2:scale=3,$PM,warmup=10,max_step_lag=2"
METHODS+=";local-sgd;aet-sgd@tuned:aet_a=2,max_round_lead=0,fp16=true"
METHODS+=";eventgrad-vote@periodic:trigger=periodic,period=10,mix=at-round,topk=0.1,fp16=true,mask_flush_every=0,public_mix=true,public_mix_step=0.3"
nice -n 19 /usr/bin/python3 scripts/experiments/run_grid.py --grid r2-tta-10mbit --datasets fashion-mnist \
  --topologies ring --epochs 2 --eval-every 39 --murmur "$bin" --deadline 900 --base-port "$port" \
  --extra="--schedule=cosine --faults=$PWD/scripts/scenarios/10mbit-5ms.faults" --methods "$METHODS"
