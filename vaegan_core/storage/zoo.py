"""The shipped checkpoints as a catalogue: where each (dataset, model) lives, whether it is there,
a content fingerprint for caches, its history, metrics and sample grids.

Layout under the checkpoints root (``$VAEGAN_CHECKPOINTS_DIR`` or the repo's ``checkpoints/``)::

    {mnist,fashion-mnist}/{gan,vae,vaegan}/   one checkpoint folder each (see checkpoint.py)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import ANOMALY_SCORE_LABELS, DATASET_LABELS, IDX_DATASETS, MODEL_KINDS, MODEL_LABELS
# DIAGNOSTICS_KEY and metrics_key: names of the catalogue too (zoo.metrics_key, ...)
from .checkpoint_folder import DIAGNOSTICS_KEY, CheckpointFolder, metrics_key  # noqa: F401
from ..errors import VaeganError
from .paths import CONFIG_FILE, LATENT_GMM_FILE, WEIGHTS_FILE, SHIPPED_CHECKPOINTS, default_checkpoints_dir

# The recipe of issue 17 (benchmarks/README.md has the ablation behind each flag), as scripts/train_all.sh runs it:
# the `vaegan train` flags per model, the epochs on the 2-core CPU, and the epochs a GPU affords. The GANs shipped
# are this recipe's runs, continued with a fresh optimizer and --keep-best (their cards say how far); the VAE-GANs
# shipped began as 12 epochs of width 64 and 8 more with the moving average, which this recipe's VAE-GAN line follows
# from the start, and were continued from there (their cards list the stages). The VAE's likelihood and KL weight
# depend on the dataset (RECIPE_BY_DATASET, added to RECIPE): a calibrated Gaussian, whose codes stray from
# N(0, I) unless a KL weight pulls them back; the weight at which both priors' FIDs fell below the Bernoulli VAE's
# was 4 on Fashion-MNIST and 12 on MNIST (8 lowered only the GMM row there). The VAEs shipped are these runs,
# continued (Fashion-MNIST to 154 epochs, MNIST to 157) with a fresh optimizer and --keep-best like the GANs, then
# given a decay stage (below) like the MNIST GAN and VAE-GAN; each card lists the parts.
RECIPE = {"gan": ["--width", "64", "--ema-decay", "0.999"],
          "vae": ["--width", "32"],
          "vaegan": ["--width", "64", "--ema-decay", "0.999"]}
RECIPE_BY_DATASET = {("vae", "mnist"): ["--likelihood", "calibrated", "--beta", "12"],
                     ("vae", "fashion-mnist"): ["--likelihood", "calibrated", "--beta", "4"]}
DEFAULT_EPOCHS = {"vae": 16, "gan": 24, "vaegan": 20}
GPU_EPOCHS = {"vae": 100, "gan": 100, "vaegan": 100}
# The recipe's last stage: after the epochs above at a constant rate, this many more with the rates falling along a
# cosine to 0 (`vaegan train --resume --lr-schedule cosine`, a decay stage). Measured on the shipped MNIST GAN (the
# best of 12 epochs after 76: train-split domain FID 7.39 -> 6.27) and VAE-GAN (12 after 100: 38.3 / 5.23 -> 37.3 /
# 5.15); benchmarks/README.md, "A decay stage ...". The CPU lengths keep that ratio (about an eighth of the run).
DECAY_EPOCHS = {"vae": 2, "gan": 3, "vaegan": 3}
GPU_DECAY_EPOCHS = {"vae": 15, "gan": 15, "vaegan": 15}


def recipe(kind: str, dataset: str) -> list[str]:
    """The `vaegan train` flags of the recipe for ``kind`` on ``dataset`` (other datasets: the model's flags)."""
    return [*RECIPE.get(kind, []), *RECIPE_BY_DATASET.get((kind, dataset), [])]


def checkpoints_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root) if root is not None else default_checkpoints_dir()


CONDITIONAL_DIR = "conditional"  # checkpoints/<dataset>/conditional/<kind>: the class-conditional models


