"""Model collapse of a Gaussian re-fitted to its own samples (Shumailov et al., Nature 2024), vectorised.

Generation 0 fits N(mu, sigma^2) to M samples of N(0, 1); generation k fits it to M samples drawn
from generation k-1 (optionally mixed with fresh real data, or accumulated over generations).
Instead of drawing the M samples, each generation draws the fitted mean and sum of squares
straight from their exact sampling distributions (for Gaussian data they are independent):

    mean ~ N(mu, sigma^2 / M),    S = sum (x - mean)^2 ~ sigma^2 chi^2_{M-1},

so R runs x G generations cost O(R x G) random numbers, whatever M is.

What to expect (and what tests/test_collapse.py checks): with the unbiased estimator
sigma^2 = S / (M - 1), E[sigma_k^2] = 1 for every k (a martingale) while log sigma_k^2 drifts down
by about 1 / (M - 1) per generation, so the *typical* run collapses: the median sigma falls below
0.5 after ~2 ln 2 (M - 1) = 1.39 (M - 1) generations and below 0.1 after ~2 ln 10 (M - 1) = 4.6 (M - 1).
The MLE S / M adds a drift of -1 / M: ~0.69 M and ~2.3 M generations. Early on, the squared
2-Wasserstein distance to N(0, 1), mu^2 + (sigma - 1)^2, grows like 1.5 k / M.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import digamma, ndtr

from ..errors import ConfigError

ESTIMATORS = ("unbiased", "mle")


@dataclass(frozen=True)
class GaussianCollapseConfig:
    samples: int = 100             # M: samples each generation is fitted to
    generations: int = 1000        # generations after generation 0
    runs: int = 200                # independent chains
    estimator: str = "unbiased"    # "unbiased": S / (M - 1); "mle": S / M
    sampling_bias: float = 0.0     # lambda: generated samples come from N(mu, ((1 - lambda) sigma)^2), e.g. low temperature
    real_fraction: float = 0.0     # share of each generation's M samples that is fresh N(0, 1) data
    accumulate: bool = False       # fit to all data so far (real + every generation) instead of the newest M
    seed: int = 0

    def check(self) -> None:
        if self.samples < 2:
            raise ConfigError(f"samples (M) must be at least 2, got {self.samples}")
        if self.generations < 1 or self.runs < 1:
            raise ConfigError("generations and runs must be positive")
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"unknown estimator {self.estimator!r}; choose unbiased or mle")
        if not 0.0 <= self.sampling_bias < 1.0:
            raise ConfigError(f"sampling_bias must be in [0, 1), got {self.sampling_bias}")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ConfigError(f"real_fraction must be in [0, 1], got {self.real_fraction}")


def _draws(rng: np.random.Generator, count: int, shape: tuple[int, int]):
    """Standardised sufficient statistics of ``count`` N(0, 1) samples, for every generation and run at once:
    (z, c) with sample mean = z / sqrt(count) and sum of squares = c ~ chi^2_{count-1}. A sample of
    N(mu, sigma^2) then has mean mu + sigma z / sqrt(count) and sum of squares sigma^2 c."""
    if count == 0:
        return np.zeros(shape), np.zeros(shape)
    z = rng.standard_normal(shape)
    c = rng.chisquare(count - 1, shape) if count > 1 else np.zeros(shape)
    return z, c


def _pool(n_a, mean_a, s_a, n_b, mean_b, s_b):
    """Merge two groups' (count, mean, sum of squares) (Chan et al. 1979)."""
    n = n_a + n_b
    if n_b == 0:
        return n, mean_a, s_a
    if n_a == 0:
        return n, mean_b, s_b
    delta = mean_b - mean_a
    return n, mean_a + delta * n_b / n, s_a + s_b + delta ** 2 * n_a * n_b / n


