"""The diagnostics ``vaegan eval`` stores beside the scores in metrics.json, under ``diagnostics``:

- ``latent_usage`` (VAE, VAE-GAN): KL per latent dimension and active units on the test split
  (``vaegan_core.analysis.latent_usage``);
- ``label_probe`` (VAE, VAE-GAN): how well a linear classifier reads the class from the codes mu(x) of the test
  images (``metrics.conditional_scores.label_probe``): for a conditional model, how much of y leaks into z;
- ``anomaly``: ROC AUC and average precision of each anomaly score on the standard pairs
  (``vaegan_core.analysis.anomaly.standard_pairs``);
- ``memorisation``: the share of samples closer to a training image than test images are
  (``vaegan_core.analysis.memorisation``).

A part whose data is missing (no train split here, say) is recorded under ``skipped`` with the reason.
"""

from __future__ import annotations

from typing import Callable

from . import anomaly, latent_usage, memorisation
from ..training.data import load_dataset
from ..errors import DatasetError
from ..training.folders import is_folder

Progress = Callable[[float, str], None]
ANOMALY_IMAGES = 2000  # per set of the standard pairs: AUCs to about +-0.01
MEMORISATION_SAMPLES = 1000


def run_diagnostics(model, dataset: str, data_root=None, seed: int = 0, progress: Progress | None = None) -> dict:
    """Every diagnostic of ``model`` (trained on ``dataset``) as a JSON-ready dict."""
    report = progress or (lambda fraction, message: None)
    result: dict = {"dataset": dataset, "seed": seed, "skipped": {}}
    if model.has_encoder:
        report(0.0, "latent usage and the label probe on the test split")
        try:
            _encoder_diagnostics(model, dataset, data_root, seed, result)
        except DatasetError as error:
            result["skipped"]["latent_usage"] = str(error).splitlines()[0]
    if is_folder(dataset):  # no domain classifier and no standard other dataset: not measured for these yet
        why = "not measured for image folders yet"
        result["skipped"].update(anomaly=why, memorisation=why)
        return result
    report(0.2, "anomaly scores of the standard pairs")
    try:
        result["anomaly"] = anomaly.standard_pairs(model, dataset, n=ANOMALY_IMAGES, data_root=data_root, seed=seed)
    except DatasetError as error:
        result["skipped"]["anomaly"] = str(error).splitlines()[0]
    report(0.7, "nearest training images of the samples")
    try:
        check = memorisation.check_model(model, dataset, n=MEMORISATION_SAMPLES, seed=seed, data_root=data_root)
        result["memorisation"] = memorisation.headline(check)
    except DatasetError as error:
        result["skipped"]["memorisation"] = str(error).splitlines()[0]
    report(1.0, "diagnostics done")
    return result


def _encoder_diagnostics(model, dataset: str, data_root, seed: int, result: dict) -> None:
    """Latent usage and the label probe (how well a linear classifier reads y from the codes mu(x))."""
    import torch

    from ..metrics.conditional_scores import label_probe

    test, labels = load_dataset(dataset, "test", data_root, image_size=model.config.image_size,
                                channels=model.config.channels)
    if is_folder(dataset) and len(torch.unique(torch.as_tensor(labels))) < 2:
        labels = None  # a folder without class sub-folders: no labels to probe for
    given = labels if model.config.num_classes else None
    mu, logvar = model.encode(test.float() / 255, given)  # once, for both
    result["latent_usage"] = latent_usage.usage_of_codes(mu, logvar)
    if labels is None:
        result["skipped"]["label_probe"] = "the image folder has no class sub-folders"
        return
    result["label_probe"] = {"accuracy": label_probe(mu.numpy(), torch.as_tensor(labels).numpy(), seed),
                             "chance": 1.0 / len(torch.unique(torch.as_tensor(labels))), "n": int(labels.numel()),
                             "conditional": bool(model.config.num_classes)}
