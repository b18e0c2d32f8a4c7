"""Sample-based scores on features and class predictions: IS, KID, precision/recall,
density/coverage and mode counts. Pure float64 numpy math; inputs may be numpy arrays or
torch tensors.

Pairwise distances are computed a chunk of rows at a time, so memory stays O(chunk * N)
(10k x 10k float64 distances would be 800 MB at once).
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

from ..errors import MetricError
from .stats import as_float64_matrix


# --------------------------------------------------------------------------- validation


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise MetricError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _feature_pair(real, fake, min_samples: int = 1):
    """``real`` N x d and ``fake`` M x d as float64, same d, finite, each with at least ``min_samples`` rows."""
    real = as_float64_matrix(real, "real features")
    fake = as_float64_matrix(fake, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(f"real and fake features differ in dimension ({real.shape[1]} vs {fake.shape[1]}); "
                          "extract both with the same network")
    for name, array in (("real", real), ("fake", fake)):
        if array.shape[0] < min_samples:
            raise MetricError(f"{name} features have {array.shape[0]} rows but this score needs at least {min_samples}")
    return real, fake


def _class_indices(labels, name: str, num_classes: int) -> np.ndarray:
    """A 1-D integer array of class indices in [0, num_classes), or MetricError."""
    if hasattr(labels, "detach"):  # a torch tensor; keep its integer dtype
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise MetricError(f"{name} must be a non-empty 1-D array of class indices, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise MetricError(f"{name} must hold integer class indices (use probs.argmax(1)), got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise MetricError(f"{name} must lie in [0, {num_classes}), got values from {labels.min()} to {labels.max()}")
    return labels


# --------------------------------------------------------------------------- Inception Score


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score of class probabilities ``probs`` N x C (rows sum to 1): ``(mean, std)`` over splits.

    IS = exp(E_x KL(p(y|x) || p(y))), p(y) the mean of p(y|x) over the split (Salimans et al.
    2016, "Improved techniques for training GANs"). Range [1, C]. Splits are consecutive blocks,
    as in the reference code, and the std is over splits (ddof = 0).
    """
    probs = as_float64_matrix(probs, "class probabilities")
    splits = _positive_int(splits, "splits")
    if probs.shape[0] < splits:
        raise MetricError(f"the Inception Score needs at least one sample per split: got {probs.shape[0]} "
                          f"samples for {splits} splits")
    if probs.min() < 0:
        raise MetricError("class probabilities must be non-negative; pass softmax outputs, not logits")
    row_sums = probs.sum(axis=1)
    if np.abs(row_sums - 1.0).max() > 1e-3:
        raise MetricError(f"each row of class probabilities must sum to 1 (found sums from {row_sums.min():.4g} "
                          f"to {row_sums.max():.4g}); pass softmax outputs, not logits")
    n = probs.shape[0]
    scores = []
    for index in range(splits):
        part = probs[index * n // splits:(index + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)  # p(y) over this split
        # rel_entr gives p log(p / q) with 0 log 0 = 0, so one-hot rows need no epsilon
        scores.append(np.exp(rel_entr(part, marginal).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------- Kernel Inception Distance


def _polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between m x d sets with k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018, eq. 3)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    # the within-set sums leave out i == j: that is what makes the estimator unbiased
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(real, fake, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID of features ``real`` N x d and ``fake`` M x d: ``(mean, std)`` of the unbiased MMD^2 over subsets.

    Cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018, "Demystifying MMD
    GANs"), on ``subsets`` pairs of random subsets of size min(subset_size, N, M) drawn without
    replacement from ``np.random.default_rng(seed)``, as torch-fidelity and clean-fid do. Unlike
    FID the estimate is unbiased, so it can be slightly negative for matching distributions.
    """
    real, fake = _feature_pair(real, fake, min_samples=2)
    subsets = _positive_int(subsets, "subsets")
    size = min(_positive_int(subset_size, "subset_size", minimum=2), real.shape[0], fake.shape[0])
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for index in range(subsets):
        real_subset = real[rng.choice(real.shape[0], size, replace=False)]
        fake_subset = fake[rng.choice(fake.shape[0], size, replace=False)]
        values[index] = _polynomial_mmd2_unbiased(real_subset, fake_subset)
    return float(values.mean()), float(values.std())


# --------------------------------------------------------------------------- k-NN manifold scores


def _distances(a: np.ndarray, b: np.ndarray, a_norms: np.ndarray, b_norms: np.ndarray) -> np.ndarray:
    """Euclidean distances ``len(a) x len(b)`` via |a|^2 - 2 a.b + |b|^2, as scikit-learn computes them."""
    squared = a_norms[:, None] - 2.0 * (a @ b.T) + b_norms[None, :]
    return np.sqrt(np.maximum(squared, 0.0))  # rounding can make a squared distance slightly negative


def _kth_neighbour_radii(x: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Distance from each row of ``x`` (N x d) to its k-th nearest other row, shape (N,)."""
    norms = np.einsum("ij,ij->i", x, x)
    radii = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk):
        rows = slice(start, min(start + chunk, x.shape[0]))
        block = _distances(x[rows], x, norms[rows], norms)
        local = np.arange(block.shape[0])
        block[local, local + start] = 0.0  # the point itself, exactly, so it is always the 0-th neighbour
        # index k of the sorted row: the point itself is at 0, its k-th neighbour at k
        radii[rows] = np.partition(block, k, axis=1)[:, k]
    return radii


def _manifold_counts(real: np.ndarray, fake: np.ndarray, real_radii: np.ndarray,
                     fake_radii: np.ndarray | None, chunk: int, fake_is_real: bool = False) -> dict:
    """One chunked pass over real-fake distances collecting what precision/recall/density/coverage/tail mass
    need. ``fake_is_real``: ``fake`` is ``real`` itself, and each point's distance to itself is left out."""
    real_norms, fake_norms = np.einsum("ij,ij->i", real, real), np.einsum("ij,ij->i", fake, fake)
    fake_in_real_balls = np.empty(fake.shape[0], dtype=np.int64)  # per fake: real balls that contain it
    nearest_real = np.empty(fake.shape[0], dtype=np.int64)  # per fake: index of the nearest real point
    real_in_fake_balls = np.zeros(real.shape[0], dtype=bool)  # per real: inside some fake ball?
    nearest_fake = np.full(real.shape[0], np.inf)  # per real: distance to the nearest fake
    for start in range(0, fake.shape[0], chunk):
        rows = slice(start, min(start + chunk, fake.shape[0]))
        block = _distances(fake[rows], real, fake_norms[rows], real_norms)  # chunk x N_real
        if fake_is_real:
            local = np.arange(block.shape[0])
            block[local, local + start] = np.inf
        fake_in_real_balls[rows] = (block < real_radii[None, :]).sum(axis=1)
        nearest_real[rows] = block.argmin(axis=1)
        if fake_radii is not None:
            real_in_fake_balls |= (block < fake_radii[rows, None]).any(axis=0)
        np.minimum(nearest_fake, block.min(axis=0), out=nearest_fake)
    return {"fake_in_real_balls": fake_in_real_balls, "real_in_fake_balls": real_in_fake_balls,
            "nearest_fake": nearest_fake, "nearest_real": nearest_real}


def precision_recall(real, fake, k: int = 3, chunk: int = 1024) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` M x d against ``real`` N x d.

    Each set's manifold is the union of balls around its points with radius the distance to the
    k-th nearest neighbour (the point itself excluded). precision = share of fakes inside the real
    manifold (fidelity); recall = share of reals inside the fake manifold (diversity). Both in [0, 1].
    """
    k = _positive_int(k, "k")
    chunk = _positive_int(chunk, "chunk")
    real, fake = _feature_pair(real, fake, min_samples=k + 1)
    real_radii = _kth_neighbour_radii(real, k, chunk)
    fake_radii = _kth_neighbour_radii(fake, k, chunk)
    counts = _manifold_counts(real, fake, real_radii, fake_radii, chunk)
    return {"precision": float((counts["fake_in_real_balls"] > 0).mean()),
            "recall": float(counts["real_in_fake_balls"].mean())}


def density_coverage(real, fake, k: int = 5, chunk: int = 1024) -> dict:
    """Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics") of ``fake`` M x d.

    density = (1 / kM) sum_j sum_i 1[fake_j in B(real_i, r_i)], about 1 when the distributions match
    and unbounded above; coverage = share of reals whose k-NN ball contains at least one fake, in [0, 1].
    Only the real manifold is used, which makes both robust to fake outliers.
    """
    k = _positive_int(k, "k")
    chunk = _positive_int(chunk, "chunk")
    real, fake = _feature_pair(real, fake, min_samples=k + 1)
    real_radii = _kth_neighbour_radii(real, k, chunk)
    counts = _manifold_counts(real, fake, real_radii, None, chunk)
    return {"density": float(counts["fake_in_real_balls"].mean() / k),
            "coverage": float((counts["nearest_fake"] < real_radii).mean())}


def tail_mass(real, fake, k: int = 5, share: float = 0.1, chunk: int = 1024, held_out=None) -> dict:
    """How much of ``fake`` is rare-looking and still real-looking: the tails that model collapse loses first
    (Shumailov et al. 2024).

    The tails are the ``share`` of real points with the lowest k-NN density (the largest distance to their
    k-th real neighbour). ``tail_mass`` is the share of fakes that lie inside the real manifold (the union
    of the real points' k-NN balls, as for precision) and whose nearest real point is a tail point: off-manifold
    samples are far from everything and would otherwise count as rare. ``tail_mass_real`` is the same for
    ``held_out``, other real points of the same distribution (without them: each real point against the
    other real points, which reads a little low): the level of a model that matches the data. A model that
    lost its tails falls below it."""
    k = _positive_int(k, "k")
    chunk = _positive_int(chunk, "chunk")
    if not 0.0 < share < 1.0:
        raise MetricError(f"share must be in (0, 1), got {share}")
    real, fake = _feature_pair(real, fake, min_samples=k + 1)
    radii = _kth_neighbour_radii(real, k, chunk)
    in_tail = radii >= np.quantile(radii, 1.0 - share)

    def rare_and_real(points: np.ndarray, fake_is_real: bool) -> float:
        counts = _manifold_counts(real, points, radii, None, chunk, fake_is_real)
        return float(((counts["fake_in_real_balls"] > 0) & in_tail[counts["nearest_real"]]).mean())

    level = rare_and_real(real, True) if held_out is None else rare_and_real(_feature_pair(real, held_out)[1], False)
    return {"tail_mass": rare_and_real(fake, False), "tail_mass_real": level, "tail_share": share}


CONFIDENT = 0.9  # a sample the domain classifier gives one class at least this probability is "confident"


def confident_share(probabilities, threshold: float = CONFIDENT) -> float:
    """Share of samples whose most likely class has probability >= ``threshold`` (legible, unambiguous)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] == 0:
        raise MetricError(f"probabilities must be a non-empty samples x classes array, got shape {probabilities.shape}")
    return float((probabilities.max(axis=1) >= threshold).mean())


# --------------------------------------------------------------------------- mode counts


def mode_metrics(predicted, reference_labels=None, num_classes: int = 10, min_count: int = 1) -> dict:
    """Mode coverage of generated samples from a classifier's predicted class per sample (int array M).

    Returns ``classes_covered`` (classes predicted at least ``min_count`` times), ``kl_to_uniform``
    = KL(p_gen || uniform) in nats (0 = balanced, ln C = one class only), ``histogram`` (counts per
    class) and, when ``reference_labels`` are given, ``kl_to_reference`` = KL(p_gen || p_ref) with
    p_ref their class histogram; it is infinite when a generated class never occurs in the reference.
    Classes with p_gen = 0 contribute 0 (0 log 0 = 0).
    """
    num_classes = _positive_int(num_classes, "num_classes")
    min_count = _positive_int(min_count, "min_count")
    predicted = _class_indices(predicted, "predicted classes", num_classes)
    histogram = np.bincount(predicted, minlength=num_classes)
    p_generated = histogram / histogram.sum()
    result = {
        "classes_covered": int((histogram >= min_count).sum()),
        "kl_to_uniform": float(rel_entr(p_generated, 1.0 / num_classes).sum()),
        "histogram": [int(count) for count in histogram],
    }
    if reference_labels is not None:
        reference = _class_indices(reference_labels, "reference labels", num_classes)
        p_reference = np.bincount(reference, minlength=num_classes) / reference.shape[0]
        result["kl_to_reference"] = float(rel_entr(p_generated, p_reference).sum())
    return result
