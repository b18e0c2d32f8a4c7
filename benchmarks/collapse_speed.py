"""Speed of the Gaussian model-collapse simulation (issue 7: 200 runs x 1,000 generations x 6 values of M
well under a second), and (``--live``) of the Collapse page's live image study per model.

    python benchmarks/collapse_speed.py
    VAEGAN_DATA_DIR=... python benchmarks/collapse_speed.py --live     # writes benchmarks/results/collapse_live.json

``--live`` runs ``collapse_images.live_config`` (generation 0 = the shipped MNIST checkpoint, then two
fine-tuned generations) for each model with the torch threads of this machine, prints the seconds per
generation and stores them where the page reads them (with the date, the threads and the load average,
so a number taken on a busy machine says so).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
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


def live(generations: int = 2) -> None:
    import torch

    from vaegan_core.experiments.collapse_images import live_config, run
    from vaegan_core.storage.zoo import checkpoint_dir

    out = Path(__file__).resolve().parent / "results" / "collapse_live.json"
    times = {}
    print("| model | seconds per generation (train 2,000 images + measure 1,000) | torch threads | load |")
    print("|---|---:|---:|---:|")
    for kind in ("vae", "gan", "vaegan"):
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as folder:
            run(live_config(kind, str(checkpoint_dir("mnist", kind)), generations=1), folder)  # warm: imports, data
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            run(live_config(kind, str(checkpoint_dir("mnist", kind)), generations=generations), folder)
            seconds = (time.perf_counter() - start) / generations
        times[kind] = {"seconds_per_generation": round(seconds, 1), "threads": torch.get_num_threads(),
                       "load_average": round(load, 2), "when": time.strftime("%Y-%m-%d")}
        print(f"| {kind} | {seconds:.1f} | {torch.get_num_threads()} | {load:.2f} |")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(times, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    live() if "--live" in sys.argv[1:] else main()
