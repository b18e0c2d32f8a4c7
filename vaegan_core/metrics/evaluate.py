"""One entry point for every score: ``evaluate(model, dataset, n, extractor, ...) -> dict``.

Generated images are drawn from the model with a seeded generator and streamed through the
extractor; real images come from the dataset split, their features from the disk cache of
``features_cache`` (or, for FID alone, the shipped statistics of ``reference``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import EXTRACTOR_FEATURES
from ..training.data import load_dataset
from ..errors import MetricError
from ..training.folders import TEST_SHARE, is_folder
from .extractors import LeNetExtractor, check_extractor_for, load_extractor
from .conditional_scores import intra_class_fid, label_adherence
from .features_cache import real_features, real_features_path
from .fid import fid_from_stats, fid_from_summary
from .reference import load_reference_stats, reference_path
from .scores import (confident_share, density_coverage, inception_score, kernel_inception_distance, mode_metrics,
                     precision_recall, tail_mass)
from .stats import FeatureStats

METRICS = ("fid", "kid", "is", "pr", "dc", "modes", "tails", "reconstruction")
# Scores that need no features of real images: FID can use the shipped reference statistics instead.
WITHOUT_REAL_FEATURES = ("fid", "is", "modes", "reconstruction")
REFERENCES = ("auto", "features", "stats")
# the k of the k-nearest-neighbour scores (_scores): each needs k + 1 images on either side, KID 2
NEIGHBOURS = {"pr": 3, "dc": 5, "tails": 5}
_SAMPLE_SCORES = {"pr": "precision/recall", "dc": "density/coverage", "tails": "tail mass", "kid": "KID"}
Progress = Callable[[float, str], None]


def _resolve_reference(reference: str, extractor, dataset: str, split: str, metrics) -> str:
    """``features`` or ``stats``: where the real side of the scores comes from (see ``evaluate``)."""
    needs_features = sorted(set(metrics) - set(WITHOUT_REAL_FEATURES))
    if reference == "stats" and needs_features:
        raise MetricError(f"{', '.join(needs_features)} need the features of real images, not only their "
                          "statistics; use reference='features' (or leave them out)")
    if reference == "auto":
        shipped = reference_path(dataset, split, extractor.name)
        cached = real_features_path(extractor, dataset, split).is_file()
        return "stats" if not needs_features and shipped.is_file() and not cached else "features"
    return reference


def evaluate(model, dataset: str, n: int = 10_000, extractor: str = "lenet", metrics=METRICS, split: str = "test",
             seed: int = 0, batch_size: int = 500, data_root=None, classifier_directory=None,
             progress: Progress | None = None, force: bool = False, device="cpu", reference: str = "auto",
             prior: str = "normal") -> dict:
    """Score ``model`` against the ``split`` of ``dataset`` on ``n`` generated images.

    The images are ``model.sample(..., prior=prior)``: codes from N(0, I), or (``gmm``) from the
    mixture fitted to the training codes of a VAE or VAE-GAN (``vaegan_core.models.prior``).

    Returns a JSON-ready dict: the scores under ``metrics`` and, beside them, n, the number of
    real images, extractor, preprocessing, weights hashes, seed, split and wall time.
    ``progress(fraction, message)`` is called as the work advances.

    ``reference`` says where the real side of the FID comes from: ``features`` (of every image of
    the split, computed once and cached), ``stats`` (the shipped ``reference_stats`` .npz: no
    real image goes through the extractor, so only the scores in ``WITHOUT_REAL_FEATURES``), or
    ``auto``: the shipped statistics when those scores are all that is asked for and the real
    features are not cached yet, the features otherwise. Both give the same FID.
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise MetricError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    if reference not in REFERENCES:
        raise MetricError(f"unknown reference {reference!r}; choose from {', '.join(REFERENCES)}")
    chosen_prior = model.prior(prior)  # before any slow work: an unknown prior, or no GMM, is no start
    if n < 2:
        raise MetricError(f"n must be at least 2 generated images, got {n}")
    start = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    # the real images first: too few for the scores is said before the extractor is loaded or any feature computed
    real_images, real_labels = load_dataset(dataset, split, data_root, image_size=model.config.image_size,
                                            channels=model.config.channels)
    if extractor in EXTRACTOR_FEATURES:
        if classifier_directory is None:
            check_extractor_for(extractor, dataset)  # the wrong features first: more images would not help
        check_real_count(real_images.shape[0], n, extractor, metrics, force, dataset, split)
    feature_net = load_extractor(extractor, dataset, device, classifier_directory)
    _check_enough(n, feature_net, extractor, metrics, force)  # said before any image is made
    conditional = model.config.num_classes > 0  # label adherence needs the classifier, per-class FID the features
    classifier = _classifier(feature_net, dataset, classifier_directory, device, metrics, conditional)
    reference = _resolve_reference(reference, feature_net, dataset, split, metrics)
    if conditional and reference == "stats" and "fid" in metrics:
        reference = "features"  # the per-class FID needs each real image's features

    # (1) real images: features of the whole split (or its shipped statistics), labels for the class histogram
    if reference == "stats":
        real = load_reference_stats(dataset, split, feature_net)
    else:
        real = real_features(feature_net, dataset, split, progress=lambda f, m: report(0.4 * f, m),
                             images=real_images)

    # (2) generated images, streamed: features (and class probabilities) batch by batch
    shares, shares_from = label_shares(model, real_labels)
    fake, probabilities, fake_labels = _generated_features(model, n, prior, seed, batch_size, feature_net, classifier,
                                                           lambda f, m: report(0.4 + 0.5 * f, m), shares)

    # (3) the scores
    scores, real_subset = _scores(real, fake, probabilities, metrics, seed, force, real_labels)
    if conditional and classifier is not None:
        scores.update(_conditional_scores(model, real, real_labels, fake, probabilities, fake_labels, metrics))
    if "reconstruction" in metrics and model.has_encoder:
        labels = real_labels[:n] if model.config.num_classes else None  # a conditional encoder reads y too
        scores.update(reconstruction_error(model, real_images[:n].float() / 255, labels))
    report(1.0, "done")

    # (4) the record: the scores and everything needed to reproduce them
    result = {
        "dataset": dataset, "split": split, "n": n,
        "n_real": int(real.shape[0]) if isinstance(real, np.ndarray) else real["n"],
        "real_side": "features" if isinstance(real, np.ndarray) else f"shipped statistics ({Path(real['path']).name})",
        "seed": seed, "prior": prior, "extractor": feature_net.name, "feature_dim": int(fake.shape[1]),
        "preprocessing": _preprocessing(feature_net, model.config.channels), "extractor_sha256": feature_net.weights_sha256,
        "extractor_backend": getattr(feature_net, "backend", "torch"),
        "metrics": scores,
        "wall_seconds": round(time.perf_counter() - start, 2),
    }
    return _json_safe(_provenance(result, model, real_subset, classifier, shares_from, chosen_prior if prior == "gmm"
                                  else None))


