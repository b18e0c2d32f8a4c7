"""`vaegan eval`, `anomaly`, `fit-gmm`, `train-classifier` and `reference-stats`: measuring checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import (CORRUPTIONS, DATASETS, EXTRACTOR_FEATURES, EXTRACTORS, GMM_COMPONENTS, IDX_DATASETS,
                      MAX_IMPORTANCE_SAMPLES, PRIORS, SPLITS)
from ..storage.checkpoint_folder import DIAGNOSTICS_KEY, CheckpointFolder, metrics_key
from ..storage.files import write_text_atomic
from ..storage.paths import METRICS_FILE
from .common import shared, MAX_EVAL_IMAGES, _FEATURES_KEPT, _Interrupted, _UsageError, _int_in, _percent_bar, _seed




def add_parsers(commands) -> dict:
    """The sub-commands of this group; returns {command: handler}."""
    evaluate = commands.add_parser("eval", parents=shared(data_dir=True, no_progress=True, device="cpu"),
        help="score a checkpoint (FID, KID, IS, precision/recall, ...)")
    evaluate.add_argument("checkpoint", metavar="DIR", help="checkpoint folder; DIR/metrics.json is updated")
    evaluate.add_argument("--n", type=_int_in(2, MAX_EVAL_IMAGES), default=10_000, help="generated images (default 10000)")
    evaluate.add_argument("--extractor", choices=EXTRACTORS, default=None,
        help="lenet (default for the built-in datasets): the shipped domain classifier (seconds); "
                               "inception (default for image folders): TF-Inception (slow on CPU)")
    evaluate.add_argument("--split", choices=SPLITS, default="test", help="real images to compare with")
    evaluate.add_argument("--seed", type=_seed, default=0, help="seed of the generated images and subsets")
    evaluate.add_argument("--prior", choices=PRIORS, default="normal",
        help="sample from N(0, I) (default) or from the GMM of the training codes (see fit-gmm); "
                               "stored in metrics.json under EXTRACTOR-SPLIT or EXTRACTOR-SPLIT-gmm")
    evaluate.add_argument("--batch-size", type=_int_in(1, 10_000), default=500)
    evaluate.add_argument("--force", action="store_true", help="compute FID even when n <= feature dimension")
    evaluate.add_argument("--fid-only", action="store_true",
        help="only the scores that need no features of real images (FID, IS, modes, reconstruction): "
                               "the FID then uses the shipped statistics of the real images, which halves an "
                               "Inception evaluation on a CPU where the real features are not cached yet")
    evaluate.add_argument("--no-diagnostics", action="store_true",
        help="skip the diagnostics stored beside the scores (latent usage, anomaly AUCs, "
                               "memorisation; computed when missing or stale, about half a minute)")

    anomaly = commands.add_parser(
        "anomaly", parents=shared(data_dir=True, device="cpu"),
        help="how well each anomaly score tells another dataset (or corrupted images) from the model's own",
        description="Score the model's own test images (normal) and those of --against (anomalous) with every "
                    "anomaly score the model has (negative ELBO, pixel and feature reconstruction error, "
                    "discriminator logit) and print ROC AUC and average precision per score.")
    anomaly.add_argument("checkpoint", metavar="DIR", help="checkpoint folder, or Hub repo USER/NAME")
    anomaly.add_argument("--against", required=True, choices=DATASETS + CORRUPTIONS,
        help="anomalous images: another dataset's test split, or a corruption of the model's own "
                              "test images")
    anomaly.add_argument("--n", type=_int_in(1, 70_000), default=2000, help="images per side (default 2000)")
    anomaly.add_argument("--k", type=_int_in(1, MAX_IMPORTANCE_SAMPLES), default=1,
        help="importance samples of the VAE's likelihood bound (1: the ELBO)")
    anomaly.add_argument("--seed", type=_seed, default=0)
    anomaly.add_argument("--csv", help="also write every image's scores to this CSV file")

    gmm = commands.add_parser(
        "fit-gmm", parents=shared(data_dir=True, no_progress=True, device="cpu"),
        help="fit a Gaussian mixture to the training codes of a VAE or VAE-GAN (a second prior)",
        description="Encode the train split, fit a full-covariance Gaussian mixture to the codes and store it as "
                    "DIR/latent_gmm.safetensors; then sample, eval and the apps can draw codes from it "
                    "(--prior gmm) instead of N(0, I).")
    gmm.add_argument("checkpoint", metavar="DIR", help="checkpoint folder of a VAE or VAE-GAN")
    gmm.add_argument("--components", type=_int_in(1, 1000), default=GMM_COMPONENTS,
                     help=f"mixture components (default {GMM_COMPONENTS})")
    gmm.add_argument("--seed", type=_seed, default=0, help="seed of the mixture's initialisation (default 0)")

    classifier = commands.add_parser("train-classifier", parents=shared(data_dir=True, no_progress=True),
        help="train the domain classifier used by `vaegan eval`")
    classifier.add_argument("--dataset", choices=DATASETS, required=True)
    classifier.add_argument("--out", required=True, help="folder to write, e.g. checkpoints/classifiers/mnist")
    classifier.add_argument("--epochs", type=_int_in(1, 1000), default=10)
    classifier.add_argument("--seed", type=_seed, default=0)

    reference = commands.add_parser(
        "reference-stats", parents=shared(data_dir=True, no_progress=True),
        help="compute the .npz statistics of a real dataset split",
        description="Features of every image of the split -> mean and covariance (.npz). The features are "
                    "saved 1,000 images at a time, so an interrupted run continues where it stopped.")
    reference.add_argument("--dataset", choices=IDX_DATASETS, required=True)
    reference.add_argument("--split", choices=SPLITS, default="test")
    reference.add_argument("--extractor", choices=EXTRACTORS, default="lenet")
    reference.add_argument("--out", help="folder (default: checkpoints/reference_stats)")

    return HANDLERS


def _trained_on(args: argparse.Namespace, config: dict) -> str:
    """The dataset a checkpoint's config.json says its model was trained on; a usage error when it says none."""
    dataset = config["train_config"].dataset if config["train_config"] else None
    if dataset is None:
        raise _UsageError(f"{args.checkpoint}/config.json does not say which dataset the model was trained on")
    return dataset


