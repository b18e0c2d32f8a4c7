"""Recipe levers, one at a time: train a variant of a model for the same budget, score its samples
with the domain FID against the *train* split (the test split plays no part in the choice), and print
one table row per variant with the CPU seconds it took (with --gmm, also the samples of a GMM of its training codes:
the prior the shipped VAE and VAE-GAN are compared with).

    OMP_NUM_THREADS=1 python benchmarks/recipe_ablation.py --model vaegan --dataset mnist \
        --epochs 3 --width 32 --out runs/ablation [--variants base,beta4,...] [--n 5000] [--gmm]

Each variant is a set of `vaegan train` flags on top of the shared ones (see VARIANTS). A variant
whose folder already holds a finished run is scored again, not retrained, so the script can be
stopped and restarted. Results also go to OUT/results.jsonl, one JSON line per variant.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.storage.checkpoint import load_model, read_config  # noqa: E402
from vaegan_core.errors import VaeganError  # noqa: E402
from vaegan_core.metrics.evaluate import evaluate  # noqa: E402

# name -> extra `vaegan train` flags. "base" is the recipe the shipped checkpoints were trained with.
VARIANTS = {
    "base": [],
    "beta4": ["--beta", "4"],
    "beta16": ["--beta", "16"],
    "gamma0.2": ["--gamma", "0.2"],
    "gamma0.01": ["--gamma", "0.01"],  # the decoder leans on the GAN loss (prior samples included) over reconstruction
    "ema": ["--ema-decay", "0.999"],
    "ttur": ["--lr-discriminator", "4e-4"],
    "cosine": ["--lr-schedule", "cosine"],
    "lr5e-4": ["--lr", "5e-4"],
    "beta2": ["--beta", "2"],
    "beta8": ["--beta", "8"],
    "batch32": ["--batch-size", "32"],
    "latent16": ["--latent-dim", "16"],
    "latent64": ["--latent-dim", "64"],
    "latent8": ["--latent-dim", "8"],
    "adam0.9": ["--adam-beta1", "0.9"],  # Adam's own momentum instead of DCGAN's 0.5
    "adam0.9+latent16": ["--adam-beta1", "0.9", "--latent-dim", "16"],
    "calibrated+latent16": ["--likelihood", "calibrated", "--latent-dim", "16"],
    "calibrated+latent8": ["--likelihood", "calibrated", "--latent-dim", "8"],
    "w64-equal-time": ["--width", "64"],  # a third of the epochs (VARIANT_EPOCHS): the same CPU time as width 32
    "beta0.5": ["--beta", "0.5"],
    "gaussian": ["--likelihood", "gaussian"],  # per-pixel Gaussian, sigma 0.1: sharper than Bernoulli (Dai & Wipf)
    "calibrated": ["--likelihood", "calibrated"],  # a Gaussian at the batch's optimal sigma (Rybkin et al. 2021)
    "calibrated+beta2": ["--likelihood", "calibrated", "--beta", "2"],
    "calibrated+beta4": ["--likelihood", "calibrated", "--beta", "4"],
    "calibrated+beta8": ["--likelihood", "calibrated", "--beta", "8"],
    "calibrated+beta16": ["--likelihood", "calibrated", "--beta", "16"],
    "calibrated+adam0.9": ["--likelihood", "calibrated", "--adam-beta1", "0.9"],
    "beta4+ema": ["--beta", "4", "--ema-decay", "0.999"],
    "beta4+latent16": ["--beta", "4", "--latent-dim", "16"],
    "beta4+gamma0.01": ["--beta", "4", "--gamma", "0.01"],
    "beta4+ema+cosine": ["--beta", "4", "--ema-decay", "0.999", "--lr-schedule", "cosine"],
    # 2026-12-03: the KL weight schedule, the GAN loss on prior samples and the discriminator's feature layer
    "klwarmup1": ["--kl-warmup", "1"],  # the KL weight rises from 0 to beta over the first epoch
    "beta4+klwarmup1": ["--beta", "4", "--kl-warmup", "1"],
    "priorgan3": ["--prior-gan-weight", "3"],  # the GAN terms on N(0, I) samples weigh 3x the reconstructions'
    "features2": ["--feature-stage", "2"],  # Dis_l = D's second stage (2w x 7 x 7 on 28 x 28 images)
}

# variants trained for other than --epochs, as a fraction of it: equal CPU time for a network 3x as costly
VARIANT_EPOCHS = {"w64-equal-time": 1 / 3}


def epochs_of(args, name: str) -> int:
    return max(1, round(args.epochs * VARIANT_EPOCHS.get(name, 1)))


def train(args, name: str, folder: Path) -> None:
    config = folder / "config.json"
    epochs = epochs_of(args, name)
    if config.exists() and json.loads(config.read_text()).get("state", {}).get("epoch") == epochs:
        return
    command = [sys.executable, "-m", "vaegan_core.cli", "train", "--model", args.model, "--dataset", args.dataset,
               "--epochs", str(epochs), "--width", str(args.width), "--batch-size", str(args.batch_size),
               "--seed", str(args.seed), "--device", "cpu", "--precision", "fp32", "--out", str(folder),
               "--no-progress", *VARIANTS[name]]
    if config.exists():
        command.append("--resume")
    subprocess.run(command, check=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})


def score(args, name: str, folder: Path) -> dict:
    model = load_model(folder)
    state = read_config(folder)["state"]
    result = evaluate(model, args.dataset, n=args.n, extractor="lenet", metrics=("fid",), split="train",
                      seed=args.seed)
    row = {"variant": name, "flags": " ".join(VARIANTS[name]) or "(none)", "epochs": state.get("epoch"),
           "train_seconds": state.get("train_seconds"), "fid": result["metrics"]["fid"]}
    if args.gmm and hasattr(model, "encoder"):  # the second prior: a GMM of the training codes, as shipped
        subprocess.run([sys.executable, "-m", "vaegan_core.cli", "fit-gmm", str(folder), "--seed", str(args.seed),
                        "--no-progress"], check=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"},
                       stdout=subprocess.DEVNULL)
        model = load_model(folder)
        result = evaluate(model, args.dataset, n=args.n, extractor="lenet", metrics=("fid",), split="train",
                          seed=args.seed, prior="gmm")
        row["fid_gmm"] = result["metrics"]["fid"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vaegan")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=5000, help="generated images per FID (default 5000)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--gmm", action="store_true",
                        help="also score the samples of a GMM of the training codes (vaegan fit-gmm; VAE, VAE-GAN)")
    parser.add_argument("--out", default="runs/ablation")
    args = parser.parse_args()
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        sys.exit(f"recipe_ablation: unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    import torch
    torch.set_num_threads(1)
    out = Path(args.out) / f"{args.dataset}-{args.model}-w{args.width}-e{args.epochs}"
    out.mkdir(parents=True, exist_ok=True)
    print(f"{args.model} on {args.dataset}, width {args.width}, batch {args.batch_size}, {args.epochs} epochs, "
          f"seed {args.seed}; domain FID (LeNet) of {args.n} N(0, I) samples against the train split")
    print("| variant | flags | epochs | CPU s (1 thread) | domain FID | domain FID, GMM prior |")
    print("|---|---|---:|---:|---:|---:|")
    for name in names:
        folder = out / name
        started = time.time()
        try:
            train(args, name, folder)
            row = score(args, name, folder)
        except (VaeganError, subprocess.CalledProcessError) as error:
            print(f"| {name} | {' '.join(VARIANTS[name])} | | failed: {str(error).splitlines()[0]} | |", flush=True)
            continue
        row["wall_seconds"] = round(time.time() - started, 1)
        with open(out / "results.jsonl", "a") as log:
            log.write(json.dumps(row) + "\n")
        gmm = f"{row['fid_gmm']:.1f}" if "fid_gmm" in row else "-"
        print(f"| {name} | {row['flags']} | {row['epochs']} | {row['train_seconds']:.0f} | {row['fid']:.1f} | {gmm} |",
              flush=True)


if __name__ == "__main__":
    main()
