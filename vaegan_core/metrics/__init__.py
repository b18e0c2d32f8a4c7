"""Metrics: feature extractors, streaming statistics, FID, IS, KID, precision/recall, density/coverage, modes.

The math (``stats``, ``fid``, ``scores``) is pure and takes arrays; ``extractors`` turn images
into features; ``evaluate`` ties them together for a model and a dataset.
"""

from .fid import fid_from_stats, frechet_distance  # noqa: F401
from .stats import FeatureStats  # noqa: F401

__all__ = ["frechet_distance", "fid_from_stats", "FeatureStats"]