def _eval(args: argparse.Namespace) -> dict:
    from ..storage.card import refresh_model_card
    from ..storage.checkpoint import bind, load_model, read_config, resolve_checkpoint, snapshot
    from ..metrics.evaluate import METRICS, WITHOUT_REAL_FEATURES, check_real_count, evaluate
    from ..metrics.extractors import check_extractor_for
    from ..training.folders import is_folder, listed_split_size
    from ..training.train import resolve_device

    device = resolve_device(args.device)
    # the weights scored and the fingerprint stored are of one snapshot, whatever a training run saves meanwhile
    with snapshot(args.checkpoint) as frozen:
        model = load_model(frozen, device=device)
        config = read_config(frozen)
        fingerprints = {prior: CheckpointFolder(frozen).evaluated_fingerprint(prior) for prior in ("normal", "gmm")}
    # the model belongs to the folder (its fingerprint stays the snapshot's: what was scored)
    bind(model, resolve_checkpoint(args.checkpoint), fingerprint=model.fingerprint)
    if getattr(model, "latent_gmm_error", None):  # kept, not raised: it names the copy, which is gone now
        model.latent_gmm_error = model.latent_gmm_error.replace(str(frozen), model.checkpoint_dir)
    model.snapshot_fingerprints = fingerprints
    dataset = _trained_on(args, config)
    if args.extractor is None:
        args.extractor = "inception" if is_folder(dataset) else "lenet"
    features = EXTRACTOR_FEATURES[args.extractor]
    if args.n <= features and not args.force:  # before the progress bar and any work
        raise _UsageError(f"FID needs more generated images than the {features} features of {args.extractor}: "
                          f"--n {args.n}; pass --n {features + 1} or more (10,000 is customary), or --force")
    if is_folder(dataset):  # too few test images of a folder: said before the bar (evaluate checks the decoded ones)
        check_extractor_for(args.extractor, dataset)  # the wrong features first: more images would not help
        check_real_count(listed_split_size(dataset, args.split), args.n, args.extractor,
                         WITHOUT_REAL_FEATURES if args.fid_only else METRICS, args.force, dataset, args.split)
    folder = CheckpointFolder(model.checkpoint_dir)
    stored = folder.stored_results()  # checked before the work, which can take twenty minutes
    with _percent_bar(args.no_progress) as progress:
        try:
            kwargs = {"metrics": WITHOUT_REAL_FEATURES} if args.fid_only else {}
            result = evaluate(model, dataset, n=args.n, extractor=args.extractor, split=args.split, seed=args.seed,
                              batch_size=args.batch_size, data_root=args.data_dir, progress=progress,
                              force=args.force, device=device, prior=args.prior, **kwargs)
        except KeyboardInterrupt:
            raise _Interrupted(f"{_FEATURES_KEPT}; {METRICS_FILE} is unchanged") from None
    result["checkpoint_fingerprint"] = fingerprints[args.prior]
    # the scores are safe before the diagnostics
    stored = folder.store_results({metrics_key(args.extractor, args.split, args.prior): result}, stored)
    if not args.no_diagnostics:
        diagnostics = _diagnostics_to_store(args, model, dataset, stored)
        if diagnostics is not None:
            folder.store_results({DIAGNOSTICS_KEY: diagnostics}, stored)
    refresh_model_card(model.checkpoint_dir)  # the card's results table comes from metrics.json
    return result


