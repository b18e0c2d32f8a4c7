"""Anomaly detection with the three families: how unusual each image looks to a trained model.

Every score is per image and *higher means more anomalous*:

- ``elbo`` (VAE): the negative evidence lower bound, -log p(x|z) + KL(q(z|x) || N(0, I)) in nats, with z
  drawn from q; with ``k`` > 1 samples, the importance-weighted bound of Burda et al. 2016 (tighter);
- ``pixel_error`` (VAE, VAE-GAN): mean squared error per pixel of the reconstruction decode(mu(x));
- ``feature_error`` (VAE-GAN): the reconstruction error in the discriminator's feature layer Dis_l, the
  distance the VAE-GAN was trained with (scaled by the real features' mean power, as in training);
- ``discriminator`` (GAN, VAE-GAN): minus the discriminator's logit, "how fake it looks".

Detection quality is ROC AUC and average precision (scikit-learn) with the anomalies as positives. An
AUC below 0.5 means the score ranks the anomalies as *more* typical than the normal images: the paradox
of likelihood models that Nalisnick et al. 2019 (arXiv 1810.09136) found.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ANOMALY_SCORES as SCORES
from ..config import CORRUPTIONS, MAX_IMPORTANCE_SAMPLES, OTHER_DATASET
from ..errors import ConfigError

BATCH = 500


def available_scores(model) -> tuple[str, ...]:
    """The scores ``model`` can give, in ``SCORES`` order."""
    has = {"elbo": model.kind == "vae", "pixel_error": model.has_encoder,
           "bernoulli_elbo": model.kind == "vae" and model.config.likelihood != "bernoulli",
           "feature_error": model.kind == "vaegan", "discriminator": hasattr(model, "discriminator")}
    return tuple(name for name in SCORES if has[name])


def _as_floats(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


def anomaly_scores(model, images: torch.Tensor, scores=None, k: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """``{score: array of N per-image scores}`` of ``images`` (uint8 or float in [0, 1], N x C x H x W) for each
    name in ``scores`` (default: every score ``model`` has); ``k`` importance samples for ``elbo``."""
    names = available_scores(model) if scores is None else tuple(scores)
    missing = [name for name in names if name not in available_scores(model)]
    if missing:
        raise ConfigError(f"a {model.kind.upper()} has no {', '.join(missing)} score; it has "
                          f"{', '.join(available_scores(model))}")
    if not 1 <= k <= MAX_IMPORTANCE_SAMPLES:
        raise ConfigError(f"k (importance samples) must be from 1 to {MAX_IMPORTANCE_SAMPLES}, got {k}")
    floats = _as_floats(images)
    model.check_images(floats)
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with torch.inference_mode():
        for part in floats.split(BATCH):
            scores_of = _conditional_scores if model.config.num_classes else _batch_scores
            for name, values in scores_of(model, part.to(model.device), names, k, generator).items():
                out[name].append(values.double().cpu().numpy())
    return {name: np.concatenate(chunks) if chunks else np.zeros(0) for name, chunks in out.items()}


def _conditional_scores(model, images: torch.Tensor, names, k: int, generator) -> dict[str, torch.Tensor]:
    """A conditional model's scores without a label: each score with every class given, then the ELBO of the
    mixture over classes (log p(x) >= log sum_y p(y) exp ELBO(x, y), p(y) uniform) and, for the others, the
    class that explains the image best (the lowest error, the highest discriminator logit)."""
    per_class = [_batch_scores(model, images, names, k, generator,
                               torch.full((images.shape[0],), label, dtype=torch.long, device=images.device))
                 for label in range(model.config.num_classes)]
    result = {}
    for name in names:
        stacked = torch.stack([scores[name] for scores in per_class])
        if name in ("elbo", "bernoulli_elbo"):
            result[name] = -(torch.logsumexp(-stacked, 0) - math.log(model.config.num_classes))
        else:
            result[name] = stacked.min(0).values
    return result


def _batch_scores(model, images: torch.Tensor, names, k: int, generator, labels=None) -> dict[str, torch.Tensor]:
    result = {}
    recon = None
    twice = None if labels is None else torch.cat([labels, labels])
    bounds = [name for name in ("elbo", "bernoulli_elbo") if name in names]
    if model.has_encoder and any(name in names for name in ("elbo", "bernoulli_elbo", "pixel_error", "feature_error")):
        mu, logvar = (tensor.float() for tensor in model.encoder(images, labels))
        if bounds and k == 1:  # one decoder pass for decode(mu) and decode(z); both bounds on the same z
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator).to(mu.device)
            logits_mu, logits_z = model.decoder(torch.cat([mu, z]), twice).float().split(mu.shape[0])
            for name in bounds:
                result[name] = -_elbo(model, images, logits_z, mu, logvar, bernoulli=name == "bernoulli_elbo")
        else:
            logits_mu = model.decoder(mu, labels).float()
            if bounds:  # both bounds from the same k draws of z and decoder passes
                found = _log_likelihood_bounds(model, images, mu, logvar, k, generator, labels,
                                               [name == "bernoulli_elbo" for name in bounds])
                result.update({name: -value for name, value in zip(bounds, found)})
        recon = torch.sigmoid(logits_mu)
        if "pixel_error" in names:
            result["pixel_error"] = (recon - images).pow(2).flatten(1).mean(1)
    if "feature_error" in names or "discriminator" in names:
        both = "feature_error" in names and recon is not None
        logits, features = model.discriminator(torch.cat([images, recon]) if both else images,
                                               (twice if both else labels))
        if "discriminator" in names:
            result["discriminator"] = -logits[: images.shape[0]].float()
        if both:
            real, fake = features.float().flatten(1).split(images.shape[0])
            power = real.pow(2).mean(1).clamp_min(1e-8)
            result["feature_error"] = 0.5 * (fake - real).pow(2).sum(1) / power
    return result


def _log_px(model, images, logits, bernoulli: bool = False) -> torch.Tensor:
    """log p(x|z) per image from the decoder's logits (constants of a Gaussian likelihood dropped); ``bernoulli``:
    under a Bernoulli likelihood whatever the model trained with (its pixel means as probabilities)."""
    if bernoulli or model.config.likelihood == "bernoulli":
        return -F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1)
    # a calibrated likelihood's sigma: the moving average of the batches' optimum during training
    sigma = float(model.pixel_sigma) if model.config.likelihood == "calibrated" else model.config.gaussian_sigma
    return -(torch.sigmoid(logits) - images).pow(2).flatten(1).sum(1) / (2 * sigma**2)


def _elbo(model, images, logits, mu, logvar, bernoulli: bool = False) -> torch.Tensor:
    """The ELBO with one sample of z and the analytic KL (lower variance than the sampled log-ratio)."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return _log_px(model, images, logits, bernoulli) - kl


