"""The Gaussian model-collapse toy against its theory (Shumailov et al. 2024)."""

from __future__ import annotations

import numpy as np
import pytest

from vaegan_core.errors import ConfigError
from vaegan_core.experiments.collapse import (GaussianCollapseConfig, collapse_times, simulate, summarize,
                                              theory_generations)


def test_shapes_and_generation_zero_is_a_fit_to_real_data():
    result = simulate(GaussianCollapseConfig(samples=50, generations=10, runs=4000))
    assert result["mu"].shape == result["sigma"].shape == (11, 4000)
    # generation 0: sample mean of 50 N(0,1) values has sd 1/sqrt(50); the unbiased variance has mean 1
    assert abs(result["mu"][0].std() - 50 ** -0.5) < 0.01
    assert abs((result["sigma"][0] ** 2).mean() - 1) < 0.02


def test_unbiased_variance_is_a_martingale_while_the_median_run_collapses():
    summary = summarize(GaussianCollapseConfig(samples=20, generations=200, runs=20000))
    # E[sigma_k^2] = 1 at every k; at k = 20 the run-to-run spread is still small enough to see it
    assert summary["variance_mean"][20] == pytest.approx(1.0, abs=0.08)
    assert summary["sigma_median"][200] < 0.05  # ...while the typical run has collapsed


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_collapse_times_follow_theory(estimator):
    rows = collapse_times([10, 20, 50], GaussianCollapseConfig(estimator=estimator, runs=2000))
    for row in rows:
        assert row["to_half"] == pytest.approx(row["to_half_theory"], rel=0.15, abs=1.5)
        assert row["to_tenth"] == pytest.approx(row["to_tenth_theory"], rel=0.1)


def test_theory_constants():
    # for large M the exact drift gives the textbook constants
    assert theory_generations(1001, "unbiased", 0.5) == pytest.approx(1.386 * 1000, rel=2e-3)
    assert theory_generations(1001, "unbiased", 0.1) == pytest.approx(4.605 * 1000, rel=2e-3)
    assert theory_generations(1000, "mle", 0.5) == pytest.approx(0.693 * 1000, rel=2e-3)
    assert theory_generations(1000, "mle", 0.1) == pytest.approx(2.303 * 1000, rel=2e-3)


def test_w2_grows_like_one_and_a_half_n_over_m():
    summary = summarize(GaussianCollapseConfig(samples=1000, generations=50, runs=8000))
    measured = np.array(summary["w2_squared_mean"][10:51])
    theory = np.array(summary["w2_squared_theory"][10:51])
    assert np.all(np.abs(measured / theory - 1) < 0.15)


def test_tails_vanish_in_the_typical_run():
    summary = summarize(GaussianCollapseConfig(samples=20, generations=60, runs=4000))
    assert summary["tail_mass_real"] == pytest.approx(0.0455, abs=1e-4)
    assert summary["tail_mass_median"][0] == pytest.approx(0.0455, abs=0.01)
    assert summary["tail_mass_median"][60] < 0.2 * summary["tail_mass_median"][0]


def test_fresh_real_data_and_accumulation_prevent_collapse_and_bias_speeds_it():
    base = dict(samples=20, generations=400, runs=2000)
    plain = np.median(simulate(GaussianCollapseConfig(**base))["sigma"][-1])
    fresh = np.median(simulate(GaussianCollapseConfig(**base, real_fraction=0.5))["sigma"][-1])
    kept = np.median(simulate(GaussianCollapseConfig(**base, accumulate=True))["sigma"][-1])
    assert plain < 0.05 and fresh > 0.8 and kept > 0.7
    biased = summarize(GaussianCollapseConfig(samples=20, generations=400, runs=2000, sampling_bias=0.1))
    assert biased["generations_to_half"] < 0.5 * summarize(GaussianCollapseConfig(**base))["generations_to_half"]


def test_seeded_and_validated():
    config = GaussianCollapseConfig(samples=10, generations=5, runs=3, seed=7)
    np.testing.assert_array_equal(simulate(config)["sigma"], simulate(config)["sigma"])
    for bad in (dict(samples=1), dict(estimator="bayes"), dict(real_fraction=1.5), dict(sampling_bias=1.0)):
        with pytest.raises(ConfigError):
            simulate(GaussianCollapseConfig(**bad))
