"""How close is the FID page's time estimate to the time the computation takes? (issue 50: the page said "about
1 s" for 5 s.) For each shipped MNIST model and n, the estimate (``ResultStore.estimate_seconds``: the features', the
sampling's and the scores' speed, each timed on a probe) beside the measured time of the same computation.

    OMP_NUM_THREADS=1 python benchmarks/fid_estimate.py [--checkpoints DIR]

Prints a Markdown table: model, n, estimate (s), measured (s), measured / estimate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    args = parser.parse_args(argv)
    import torch

    from vaegan_core.app import FID_METRICS, explorer

    torch.set_num_threads(1)  # the app's one thread per request
    shipped = explorer(args.checkpoints)
    store = shipped.results
    print("| model | n | estimate (s) | measured (s) | measured / estimate |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("vae", "gan", "vaegan"):
        model = shipped.models("mnist", [kind])[0][kind]
        for n in (1000, 5000, 10000):
            estimate = store.estimate_seconds("lenet", n, "mnist", FID_METRICS, model, "normal")
            start = time.perf_counter()
            store.compute(model, "mnist", n, "lenet", 0, FID_METRICS, "normal")
            took = time.perf_counter() - start
            print(f"| {kind} | {n:,} | {estimate:.1f} | {took:.1f} | {took / estimate:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
