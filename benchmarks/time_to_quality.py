"""Quality per CPU-minute: train each model with the old and the new recipe for the same CPU budget, score
the domain FID (LeNet, N(0, I) samples, against the *train* split) after every epoch, and print and plot FID
against CPU-minutes. The recipes take turns epoch by epoch, so a slow spell of the machine hits both.

    OMP_NUM_THREADS=1 python benchmarks/time_to_quality.py --models vaegan --minutes 30 \
        --out runs/time-to-quality [--recipes old,new] [--n 5000] [--plot docs/images/time_to_quality.png]

--recipes also takes variants of the new recipe with one setting changed (VARIANTS below: width16, width48,
width64, batch32, batch128), for the width and batch levers at equal CPU time.

Each run is a checkpoint folder OUT/DATASET-MODEL-RECIPE, trained one epoch at a time with `vaegan train
--resume`; stop the script at any time and rerun it to continue. One training thread per run: the minutes are
CPU-minutes of one core (on a machine shared with other jobs, the wall time of the run's training loop: both
recipes wait alike, as they take turns). The recipes are in RECIPES below (the "old" one is what the first shipped checkpoints
were trained with).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.storage.checkpoint import load_model  # noqa: E402
from vaegan_core.config import MODEL_LABELS  # noqa: E402
from vaegan_core.metrics.evaluate import evaluate  # noqa: E402
from vaegan_core.storage.zoo import RECIPE_BY_DATASET, read_config_json  # noqa: E402

# `vaegan train` flags per recipe and model (besides --model, --dataset, --seed, --out, --epochs); the new recipe
# also takes the shipped recipe's flags for the dataset (zoo.RECIPE_BY_DATASET: the VAE's likelihood and KL weight).
RECIPES = {
    "old": {kind: ["--width", "64", "--batch-size", "64"] for kind in ("gan", "vae", "vaegan")},
    "new": {
        "gan": ["--width", "32", "--batch-size", "64", "--ema-decay", "0.999"],
        "vae": ["--width", "32", "--batch-size", "64"],
        "vaegan": ["--width", "32", "--batch-size", "64", "--beta", "4"],
    },
}


# The width and batch levers (issue 17), at equal CPU time: the new recipe with one setting changed. A batch size
# other than 64 takes the learning rate scaled by the square root of the batch ratio (the usual rule for Adam), from
# the model's default rate (models.*.default_lr).
VARIANTS = {"width16": {"--width": "16"}, "width48": {"--width": "48"}, "width64": {"--width": "64"},
            "batch32": {"--batch-size": "32"}, "batch128": {"--batch-size": "128"}}


def recipe_flags(recipe: str, kind: str, dataset: str) -> list[str]:
    """The `vaegan train` flags of ``recipe`` (old, new or a VARIANTS name) for ``kind`` on ``dataset``."""
    if recipe == "old":
        return list(RECIPES["old"][kind])
    flags = [*RECIPES["new"][kind], *RECIPE_BY_DATASET.get((kind, dataset), [])]
    changes = dict(VARIANTS.get(recipe, {}))
    if "--batch-size" in changes:
        from vaegan_core.models import MODEL_CLASSES

        base = int(flags[flags.index("--batch-size") + 1])
        changes["--lr"] = f"{MODEL_CLASSES[kind].default_lr * (int(changes['--batch-size']) / base) ** 0.5:.3g}"
    for flag, value in changes.items():  # replace the flag's value, or add the flag
        if flag in flags:
            flags[flags.index(flag) + 1] = value
        else:
            flags += [flag, value]
    return flags


def state_of(folder: Path) -> dict:
    return read_config_json(folder).get("state", {}) if (folder / "config.json").is_file() else {}


def train_one_epoch(args, kind: str, recipe: str, folder: Path) -> dict:
    """One more epoch of the run in ``folder``; returns its state (epoch, train_seconds)."""
    epoch = state_of(folder).get("epoch", 0) + 1
    command = [sys.executable, "-m", "vaegan_core.cli", "train", "--out", str(folder), "--epochs", str(epoch),
               "--no-progress"]
    if epoch == 1:
        command += ["--model", kind, "--dataset", args.dataset, "--seed", str(args.seed), "--device", "cpu",
                    "--precision", "fp32", *recipe_flags(recipe, kind, args.dataset)]
    else:
        command.append("--resume")
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    return state_of(folder)


def score(args, folder: Path) -> float:
    model = load_model(folder)
    result = evaluate(model, args.dataset, n=args.n, extractor="lenet", metrics=("fid",), split="train",
                      seed=args.seed)
    return float(result["metrics"]["fid"])


def run(args) -> list[dict]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    runs = [(kind, recipe) for kind in args.models for recipe in args.recipes]
    budget = args.minutes * 60
    while True:
        pending = [(kind, recipe) for kind, recipe in runs
                   if state_of(out / f"{args.dataset}-{kind}-{recipe}").get("train_seconds", 0) < budget]
        if not pending:
            return rows
        for kind, recipe in pending:  # one epoch each, in turn
            folder = out / f"{args.dataset}-{kind}-{recipe}"
            state = train_one_epoch(args, kind, recipe, folder)
            row = {"model": kind, "recipe": recipe, "epoch": state["epoch"],
                   "cpu_minutes": round(state["train_seconds"] / 60, 2), "fid": round(score(args, folder), 2)}
            rows.append(row)
            with open(log, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"| {MODEL_LABELS[kind]} | {recipe} | {row['epoch']} | {row['cpu_minutes']:.1f} | {row['fid']:.1f} |",
                  flush=True)


def plot(rows: list[dict], path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(row["model"] for row in rows))
    figure, axes = plt.subplots(1, max(1, len(kinds)), figsize=(4.6 * max(1, len(kinds)), 4.2), dpi=120,
                                squeeze=False)
    colours = {"gan": "#1f77b4", "vae": "#2ca02c", "vaegan": "#d62728"}
    recipes = list(dict.fromkeys(row["recipe"] for row in rows))
    others = iter(["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"] * 3)
    looks = {recipe: ("--", "o", None) if recipe == "old" else ("-", "o", None) if recipe == "new"
             else (":", "s^vDx"[index % 5], next(others)) for index, recipe in enumerate(recipes)}
    for axis, kind in zip(axes[0], kinds):  # one panel per model: their FIDs lie far apart
        for recipe in recipes:  # old dashed and new solid in the model's colour; the variants in colours of their own
            style, marker, colour = looks[recipe]
            points = sorted((row["cpu_minutes"], row["fid"]) for row in rows
                            if row["model"] == kind and row["recipe"] == recipe)
            if points:
                label = f"{recipe} recipe" if recipe in ("old", "new") else f"new, {recipe}"
                axis.plot(*zip(*points), style, marker=marker, color=colour or colours[kind], label=label)
        axis.set_yscale("log")
        axis.set_xlabel("minutes of training, one thread")
        axis.set_ylabel("domain FID vs train split (log)")
        axis.set_title(f"{dataset} {MODEL_LABELS[kind]}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vaegan", help="comma-separated: gan,vae,vaegan")
    parser.add_argument("--recipes", default="old,new")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--minutes", type=float, default=30, help="CPU-minutes of training per run")
    parser.add_argument("--n", type=int, default=5000, help="samples per FID")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/time-to-quality")
    parser.add_argument("--plot", default="docs/images/time_to_quality.png")
    parser.add_argument("--plot-only", action="store_true", help="plot OUT/results.jsonl as it is; train nothing")
    args = parser.parse_args()
    args.models = [kind.strip() for kind in args.models.split(",") if kind.strip()]
    args.recipes = [recipe.strip() for recipe in args.recipes.split(",") if recipe.strip()]
    unknown = [name for name in args.recipes if name not in RECIPES and name not in VARIANTS]
    if unknown or any(kind not in MODEL_LABELS for kind in args.models):
        sys.exit(f"time_to_quality: recipes are {', '.join([*RECIPES, *VARIANTS])}; models gan, vae, vaegan")
    import torch

    torch.set_num_threads(1)
    print(f"{args.dataset}; domain FID of {args.n} N(0, I) samples against the train split after each epoch; "
          f"{args.minutes:g} CPU-minutes per run")
    print("| model | recipe | epoch | training minutes (one thread) | domain FID |")
    print("|---|---|---:|---:|---:|")
    log = Path(args.out) / "results.jsonl"
    if args.plot_only:
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    else:
        rows = run(args)
    plot(rows, REPO / args.plot if not Path(args.plot).is_absolute() else Path(args.plot), args.dataset)
    print(f"figure: {args.plot}")


if __name__ == "__main__":
    main()
