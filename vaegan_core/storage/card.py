"""The model card of a checkpoint folder (``README.md``, Hugging Face's format), generated from its files:
``config.json`` (how it was trained), ``metrics.json`` (results of ``vaegan eval``), ``notes.md`` (prose a
person wrote: what was tried, what is next) and ``latent_gmm.safetensors`` (a second prior).

Rewritten after every epoch by the Trainer and after ``vaegan eval`` and ``vaegan fit-gmm``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import __version__
from .checkpoint import load_model, read_config
from .checkpoint_folder import CheckpointFolder
from ..config import TrainConfig
from ..models import GenerativeModel, count_parameters
from .paths import LATENT_GMM_FILE, NOTES_FILE
from .zoo import headline_scores, is_stale, read_metrics

# The Hub's own copies of the datasets, named in the card's front matter so the Hub links them
HF_DATASETS = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist"}


def write_model_card(directory: str | os.PathLike, model: GenerativeModel, train_config: TrainConfig,
                     state: dict[str, Any]) -> None:
    """Write ``README.md``: a Hugging Face model card with how the model was trained, how to load it, its
    results (from ``metrics.json``) and its notes (``notes.md``)."""
    config = model.config
    dataset = train_config.dataset
    classes = config.num_classes
    front = ["---", "library_name: vaegan", "license: mit"]
    front += [] if classes else ["pipeline_tag: unconditional-image-generation"]
    front += ["tags:", "- vae-gan", f"- {config.kind}", "- pytorch", "- safetensors"]
    front += ["- conditional"] if classes else []
    if dataset in HF_DATASETS:
        front += ["datasets:", f"- {HF_DATASETS[dataset]}"]
    front.append("---")
    minutes = state.get("train_seconds", 0.0) / 60
    name = ("conditional " if classes else "") + type(model).__name__
    body = [
        f"# {name} on {dataset}",
        "",
        f"A {name} ({count_parameters(model):,} parameters, latent size {config.latent_dim}, "
        f"width {config.width}) trained with the VAE-GAN Explorer (`vaegan` {__version__})."
        + (f" It is conditional on the class label ({classes} classes): every network is given y, so z holds "
           "the style." if classes else "")
        + (f" Samples come from a moving average of the decoder's weights (decay {config.ema_decay}); both weights "
           "are in model.safetensors (`model.use_ema = False` samples from the trained ones)."
           if config.ema_decay else ""),
        "",
        f"- epochs: {state.get('epoch', 0)} of {train_config.epochs}, {state.get('step', 0):,} steps, "
        f"batch size {train_config.batch_size}, seed {train_config.seed}",
        f"- trained on: {state.get('device', '?')} ({state.get('precision', '?')}), {minutes:.1f} minutes",
        *_stage_lines(state.get("stages")),
        "",
        "Load it with:",
        "",
        "```python",
        "import vaegan_core",
        "model = vaegan_core.load_model(\"path/to/this/folder\")  # or \"hf://USER/NAME\" once pushed",
        "images = model.sample(16)  # 16 x C x H x W in [0, 1]" if not classes else
        f"images = model.sample(16, labels=[i % {classes} for i in range(16)])  # one class per image, in [0, 1]",
    ]
    if model.latent_gmm is not None:
        gmm = model.latent_gmm.metadata
        body += [f"images = model.sample(16, prior=\"gmm\")  # codes from the {model.latent_gmm.components}-component "
                 f"GMM of the {gmm.get('n', 0):,} training codes ({LATENT_GMM_FILE})"]
    body += [
        "```",
        "",
    ]
    body += _results_section(Path(directory))
    notes = Path(directory) / NOTES_FILE
    if notes.is_file():  # what a person wants the card to say: how it was trained, what was tried
        body += ["## Notes", "", notes.read_text(encoding="utf-8").strip(), ""]
    CheckpointFolder(directory).write_card("\n".join(front + [""] + body))


def _results_section(directory: Path) -> list[str]:
    """The model card's results, generated from ``metrics.json`` (written by ``vaegan eval``)."""
    metrics = read_metrics(directory)
    lines = ["## Results", ""]
    if not metrics:
        return lines + ["Not evaluated yet: `vaegan eval <this folder> --n 10000` writes metrics.json and this section.", ""]
    lines += ["Generated from `metrics.json` by `vaegan eval` (generated images vs the real split). Prior: where the "
              "codes came from, N(0, I) or the GMM of the training codes (`vaegan fit-gmm`).", "",
              "| extractor | split | prior | n | FID | IS | KID | precision | recall | density | coverage | classes | "
              "recon MSE |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    stale = False
    conditional_lines: list[str] = []
    for key, result in sorted(metrics.items()):
        scores = headline_scores(result)

        def cell(name, digits=3):
            return f"{scores[name]:.{digits}f}" if name in scores else "-"

        mark = " (stale)" if is_stale(directory, result) else ""
        stale = stale or bool(mark)
        prior = {"normal": "N(0, I)", "gmm": "GMM"}.get(result.get("prior", "normal"), "?")  # short: a table cell
        if "label_adherence" in scores_of(result):
            conditional_lines.append(_conditional_line(result))
        lines.append(f"| {result.get('extractor', key)}{mark} | {result.get('split', '?')} | {prior} | "
                     f"{result.get('n', 0):,} | "
                     f"{cell('fid', 2)} | {cell('is', 2)} | {cell('kid', 3)} | {cell('precision')} | {cell('recall')} | "
                     f"{cell('density')} | {cell('coverage')} | {cell('classes_covered', 0)} | "
                     f"{cell('reconstruction_mse', 4)} |")
    if conditional_lines:
        lines += ["", "Conditional measures: label adherence (the share of samples the domain classifier reads as the "
                  "class asked for) and the per-class FID (each class's samples against that class's real images, "
                  "averaged).", ""] + conditional_lines
    if stale:
        lines += ["", "(stale): scored other files (config, weights or GMM) than this folder holds now; run that "
                  "`vaegan eval` again."]
    if not any(key.startswith("inception") for key in metrics):
        lines += ["", "Inception FID not measured yet: `vaegan eval <this folder> --extractor inception` "
                  "(about 20 minutes on a 2-core CPU, seconds on a GPU)."]
    return lines + [""]


def scores_of(result: dict) -> dict:
    scores = result.get("metrics")
    return scores if isinstance(scores, dict) else {}


def _conditional_line(result: dict) -> str:
    scores = scores_of(result)
    adherence, intra = scores.get("label_adherence"), scores.get("intra_fid")
    return (f"- {result.get('extractor', '?')}, {result.get('split', '?')} split: label adherence "
            + (f"{adherence:.1%}" if isinstance(adherence, (int, float)) else "-") + ", per-class FID "
            + (f"{intra:.2f}" if isinstance(intra, (int, float)) else "- (too few images per class)"))


def refresh_model_card(directory: str | os.PathLike) -> None:
    """Rewrite a checkpoint's model card from its config.json and metrics.json (after ``vaegan eval``)."""
    model = load_model(directory)
    config = read_config(directory)
    if config.get("train_config") is None:
        return
    write_model_card(directory, model, config["train_config"], config.get("state", {}))


def _stage_lines(stages) -> list[str]:
    """The card's line for config.json's state.stages: the continuations that were not a plain resume."""
    if not isinstance(stages, list):
        return []
    parts = []
    for stage in stages:
        if not isinstance(stage, dict):
            continue
        changed = stage.get("changed") if isinstance(stage.get("changed"), dict) else {}
        what = ", ".join(f"{name} {value}" for name, value in changed.items())
        parts.append(f"from epoch {stage.get('from_epoch', '?')} with a {stage.get('optimizer', '?')} optimizer"
                     + (f" ({what})" if what else ""))
    return [f"- continued: {'; '.join(parts)}"] if parts else []
