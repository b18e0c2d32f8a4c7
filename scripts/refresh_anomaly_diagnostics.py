"""Recompute the anomaly part of the diagnostics stored in checkpoints' metrics.json (``vaegan eval`` stores them
once per weights), e.g. after a new anomaly score: the standard pairs of ``anomaly.standard_pairs`` with the images,
number and seed ``vaegan eval`` uses, everything else of the stored diagnostics kept as it is. A checkpoint whose
stored diagnostics are of other weights (or missing) is refused: run ``vaegan eval`` on it instead.

    python scripts/refresh_anomaly_diagnostics.py checkpoints/mnist/vae checkpoints/fashion-mnist/vae

Then regenerate what is made from the files: ``python benchmarks/results_table.py --write`` (README's diagnostics
table) and ``python scripts/page_cache.py`` (the Anomalies page's shipped scores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.analysis.anomaly import standard_pairs  # noqa: E402
from vaegan_core.analysis.diagnostics import ANOMALY_IMAGES  # noqa: E402
from vaegan_core.errors import VaeganError, first_line  # noqa: E402
from vaegan_core.storage.checkpoint import load_model  # noqa: E402
from vaegan_core.storage.checkpoint_folder import DIAGNOSTICS_KEY, CheckpointFolder  # noqa: E402


def refresh(path: Path) -> str:
    folder = CheckpointFolder(path)
    stored = folder.stored_results()
    diagnostics = stored.get(DIAGNOSTICS_KEY)
    fingerprint = folder.evaluated_fingerprint("normal")
    if not isinstance(diagnostics, dict) or diagnostics.get("checkpoint_fingerprint") != fingerprint:
        raise VaeganError(f"{path}: its stored diagnostics are not of these weights; run `vaegan eval {path}`")
    model = load_model(path)
    started = time.perf_counter()
    part = standard_pairs(model, diagnostics.get("dataset"), n=ANOMALY_IMAGES, seed=diagnostics.get("seed", 0))
    folder.store_results({DIAGNOSTICS_KEY: {**diagnostics, "anomaly": part}}, stored)
    scores = sorted({score for pair in part["pairs"].values() for score in pair})
    return f"{path}: {len(part['pairs'])} pairs x {', '.join(scores)} in {time.perf_counter() - started:.0f} s"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.checkpoints:
        try:
            print(refresh(path), flush=True)
        except VaeganError as error:
            print(f"error: {first_line(error)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
