"""Metric speed: end-to-end domain FID, the Frechet distance at d=2048, Inception throughput.

    python benchmarks/metrics_speed.py [--checkpoint DIR] [--dataset mnist] [--n 10000] [--inception-images 32]

1. Domain FID of n generated images end to end: sampling + LeNet features + streaming statistics
   + distance against the (cached) test-split statistics. The model is --checkpoint, or a freshly
   initialised VAE-GAN of the default size (the same work per image).
2. The Frechet distance of two random 2048-d statistics: our eigen-decomposition route against
   scipy.linalg.sqrtm (the route of pytorch-fid).
3. Throughput of the TF-Inception extractor (needs the `inception` extra).
Targets (issue 3, 2-core CPU): 1. under 5 s; 2. under 2.5 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vaegan_core import ModelConfig, build_model, load_model
from vaegan_core.training.data import load_dataset
from vaegan_core.metrics.extractors import InceptionExtractor, LeNetExtractor
from vaegan_core.metrics.fid import fid_from_stats, frechet_distance, sqrtm_frechet_distance
from vaegan_core.metrics.stats import FeatureStats


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def domain_fid(model, dataset: str, n: int, batch_size: int = 1000):
    extractor = LeNetExtractor(dataset)
    images, _ = load_dataset(dataset, "test")
    reference = FeatureStats(extractor.feature_dim)
    reference.update(extractor.features(images.float() / 255))  # done once per app session (cached there)

    def run():
        stats = FeatureStats(extractor.feature_dim)
        generator = torch.Generator().manual_seed(0)
        for start in range(0, n, batch_size):
            stats.update(extractor.features(model.sample(min(batch_size, n - start), generator=generator)))
        return fid_from_stats(reference, stats)

    return _timed(run)


def random_statistics(d: int, seed: int):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((3 * d, d)) @ rng.standard_normal((d, d)) * 0.1
    return features.mean(0), np.cov(features, rowvar=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="model to sample from (default: an untrained VAE-GAN)")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--inception-images", type=int, default=32, help="0 skips the Inception row")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.checkpoint:
        model = load_model(args.checkpoint)
    else:  # in the layout load_model gives
        model = build_model(ModelConfig()).eval().to(memory_format=torch.channels_last)
    print(f"cpu, {torch.get_num_threads()} threads; torch {torch.__version__}\n")
    print("| what | n / d | seconds | images/s | target |")
    print("|---|---|---:|---:|---|")
    fid, seconds = domain_fid(model, args.dataset, args.n)
    print(f"| domain FID end to end (sample + LeNet + stats + distance), FID {fid:.2f} | n = {args.n:,} | "
          f"{seconds:.2f} | {args.n / seconds:,.0f} | < 5 s |")
    mu1, sigma1 = random_statistics(2048, 1)
    mu2, sigma2 = random_statistics(2048, 2)
    ours, seconds = _timed(lambda: frechet_distance(mu1, sigma1, mu2, sigma2))
    print(f"| Frechet distance, ours (Cholesky factor + symmetric eigenvalues) | d = 2048 | {seconds:.2f} | | < 2.5 s |")
    _, seconds = _timed(lambda: frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh"))
    print(f"| Frechet distance, two symmetric eigen-decompositions (method='eigh') | d = 2048 | {seconds:.2f} | | |")
    theirs, seconds = _timed(lambda: sqrtm_frechet_distance(mu1, sigma1, mu2, sigma2))
    print(f"| Frechet distance, scipy sqrtm route (relative difference {abs(ours - theirs) / theirs:.1e}) "
          f"| d = 2048 | {seconds:.2f} | | |")
    if args.inception_images:
        images = torch.rand(args.inception_images, 1, 28, 28)
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            for backend in ("onnxruntime", "torchscript") if device == "cpu" else ("torchscript",):
                try:
                    extractor = InceptionExtractor(device, backend=backend)
                except Exception as error:  # the optional extra is missing: say so in the table
                    print(f"| Inception features, {device} {backend} | | | | skipped: {error} |")
                    continue
                extractor.features(images[:2])  # warm-up (and, the first time, the ONNX export)
                _, seconds = _timed(lambda: extractor.features(images))
                rate = args.inception_images / seconds
                print(f"| Inception features, {device} {backend} (299x299, batch {extractor.batch_size}) | "
                      f"n = {args.inception_images} | {seconds:.2f} | {rate:.1f} | 10k images: "
                      f"{10_000 / rate / 60:.1f} min |")

if __name__ == "__main__":
    main()
