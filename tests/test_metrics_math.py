"""Pure metric math: FID, streaming statistics, IS, KID, precision/recall, density/coverage, modes.

Reference values come from closed forms and from the reference packages (pytorch-fid, prdc)
on the same inputs. CPU only, a few seconds in all.
"""

import math

import numpy as np
import pytest
import torch

from vaegan_core.errors import MetricError
from vaegan_core.metrics.fid import fid_from_stats, frechet_distance, sqrtm_frechet_distance
from vaegan_core.metrics.scores import (
    confident_share,
    density_coverage,
    inception_score,
    kernel_inception_distance,
    mode_metrics,
    precision_recall,
    tail_mass,
)
from vaegan_core.metrics.stats import FeatureStats


def correlated_features(n, d, seed, offset=0.0):
    """n x d features with a random non-diagonal covariance."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / math.sqrt(d) + offset


def stats_of(features):
    stats = FeatureStats(features.shape[1])
    stats.update(features)
    return stats


# --------------------------------------------------------------------------- Frechet distance


def test_fid_identity_covariances_is_mean_distance():
    d = 2048
    value = frechet_distance(np.zeros(d), np.eye(d), np.ones(d), np.eye(d))
    assert value == pytest.approx(2048.0, rel=1e-9)


def test_fid_diagonal_covariances_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3.0, 50), rng.uniform(0.1, 3.0, 50)
    mu1, mu2 = rng.standard_normal(50), rng.standard_normal(50)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_fid_of_identical_statistics_is_zero():
    features = correlated_features(3000, 256, seed=1)
    mu, sigma = features.mean(0), np.cov(features, rowvar=False)
    value = frechet_distance(mu, sigma, mu, sigma)
    assert 0.0 <= value < 1e-6


@pytest.mark.parametrize("n, d", [(200, 16), (500, 64), (3000, 256)])
def test_eigen_route_matches_sqrtm_route(n, d):
    first, second = correlated_features(n, d, seed=2), correlated_features(n, d, seed=3, offset=0.3)
    args = (first.mean(0), np.cov(first, rowvar=False), second.mean(0), np.cov(second, rowvar=False))
    ours, classic = frechet_distance(*args), sqrtm_frechet_distance(*args)
    assert abs(ours - classic) / classic < 1e-5


def test_cholesky_and_eigen_factors_agree():
    first, second = correlated_features(400, 48, seed=20), correlated_features(400, 48, seed=21)
    args = (first.mean(0), np.cov(first, rowvar=False), second.mean(0), np.cov(second, rowvar=False))
    cholesky, eigen = frechet_distance(*args, method="cholesky"), frechet_distance(*args, method="eigh")
    assert cholesky == pytest.approx(eigen, rel=1e-10)


def test_matches_pytorch_fid():
    from pytorch_fid.fid_score import calculate_frechet_distance

    first, second = correlated_features(1000, 128, seed=4), correlated_features(1000, 128, seed=5, offset=0.1)
    args = (first.mean(0), np.cov(first, rowvar=False), second.mean(0), np.cov(second, rowvar=False))
    reference = calculate_frechet_distance(*args)
    assert abs(frechet_distance(*args) - reference) / reference < 1e-6


def test_rank_deficient_needs_force():
    first, second = stats_of(correlated_features(40, 64, seed=6)), stats_of(correlated_features(40, 64, seed=7))
    with pytest.raises(MetricError, match="at least 65"):
        fid_from_stats(first, second)
    value = fid_from_stats(first, second, force=True)
    assert math.isfinite(value) and value >= 0.0


def test_fid_from_stats_equals_frechet_distance_of_np_cov():
    first, second = correlated_features(300, 32, seed=8), correlated_features(300, 32, seed=9)
    expected = frechet_distance(first.mean(0), np.cov(first, rowvar=False),
                                second.mean(0), np.cov(second, rowvar=False))
    assert fid_from_stats(stats_of(first), stats_of(second)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("bad", [
    (np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)),  # mismatched d
    (np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3)),  # mean not 1-D
    (np.zeros(3), np.eye(4), np.zeros(3), np.eye(3)),  # sigma does not match mu
    (np.zeros(3), np.full((3, 3), np.nan), np.zeros(3), np.eye(3)),  # NaN
    (np.zeros(3), np.triu(np.ones((3, 3))), np.zeros(3), np.eye(3)),  # not symmetric
    (np.zeros(3), -np.eye(3), np.zeros(3), -np.eye(3)),  # negative variances
    (np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]), np.zeros(2), np.eye(2)),  # sigma1 not PSD
    (np.zeros(2), np.eye(2), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])),  # sigma2 not PSD
])
def test_fid_bad_input(bad):
    with pytest.raises(MetricError):
        frechet_distance(*bad)


def test_fid_from_stats_mismatched_dims():
    with pytest.raises(MetricError, match="different feature dimensions"):
        fid_from_stats(stats_of(correlated_features(50, 4, 0)), stats_of(correlated_features(50, 5, 0)))


# --------------------------------------------------------------------------- streaming statistics


@pytest.mark.parametrize("offset", [0.0, 1000.0])
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_feature_stats_equal_numpy(batch_size, offset):
    features = correlated_features(300, 12, seed=10, offset=offset)
    stats = FeatureStats(12)
    for start in range(0, len(features), batch_size):
        stats.update(torch.from_numpy(features[start:start + batch_size]).float() if batch_size == 7
                     else features[start:start + batch_size])
    expected_features = features.astype(np.float32).astype(np.float64) if batch_size == 7 else features
    assert stats.n == 300
    np.testing.assert_allclose(stats.mean(), expected_features.mean(0), rtol=1e-12)
    expected = np.cov(expected_features, rowvar=False)
    np.testing.assert_allclose(stats.covariance(), expected, rtol=0, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((4, 3)), np.full((4, 5), np.nan), np.zeros((2, 5, 1))])
def test_feature_stats_bad_input(bad):
    with pytest.raises(MetricError):
        FeatureStats(5).update(bad)


def test_feature_stats_needs_two_samples_for_covariance():
    stats = FeatureStats(3)
    stats.update(np.ones((1, 3)))
    with pytest.raises(MetricError, match="at least 2"):
        stats.covariance()


# --------------------------------------------------------------------------- KID


def test_kid_of_a_set_against_itself_is_about_zero():
    features = correlated_features(600, 32, seed=11)
    mean, std = kernel_inception_distance(features, features, subsets=50, subset_size=200)
    assert abs(mean) <= 3 * std + 1e-6


def test_kid_of_shifted_sets_is_clearly_positive():
    real, fake = correlated_features(400, 32, seed=12), correlated_features(400, 32, seed=13, offset=1.0)
    mean, std = kernel_inception_distance(real, fake, subsets=20, subset_size=200)
    assert mean > 10 * std and mean > 0.1


def test_kid_on_whole_sets_equals_brute_force_unbiased_mmd():
    rng = np.random.default_rng(19)
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 3)) + 0.5
    kernel = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i in range(12) for j in range(12) if i != j)
    across = sum(kernel(x[i], y[j]) for i in range(12) for j in range(12))
    expected = within / (12 * 11) - 2 * across / 144
    mean, std = kernel_inception_distance(x, y, subsets=3, subset_size=50)  # subsets are the whole sets
    assert mean == pytest.approx(expected, rel=1e-12) and std < 1e-12


def test_kid_is_seeded():
    real, fake = correlated_features(300, 8, seed=14), correlated_features(300, 8, seed=15)
    first = kernel_inception_distance(real, fake, subsets=5, subset_size=100, seed=3)
    assert first == kernel_inception_distance(real, fake, subsets=5, subset_size=100, seed=3)


# --------------------------------------------------------------------------- Inception Score


def test_inception_score_uniform_one_hot_is_number_of_classes():
    probs = np.eye(10)[np.arange(1000) % 10]
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-9) and std < 1e-9


def test_inception_score_matches_scipy_entropy_formula():
    from scipy.stats import entropy

    logits = np.random.default_rng(22).standard_normal((200, 10)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    scores = [np.exp(np.mean([entropy(row, part.mean(0)) for row in part])) for part in np.split(probs, 4)]
    assert inception_score(probs, splits=4) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-12)


def test_inception_score_single_class_is_one():
    probs = torch.zeros(500, 10)
    probs[:, 3] = 1.0
    mean, _ = inception_score(probs)
    assert mean == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("bad", [
    np.full((100, 10), 0.2),  # rows sum to 2: logits or unnormalised
    -np.eye(10)[np.arange(100) % 10],  # negative
    np.eye(10)[:5],  # fewer samples than splits
    np.ones(10) / 10,  # not 2-D
])
def test_inception_score_bad_input(bad):
    with pytest.raises(MetricError):
        inception_score(bad, splits=10)


# --------------------------------------------------------------------------- precision / recall / density / coverage


@pytest.mark.parametrize("chunk", [1024, 37])
def test_prdc_matches_reference(chunk):
    from prdc import compute_prdc

    real, fake = correlated_features(300, 16, seed=16), correlated_features(250, 16, seed=17, offset=0.2)
    pr = precision_recall(real, fake, k=3, chunk=chunk)
    reference = compute_prdc(real, fake, nearest_k=3)
    assert pr["precision"] == pytest.approx(reference["precision"], abs=1e-9)
    assert pr["recall"] == pytest.approx(reference["recall"], abs=1e-9)
    dc = density_coverage(torch.from_numpy(real), fake, k=5, chunk=chunk)
    reference = compute_prdc(real, fake, nearest_k=5)
    assert dc["density"] == pytest.approx(reference["density"], abs=1e-9)
    assert dc["coverage"] == pytest.approx(reference["coverage"], abs=1e-9)


def test_prdc_of_same_distribution_is_high_and_of_far_set_is_zero():
    real, twin = correlated_features(400, 8, seed=18), correlated_features(400, 8, seed=18) + 1e-3
    assert precision_recall(real, twin)["precision"] > 0.95
    far = precision_recall(real, real + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}


@pytest.mark.parametrize("real, fake, k", [
    (np.zeros((10, 4)), np.zeros((10, 5)), 3),  # mismatched feature dims
    (np.zeros(10), np.zeros((10, 4)), 3),  # not 2-D
    (np.zeros((3, 4)), np.zeros((10, 4)), 3),  # n <= k
    (np.full((10, 4), np.nan), np.zeros((10, 4)), 3),  # NaN
])
def test_manifold_scores_bad_input(real, fake, k):
    with pytest.raises(MetricError):
        precision_recall(real, fake, k=k)
    with pytest.raises(MetricError):
        density_coverage(real, fake, k=k)


def test_kid_bad_input():
    with pytest.raises(MetricError):
        kernel_inception_distance(np.zeros((10, 4)), np.zeros((10, 5)))
    with pytest.raises(MetricError):
        kernel_inception_distance(np.zeros((1, 4)), np.zeros((10, 4)))


# --------------------------------------------------------------------------- mode metrics


def test_mode_metrics_uniform_labels():
    result = mode_metrics(np.arange(1000) % 10)
    assert result["classes_covered"] == 10
    assert result["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
    assert result["histogram"] == [100] * 10


def test_mode_metrics_single_class():
    result = mode_metrics(torch.full((50,), 7), num_classes=10)
    assert result["classes_covered"] == 1
    assert result["kl_to_uniform"] == pytest.approx(math.log(10), rel=1e-12)


def test_mode_metrics_reference_equal_to_generated_histogram():
    predicted = np.repeat(np.arange(10), np.arange(1, 11))
    result = mode_metrics(predicted, reference_labels=np.repeat(np.arange(10), 3 * np.arange(1, 11)))
    assert result["kl_to_reference"] == pytest.approx(0.0, abs=1e-12)
    assert result["kl_to_uniform"] > 0.0


def test_mode_metrics_min_count():
    predicted = np.array([0, 0, 0, 1, 2, 2])
    assert mode_metrics(predicted, num_classes=3, min_count=2)["classes_covered"] == 2


@pytest.mark.parametrize("bad", [np.array([0.0, 1.0]), np.array([0, 10]), np.array([-1, 2]), np.zeros((2, 2), int)])
def test_mode_metrics_bad_input(bad):
    with pytest.raises(MetricError):
        mode_metrics(bad, num_classes=10)


def test_tail_mass_matches_the_data_itself_and_falls_when_tails_are_lost():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(2000, 4))
    same = tail_mass(real, rng.normal(size=(2000, 4)), held_out=rng.normal(size=(2000, 4)))
    assert same["tail_share"] == 0.1
    assert 0.04 < same["tail_mass"] < 0.11 and abs(same["tail_mass"] - same["tail_mass_real"]) < 0.035
    assert tail_mass(real, 0.7 * rng.normal(size=(2000, 4)))["tail_mass"] < 0.02  # lost variance: tails go first
    assert tail_mass(real, 0.3 * rng.normal(size=(2000, 4)))["tail_mass"] < 0.01
    assert 0.02 < tail_mass(real, real[:10])["tail_mass_real"] < 0.1  # leave-one-out: a little low


def test_tail_mass_bad_share():
    with pytest.raises(MetricError, match="share"):
        tail_mass(np.zeros((10, 2)), np.zeros((10, 2)), share=1.0)


def test_confident_share():
    probabilities = np.array([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.89, 0.11]])
    assert confident_share(probabilities) == 0.5
    assert confident_share(probabilities, threshold=0.5) == 1.0
    with pytest.raises(MetricError, match="samples x classes"):
        confident_share(np.zeros(3))