def simulate(config: GaussianCollapseConfig) -> dict[str, np.ndarray]:
    """Fitted (mu, sigma) of every run and generation: arrays ``generations + 1`` x ``runs``."""
    config.check()
    rng = np.random.default_rng(config.seed)
    m, runs = config.samples, config.runs
    real_count = int(round(config.real_fraction * m))
    generated_count = m - real_count
    spread = 1.0 - config.sampling_bias
    mus = np.empty((config.generations + 1, runs))
    sigmas = np.empty_like(mus)

    def fit(n, s):
        return np.sqrt(s / (n - 1) if config.estimator == "unbiased" else s / n)

    steps = (config.generations + 1, runs)
    z0, c0 = _draws(rng, m, steps[:1] + (runs,))  # generation 0: M real samples
    z_real, c_real = _draws(rng, real_count, steps)  # all random numbers up front: the loop is arithmetic only
    z_fake, c_fake = _draws(rng, generated_count, steps)
    mean, squares = z0[0] / math.sqrt(m), c0[0]
    total = (m, mean, squares)
    mus[0], sigmas[0] = mean, fit(m, squares)
    if real_count == 0 and not config.accumulate:
        # the plain chain in closed form: sigma_k = sigma_{k-1} * spread * sqrt(c_k / d) (a cumulative product),
        # mu_k = mu_{k-1} + spread * sigma_{k-1} * z_k / sqrt(M) (a cumulative sum)
        divisor = m - 1 if config.estimator == "unbiased" else m
        factors = spread * np.sqrt(c_fake[1:] / divisor)
        sigmas[1:] = sigmas[0] * np.cumprod(factors, axis=0)
        mus[1:] = mus[0] + np.cumsum(spread * sigmas[:-1] * z_fake[1:] / math.sqrt(m), axis=0)
        return {"mu": mus, "sigma": sigmas}
    for k in range(1, config.generations + 1):
        real = (real_count, z_real[k] / math.sqrt(max(real_count, 1)), c_real[k])
        scale = spread * sigmas[k - 1]
        fake = (generated_count, mus[k - 1] + scale * z_fake[k] / math.sqrt(max(generated_count, 1)),
                scale ** 2 * c_fake[k])
        batch = _pool(*real, *fake)
        total = _pool(*total, *batch) if config.accumulate else batch
        n, mean, squares = total
        mus[k], sigmas[k] = mean, fit(n, squares)
    return {"mu": mus, "sigma": sigmas}


def summarize(config: GaussianCollapseConfig, result: dict[str, np.ndarray] | None = None) -> dict:
    """Per-generation curves (JSON-ready lists) and the collapse times of the median run."""
    result = result if result is not None else simulate(config)
    mu, sigma = result["mu"], result["sigma"]
    generations = np.arange(mu.shape[0])
    tails = ndtr((-2 - mu) / sigma) + 1 - ndtr((2 - mu) / sigma)
    median = np.median(sigma, axis=1)
    return {
        "config": asdict(config),
        "generation": generations.tolist(),
        "sigma_median": median.tolist(),
        "sigma_p10": np.percentile(sigma, 10, axis=1).tolist(),
        "sigma_p90": np.percentile(sigma, 90, axis=1).tolist(),
        "variance_mean": (sigma ** 2).mean(1).tolist(),
        "w2_squared_mean": (mu ** 2 + (sigma - 1) ** 2).mean(1).tolist(),
        "w2_squared_theory": (1.5 * generations / config.samples).tolist(),
        "tail_mass_mean": tails.mean(1).tolist(),
        "tail_mass_median": np.median(tails, axis=1).tolist(),
        "tail_mass_real": float(2 * ndtr(-2.0)),
        "generations_to_half": first_below(median, 0.5),
        "generations_to_tenth": first_below(median, 0.1),
    }


def first_below(curve: np.ndarray, threshold: float) -> int | None:
    """The first generation at which ``curve`` is below ``threshold``, or None if it never is."""
    below = np.flatnonzero(np.asarray(curve) < threshold)
    return int(below[0]) if below.size else None


def theory_generations(samples: int, estimator: str, threshold: float) -> float:
    """Generations until the median sigma falls below ``threshold``.

    log sigma^2 changes each generation by log(chi^2_{M-1} / d) with d = M - 1 (unbiased) or M (MLE),
    whose mean is psi((M-1)/2) + log(2/d) (digamma): about -1/(M-1), resp. -2/M. The median run
    follows the mean drift, so it reaches sigma = threshold after 2 ln(1/threshold) / |drift|
    generations: ~1.39 (M-1) for 0.5 and ~4.6 (M-1) for 0.1 (unbiased), ~0.69 M and ~2.3 M (MLE).
    """
    divisor = samples - 1 if estimator == "unbiased" else samples
    drift = -(digamma((samples - 1) / 2) + math.log(2.0 / divisor))
    return 2.0 * math.log(1.0 / threshold) / drift


def collapse_times(sample_sizes, config: GaussianCollapseConfig) -> list[dict]:
    """Measured vs theoretical generations to median sigma < 0.5 and < 0.1, for each M."""
    rows = []
    for samples in sample_sizes:
        needed = int(theory_generations(samples, config.estimator, 0.1) * 1.5) + 10
        run_config = GaussianCollapseConfig(**{**asdict(config), "samples": int(samples),
                                               "generations": max(config.generations, needed)})
        median = np.median(simulate(run_config)["sigma"], axis=1)
        rows.append({
            "samples": int(samples),
            "to_half": first_below(median, 0.5), "to_half_theory": theory_generations(samples, config.estimator, 0.5),
            "to_tenth": first_below(median, 0.1), "to_tenth_theory": theory_generations(samples, config.estimator, 0.1),
        })
    return rows