def _diagnostics_to_store(args: argparse.Namespace, model, dataset: str, stored: dict) -> dict | None:
    """``vaegan_core.analysis.diagnostics`` of these weights, or None where ``stored`` holds them already."""
    from ..analysis.diagnostics import run_diagnostics

    fingerprint = model.snapshot_fingerprints["normal"]
    current = stored.get(DIAGNOSTICS_KEY)
    if isinstance(current, dict) and current.get("checkpoint_fingerprint") == fingerprint:
        return None
    with _percent_bar(args.no_progress) as progress:
        try:
            diagnostics = run_diagnostics(model, dataset, data_root=args.data_dir, seed=args.seed, progress=progress)
        except KeyboardInterrupt:
            raise _Interrupted(f"interrupted; the scores are in {METRICS_FILE}, the diagnostics are not") from None
    return {**diagnostics, "checkpoint_fingerprint": fingerprint}


def _anomaly(args: argparse.Namespace) -> dict:
    import torch

    from ..analysis.anomaly import anomaly_scores, detection, detection_sets
    from ..config import OTHER_DATASET
    from ..errors import DatasetError
    from ..storage.checkpoint import load_model, read_config
    from ..training.data import load_dataset
    from ..training.train import resolve_device

    if args.csv and not Path(args.csv).parent.is_dir():
        raise _UsageError(f"the folder of --csv {args.csv} does not exist; create it first")
    model = load_model(args.checkpoint, device=resolve_device(args.device))
    config = read_config(model.checkpoint_dir)
    dataset = _trained_on(args, config)
    if args.against == dataset:
        raise _UsageError(f"--against {dataset} is the model's own data; pick another dataset or a corruption "
                          f"({', '.join(CORRUPTIONS)})")
    if args.against not in CORRUPTIONS and (model.config.image_size, model.config.channels) != (28, 1):
        raise _UsageError(f"--against {args.against} holds 28x28 grey images; this model draws "
                          f"{model.config.image_size}x{model.config.image_size}x{model.config.channels}: use a "
                          f"corruption ({', '.join(CORRUPTIONS)})")
    if args.against in CORRUPTIONS or args.against == OTHER_DATASET.get(dataset):
        # the images of `vaegan eval`'s diagnostics and the Anomalies page (the first --n of the same seeded pick)
        normal_images, sets, skipped = detection_sets(dataset, args.n, args.seed, args.data_dir,
                                                      model.config.image_size, model.config.channels)
        if args.against in skipped:
            raise DatasetError(skipped[args.against])
        anomalous_images = sets[args.against]
    else:  # a third dataset: picked the same way, after the model's own test images
        generator = torch.Generator().manual_seed(args.seed)
        test, _ = load_dataset(dataset, "test", args.data_dir)
        normal_images = test[torch.randperm(test.shape[0], generator=generator)[:args.n]]
        other, _ = load_dataset(args.against, "test", args.data_dir)
        anomalous_images = other[torch.randperm(other.shape[0], generator=generator)[:args.n]]
    normal = anomaly_scores(model, normal_images, k=args.k, seed=args.seed)
    anomalous = anomaly_scores(model, anomalous_images, k=args.k, seed=args.seed)
    results = {}
    for score in normal:
        found = detection(normal[score], anomalous[score])
        results[score] = {key: value for key, value in found.items() if not key.startswith("roc_")}
    if args.csv:
        rows = ["set,index," + ",".join(normal)]
        for side, scores in (("normal", normal), ("anomalous", anomalous)):
            for index in range(len(next(iter(scores.values())))):
                rows.append(f"{side},{index}," + ",".join(f"{scores[name][index]:.6g}" for name in scores))
        write_text_atomic(args.csv, "\n".join(rows) + "\n")
    return {"normal": f"{dataset} test", "anomalous": args.against, "n": int(normal_images.shape[0]), "k": args.k,
            "scores": results, **({"csv": args.csv} if args.csv else {})}