def checkpoint_dir(dataset: str, kind: str, root: str | os.PathLike | None = None, conditional: bool = False) -> Path:
    base = checkpoints_root(root) / dataset
    return (base / CONDITIONAL_DIR / kind) if conditional else base / kind


NOT_DATASETS = ("classifiers", "reference_stats", "data", "collapse")  # folders of a checkpoints root that hold no zoo


def available_datasets(root: str | os.PathLike | None = None) -> list[str]:
    """The datasets the apps offer: the built-in ones (their test images ship), then every other folder of the
    checkpoints root that holds a model (e.g. ``my-photos/vaegan`` trained with ``--dataset folder:PATH``)."""
    base = checkpoints_root(root)
    others = []
    if base.is_dir():
        for folder in sorted(base.iterdir()):
            if (folder.name in IDX_DATASETS or folder.name in NOT_DATASETS or folder.name.startswith(".")
                    or not folder.is_dir()):
                continue
            if any(is_available(folder.name, kind, base) or is_available(folder.name, kind, base, True)
                   for kind in MODEL_KINDS):
                others.append(folder.name)
    return list(IDX_DATASETS) + others


def data_of(dataset: str, root: str | os.PathLike | None = None) -> tuple[str, int, int]:
    """``(name for load_dataset, image size, channels)`` of the images behind a zoo dataset: the built-in ones
    as they are; for any other, what its first model's config.json says it was trained on."""
    if dataset in IDX_DATASETS or dataset == "digits":
        return dataset, 28, 1
    for conditional in (False, True):
        for kind in MODEL_KINDS:
            if is_available(dataset, kind, root, conditional):
                config = read_config_json(checkpoint_dir(dataset, kind, root, conditional))
                model, train = config.get("model") or {}, config.get("train") or {}
                if isinstance(train.get("dataset"), str):
                    return train["dataset"], int(model.get("image_size", 28)), int(model.get("channels", 1))
    return dataset, 28, 1


