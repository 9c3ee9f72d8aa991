#!/bin/bash
# The CIFAR-10 grid of docs/RESULTS.md (second round): resnet20 on the converted JPEG copy
# (data/cifar10, from scripts/cifar10_from_jpeg.py), 8-node ring, 1 epoch of each node's shard
# at batch 32 (195 steps), lr 0.05 cosine, weight decay 5e-4, 1,000 test images.
#   scripts/experiments/session2_cifar.sh BASE_PORT [MURMUR_BINARY]
# EPOCHS=2 GRID=r2-cifar-2ep METHODS="..." run the 2-epoch grid of the same section.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:?base port}; bin=${2:-build/murmur}
PM="public_mix=true,public_mix_step=0.5"
DEFAULT="dpsgd;eventgrad;eventgrad@tuned:scale=3,$PM,warmup=10"
DEFAULT+=";eventgrad-vote@periodic:trigger=periodic,period=10,mix=at-round,topk=0.1,fp16=true,mask_flush_every=0,public_mix=true,public_mix_step=0.3;ri-sgd"
# (the first run of this grid used public_mix_step=0.5 for the voted masks: label @periodic-g05)
METHODS=${METHODS:-$DEFAULT}
nice -n 19 /usr/bin/python3 scripts/experiments/run_grid.py --grid "${GRID:-r2-cifar}" --datasets cifar10 \
  --topologies ring --epochs "${EPOCHS:-1}" --batch 32 --test-limit 1000 --eval-every 65 --murmur "$bin" \
  --deadline 5400 --base-port "$port" \
  --extra="--schedule=cosine --weight-decay=5e-4 --data-dir=$PWD/data/cifar10" --methods "$METHODS"
