"""Speed of the Gaussian model-collapse simulation (issue 7: 200 runs x 1,000 generations x 6 values of M
well under a second).

    python benchmarks/collapse_speed.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaegan_core.experiments.collapse import GaussianCollapseConfig, simulate, summarize  # noqa: E402


def seconds(function, repeats: int = 5) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    sizes = (10, 20, 50, 100, 200, 500)
    print("| what | median of 5 |")
    print("|---|---|")
    for estimator in ("unbiased", "mle"):
        def six(estimator=estimator):
            for m in sizes:
                simulate(GaussianCollapseConfig(samples=m, generations=1000, runs=200, estimator=estimator))
        print(f"| simulate: 200 runs x 1,000 generations x 6 M ({estimator}) | {seconds(six) * 1000:.0f} ms |")

    def with_summary():
        for m in sizes:
            summarize(GaussianCollapseConfig(samples=m, generations=1000, runs=200))
    print(f"| simulate + summarize (percentiles, W2, tails), same grid | {seconds(with_summary) * 1000:.0f} ms |")

    def mixed():
        for m in sizes:
            simulate(GaussianCollapseConfig(samples=m, generations=1000, runs=200, real_fraction=0.2, accumulate=True))
    print(f"| simulate with fresh real data and accumulation, same grid | {seconds(mixed) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
