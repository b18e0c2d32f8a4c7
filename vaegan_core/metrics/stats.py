"""Streaming mean and covariance of feature vectors, accumulated in float64.

``FeatureStats`` lets the evaluation stream features batch by batch (10k Inception vectors of
2048 floats never need to sit in memory at once) and still get exactly the numbers that
``np.mean(x, 0)`` and ``np.cov(x, rowvar=False)`` give on the concatenation, whatever the
batch size.
"""

from __future__ import annotations

import numpy as np

from ..errors import MetricError


def as_float64_matrix(features, name: str = "features") -> np.ndarray:
    """A numpy array or torch tensor ``N x d`` as a float64 numpy array; 2-D and finite, or MetricError."""
    if hasattr(features, "detach"):  # a torch tensor; checked by duck typing so numpy callers need no torch
        features = features.detach().cpu().double().numpy()
    array = np.asarray(features)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise MetricError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise MetricError(f"{name} must be real-valued, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if array.ndim != 2:
        raise MetricError(f"{name} must be a 2-D array N x d, got shape {tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise MetricError(f"{name} contain NaN or infinite values; check the extractor's input and weights")
    return array


class FeatureStats:
    """Running mean and covariance of ``d``-dimensional features.

    ``update(batch)`` takes ``B x d`` (numpy or torch, any float dtype). ``mean()`` is ``(d,)``
    and ``covariance()`` is ``(d, d)`` with the unbiased ``n - 1`` denominator, both float64.

    Why a shift: the textbook ``(sum x x^T - n m m^T) / (n - 1)`` cancels catastrophically when
    the features share a large offset (ReLU features of 1e3 with a spread of 1 lose ~6 digits).
    Summing ``x - c`` with ``c`` the first batch's mean keeps the summands of the order of the
    spread, so the result matches ``np.cov`` to ~1e-12 relative (shifted-data algorithm, Chan,
    Golub & LeVeque 1983, "Algorithms for computing the sample variance").
    """

    def __init__(self, dim: int):
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise MetricError(f"feature dimension must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self._n = 0
        self._shift: np.ndarray | None = None  # (d,) the first batch's mean
        self._sum = np.zeros(self.dim, dtype=np.float64)  # (d,) sum of (x - shift)
        self._outer = np.zeros((self.dim, self.dim), dtype=np.float64)  # (d, d) sum of (x - shift)(x - shift)^T

    @property
    def n(self) -> int:
        """Number of feature vectors seen so far."""
        return self._n

    def update(self, features) -> None:
        """Add a batch ``B x d`` of features (numpy array or torch tensor); ``B = 0`` is a no-op."""
        batch = as_float64_matrix(features)
        if batch.shape[1] != self.dim:
            raise MetricError(f"features have dimension {batch.shape[1]} but these statistics expect {self.dim}")
        if batch.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = batch.mean(axis=0)
        centred = batch - self._shift
        self._sum += centred.sum(axis=0)
        self._outer += centred.T @ centred  # one GEMM per batch: the whole cost of streaming
        self._n += batch.shape[0]

    def mean(self) -> np.ndarray:
        """Sample mean ``(d,)`` float64; needs at least one vector."""
        if self._n < 1:
            raise MetricError("no features were added; call update() with at least one batch first")
        return self._shift + self._sum / self._n

    def covariance(self) -> np.ndarray:
        """Unbiased sample covariance ``(d, d)`` float64, equal to ``np.cov(x, rowvar=False)``; needs n >= 2."""
        if self._n < 2:
            raise MetricError(f"a covariance needs at least 2 feature vectors, got {self._n}")
        # sum (x - m)(x - m)^T = sum (x - c)(x - c)^T - n (m - c)(m - c)^T, with m - c small by the choice of c
        offset = self._sum / self._n
        covariance = (self._outer - self._n * np.outer(offset, offset)) / (self._n - 1)
        return (covariance + covariance.T) / 2  # exact symmetry, which the eigen-solvers downstream assume

    def __repr__(self) -> str:
        return f"FeatureStats(dim={self.dim}, n={self._n})"
