#!/usr/bin/env bash
# The shipped model-collapse studies, checkpoints/collapse/mnist/<kind>/<loop>-seed<S>/ (results.json, strip.npy,
# grids/): generation 0 of each is the shipped checkpoint checkpoints/mnist/<kind> (so it starts from a good
# model), and every later generation fine-tunes the one before on 10,000 images for 2 epochs (312 steps; about
# 1-2 CPU-minutes per generation on one thread). Loops, per model:
#   synthetic   only the previous generation's samples         seeds 0, 1, 2 (the spread between seeds)
#   fresh-real  20 % new real images each generation            seed 0
#   accumulate  every earlier generation's data kept (synthetic) seed 0
#
#   VAEGAN_DATA_DIR=... scripts/collapse_runs.sh            (run it twice at once for two workers)
#
# Environment: GENERATIONS (default 5; raise it and rerun to continue the studies), WORK (the runs in progress,
# with what a resume needs: default training/collapse), OUT (default checkpoints/collapse), MODELS, SEEDS.
# Seeded and resumable: each study is claimed by one worker (a lock folder), and a rerun continues it.
set -euo pipefail
GENERATIONS=${GENERATIONS:-5}
WORK=${WORK:-training/collapse}
OUT=${OUT:-checkpoints/collapse}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$WORK"
studies=()
for seed in ${SEEDS:-0 1 2}; do
  for model in ${MODELS:-vaegan gan vae}; do
    studies+=("$model synthetic $seed")
    [ "$seed" = 0 ] && studies+=("$model fresh-real 0" "$model accumulate 0")
  done
done
for study in "${studies[@]}"; do
  read -r model loop seed <<<"$study"
  name="mnist/$model/$loop-seed$seed"
  lock="$WORK/$name.lock"
  mkdir -p "$(dirname "$lock")"
  mkdir "$lock" 2>/dev/null || continue   # another worker has it (or had it: remove the .lock folders to rerun)
  case $loop in
    synthetic)  flags=(--loop synthetic) ;;
    fresh-real) flags=(--loop fresh-real --real-fraction 0.2) ;;
    accumulate) flags=(--loop synthetic --accumulate) ;;
  esac
  echo "$(date +%T) $name: $GENERATIONS generations"
  vaegan collapse --model "$model" --dataset mnist --start-from "checkpoints/mnist/$model" --generations "$GENERATIONS" \
    --per-generation 10000 --epochs 2 --eval-n 5000 --seed "$seed" "${flags[@]}" --out "$WORK/$name" \
    --device "${DEVICE:-cpu}" --no-progress > /dev/null
  mkdir -p "$OUT/$name"
  cp -r "$WORK/$name/results.json" "$WORK/$name/strip.npy" "$WORK/$name/grids" "$OUT/$name/"
  rmdir "$lock"
done