def _fit_gmm(args: argparse.Namespace) -> dict:
    from ..storage.card import refresh_model_card
    from ..storage.checkpoint import load_model, read_config
    from ..training.data import load_dataset
    from ..models.prior import fit_latent_gmm, save_gmm_grid
    from ..training.train import resolve_device

    if not Path(args.checkpoint).is_dir():
        raise _UsageError(f"{args.checkpoint} is not a checkpoint folder here; fit-gmm writes into the folder")
    model = load_model(args.checkpoint, device=resolve_device(args.device))
    config = read_config(args.checkpoint)
    dataset = _trained_on(args, config)
    images, _ = load_dataset(dataset, "train", args.data_dir, image_size=model.config.image_size,
                             channels=model.config.channels)  # the model's shape: what a folder dataset needs
    with _percent_bar(args.no_progress) as progress:
        mixture = fit_latent_gmm(model, images, components=args.components, seed=args.seed, progress=progress)
    mixture.metadata.update(dataset=dataset, split="train")
    path = mixture.save(args.checkpoint)
    save_gmm_grid(model, args.checkpoint, mixture, args.seed)  # the Overview's picture of this prior
    refresh_model_card(args.checkpoint)
    return {"out": str(path), **mixture.metadata}


def _train_classifier(args: argparse.Namespace) -> dict:
    from ..metrics.classifier import train_classifier

    return train_classifier(args.dataset, args.out, epochs=args.epochs, seed=args.seed, data_root=args.data_dir,
                            progress=not args.no_progress)


def _reference_stats(args: argparse.Namespace) -> dict:
    from ..metrics.reference import compute_reference_stats

    with _percent_bar(args.no_progress, remaining=True) as progress:
        try:
            path = compute_reference_stats(args.dataset, args.split, args.extractor, args.data_dir, args.out,
                                           progress)
        except KeyboardInterrupt:
            raise _Interrupted(_FEATURES_KEPT) from None
    return {"out": str(path)}


HANDLERS = {"eval": _eval, "anomaly": _anomaly, "fit-gmm": _fit_gmm, "train-classifier": _train_classifier,
            "reference-stats": _reference_stats}
