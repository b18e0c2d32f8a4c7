"""The features of real images, cached on disk: one ``.npy`` per (dataset, split, extractor weights), read
with ``allow_pickle=False``, so the slow Inception pass over a split is paid once per machine.

The work is saved as it goes, in parts of ``PART_IMAGES`` images beside the cache file, so an interrupted
run (Ctrl-C, a crash, a closed laptop) continues where it stopped.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..training.data import load_dataset, user_cache_dir
from ..errors import MetricError
from ..storage.files import save_npy_atomic
from ..training.folders import storage_name
from .extractors import extractor_identity

Progress = Callable[[float, str], None]
PART_IMAGES = 1000  # images per saved part of real_features (at most a few minutes of Inception on a CPU)


def real_features(extractor, dataset: str, split: str, data_root=None, progress: Progress | None = None,
                  batch_size: int = 500, images: torch.Tensor | None = None) -> np.ndarray:
    """Features of every image of a dataset split (N x d float32), cached on disk by extractor weights.

    ``images`` (uint8, the split as ``load_dataset`` returns it) saves loading the split again.
    The work is saved as it goes, in parts of ``PART_IMAGES`` images beside the cache file, so an
    interrupted run (Ctrl-C, a crash, a closed laptop) continues where it stopped: the Inception
    features of a 60,000-image train split take hours on a CPU.
    """
    path = real_features_path(extractor, dataset, split, None if images is None else tuple(images.shape[1:]))
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink()  # a corrupt cache entry is recomputed, not trusted
    if images is None:
        images, _ = load_dataset(dataset, split, data_root)
    total = images.shape[0]
    parts_dir = path.with_name(f"{path.stem}.{total}.parts")  # parts of a split of this size only
    chunks = _saved_parts(parts_dir, total, extractor.feature_dim)
    done = sum(chunk.shape[0] for chunk in chunks)
    message = f"features of real {dataset} {split} images" + (f" (resumed at {done:,})" if done else "")
    while done < total:
        stop, part = min(total, done + PART_IMAGES), []
        for begin in range(done, stop, batch_size):
            end = min(stop, begin + batch_size)
            part.append(extractor.features(images[begin:end].float() / 255).numpy())
            if progress:
                progress(end / total, message)
        chunks.append(np.concatenate(part).astype(np.float32))
        parts_dir.mkdir(parents=True, exist_ok=True)
        save_npy_atomic(parts_dir / f"{done:07d}-{stop:07d}.npy", chunks[-1])
        done = stop
    features = np.concatenate(chunks)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_npy_atomic(path, features)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return features


def _saved_parts(parts_dir: Path, total: int, dim: int) -> list[np.ndarray]:
    """The parts an interrupted ``real_features`` saved, in order from image 0. A part that does not
    fit (unreadable, wrong shape, a gap before it) is deleted with every part after it."""
    parts = sorted(parts_dir.glob("*.npy")) if parts_dir.is_dir() else []
    chunks, done = [], 0
    for index, part in enumerate(parts):
        try:
            begin, stop = (int(bound) for bound in part.stem.split("-"))
            chunk = np.load(part, allow_pickle=False)
            fits = begin == done and stop <= total and chunk.shape == (stop - begin, dim)
        except (OSError, ValueError):
            fits = False
        if not fits:
            for stale in parts[index:]:
                stale.unlink(missing_ok=True)
            break
        chunks.append(chunk.astype(np.float32, copy=False))
        done = stop
    return chunks


def real_features_path(extractor, dataset: str, split: str, image_shape: tuple[int, ...] | None = None) -> Path:
    """The cache file of a split's features. ``extractor``: a loaded extractor or its ``extractor_identity``
    (both have ``name`` and ``weights_sha256``), so the path changes with the weights; an image folder's name
    carries its listing and ``image_shape`` (``folders.storage_name``)."""
    name = storage_name(dataset, image_shape)
    return features_dir() / f"{name}-{split}-{extractor.name}-{extractor.weights_sha256[:16]}.npy"


def features_dir() -> Path:
    """Where the real images' features are cached, one .npy per dataset, split and extractor weights."""
    return user_cache_dir() / "vaegan" / "features"


def real_features_cached(extractor_name: str, dataset: str, split: str = "test", classifier_directory=None) -> bool:
    """Whether the real-image features for this extractor, with the weights installed now, are already
    in the disk cache (no extraction needed). False when the extractor is not there at all."""
    try:
        identity = extractor_identity(extractor_name, dataset, classifier_directory)
    except MetricError:
        return False
    return real_features_path(identity, dataset, split).is_file()
