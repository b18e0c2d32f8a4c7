#!/usr/bin/env bash
# The shipped model-collapse studies (checkpoints/collapse/mnist-{gan,vae,vaegan}/): 10 generations each,
# every generation trained only on the previous generation's samples. Seeded; resumable (rerun to continue).
#   VAEGAN_DATA_DIR=... scripts/collapse_runs.sh
set -euo pipefail
OUT=${OUT:-checkpoints/collapse}
for model in ${MODELS:-gan vae vaegan}; do
  width=16
  [ "$model" = vaegan ] && width=32   # at width 16 the VAE-GAN does not learn in 780 steps (striped samples)
  vaegan collapse --model "$model" --dataset mnist --generations "${GENERATIONS:-10}" --per-generation 10000 \
    --epochs 5 --width "$width" --eval-n 2000 --loop synthetic --seed 0 --out "$OUT/mnist-$model" --no-progress
  rm -rf "$OUT/mnist-$model/last"   # the newest generation's weights are only kept for resuming
done
