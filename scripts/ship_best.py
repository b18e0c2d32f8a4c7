"""Ship the epoch a run kept in RUN/best/ (`vaegan train --keep-best`) into a checkpoint folder: its weights and
config, the run's logs and per-epoch sample grids cut at that epoch, and no metrics.json (the old scores belong to
the old weights: evaluate again, then regenerate the page cache and the results table). The checkpoint's old grids
go, except where the run went on from the checkpoint's own trainer state (a copy, which holds no grids): the grids
of the epochs whose training log the two share stay. A GMM of the codes goes with the weights: RUN/best's own (fit
it first for a VAE or VAE-GAN), and the checkpoint's old one is removed.

    vaegan fit-gmm RUN/best    # VAE and VAE-GAN
    python scripts/ship_best.py RUN CHECKPOINT
    vaegan eval CHECKPOINT --n 10000 --split test --seed 0
    vaegan eval CHECKPOINT --n 10000 --split test --seed 0 --extractor inception --fid-only
    python scripts/page_cache.py DATASET && python benchmarks/results_table.py --write

The replacement rule of the shipped checkpoints (docs/results.md) is checked before: the domain FID of 10,000
samples against the *train* split (`vaegan eval DIR --split train`) lower than the shipped one's on every prior.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.storage import paths  # noqa: E402
from vaegan_core.storage.checkpoint import read_config  # noqa: E402
from vaegan_core.errors import VaeganError, first_line  # noqa: E402
from vaegan_core.storage.zoo import read_history  # noqa: E402


def _grid_epoch(grid: Path) -> int:
    try:
        return int(grid.stem.split("_")[1])
    except (IndexError, ValueError):
        return -1


def _shared_epochs(run: Path, old_history: list[dict]) -> set[int]:
    """The whole epochs over which the run's training log and the checkpoint's (before shipping) are the same rows:
    the run went on from the checkpoint's trainer state there, so the checkpoint's grids of those epochs are its."""
    new_history = read_history(run)
    same = 0
    for ours, theirs in zip(new_history, old_history):
        if ours != theirs:
            break
        same += 1
    if not same:
        return set()
    # an epoch is shared when the first row that differs (or that only one log has) lies past its end
    rest = new_history[same:same + 1] + old_history[same:same + 1]
    last = min(math.ceil(row["epoch"]) - 1 for row in rest) if rest else math.floor(new_history[-1]["epoch"])
    return set(range(1, last + 1))


def ship(run: Path, checkpoint: Path) -> dict:
    best = run / paths.BEST_DIR
    state = read_config(best)["state"] or {}
    epoch, step = int(state["epoch"]), int(state["step"])
    checkpoint.mkdir(parents=True, exist_ok=True)
    old_history = read_history(checkpoint)
    for name in (paths.WEIGHTS_FILE, paths.CONFIG_FILE):
        shutil.copy2(best / name, checkpoint / name)
    for name, until in ((paths.HISTORY_FILE, lambda row: row["step"] <= step),
                        (paths.QUALITY_FILE, lambda row: row["epoch"] <= epoch)):
        if (run / name).is_file():
            lines = [line for line in (run / name).read_text().splitlines(True) if line.strip()]
            (checkpoint / name).write_text("".join(line for line in lines if until(json.loads(line))))
    samples = checkpoint / paths.SAMPLES_DIR
    # a continuation of the checkpoint's own run (resumed from a copy of its trainer state, which holds no grids)
    # keeps the checkpoint's grids of the epochs the two runs share; every other grid of the old weights goes
    shared = _shared_epochs(run, old_history) & set(range(1, epoch + 1))
    samples.mkdir(exist_ok=True)
    for stale in samples.iterdir():
        if not (stale.name.startswith("epoch_") and _grid_epoch(stale) in shared):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    for grid in sorted((run / paths.SAMPLES_DIR).glob("epoch_*.png")):
        if _grid_epoch(grid) <= epoch:
            shutil.copy2(grid, samples / grid.name)
    (checkpoint / paths.METRICS_FILE).unlink(missing_ok=True)
    # the GMM of the old weights' codes does not fit the new ones: best/'s own (`vaegan fit-gmm RUN/best`), or none
    if (best / paths.LATENT_GMM_FILE).is_file():
        shutil.copy2(best / paths.LATENT_GMM_FILE, checkpoint / paths.LATENT_GMM_FILE)
        if (best / paths.SAMPLES_DIR / paths.GMM_GRID_FILE).is_file():  # its samples, written by fit-gmm
            shutil.copy2(best / paths.SAMPLES_DIR / paths.GMM_GRID_FILE, samples / paths.GMM_GRID_FILE)
    else:
        (checkpoint / paths.LATENT_GMM_FILE).unlink(missing_ok=True)
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run's folder (it holds best/)")
    parser.add_argument("checkpoint", type=Path, help="the checkpoint folder to write")
    args = parser.parse_args()
    try:
        state = ship(args.run, args.checkpoint)
    except (VaeganError, OSError, KeyError, ValueError) as error:
        sys.exit(f"ship_best: {first_line(error) if isinstance(error, VaeganError) else error}")
    gmm = "with best/'s GMM" if (args.checkpoint / paths.LATENT_GMM_FILE).is_file() else "without a GMM"
    print(f"shipped epoch {state['epoch']} (tracked FID {state.get('fid_domain_train')}) into {args.checkpoint}, "
          f"{gmm}; evaluate it next (see this script's doc)")


if __name__ == "__main__":
    main()
