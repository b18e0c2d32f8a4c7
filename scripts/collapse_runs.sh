#!/usr/bin/env bash
# The shipped model-collapse studies, checkpoints/collapse/<dataset>/<kind>/<loop>-seed<S>/ (results.json, strip.npy,
# grids/): generation 0 of each is the shipped checkpoint checkpoints/<dataset>/<kind> (its weights' fingerprint is
# stored as start_fingerprint), and every later generation fine-tunes the one before on 10,000 images for 2 epochs
# (312 steps; about 1-2 CPU-minutes per generation on one thread). The plan, per family (VAE-GAN, GAN, VAE):
#   mnist          synthetic 10 generations, seeds 0 1 2; fresh-real and accumulate 5 generations, seeds 0 1 2
#   fashion-mnist  synthetic 5 generations, seeds 0 1 2;  fresh-real and accumulate 5 generations, seed 0
# Loops: synthetic (only the previous generation's samples), fresh-real (20 % new real images each generation),
# accumulate (every earlier generation's data kept, synthetic). About 255 generations: 6-7 CPU-hours in all.
#
#   VAEGAN_DATA_DIR=... scripts/collapse_runs.sh            (run it twice at once for two workers)
#
# A study already in OUT that started from today's checkpoint and has its generations is skipped; a stale one
# (its generation 0 is other weights than the checkpoint holds now) or a short one is run (again). Environment:
# WORK (runs in progress, with what a resume needs: default training/collapse), OUT (default
# checkpoints/collapse), DATASETS, MODELS, LOOPS, SEEDS (narrow the plan), DEVICE, PYTHON.
# Seeded and resumable: each study is claimed by one worker (a lock folder), and a rerun continues it.
set -euo pipefail
WORK=${WORK:-training/collapse}
OUT=${OUT:-checkpoints/collapse}
PYTHON=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$WORK"

plan() {  # "dataset model loop seed generations", most telling first: every family's synthetic seed 0 before seed 1
  for seed in 0 1 2; do
    for dataset in mnist fashion-mnist; do
      for loop in synthetic fresh-real accumulate; do
        for model in vaegan gan vae; do
          generations=5
          [ "$dataset $loop" = "mnist synthetic" ] && generations=10
          [ "$dataset" = fashion-mnist ] && [ "$loop" != synthetic ] && [ "$seed" != 0 ] && continue
          echo "$dataset $model $loop $seed $generations"
        done
      done
    done
  done
}

wanted() { [ -z "$2" ] || [[ " $2 " == *" $1 "* ]]; }

plan | while read -r dataset model loop seed generations; do
  wanted "$dataset" "${DATASETS:-}" && wanted "$model" "${MODELS:-}" && wanted "$loop" "${LOOPS:-}" \
    && wanted "$seed" "${SEEDS:-}" || continue
  name="$dataset/$model/$loop-seed$seed"
  start="checkpoints/$dataset/$model"
  state=$("$PYTHON" -m vaegan_core.experiments.collapse_report --state "$OUT/$name" "$start" "$generations" </dev/null)
  [ "$state" = current ] && continue
  lock="$WORK/$name.lock"
  mkdir -p "$(dirname "$lock")"
  mkdir "$lock" 2>/dev/null || continue   # another worker has it (or had it: remove the .lock folders to rerun)
  trap 'rmdir "$lock" 2>/dev/null' EXIT   # a failed study is not skipped forever by its leftover lock
  state=$("$PYTHON" -m vaegan_core.experiments.collapse_report --state "$OUT/$name" "$start" "$generations" </dev/null)
  if [ "$state" = current ]; then rmdir "$lock"; continue; fi   # finished by another worker meanwhile
  work_state=$("$PYTHON" -m vaegan_core.experiments.collapse_report --state "$WORK/$name" "$start" "$generations" </dev/null)
  [ "$work_state" = stale ] && rm -rf "${WORK:?}/$name"   # begun from older weights: start it again
  case $loop in
    synthetic)  flags=(--loop synthetic) ;;
    fresh-real) flags=(--loop fresh-real --real-fraction 0.2) ;;
    accumulate) flags=(--loop synthetic --accumulate) ;;
  esac
  echo "$(date +%T) $name ($state): $generations generations"
  "$PYTHON" -m vaegan_core.cli collapse --model "$model" --dataset "$dataset" --start-from "$start" \
    --generations "$generations" --per-generation 10000 --epochs 2 --eval-n 5000 --seed "$seed" "${flags[@]}" \
    --out "$WORK/$name" --device "${DEVICE:-cpu}" --no-progress </dev/null >/dev/null
  rm -rf "${OUT:?}/$name"
  mkdir -p "$OUT/$name"
  cp -r "$WORK/$name/results.json" "$WORK/$name/strip.npy" "$WORK/$name/grids" "$OUT/$name/"
  echo "$(date +%T) $name: done"
  rmdir "$lock"
done
