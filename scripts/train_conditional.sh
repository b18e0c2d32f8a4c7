#!/usr/bin/env bash
# Train and evaluate the shipped conditional checkpoints in checkpoints/<dataset>/conditional/{vae,gan,vaegan}.
#
#   scripts/train_conditional.sh [DATASET ...]        default: mnist
#
# Environment:
#   VAEGAN_DATA_DIR   folder with the IDX files (see README, "Data")
#   OUT               where the folders go (default: checkpoints)
#   DEVICE            auto | cpu | cuda (default auto)
#   MODELS            which families (default: "vae gan vaegan")
#   EPOCHS_VAE, EPOCHS_GAN, EPOCHS_VAEGAN   epochs (defaults below: what a CPU core trains in about half an hour)
#   EVAL_N            samples for `vaegan eval` (default 10000)
#   DRY_RUN=1         print the commands instead of running them
#
# The networks are width 32 (three times the steps of width 64 per CPU-minute; benchmarks/recipe_ablation.py)
# the VAE-GAN's KL weight is 4 (its N(0, I) samples: the same ablation), and the GAN and the VAE-GAN sample from a
# moving average of the decoder's weights: the first recipe of issue 17, which the shipped conditional models were
# trained with (the unconditional VAE-GAN's recipe, vaegan_core.storage.zoo.RECIPE, has since moved to width 64 and a KL
# weight of 1). Every run is seeded; a folder that already holds a run is resumed to the epochs asked for.
set -euo pipefail
OUT=${OUT:-checkpoints}
DEVICE=${DEVICE:-auto}
EVAL_N=${EVAL_N:-10000}
MODELS=${MODELS:-"vae gan vaegan"}
declare -A EPOCHS=([vae]=${EPOCHS_VAE:-10} [gan]=${EPOCHS_GAN:-24} [vaegan]=${EPOCHS_VAEGAN:-12})
declare -A FLAGS=([vae]="" [gan]="--ema-decay 0.999" [vaegan]="--beta 4 --ema-decay 0.999")
run() { if [ "${DRY_RUN:-0}" = 1 ]; then echo "$*"; else "$@"; fi; }
datasets=("$@")
[ ${#datasets[@]} -eq 0 ] && datasets=(mnist)

for dataset in "${datasets[@]}"; do
  for model in $MODELS; do
    dir="$OUT/$dataset/conditional/$model"
    if [ -f "$dir/config.json" ]; then
      echo "== $dir exists: resuming to ${EPOCHS[$model]} epochs (no-op when already there)"
      run vaegan train --resume --out "$dir" --epochs "${EPOCHS[$model]}" --device "$DEVICE" --no-progress
    else
      echo "== training $dir"
      # shellcheck disable=SC2086
      run vaegan train --model "$model" --dataset "$dataset" --conditional --epochs "${EPOCHS[$model]}" --seed 0 \
        --width 32 ${FLAGS[$model]} --device "$DEVICE" --out "$dir" --no-progress
    fi
    run vaegan eval "$dir" --n "$EVAL_N" --extractor lenet --split test --seed 0 --device "$DEVICE" --no-progress
  done
done