def _log_likelihood_bounds(model, images, mu, logvar, k: int, generator, labels=None,
                           bernoulli=(False,)) -> list[torch.Tensor]:
    """log p(x) >= log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x), z_j ~ q(z|x): the importance-weighted bound
    of Burda et al. 2016, for k > 1 (k = 1 is ``_elbo``, with the analytic KL). Per image, in nats; one bound per
    entry of ``bernoulli`` (the model's likelihood, or a Bernoulli one: ``_log_px``), all from the same k draws of z
    and k decoder passes."""
    std = (0.5 * logvar).exp()
    terms = [[] for _ in bernoulli]
    for _ in range(k):
        noise = torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + std * noise
        logits = model.decoder(z, labels).float()
        log_pz = -0.5 * z.pow(2).sum(1)
        log_qz = -0.5 * (noise.pow(2) + logvar).sum(1)  # the 2 pi constants of p(z) and q(z|x) cancel
        for found, flag in zip(terms, bernoulli):
            found.append(_log_px(model, images, logits, flag) + log_pz - log_qz)
    return [torch.logsumexp(torch.stack(found), 0) - math.log(k) for found in terms]


def detection(normal: np.ndarray, anomalous: np.ndarray) -> dict:
    """ROC AUC and average precision of telling ``anomalous`` scores (positives) from ``normal`` ones, with
    the ROC curve (false and true positive rates) for plotting."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    normal, anomalous = np.asarray(normal, float), np.asarray(anomalous, float)
    if normal.size == 0 or anomalous.size == 0:
        raise ConfigError("anomaly detection needs at least one normal and one anomalous image")
    if not (np.isfinite(normal).all() and np.isfinite(anomalous).all()):
        raise ConfigError("an anomaly score is not finite (NaN or infinite); the model's weights may be broken")
    truth = np.concatenate([np.zeros(normal.size), np.ones(anomalous.size)])
    values = np.concatenate([normal, anomalous])
    fpr, tpr, _ = roc_curve(truth, values)
    return {"auc": float(roc_auc_score(truth, values)), "average_precision": float(average_precision_score(truth, values)),
            "n_normal": int(normal.size), "n_anomalous": int(anomalous.size),
            "normal_mean": float(normal.mean()), "anomalous_mean": float(anomalous.mean()),
            "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist()}


def corrupt(images: torch.Tensor, kind: str, seed: int = 0) -> torch.Tensor:
    """Corrupted copies of ``images`` (uint8 or float in [0, 1]), float in [0, 1]: ``noise`` (Gaussian noise of
    standard deviation 0.3, clipped), ``rotation`` (a quarter turn), ``inversion`` (1 - x)."""
    floats = _as_floats(images)
    if kind == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (floats + 0.3 * torch.randn(floats.shape, generator=generator)).clamp(0, 1)
    if kind == "rotation":
        return torch.rot90(floats, 1, dims=(2, 3)).contiguous()
    if kind == "inversion":
        return 1.0 - floats
    raise ConfigError(f"unknown corruption {kind!r}; choose from {', '.join(CORRUPTIONS)}")


def percentile(score: float, reference: np.ndarray) -> float:
    """The share (in %) of ``reference`` scores at or below ``score``: 99 means more unusual than 99 % of them."""
    reference = np.asarray(reference, float)
    if reference.size == 0:
        raise ConfigError("no reference scores to rank against")
    return float(100.0 * np.mean(reference <= score))


def detection_sets(dataset: str, n: int = 2000, seed: int = 0, data_root=None, image_size: int = 28,
                   channels: int = 1) -> tuple[torch.Tensor, dict, dict]:
    """The images of the standard detection tasks: ``(normal, sets, skipped)``. ``normal``: ``n`` test images of
    ``dataset`` picked by a seeded permutation (floats in [0, 1]); ``sets``: the other dataset's ``n`` test images
    (the same generator, drawn next; uint8) and each corruption of ``normal``; ``skipped``: {name: reason} for a
    second dataset that is not there. The one choice of images behind ``vaegan eval``'s diagnostics (the
    Overview's AUCs), ``vaegan anomaly`` and the Anomalies page: the first k of them are the same images for
    every k <= n."""
    from ..training.data import load_dataset
    from ..errors import DatasetError

    generator = torch.Generator().manual_seed(seed)
    test, _ = load_dataset(dataset, "test", data_root, image_size=image_size, channels=channels)
    normal = _as_floats(test[torch.randperm(test.shape[0], generator=generator)[:n]])
    sets, skipped = {kind: corrupt(normal, kind, seed) for kind in CORRUPTIONS}, {}
    other = OTHER_DATASET.get(dataset)
    if other is not None:
        try:
            other_test, _ = load_dataset(other, "test", data_root)
            sets = {other: other_test[torch.randperm(other_test.shape[0], generator=generator)[:n]], **sets}
        except DatasetError as error:
            skipped[other] = str(error).splitlines()[0]
    return normal, sets, skipped


def standard_pairs(model, dataset: str, n: int = 2000, k: int = 1, data_root=None, seed: int = 0,
                   with_curves: bool = False) -> dict:
    """The standard detection tasks for a model trained on ``dataset``: its test split (normal) against the
    other dataset's test split and against each corruption of its own test images (anomalous), ``n`` images
    each (``detection_sets``). Returns ``{"n", "k", "pairs": {name: {score: detection}}, "skipped": {name:
    reason}}`` (the ROC curves only with ``with_curves``). A missing second dataset is skipped with its reason."""
    normal_images, sets, skipped = detection_sets(dataset, n, seed, data_root, model.config.image_size,
                                                  model.config.channels)
    normal = anomaly_scores(model, normal_images, k=k, seed=seed)
    pairs = {}
    for name, images in sets.items():
        anomalous = anomaly_scores(model, images, k=k, seed=seed)
        pairs[name] = {}
        for score in normal:
            result = detection(normal[score], anomalous[score])
            if not with_curves:
                result.pop("roc_fpr"), result.pop("roc_tpr")
            pairs[name][score] = result
    return {"dataset": dataset, "n": int(normal_images.shape[0]), "k": k, "seed": seed, "pairs": pairs,
            "skipped": skipped}
