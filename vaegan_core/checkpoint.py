"""Checkpoint folders (Hugging Face Hub compatible) and the safe loading of them.

    config.json          model + training config, class name, package version, training state
    model.safetensors    weights only, of the unwrapped module
    trainer_state.pt     optimizer and RNG state for --resume, loaded with weights_only=True
    history.jsonl        one JSON line per logged step
    samples/             PNG grids from a fixed noise batch, one per epoch
    README.md            model card

Hub push and pull (``vaegan push``, ``load_model("hf://USER/NAME@REVISION")``) live in hub.py.
Nothing here unpickles arbitrary objects: weights are safetensors, config is JSON and the
trainer state goes through ``torch.load(weights_only=True)``. Every file is written to a
temporary name and renamed into place, so an interrupted save never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import __version__
from .config import ModelConfig, TrainConfig, from_dict, to_dict
from .errors import CheckpointError, VaeganError
from .models import MODEL_CLASSES, GenerativeModel, build_model

from .paths import (  # noqa: E402
    CONFIG_FILE, HISTORY_FILE, LATENT_GMM_FILE, METRICS_FILE, MODEL_CARD_FILE, NOTES_FILE, TRAINER_STATE_FILE,
    WEIGHTS_FILE,
)
FORMAT_VERSION = 1
_HF_DATASETS = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist"}


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, then rename the result onto ``path`` in one step."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(str(temporary))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def save_npy_atomic(path: str | os.PathLike, array) -> None:
    """Write a numpy array to ``path`` (``.npy``, no pickle) through a temporary file and a rename."""
    import numpy as np

    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            np.save(handle, array, allow_pickle=False)

    atomic_write(path, write)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text to ``path`` through ``atomic_write``."""
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(path, write)


def has_checkpoint(directory: str | os.PathLike) -> bool:
    directory = Path(directory)
    return (directory / CONFIG_FILE).is_file() or (directory / WEIGHTS_FILE).is_file()


def save_checkpoint(
    directory: str | os.PathLike,
    model: GenerativeModel,
    train_config: TrainConfig | None = None,
    state: dict[str, Any] | None = None,
) -> None:
    """Write ``model.safetensors`` then ``config.json`` (with ``state``: epoch, step, timings) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = dict(state or {})
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    metadata = {"format": "pt", "epoch": str(state.get("epoch", 0))}
    atomic_write(directory / WEIGHTS_FILE, lambda temporary: save_file(weights, temporary, metadata=metadata))
    config = {
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "package_version": __version__,
        "model": to_dict(model.config),
        "train": to_dict(train_config) if train_config is not None else None,
        "state": state,
        "parameters": _parameter_counts(model),
    }
    write_text_atomic(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")


def _parameter_counts(model: GenerativeModel) -> dict[str, int]:
    """Trainable parameters, in total and per network (stored so listings need not load the weights)."""
    from .models import count_parameters

    counts = {name: count_parameters(getattr(model, name))
              for name in ("encoder", "decoder", "discriminator") if hasattr(model, name)}
    return {"total": count_parameters(model), **counts}


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """The parsed, checked ``config.json`` of a checkpoint folder."""
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise CheckpointError(f"checkpoint folder {directory} does not exist; train one with `vaegan train --out {directory}`")
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; is {directory} a checkpoint folder written by `vaegan train`?")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the file is corrupt") from None
    if not isinstance(config, dict) or "model" not in config or "class" not in config:
        raise CheckpointError(f"{path} lacks the 'class' and 'model' entries of a vaegan checkpoint")
    try:
        config["model_config"] = from_dict(ModelConfig, config["model"])
        config["train_config"] = from_dict(TrainConfig, config["train"]) if config.get("train") else None
    except VaeganError as error:
        raise CheckpointError(f"{path}: {error}") from None
    expected_class = MODEL_CLASSES[config["model_config"].kind].__name__
    if config["class"] != expected_class:
        raise CheckpointError(f"{path} names class {config['class']!r} but its model kind needs {expected_class!r}")
    return config


def load_weights(model: GenerativeModel, directory: str | os.PathLike) -> dict[str, str]:
    """Load ``model.safetensors`` into ``model`` (strictly); returns the file's metadata."""
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            weights = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:  # safetensors raises its own error type for truncated or garbled files
        raise CheckpointError(f"{path} is truncated or corrupt ({error}); re-download or retrain it") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(weights) if expected[k].shape != weights[k].shape)
    if missing or unexpected or wrong_shape:
        details = "; ".join(
            f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape))
            if names
        )
        raise CheckpointError(f"{path} does not match its config.json ({details})")
    model.load_state_dict(weights, strict=True)
    return metadata