def is_available(dataset: str, kind: str, root: str | os.PathLike | None = None, conditional: bool = False) -> bool:
    folder = checkpoint_dir(dataset, kind, root, conditional)
    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def shown_path(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """``path`` as the apps show it: under the checkpoints folder (``checkpoints/mnist/vaegan``), never the
    server's absolute path, which is none of a visitor's business."""
    try:
        return (Path("checkpoints") / Path(path).resolve().relative_to(checkpoints_root(root).resolve())).as_posix()
    except (ValueError, OSError):
        return Path(path).name


def shown(message: str, root: str | os.PathLike | None = None) -> str:
    """``message`` with the checkpoints folder's absolute path replaced by ``checkpoints`` (see ``shown_path``)."""
    base = checkpoints_root(root)
    for spelling in sorted({str(base.resolve()), str(base.absolute()), str(base)}, key=len, reverse=True):
        if spelling not in (".", ""):
            message = message.replace(spelling, "checkpoints")
    return message


def root_description(root: str | os.PathLike | None = None) -> str:
    """Which checkpoints an app shows, in words (not the folder's absolute path)."""
    chosen = checkpoints_root(root).resolve()
    return "the ones shipped with the app" if chosen == SHIPPED_CHECKPOINTS.resolve() else f"the folder {chosen.name!r}"


def missing_message(dataset: str, kind: str, root: str | os.PathLike | None = None, conditional: bool = False) -> str:
    """One sentence saying how to get the checkpoint that is not there (paths as the apps show them)."""
    folder = shown_path(checkpoint_dir(dataset, kind, root, conditional), root)
    if conditional:
        return (f"No conditional {MODEL_LABELS.get(kind, kind)} checkpoint for {dataset} in {folder}. Train one with "
                f"`vaegan train --model {kind} --dataset {dataset} --conditional --width 32 --epochs 8 --out {folder}` "
                f"(or `scripts/train_conditional.sh {dataset}`), or point VAEGAN_CHECKPOINTS_DIR at a folder that has "
                "it.")
    return (f"No {MODEL_LABELS.get(kind, kind)} checkpoint for {dataset} in {folder}. Train one with "
            f"`vaegan train --model {kind} --dataset {dataset} --epochs {DEFAULT_EPOCHS.get(kind, 5)} "
            f"{' '.join(recipe(kind, dataset))} --out {folder}` "
            f"(or `scripts/train_all.sh {dataset}`), or point VAEGAN_CHECKPOINTS_DIR at a folder that has it.")


def open_model(dataset: str, kind: str, loader, root: str | os.PathLike | None = None,
               conditional: bool = False) -> tuple[Any, str | None]:
    """``(model, None)``, or ``(None, one sentence for the user)`` when the checkpoint is missing or broken.

    ``loader(folder, fingerprint)`` does the loading, so each app keeps its own cache; the fingerprint
    changes when the files do, so a retrained checkpoint is loaded afresh. ``load_model`` gives the model its
    folder (``checkpoint.bind``): ``model.fingerprint`` is the key of every cache of work derived from it.
    """
    if not is_available(dataset, kind, root, conditional):
        return None, missing_message(dataset, kind, root, conditional)
    folder = checkpoint_dir(dataset, kind, root, conditional)
    try:
        model = loader(str(folder), fingerprint(folder))  # the loaded model carries its folder and fingerprint
        return model, None
    except VaeganError as error:
        return None, f"{MODEL_LABELS.get(kind, kind)}: {shown(str(error), root)}"


# The readers of a checkpoint folder's files, by path: kept for callers of the catalogue; the object that owns the
# files is vaegan_core.storage.checkpoint_folder.CheckpointFolder.

def fingerprint(directory: str | os.PathLike, names=(CONFIG_FILE, WEIGHTS_FILE, LATENT_GMM_FILE)) -> str:
    """``CheckpointFolder(directory).fingerprint(names)``: a cache key that changes with the content."""
    return CheckpointFolder(directory).fingerprint(names)


def evaluated_fingerprint(directory: str | os.PathLike, prior: str = "normal") -> str:
    """``CheckpointFolder(directory).evaluated_fingerprint(prior)``: what a ``vaegan eval`` with this prior scored."""
    return CheckpointFolder(directory).evaluated_fingerprint(prior)


def is_stale(directory: str | os.PathLike, result: dict[str, Any]) -> bool:
    """``CheckpointFolder(directory).is_stale(result)``."""
    return CheckpointFolder(directory).is_stale(result)


def read_config_json(directory: str | os.PathLike) -> dict[str, Any]:
    """``CheckpointFolder(directory).config_json()``: config.json unchecked, {} when unreadable."""
    return CheckpointFolder(directory).config_json()


def stored_values(directory: str | os.PathLike) -> int:
    """``CheckpointFolder(directory).stored_values()``."""
    return CheckpointFolder(directory).stored_values()


def read_history(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """``CheckpointFolder(directory).history()``."""
    return CheckpointFolder(directory).history()


def read_quality(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """``CheckpointFolder(directory).quality()``."""
    return CheckpointFolder(directory).quality()


def read_metrics(directory: str | os.PathLike) -> dict[str, Any]:
    """``CheckpointFolder(directory).metrics()``: the results of ``vaegan eval``, {} when none or unreadable."""
    return CheckpointFolder(directory).metrics()


def read_diagnostics(directory: str | os.PathLike) -> dict[str, Any]:
    """``CheckpointFolder(directory).diagnostics()``."""
    return CheckpointFolder(directory).diagnostics()


def diagnostics_summary(diagnostics: dict[str, Any]) -> list[str]:
    """Short lines for a model card or the Overview from stored diagnostics (``read_diagnostics``): active units,
    the best anomaly AUC against the other dataset, and the memorisation figure. Malformed parts are left out."""
    lines = []
    usage = diagnostics.get("latent_usage")
    if isinstance(usage, dict) and isinstance(usage.get("active_units"), int):
        lines.append(f"active latent units: **{usage['active_units']} / {usage.get('latent_dim', '?')}** "
                     f"(KL {usage.get('kl_total', float('nan')):.1f} nats)")
    pairs = (diagnostics.get("anomaly") or {}).get("pairs") if isinstance(diagnostics.get("anomaly"), dict) else None
    if isinstance(pairs, dict):
        for name, scores in pairs.items():
            if name in ("noise", "rotation", "inversion") or not isinstance(scores, dict):
                continue
            aucs = {score: found.get("auc") for score, found in scores.items() if isinstance(found, dict)}
            aucs = {score: auc for score, auc in aucs.items() if isinstance(auc, (int, float))}
            if aucs:
                best = max(aucs, key=aucs.get)
                lines.append(f"tells {DATASET_LABELS.get(name, name)} from its own test images: AUC "
                             f"**{aucs[best]:.3f}** (score: {ANOMALY_SCORE_LABELS.get(best, best)})")
    memory = diagnostics.get("memorisation")
    pixels = memory.get("pixels") if isinstance(memory, dict) else None
    if isinstance(pixels, dict) and isinstance(pixels.get("closer_than_test"), (int, float)):
        lines.append(f"samples closer to a training image than 95 % of test images: "
                     f"**{pixels['closer_than_test']:.1%}** (about 5 % = no copying)")
    return lines


def sample_grids(directory: str | os.PathLike) -> list[Path]:
    """``CheckpointFolder(directory).sample_grids()``."""
    return CheckpointFolder(directory).sample_grids()


HEADLINE = ("fid", "is", "kid", "precision", "recall", "density", "coverage", "classes_covered",
            "kl_to_uniform", "reconstruction_mse")
HEADLINE_LABELS = {"fid": "FID (lower is better)", "is": "IS (classifier)", "kid": "KID, feature units² (lower is better)",
                   "precision": "precision",
                   "recall": "recall", "density": "density", "coverage": "coverage",
                   "classes_covered": "classes drawn", "kl_to_uniform": "class imbalance (KL to uniform)",
                   "reconstruction_mse": "reconstruction error (MSE)"}
# how a table for people shows each measure: its decimals (distances to two, fractions to three; None: three
# significant digits, for KID, a squared distance in the features' units: about 0.01 with Inception's, 100 with the
# LeNet's larger ones)
HEADLINE_SHOWN = {"fid": 2, "is": 2, "kid": None, "classes_covered": 0, "kl_to_uniform": 3}


def scores_table(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """metrics.json as a table for people: one row per measure, one column per (features, prior) evaluated,
    e.g. "domain, N(0, I)" and "Inception, GMM"; values rounded as ``HEADLINE_SHOWN`` says."""
    from ..config import EXTRACTOR_LABELS

    columns: dict[str, dict[str, float]] = {}
    for key, result in sorted(metrics.items(), key=lambda item: (item[0].endswith("-gmm"), item[0])):
        extractor, prior = key.split("-", 1)[0], "gmm" if key.endswith("-gmm") else "normal"
        name = (f"{EXTRACTOR_LABELS.get(extractor, extractor).split(' ')[0]}, {'GMM' if prior == 'gmm' else 'N(0, I)'}"
                + ("" if "-test" in key else " (train split)"))
        columns[name] = headline_scores(result)
    rows = []
    for measure in HEADLINE:
        if any(measure in scores for scores in columns.values()):
            rows.append({"measure": HEADLINE_LABELS[measure],
                         **{name: _shown(measure, scores[measure]) if measure in scores else None
                            for name, scores in columns.items()}})
    return rows


def _shown(measure: str, value: float) -> float:
    decimals = HEADLINE_SHOWN.get(measure, 3)
    if decimals is None:
        return float(f"{value:.3g}")
    value = round(value, decimals)
    return int(value) if decimals == 0 else value


def headline_scores(result: dict[str, Any]) -> dict[str, float]:
    """The main numbers of one ``evaluate`` result as ``{name: float}`` (IS and KID by their mean)."""
    scores = result.get("metrics")
    if not isinstance(scores, dict):  # a hand-edited or damaged metrics.json: nothing to show, nothing to break
        return {}
    flat: dict[str, float] = {}
    for name in HEADLINE:
        value = scores.get(name)
        if isinstance(value, dict):
            value = value.get("mean")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
