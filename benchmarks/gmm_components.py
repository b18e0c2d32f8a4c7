"""How many components the GMM prior needs: domain FID of its samples for several sizes.

    python benchmarks/gmm_components.py checkpoints/mnist/vaegan [--components 10,20,50,100] [--n 10000]

Encodes the train split once with the checkpoint's encoder, fits a full-covariance mixture of each
size to the codes (as `vaegan fit-gmm` does), and scores n samples of each with the domain FID
(the shipped LeNet) against the **train** split, beside the N(0, I) prior. The test split is not
looked at, so choosing the size here does not tune the reported test-split FIDs. Nothing is written
into the checkpoint folder; `vaegan fit-gmm DIR --components K` writes the chosen mixture.
Needs the dataset ($VAEGAN_DATA_DIR or --data-dir).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaegan_core import load_model  # noqa: E402
from vaegan_core.storage.checkpoint import read_config  # noqa: E402
from vaegan_core.training.data import load_dataset  # noqa: E402
from vaegan_core.errors import VaeganError  # noqa: E402
from vaegan_core.metrics.evaluate import evaluate  # noqa: E402
from vaegan_core.models.prior import gmm_of_codes, posterior_means  # noqa: E402


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--components takes whole numbers separated by commas, got {text!r}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--components needs positive sizes, got {text!r}")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a VAE or VAE-GAN checkpoint folder")
    parser.add_argument("--components", type=_sizes, default=[10, 20, 50, 100], help="sizes, e.g. 10,20,50,100")
    parser.add_argument("--n", type=int, default=10_000, help="generated images per FID (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    try:
        return run(args)
    except VaeganError as error:  # no encoder, no dataset, a broken checkpoint, too few codes: one line
        print(f"gmm_components: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    model = load_model(args.checkpoint)
    dataset = read_config(args.checkpoint)["train_config"].dataset
    images, _ = load_dataset(dataset, "train", args.data_dir)
    start = time.perf_counter()
    codes = posterior_means(model, images)
    print(f"{args.checkpoint}: {codes.shape[0]:,} train codes of dimension {codes.shape[1]} "
          f"({time.perf_counter() - start:.0f} s); torch threads: {torch.get_num_threads()}")

    def domain_fid(prior: str) -> float:
        result = evaluate(model, dataset, n=args.n, extractor="lenet", metrics=("fid",), split="train",
                          seed=args.seed, data_root=args.data_dir, prior=prior)
        return result["metrics"]["fid"]

    print(f"\n| prior | components | fit (s) | mean log-likelihood (train codes) | "
          f"domain FID vs train split (n={args.n:,}) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| N(0, I) | - | - | - | {domain_fid('normal'):.2f} |", flush=True)
    for size in args.components:
        start = time.perf_counter()
        model.latent_gmm = gmm_of_codes(codes, size, seed=args.seed)
        seconds = time.perf_counter() - start
        print(f"| GMM | {size} | {seconds:.0f} | {model.latent_gmm.metadata['mean_log_likelihood']:.2f} | "
              f"{domain_fid('gmm'):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