def resolve_checkpoint(path_or_repo_id: str | os.PathLike) -> Path:
    """A local checkpoint folder: the path itself, or the Hub snapshot (in the Hugging Face cache) of
    ``USER/NAME``, ``hf://USER/NAME`` or ``hf://USER/NAME@REVISION``. A local folder that exists wins
    over a repo id of the same spelling; ``hf://`` always means the Hub."""
    from .hub import HUB_PREFIX, download, parse_hub_id

    text = str(path_or_repo_id)
    if not text.startswith(HUB_PREFIX) and Path(text).exists():
        return Path(text)
    parsed = parse_hub_id(text)
    if parsed is None:
        if text.startswith(HUB_PREFIX):
            raise CheckpointError(f"{text} is not a Hub address: use hf://USER/NAME or hf://USER/NAME@REVISION")
        return Path(text)  # read_config says that the folder does not exist
    try:
        return download(*parsed)
    except CheckpointError as error:
        if text.startswith(HUB_PREFIX):
            raise
        raise CheckpointError(f"{text} is neither a local folder nor a reachable Hugging Face Hub repo: {error}") \
            from None


def load_model(path_or_repo_id: str | os.PathLike, device: str | torch.device = "cpu") -> GenerativeModel:
    """A model from a checkpoint folder or a Hub repo (see ``resolve_checkpoint``), on ``device``, in eval mode."""
    directory = resolve_checkpoint(path_or_repo_id)
    config = read_config(directory)
    model = build_model(config["model_config"])
    load_weights(model, directory)
    model.checkpoint_dir = str(directory)
    from .prior import LatentGMM  # here: vaegan_core.prior imports this module

    try:
        model.latent_gmm = LatentGMM.load(directory)
    except CheckpointError as error:  # an optional file: the model still loads, prior="gmm" says why not
        model.latent_gmm_error = str(error)
    model = model.to(device).eval()
    if torch.device(device).type in ("cpu", "cuda"):  # NHWC convolutions: ~30 % faster sampling on CPU
        model = model.to(memory_format=torch.channels_last)
    return model


def save_trainer_state(directory: str | os.PathLike, state: dict[str, Any]) -> None:
    """Optimizer, RNG and counters for --resume; only tensors and plain Python values."""
    atomic_write(Path(directory) / TRAINER_STATE_FILE, lambda temporary: torch.save(state, temporary))


def load_trainer_state(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / TRAINER_STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing, so training cannot resume; start again without --resume")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, or a pickle holding anything but tensors and plain values
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path} is truncated or not a vaegan trainer state ({first_line})") from None


