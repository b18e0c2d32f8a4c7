#!/usr/bin/env bash
# Train, evaluate and document the six shipped checkpoints in checkpoints/{mnist,fashion-mnist}/{vae,gan,vaegan}.
#
#   scripts/train_all.sh [DATASET ...]        default: mnist fashion-mnist
#
# Environment:
#   VAEGAN_DATA_DIR   folder with the IDX files (see README, "Data")
#   OUT               where the folders go (default: checkpoints)
#   DEVICE            auto | cpu | cuda (default auto)
#   EPOCHS_VAE, EPOCHS_GAN, EPOCHS_VAEGAN   override the epoch counts below
#   EVAL_N            samples for `vaegan eval` (default 10000)
#   EXTRACTORS        extractors to evaluate with (default: "lenet"; add inception where time allows)
#
# Every run is seeded, so the same command on the same hardware reproduces the same weights.
# The epoch counts are the ones the shipped checkpoints were trained with (each model card says
# where and how long); a GPU can afford many more (EPOCHS_*=...).
set -euo pipefail
OUT=${OUT:-checkpoints}
DEVICE=${DEVICE:-auto}
EVAL_N=${EVAL_N:-10000}
EXTRACTORS=${EXTRACTORS:-lenet}
declare -A EPOCHS=([vae]=${EPOCHS_VAE:-4} [gan]=${EPOCHS_GAN:-3} [vaegan]=${EPOCHS_VAEGAN:-3})
datasets=("$@")
[ ${#datasets[@]} -eq 0 ] && datasets=(mnist fashion-mnist)

for dataset in "${datasets[@]}"; do
  for model in vae vaegan gan; do
    dir="$OUT/$dataset/$model"
    if [ -f "$dir/model.safetensors" ] && [ ! -f "$dir/trainer_state.pt" ]; then
      echo "== $dir is a shipped checkpoint (no trainer state): not retraining; delete it to start over"
    elif [ -f "$dir/model.safetensors" ]; then
      echo "== $dir exists: resuming to ${EPOCHS[$model]} epochs (no-op when already there)"
      vaegan train --resume --out "$dir" --epochs "${EPOCHS[$model]}" --device "$DEVICE" --no-progress
    else
      echo "== training $dir"
      vaegan train --model "$model" --dataset "$dataset" --epochs "${EPOCHS[$model]}" --seed 0 \
        --device "$DEVICE" --out "$dir" --no-progress
    fi
    for extractor in $EXTRACTORS; do
      vaegan eval "$dir" --n "$EVAL_N" --extractor "$extractor" --split test --seed 0 --device "$DEVICE"
    done
  done
done
echo "== done; update the README table with: python benchmarks/results_table.py --write"
