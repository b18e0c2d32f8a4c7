#!/usr/bin/env bash
# Train, evaluate and document the recipe's six checkpoints in OUT/{mnist,fashion-mnist}/{vae,gan,vaegan}:
# train (or resume), fit the GMM of the training codes (VAE and VAE-GAN), evaluate with each prior.
#
# This trains the recipe (below), not the shipped checkpoints' own multi-stage runs: a folder that holds a shipped
# checkpoint (weights but no trainer state) is left as it is, and the script prints the command that retrains that
# one from scratch with its recorded stages, `python scripts/retrain.py DIR --out NEW_DIR` (docs/checkpoints.md,
# "Retraining a shipped checkpoint").
#
#   scripts/train_all.sh [DATASET ...]        default: mnist fashion-mnist
#
# Environment:
#   VAEGAN_DATA_DIR   folder with the IDX files (see README, "Data")
#   OUT               where the folders go (default: checkpoints)
#   DEVICE            auto | cpu | cuda (default auto)
#   EPOCHS_VAE, EPOCHS_GAN, EPOCHS_VAEGAN   override the epoch counts below (at a constant rate)
#   DECAY_VAE, DECAY_GAN, DECAY_VAEGAN      override the decay stage's epochs (0: none)
#   EVAL_N            samples for `vaegan eval` (default 10000)
#   EXTRACTORS        extractors to evaluate with (default: "lenet"; add inception where time allows)
#   DRY_RUN=1         print the commands instead of running them
#
# Every run is seeded, so the same command on the same hardware reproduces the same weights.
# The recipe (flags per model and dataset) and the epoch counts live in vaegan_core.storage.zoo (recipe(), DEFAULT_EPOCHS: what the
# shipped checkpoints were trained with on the CPU, each model card says where and how long; GPU_EPOCHS with
# DEVICE=cuda). Every run tracks its domain FID per epoch (--track-fid; the Training page plots it). After its epochs
# at a constant rate, each run ends with a decay stage (DECAY_EPOCHS / GPU_DECAY_EPOCHS in vaegan_core.storage.zoo): that many
# epochs more, the rates falling along a cosine to 0 (`vaegan train --resume --lr-schedule cosine`).
set -euo pipefail
OUT=${OUT:-checkpoints}
DEVICE=${DEVICE:-auto}
EVAL_N=${EVAL_N:-10000}
EXTRACTORS=${EXTRACTORS:-lenet}
# The default epoch counts live in one place, vaegan_core.storage.zoo.DEFAULT_EPOCHS (the apps quote them too).
epochs_table=DEFAULT_EPOCHS decay_table=DECAY_EPOCHS
[ "$DEVICE" = cuda ] && epochs_table=GPU_EPOCHS decay_table=GPU_DECAY_EPOCHS
zoo_value() { python -c "from vaegan_core.storage.zoo import $1 as table; print(table['$2'])"; }  # TABLE KIND
recipe() { python -c "from vaegan_core.storage.zoo import recipe; print(' '.join(recipe('$1', '$2')))"; }
declare -A EPOCHS=([vae]=${EPOCHS_VAE:-$(zoo_value $epochs_table vae)} [gan]=${EPOCHS_GAN:-$(zoo_value $epochs_table gan)}
                   [vaegan]=${EPOCHS_VAEGAN:-$(zoo_value $epochs_table vaegan)})
declare -A DECAY=([vae]=${DECAY_VAE:-$(zoo_value $decay_table vae)} [gan]=${DECAY_GAN:-$(zoo_value $decay_table gan)}
                  [vaegan]=${DECAY_VAEGAN:-$(zoo_value $decay_table vaegan)})
run() { if [ "${DRY_RUN:-0}" = 1 ]; then echo "$*"; else "$@"; fi; }
datasets=("$@")
[ ${#datasets[@]} -eq 0 ] && datasets=(mnist fashion-mnist)

for dataset in "${datasets[@]}"; do
  for model in vae vaegan gan; do
    dir="$OUT/$dataset/$model"
    trained=1
    if [ -f "$dir/model.safetensors" ] && [ ! -f "$dir/trainer_state.pt" ]; then
      echo "== $dir is a shipped checkpoint (no trainer state): not training it with the recipe (delete it to start" \
        "the recipe over); to retrain it from scratch with its own stages: python scripts/retrain.py $dir --out NEW_DIR"
      trained=0
    elif [ -f "$dir/model.safetensors" ]; then
      echo "== $dir exists: resuming to ${EPOCHS[$model]} epochs (no-op when already there)"
      run vaegan train --resume --out "$dir" --epochs "${EPOCHS[$model]}" --device "$DEVICE" --no-progress
    else
      echo "== training $dir"
      # shellcheck disable=SC2046  # the recipe's flags, split into words on purpose
      run vaegan train --model "$model" --dataset "$dataset" --epochs "${EPOCHS[$model]}" --seed 0 \
        $(recipe "$model" "$dataset") --track-fid 5000 --device "$DEVICE" --out "$dir" --no-progress
    fi
    if [ "$trained" = 1 ] && [ "${DECAY[$model]}" -gt 0 ]; then  # the decay stage (continues one that was cut short)
      run vaegan train --resume --out "$dir" --epochs "$((EPOCHS[$model] + DECAY[$model]))" --lr-schedule cosine \
        --device "$DEVICE" --no-progress
    fi
    priors=normal
    if [ "$model" != gan ]; then  # the second prior: a GMM of the training codes, fitted to the weights as they are
      priors="normal gmm"
      if [ "$trained" = 1 ] || [ "$dir/model.safetensors" -nt "$dir/latent_gmm.safetensors" ]; then
        run vaegan fit-gmm "$dir" --seed 0 --device "$DEVICE" --no-progress
      fi
    fi
    for extractor in $EXTRACTORS; do
      for prior in $priors; do
        run vaegan eval "$dir" --n "$EVAL_N" --extractor "$extractor" --split test --seed 0 --prior "$prior" \
          --device "$DEVICE"
      done
    done
  done
done
echo "== done; update the README table with: python benchmarks/results_table.py --write, and the pages' shipped results with: python scripts/page_cache.py"