def write_model_card(directory: str | os.PathLike, model: GenerativeModel, train_config: TrainConfig,
                     state: dict[str, Any]) -> None:
    """A minimal Hugging Face model card; the pretrained-checkpoint scripts extend it with metrics."""
    from .models import count_parameters

    config = model.config
    dataset = train_config.dataset
    front = ["---", "library_name: vaegan", "license: mit", "pipeline_tag: unconditional-image-generation",
             "tags:", "- vae-gan", f"- {config.kind}", "- pytorch", "- safetensors"]
    if dataset in _HF_DATASETS:
        front += ["datasets:", f"- {_HF_DATASETS[dataset]}"]
    front.append("---")
    minutes = state.get("train_seconds", 0.0) / 60
    body = [
        f"# {type(model).__name__} on {dataset}",
        "",
        f"A {type(model).__name__} ({count_parameters(model):,} parameters, latent size {config.latent_dim}, "
        f"width {config.width}) trained with the VAE-GAN Explorer (`vaegan` {__version__}).",
        "",
        f"- epochs: {state.get('epoch', 0)} of {train_config.epochs}, {state.get('step', 0):,} steps, "
        f"batch size {train_config.batch_size}, seed {train_config.seed}",
        f"- trained on: {state.get('device', '?')} ({state.get('precision', '?')}), {minutes:.1f} minutes",
        "",
        "Load it with:",
        "",
        "```python",
        "import vaegan_core",
        "model = vaegan_core.load_model(\"path/to/this/folder\")  # or \"hf://USER/NAME\" once pushed",
        "images = model.sample(16)  # 16 x C x H x W in [0, 1]",
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
    write_text_atomic(Path(directory) / MODEL_CARD_FILE, "\n".join(front + [""] + body))


def _results_section(directory: Path) -> list[str]:
    """The model card's results, generated from ``metrics.json`` (written by ``vaegan eval``)."""
    from .zoo import headline_scores, is_stale, read_metrics

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
    for key, result in sorted(metrics.items()):
        scores = headline_scores(result)

        def cell(name, digits=3):
            return f"{scores[name]:.{digits}f}" if name in scores else "-"

        mark = " (stale)" if is_stale(directory, result) else ""
        stale = stale or bool(mark)
        prior = {"normal": "N(0, I)", "gmm": "GMM"}.get(result.get("prior", "normal"), "?")
        lines.append(f"| {result.get('extractor', key)}{mark} | {result.get('split', '?')} | {prior} | "
                     f"{result.get('n', 0):,} | "
                     f"{cell('fid', 2)} | {cell('is', 2)} | {cell('kid', 3)} | {cell('precision')} | {cell('recall')} | "
                     f"{cell('density')} | {cell('coverage')} | {cell('classes_covered', 0)} | "
                     f"{cell('reconstruction_mse', 4)} |")
    if stale:
        lines += ["", "(stale): scored other files (config, weights or GMM) than this folder holds now; run that "
                  "`vaegan eval` again."]
    if not any(key.startswith("inception") for key in metrics):
        lines += ["", "Inception FID not measured yet: `vaegan eval <this folder> --extractor inception` "
                  "(about 20 minutes on a 2-core CPU, seconds on a GPU)."]
    return lines + [""]


def refresh_model_card(directory: str | os.PathLike) -> None:
    """Rewrite a checkpoint's model card from its config.json and metrics.json (after ``vaegan eval``)."""
    model = load_model(directory)
    config = read_config(directory)
    if config.get("train_config") is None:
        return
    write_model_card(directory, model, config["train_config"], config.get("state", {}))


def info(path_or_repo_id: str | os.PathLike) -> dict[str, Any]:
    """A JSON-ready summary of a checkpoint: what it is, how it was trained, its last log line and metrics.

    Loads the weights too, so a corrupt or mismatched file is reported here rather than later.
    """
    model = load_model(path_or_repo_id)
    directory = Path(model.checkpoint_dir)
    config = read_config(directory)
    counts = _parameter_counts(model)
    summary: dict[str, Any] = {
        "path": str(directory),
        "class": config["class"],
        "package_version": config.get("package_version"),
        "parameters": counts.pop("total"),
        "parameters_by_network": counts,
        "model": config["model"],
        "train": config.get("train"),
        "state": config.get("state", {}),
        "files": sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")),
        "latent_gmm": model.latent_gmm.metadata if model.latent_gmm is not None else model.latent_gmm_error,
    }
    history = directory / HISTORY_FILE
    if history.is_file():
        lines = [line for line in history.read_text(encoding="utf-8").splitlines() if line.strip()]
        if lines:
            summary["last_log"] = json.loads(lines[-1])
    metrics = directory / METRICS_FILE
    if metrics.is_file():
        try:
            summary["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise CheckpointError(f"{metrics} is not valid JSON ({error})") from None
    return summary