def _provenance(result: dict, model, real_subset, classifier, shares_from, gmm_prior) -> dict:
    """``result`` with what else says how it was made: the real images behind KID and precision / recall, the
    classifier, where the samples' classes came from, the GMM prior, the checkpoint."""
    if real_subset is not None:
        result["n_real_for_kid_pr_dc"] = int(real_subset.shape[0])
    if classifier is not None:
        result["classifier"] = {"name": classifier.name, "sha256": classifier.weights_sha256,
                                "test_accuracy": classifier.config.get("test_accuracy")}
    if shares_from is not None:
        result["labels_drawn_from"] = shares_from
    if gmm_prior is not None:
        result["latent_gmm"] = gmm_prior.metadata
    if getattr(model, "checkpoint_dir", None):
        result["checkpoint"] = str(model.checkpoint_dir)
    return result


def _check_enough(n: int, feature_net, extractor: str, metrics, force: bool) -> None:
    if "fid" in metrics and n <= feature_net.feature_dim and not force:
        raise MetricError(f"FID needs more generated images than the {feature_net.feature_dim} features of "
                          f"{extractor}: n = {n}; use n >= {feature_net.feature_dim + 1} (10,000 is customary) or "
                          "force it (force=True; `vaegan eval --force`)")


def check_real_count(count: int, n: int, extractor: str, metrics=METRICS, force: bool = False, dataset: str = "",
                     split: str = "test") -> None:
    """A MetricError, before any work, when ``count`` real images of ``dataset``'s ``split`` are too few for
    ``metrics``: FID needs more than the extractor's features (unless ``force``), the k-NN scores (precision /
    recall, density / coverage, tail mass) k + 1 on each side (the real side is min(count, n) images), KID 2.
    The message names the numbers and what helps (`vaegan eval` checks an image folder's listing with it first)."""
    features = EXTRACTOR_FEATURES[extractor]
    least = max([k + 1 for name, k in NEIGHBOURS.items() if name in metrics] + [2 if "kid" in metrics else 0])
    names = ", ".join(label for name, label in _SAMPLE_SCORES.items() if name in metrics)
    fid_short = "fid" in metrics and count <= features and not force
    needs = [f"FID needs more than the {features} features of {extractor}"] if fid_short else []
    if min(count, n) < least:
        needs.append(f"the scores of samples ({names}) need at least {least}")
    if not needs:
        return
    if not fid_short and count >= least:  # the generated side alone is short
        raise MetricError(f"--n {n} generated images are too few: the scores of samples ({names}) need at least "
                          f"{least}; pass --n {least} or more")
    fixes = [f"add images to the folder (about one in {TEST_SHARE} is a test image)"] if is_folder(dataset) else []
    if split == "test" and is_folder(dataset):  # the other nine in ten
        fixes.append("score against the train split (--split train)")
    if fid_short:
        fixes += (["use --extractor lenet"] if extractor != "lenet" and not is_folder(dataset) else []) + \
            ["pass --force (a rank-deficient FID, comparable only with others measured alike)"]
    raise MetricError(f"{dataset or 'the dataset'} has {count:,} {split} images, too few: {'; '.join(needs)}"
                      + ("; " + ", or ".join(fixes) if fixes else ""))


