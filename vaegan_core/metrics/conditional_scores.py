"""Scores of a conditional model: does it draw the class it is asked for, how good is each class, and how
much of the class leaks into the style code z.

- ``label_adherence``: the share of samples the domain classifier assigns to the requested class (per class and
  overall);
- ``intra_class_fid``: the FID of each class's samples against that class's real images, and their mean
  (per-class FID, as in Miyato & Koyama 2018);
- ``label_probe``: the accuracy of a linear classifier predicting y from the codes mu(x) of real images. For a
  conditional encoder q(z|x, y) the class is given, so z should hold only style: chance is 1 / classes (10 %).
  An unconditional VAE puts the class into z, so its probe is far higher.
"""

from __future__ import annotations

import numpy as np

from ..errors import MetricError
from .fid import fid_from_stats
from .stats import FeatureStats


def label_adherence(probabilities: np.ndarray, requested: np.ndarray, num_classes: int) -> dict:
    """``{"label_adherence": share, "label_adherence_per_class": [share per class]}`` from the classifier's
    class probabilities (n x classes) of samples drawn for the ``requested`` classes (n)."""
    predicted = np.asarray(probabilities).argmax(1)
    requested = np.asarray(requested).reshape(-1)
    if predicted.shape[0] != requested.shape[0] or requested.size == 0:
        raise MetricError(f"{predicted.shape[0]} classified samples but {requested.size} requested labels")
    hits = predicted == requested
    per_class = [float(hits[requested == label].mean()) if np.any(requested == label) else None
                 for label in range(num_classes)]
    return {"label_adherence": float(hits.mean()), "label_adherence_per_class": per_class}


def intra_class_fid(real: np.ndarray, real_labels: np.ndarray, fake: np.ndarray, fake_labels: np.ndarray,
                    num_classes: int, force: bool = False) -> dict:
    """``{"intra_fid": mean over classes, "intra_fid_per_class": [...]}``: each class's samples against the real
    images of that class. A class with too few samples for its feature dimension is None (and left out of the
    mean) unless ``force`` (then only a class with fewer than 2 images on a side is)."""
    real_labels, fake_labels = np.asarray(real_labels).reshape(-1), np.asarray(fake_labels).reshape(-1)
    per_class = []
    for label in range(num_classes):
        real_part, fake_part = real[real_labels == label], fake[fake_labels == label]
        dim = real.shape[1]
        fewest = min(real_part.shape[0], fake_part.shape[0])
        if fewest < 2 or (not force and fewest <= dim):
            per_class.append(None)
            continue
        real_stats, fake_stats = FeatureStats(dim), FeatureStats(dim)
        real_stats.update(real_part)
        fake_stats.update(fake_part)
        per_class.append(fid_from_stats(real_stats, fake_stats, force=force))
    measured = [value for value in per_class if value is not None]
    return {"intra_fid": float(np.mean(measured)) if measured else None, "intra_fid_per_class": per_class}


def label_probe(codes: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Test accuracy of a logistic regression predicting ``labels`` from ``codes`` (n x d), trained on a seeded
    half of them and scored on the other half."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    codes, labels = np.asarray(codes, dtype=np.float64), np.asarray(labels).reshape(-1)
    if codes.shape[0] != labels.size or labels.size < 4:
        raise MetricError(f"the label probe needs one label per code and at least 4 codes, got {codes.shape[0]} "
                          f"codes and {labels.size} labels")
    order = np.random.default_rng(seed).permutation(labels.size)
    train, test = order[: labels.size // 2], order[labels.size // 2:]
    scaler = StandardScaler().fit(codes[train])
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(codes[train]), labels[train])
    return float(probe.score(scaler.transform(codes[test]), labels[test]))
