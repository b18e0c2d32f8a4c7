"""Reference statistics of real images (mu, sigma, n, extractor, weights hash, preprocessing) as .npz.

The covariance is stored packed (``sigma_upper``: its upper triangle as float32, see
``pack_covariance``); ``load_reference_stats`` gives it back whole, as float64.

Shipped in ``checkpoints/reference_stats/`` so that FID against a dataset split works where the
dataset itself is absent (the demo on a fresh clone). Written and read with plain arrays only
(``allow_pickle=False``).

    vaegan reference-stats --dataset mnist --split test --extractor lenet
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import MetricError, first_line
from ..storage.files import atomic_write
from ..storage.paths import default_checkpoints_dir
from .extractors import load_extractor
from .features_cache import real_features
from .stats import FeatureStats


def reference_path(dataset: str, split: str, extractor_name: str, root=None) -> Path:
    root = Path(root) if root is not None else default_checkpoints_dir() / "reference_stats"
    return root / f"{dataset}-{split}-{extractor_name}.npz"


def compute_reference_stats(dataset: str, split: str = "test", extractor: str = "lenet", data_root=None,
                            out_dir=None, progress=None) -> Path:
    """Features of every image of the split -> mean and covariance, saved as .npz; returns the path."""
    feature_net = load_extractor(extractor, dataset)
    features = real_features(feature_net, dataset, split, data_root, progress)
    stats = FeatureStats(features.shape[1])
    stats.update(features)
    path = reference_path(dataset, split, feature_net.name, out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "mu": stats.mean(), "sigma_upper": pack_covariance(stats.covariance()), "n": np.array(stats.n),
        "dataset": np.array(dataset), "split": np.array(split), "extractor": np.array(feature_net.name),
        "extractor_sha256": np.array(feature_net.weights_sha256),
        "preprocessing": np.array(feature_net.preprocessing),
    }
    atomic_write(path, lambda temporary: _save_npz(temporary, arrays))
    return path


def _save_npz(path: str, arrays: dict) -> None:
    with open(path, "wb") as handle:  # a file handle, so numpy does not append another .npz suffix
        np.savez(handle, **arrays)


def pack_covariance(sigma: np.ndarray) -> np.ndarray:
    """The upper triangle (diagonal included, row by row) of a symmetric d x d matrix, as float32.

    Half the entries and half the bytes per entry: the Inception statistics (d = 2048) take 8 MB
    instead of 34, under the 10 MB a Hugging Face repo takes without LFS. Rounding the covariance
    to float32 moves an FID by about 1e-8 of its value (measured on the shipped statistics).
    """
    return np.asarray(sigma)[np.triu_indices(sigma.shape[0])].astype(np.float32)


def unpack_covariance(upper: np.ndarray, dim: int) -> np.ndarray:
    """The symmetric float64 d x d matrix that ``pack_covariance`` packed."""
    if upper.shape != (dim * (dim + 1) // 2,):
        raise ValueError(f"sigma_upper has {upper.size} entries, not the {dim * (dim + 1) // 2} of a {dim} x {dim} matrix")
    sigma = np.zeros((dim, dim))
    sigma[np.triu_indices(dim)] = upper
    return sigma + np.triu(sigma, 1).T


def load_reference_stats(dataset: str, split: str, extractor, root=None) -> dict:
    """The shipped statistics for ``extractor`` (an extractor object); refuses a file made with other weights."""
    path = reference_path(dataset, split, extractor.name, root)
    if not path.is_file():
        raise MetricError(f"{path} is missing; make it with `vaegan reference-stats --dataset {dataset} "
                          f"--split {split}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            stats = {key: data[key] for key in data.files}
        if "sigma" not in stats:  # the packed form this module writes
            stats["sigma"] = unpack_covariance(stats["sigma_upper"], stats["mu"].shape[0])
        made_with = str(stats["extractor_sha256"])
        result = {"mu": stats["mu"], "sigma": stats["sigma"], "n": int(stats["n"]), "extractor": str(stats["extractor"]),
                  "preprocessing": str(stats["preprocessing"]), "path": os.fspath(path)}
    except Exception as error:  # numpy's and zipfile's errors for a truncated or garbled .npz, a missing array
        raise MetricError(f"{path} is corrupt ({first_line(error)}); make it again with `vaegan reference-stats`") \
            from None
    if made_with != extractor.weights_sha256:
        raise MetricError(f"{path} was made with other {extractor.name} weights; make it again with "
                          "`vaegan reference-stats`")
    return result