def _classifier(feature_net, dataset: str, classifier_directory, device, metrics, conditional: bool):
    """The domain classifier for the classifier IS, the classes and the label adherence, or None: not asked for,
    or an image folder (which has none)."""
    if isinstance(feature_net, LeNetExtractor):
        return feature_net
    wanted = bool({"is", "modes", "tails"} & set(metrics)) or conditional
    if not wanted or (is_folder(dataset) and classifier_directory is None):
        return None
    return LeNetExtractor(dataset, classifier_directory, device)


def _preprocessing(feature_net, channels: int) -> str:
    """The extractor's preprocessing as applied: colour images go into Inception as they are."""
    if channels == 1:
        return feature_net.preprocessing
    return feature_net.preprocessing.replace("grayscale x", "RGB x").replace(" -> replicated to 3 channels", "")


def label_shares(model, real_labels) -> tuple[torch.Tensor | None, str | None]:
    """``(share of each class, where it comes from)`` for the labels a conditional model's samples are drawn with:
    its training data's frequencies (recorded by the trainer), else those of the real split it is compared with;
    ``(None, None)`` for an unconditional model."""
    classes = model.config.num_classes
    if not classes:
        return None, None
    if model.class_frequencies is not None:
        return torch.tensor(model.class_frequencies, dtype=torch.float64), "training data"
    counts = torch.bincount(torch.as_tensor(real_labels).long().reshape(-1).clamp(0, classes - 1), minlength=classes)
    return counts.double() / counts.sum().clamp_min(1), "real split"


