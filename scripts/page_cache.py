"""Compute what the app's slow pages show by default for the shipped checkpoints, into each checkpoint's
``page_cache/`` folder (vaegan_core.storage.page_cache): the UMAP map of 5,000 test codes (Latent map), the latent
diagnostics of the test split (Latent space), the reconstruction errors of the first 1,000 test images
(Reconstruction's worst-first gallery), the anomaly scores of 2,000 test images and of 2,000 images of the
other dataset, picked as `vaegan eval`'s diagnostics pick them (Anomalies); and the 64 samples of each GMM prior the Overview shows (``samples/gmm.png``). The app
then opens those pages without computing them.

    python scripts/page_cache.py [--checkpoints DIR] [DATASET ...]      default: mnist fashion-mnist

Run it again after retraining a checkpoint (the files carry the checkpoint's fingerprint: stale ones are ignored
by the app and replaced here, current ones kept). Uses the same functions, images and seeds as the app.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.storage import page_cache, zoo  # noqa: E402
from vaegan_core.storage.checkpoint import load_model  # noqa: E402
from vaegan_core.analysis.anomaly import detection_sets  # noqa: E402
from vaegan_core.config import OTHER_DATASET  # noqa: E402
from vaegan_core.training.data import load_dataset  # noqa: E402
from vaegan_core.errors import VaeganError, first_line  # noqa: E402
from vaegan_core.models.prior import save_gmm_grid  # noqa: E402

MAP_IMAGES = 5000  # the Latent map's default
ANOMALY_IMAGES = 2000  # the Anomalies page's reference images (REFERENCE_IMAGES there)
WORST_POOL = 1000  # the Reconstruction page's worst-first gallery, its default pool


def ship(dataset: str, root: Path) -> None:
    test = load_dataset(dataset, "test")[0].numpy()
    for kind in ("vae", "gan", "vaegan"):
        model, message = zoo.open_model(dataset, kind, lambda folder, key: load_model(folder), root)
        if model is None:
            print(f"{dataset}/{kind}: skipped ({message})")
            continue
        folder, out = model.checkpoint, model.checkpoint.page_cache_dir
        page_cache.prune(out, model.fingerprint)  # results of an earlier checkpoint; current ones are kept
        started = time.perf_counter()
        if model.latent_gmm is not None:  # the Overview's picture of the GMM prior (vaegan fit-gmm writes it too)
            save_gmm_grid(model, model.checkpoint_dir)
        if hasattr(model, "encoder"):
            page_cache.latent_map(model, test[:MAP_IMAGES], "umap", seed=0, write_to=folder)
            page_cache.latent_usage(model, test, write_to=folder)
            page_cache.reconstruction_errors(model, test[:WORST_POOL], write_to=folder)
        normal, sets, _ = detection_sets(dataset, ANOMALY_IMAGES, seed=0)  # the Anomalies page's images
        page_cache.anomaly_scores(model, normal, dataset, write_to=folder)
        other = OTHER_DATASET.get(dataset)
        if other in sets:
            page_cache.anomaly_scores(model, sets[other], other, write_to=folder)
        size = sum(path.stat().st_size for path in out.glob("*"))
        print(f"{dataset}/{kind}: {len(list(out.glob('*')))} files, {size / 1e3:.0f} kB, "
              f"{time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["mnist", "fashion-mnist"])
    parser.add_argument("--checkpoints", type=Path, default=None, help="default: the shipped checkpoints")
    args = parser.parse_args()
    root = zoo.checkpoints_root(args.checkpoints)
    try:
        for dataset in args.datasets:
            ship(dataset, root)
    except VaeganError as error:
        sys.exit(f"page_cache: {first_line(error)}")


if __name__ == "__main__":
    main()
