"""Speed of the diagnostics against their budgets: anomaly scores of the 10,000 test images per model (< 10 s),
the memorisation check of 1,000 samples (< 5 s, training images loaded, their features and the test images'
distances to them cached, as the apps and `vaegan eval` hold them for every model of a dataset), the latent
usage of the test split, and a traversal and an arithmetic strip (what the Latent space page recomputes on a
control change; < 1 s).

    python benchmarks/diagnostics_speed.py [--dataset mnist] [--rounds 3]

Medians of interleaved rounds, after one warm-up round (the first pass pays for loading and caching).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from vaegan_core.analysis import anomaly, directions, latent_usage, memorisation  # noqa: E402
from vaegan_core.storage import zoo
from vaegan_core.storage.checkpoint import load_model  # noqa: E402
from vaegan_core.config import MODEL_KINDS, MODEL_LABELS  # noqa: E402
from vaegan_core.training.data import load_dataset  # noqa: E402
from vaegan_core.metrics.extractors import LeNetExtractor  # noqa: E402
from vaegan_core.metrics.features_cache import real_features  # noqa: E402

BUDGETS = {"anomaly scores, 10,000 test images": 10.0, "memorisation, 1,000 samples": 5.0,
           "latent usage, 10,000 test images": 10.0, "traversal strip (9 codes)": 1.0, "arithmetic strip (6 codes)": 1.0}


def tasks(model, test, train, extractor, train_features):
    found = {"anomaly scores, 10,000 test images": lambda: anomaly.anomaly_scores(model, test)}
    samples = model.sample(1000, generator=torch.Generator().manual_seed(0))
    reference = memorisation.reference_distances(test[:1000], train, extractor, train_features)
    found["memorisation, 1,000 samples"] = lambda: memorisation.memorisation_check(
        samples, train, extractor=extractor, train_features=train_features, reference=reference)
    if hasattr(model, "encoder"):
        codes = model.encode(test.float() / 255)[0]
        image = test[:1].float() / 255
        found["latent usage, 10,000 test images"] = lambda: latent_usage.latent_usage(model, test)

        def strip():
            vectors, sigmas = directions.principal_directions(codes, 1)
            return model.decode(directions.traversal(model.encode(image)[0][0], vectors[0], float(sigmas[0]), 9)[0])

        def arithmetic():
            means = directions.class_means(codes, labels, 10)
            return model.decode(directions.arithmetic(model.encode(image)[0][0], means[7], means[1], 6))

        labels = load_dataset(model_dataset, "test")[1]
        found["traversal strip (9 codes)"] = strip
        found["arithmetic strip (6 codes)"] = arithmetic
    else:
        found["traversal strip (9 codes)"] = lambda: model.decode(directions.traversal(
            torch.randn(model.config.latent_dim), directions.axis(0, model.config.latent_dim), 1.0, 9)[0])
    return found


def main() -> None:
    global model_dataset
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model_dataset = args.dataset
    test = load_dataset(args.dataset, "test")[0]
    train = load_dataset(args.dataset, "train")[0].float() / 255  # as the apps hold it (memorisation._split_data)
    extractor = LeNetExtractor(args.dataset)
    train_features = real_features(extractor, args.dataset, "train", images=load_dataset(args.dataset, "train")[0])
    print(f"{args.dataset}; torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.rounds} "
          "rounds after a warm-up")
    print("| model | task | seconds | budget | within |")
    print("|---|---|---:|---:|---|")
    for kind in MODEL_KINDS:
        folder = zoo.checkpoint_dir(args.dataset, kind)
        model = load_model(folder)
        found = tasks(model, test, train, extractor, train_features)
        times = {name: [] for name in found}
        for round_index in range(args.rounds + 1):
            for name, task in found.items():
                start = time.perf_counter()
                task()
                if round_index:
                    times[name].append(time.perf_counter() - start)
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {MODEL_LABELS[kind]} | {name} | {median:.2f} | {BUDGETS[name]:g} | "
                  f"{'yes' if median < BUDGETS[name] else '**no**'} |", flush=True)


if __name__ == "__main__":
    main()