def _generated_features(model, n: int, prior: str, seed: int, batch_size: int, feature_net, classifier,
                        report: Progress, shares: torch.Tensor | None = None
                        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Features (n x d) of n images sampled with a seeded generator, their class probabilities (n x classes)
    when a classifier is given (else None), and the labels they were drawn for (a conditional model, with
    the class ``shares``; else None); ``report`` goes from 0 to 1."""
    generator = torch.Generator().manual_seed(seed)
    fake_features, probabilities, drawn = [], [], []
    done = 0
    while done < n:
        count = min(batch_size, n - done)
        labels = None
        if model.config.num_classes:  # a conditional model: each sample's class drawn with the class shares
            labels = torch.multinomial(shares, count, replacement=True, generator=generator)
            drawn.append(labels.numpy())
        images = model.sample(count, generator=generator, prior=prior, labels=labels)
        if classifier is feature_net:  # the LeNet gives features and class probabilities in one pass
            features, probs = classifier.features_and_probabilities(images)
            probabilities.append(probs.numpy())
        else:
            features = feature_net.features(images)
            if classifier is not None:
                probabilities.append(classifier.features_and_probabilities(images)[1].numpy())
        fake_features.append(features.numpy())
        done += count
        report(done / n, f"features of {done:,} / {n:,} generated images")
    return (np.concatenate(fake_features), (np.concatenate(probabilities) if probabilities else None),
            (np.concatenate(drawn) if drawn else None))


def _scores(real, fake: np.ndarray, probabilities, metrics, seed: int, force: bool, real_labels) -> tuple[dict, object]:
    """The scores of ``metrics`` from the real side (features N x d, or the shipped statistics as a dict)
    and the generated features; returns them with the subset of real features KID, PR and DC used (or None)."""
    scores: dict = {}
    real_subset = held_out = None
    if isinstance(real, np.ndarray):  # as many real as generated images for the sample-based scores
        n = fake.shape[0]
        rng = np.random.default_rng(seed)
        chosen = np.arange(real.shape[0]) if real.shape[0] <= n else np.sort(rng.choice(real.shape[0], n, replace=False))
        real_subset = real[chosen]
        held_out = real[np.setdiff1d(np.arange(real.shape[0]), chosen)[:n]] if real.shape[0] > n else None
    if "fid" in metrics:
        fake_stats = FeatureStats(fake.shape[1])
        fake_stats.update(fake)
        if real_subset is None:
            scores["fid"] = fid_from_summary(real["mu"], real["sigma"], real["n"], fake_stats, force=force)
        else:
            real_stats = FeatureStats(real.shape[1])
            real_stats.update(real)
            scores["fid"] = fid_from_stats(real_stats, fake_stats, force=force)
    if "kid" in metrics:
        mean, std = kernel_inception_distance(real_subset, fake, seed=seed)
        scores["kid"] = {"mean": mean, "std": std}
    if "pr" in metrics:
        scores.update(precision_recall(real_subset, fake, k=3))
    if "dc" in metrics:
        scores.update(density_coverage(real_subset, fake, k=5))
    if "tails" in metrics:  # the real images left out of the subset give the level of a perfect model
        scores.update(tail_mass(real_subset, fake, k=5, held_out=held_out))
    if probabilities is not None:
        if "is" in metrics:
            mean, std = inception_score(probabilities, splits=10)
            scores["is"] = {"mean": mean, "std": std}
        if "modes" in metrics:
            scores.update(mode_metrics(probabilities.argmax(1), reference_labels=real_labels.numpy()))
        if "tails" in metrics:
            scores["confident_share"] = confident_share(probabilities)
    return scores, real_subset


MAX_FULL_RANK_DIM = 512  # per-class FID with more features than this (Inception) is computed rank-deficient


def _conditional_scores(model, real, real_labels, fake, probabilities, fake_labels, metrics) -> dict:
    """Label adherence and, with the real features at hand, the per-class FID of a conditional model."""
    scores = label_adherence(probabilities, fake_labels, model.config.num_classes)
    if "fid" in metrics and isinstance(real, np.ndarray):
        # Inception's 2,048 features outnumber a class's 1,000 test images: such a class's covariance is
        # rank-deficient, the FID still defined (the eigen route) but higher than with more images, as in Miyato &
        # Koyama's intra-FID; it is computed and flagged (intra_fid_rank_deficient), comparable between models
        # measured alike only. The LeNet's 128 features are full-rank with every class.
        per_class = intra_class_fid(real, real_labels.numpy(), fake, fake_labels, model.config.num_classes,
                                    force=real.shape[1] > MAX_FULL_RANK_DIM)
        if real.shape[1] > MAX_FULL_RANK_DIM:
            per_class["intra_fid_rank_deficient"] = True
        scores.update(per_class)
    return scores


def _json_safe(value):
    """Non-finite floats (an infinite KL, say) become None: strict JSON has no Infinity or NaN."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def reconstruction_error(model, images: torch.Tensor, labels=None) -> dict:
    """Per-pixel MSE and per-image BCE (nats) of decode(mu) on real images in [0, 1] (with their labels, for a
    conditional model)."""
    recon = model.reconstruct(images, labels).clamp(1e-6, 1 - 1e-6)
    mse = (recon - images).pow(2).mean().item()
    bce = torch.nn.functional.binary_cross_entropy(recon, images, reduction="sum").item() / images.shape[0]
    return {"reconstruction_mse": mse, "reconstruction_bce": bce, "reconstruction_n": int(images.shape[0])}


def class_histogram(images: torch.Tensor, dataset: str, classifier_directory=None) -> dict:
    """Mode coverage of a batch of images B x 1 x 28 x 28 in [0, 1] by the dataset's domain classifier:
    ``histogram`` (counts per class), ``classes_covered``, ``kl_to_uniform`` (see ``mode_metrics``)."""
    _, probabilities = LeNetExtractor(dataset, classifier_directory).features_and_probabilities(images)
    return mode_metrics(probabilities.argmax(1).numpy(), num_classes=probabilities.shape[1])


_PER_IMAGE: dict[tuple, float] = {}  # the timings of this process, by extractor, dataset, device and probe size


def _seconds_per_image(feature_net, extractor: str, dataset: str, device: str, probe_images: int) -> float:
    """The extractor's seconds per image on this machine, timed once per process (the app's warm-up times the
    default view's, so its FID page shows the estimate at once)."""
    key = (extractor, dataset, device, probe_images)
    if key not in _PER_IMAGE:
        probe = torch.rand(probe_images, 1, 28, 28)
        feature_net.features(probe)  # warm-up
        timings = []
        for _ in range(2):  # the faster of two: a busy moment of the machine is not the machine
            start = time.perf_counter()
            feature_net.features(probe)
            timings.append(time.perf_counter() - start)
        _PER_IMAGE[key] = min(timings) / probe_images
    return _PER_IMAGE[key]


def _seconds_per_sample(model, prior: str, probe_images: int = 250) -> float:
    """``model.sample``'s seconds per image with ``prior`` on this machine, timed once per process and weights."""
    key = ("sample", getattr(model, "fingerprint", None) or id(model), prior, probe_images)
    if key not in _PER_IMAGE:
        generator = torch.Generator().manual_seed(0)
        classes = model.config.num_classes  # a conditional model draws each image for a class, as evaluate does
        labels = torch.arange(probe_images) % classes if classes else None
        model.sample(probe_images, generator=generator, prior=prior, labels=labels)  # warm-up
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            model.sample(probe_images, generator=generator, prior=prior, labels=labels)
            timings.append(time.perf_counter() - start)
        _PER_IMAGE[key] = min(timings) / probe_images
    return _PER_IMAGE[key]


_GROWS_WITH_SQUARE = ("pr", "dc", "tails")  # nearest neighbours among the images: time ~ n^2


def _seconds_of_scores(dim: int, n: int, metrics) -> float:
    """The time of ``_scores`` for n generated images of ``dim`` features, each score timed once per process on
    random features: the Fréchet distance once (its matrix root does not grow with the images: seconds with
    Inception's 2,048 features), KID at 1,000 images (its subsets are of a fixed size), the neighbours of precision,
    recall, density, coverage and tail mass at 1,000 images and scaled with the square of n."""
    total = 0.0
    for name in metrics:
        key = ("score", name, dim)
        if key not in _PER_IMAGE:
            rng = np.random.default_rng(0)
            m = 500 if name == "fid" else 1000
            real, fake = rng.normal(size=(2 * m, dim)), rng.normal(size=(m, dim))
            start = time.perf_counter()
            _scores(real, fake, None, (name,), 0, True, None)  # scores of class probabilities: none, nothing timed
            _PER_IMAGE[key] = time.perf_counter() - start
        total += _PER_IMAGE[key] * ((n / 1000) ** 2 if name in _GROWS_WITH_SQUARE else 1.0)
    return total


def estimate_seconds(extractor: str, n: int, dataset: str, split: str = "test", device="cpu",
                     probe_images: int | None = None, metrics=METRICS, model=None, prior: str = "normal") -> float:
    """Seconds ``evaluate(..., metrics=metrics)`` will take on this machine, from timing the extractor on
    one batch of the size it runs (after a warm-up batch of that size: the first calls pay for allocation
    and thread start-up, which made a cold 8-image probe overestimate the LeNet features a hundredfold).

    Covers the n generated images and, when they are needed and not yet cached, the features of the
    real split (10,000 images); with ``model``, drawing the n images too (``model.sample`` timed on a probe); and
    the scores themselves (``_seconds_of_scores``), timed on random features.
    """
    feature_net = load_extractor(extractor, dataset, device)
    probe_images = probe_images or (16 if extractor == "inception" else 500)
    per_image = _seconds_per_image(feature_net, extractor, dataset, str(device), probe_images)
    real_needed = (_resolve_reference("auto", feature_net, dataset, split, metrics) == "features"
                   and not real_features_path(feature_net, dataset, split).is_file())
    images = n + (10_000 if real_needed else 0)
    sampling = 0.0 if model is None else _seconds_per_sample(model, prior) * n
    return per_image * images + sampling + _seconds_of_scores(EXTRACTOR_FEATURES[extractor], n, metrics)
