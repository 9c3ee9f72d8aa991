#!/bin/bash
# The third round of goal runs (docs/RESULTS.md, 2026-11-22): D-PSGD and one setting per goal,
# 8 nodes, 5 epochs, ring and 2x4 torus, Fashion-MNIST (lenet5) and MNIST (mnist-cnn), one seed
# per call. The binary (murmur-s3e, commit 43e6a01) has digest keyframes, Golomb-Rice index sets,
# dense_below, final_dense, decisions sent against the vote and int8 values.
# Usage, from the repository root:
#   scripts/experiments/session3_goals.sh SEED BASE_PORT [MURMUR_BINARY] [GRID_PREFIX]
# METHODS=... replaces the method list (';'-separated run_grid.py specs).
set -euo pipefail
cd "$(dirname "$0")/../.."
seed=${1:?seed}; port=${2:?base port}; bin=${3:-build/murmur}; prefix=${4:-r3}
VOTE="trigger=periodic,mix=at-round,int8=true,mask_flush_every=0,public_mix=true,period=10,mask_every=20,dense_below=256"
DEFAULT="dpsgd"
DEFAULT+=";eventgrad@tuned:scale=3,public_mix=true,public_mix_step=0.5,warmup=10"
DEFAULT+=";eventgrad@s3-w30:scale=3,public_mix=true,public_mix_step=0.5,warmup=30"
DEFAULT+=";aet-sgd@a075-i8:aet_a=0.75,max_round_lead=0,int8=true"
DEFAULT+=";aet-sgd@a05-i8:aet_a=0.5,max_round_lead=0,int8=true"
DEFAULT+=";eventgrad-vote@k20-i8:$VOTE,topk=0.2,public_mix_step=0.5"
# On Fashion-MNIST also eventgrad@s28 (as @tuned, scale=2.8), seeds 1-5; on the Fashion-MNIST
# ring also eventgrad-vote@p8k16-i8 ($VOTE with period=8,mask_every=16,topk=0.16) and
# @p7k14-i8 (period=7,mask_every=14,topk=0.14), public_mix_step=0.5, seeds 1-5.
# Seeds 1-3 also ran, with murmur-s3d (fp16, before int8 existed):
#   aet-sgd@a15:aet_a=1.5,max_round_lead=0,fp16=true
#   eventgrad-vote@k12 / @k14: trigger=periodic,mix=at-round,fp16=true,mask_flush_every=0,
#     public_mix=true,public_mix_step=0.3,period=10,mask_every=20,dense_below=256,topk=0.12/0.14
METHODS=${METHODS:-$DEFAULT}
source scripts/experiments/goal_grid_lib.sh  # the cd above put us at the root
goal_grid "$seed" "$port" "$bin" "$prefix" "$METHODS" "fashion-mnist mnist" "ring torus2x4"
