"""Checkpoint folders (Hugging Face Hub compatible) and the safe loading of them.

    config.json          model + training config, class name, package version, training state
    model.safetensors    weights only, of the unwrapped module
    trainer_state.pt     optimizer and RNG state for --resume, loaded with weights_only=True
    history.jsonl        one JSON line per logged step
    samples/             PNG grids from a fixed noise batch, one per epoch
    README.md            model card

Hub downloads live in hub.py (``load_model("hf://USER/NAME@REVISION")``), the model card in card.py.
Nothing here unpickles arbitrary objects: weights are safetensors, config is JSON and the
trainer state goes through ``torch.load(weights_only=True)``. Every file is written to a
temporary name and renamed into place, so an interrupted save never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from .. import __version__
from .checkpoint_folder import CheckpointFolder
from ..config import ModelConfig, TrainConfig, from_dict, to_dict
from ..errors import CheckpointError, ConfigError, VaeganError, first_line
from .files import FileKindError, JSONFileError, copy_bounded, read_json
from .hub import HUB_PREFIX, download, parse_hub_id
from ..models import MODEL_CLASSES, GenerativeModel, build_model, count_parameters
from .paths import CONFIG_FILE, LATENT_GMM_FILE, METRICS_FILE, TRAINER_STATE_FILE, WEIGHTS_FILE
from ..models.prior import LatentGMM

FORMAT_VERSION = 1


def has_checkpoint(directory: str | os.PathLike) -> bool:
    directory = Path(directory)
    return (directory / CONFIG_FILE).is_file() or (directory / WEIGHTS_FILE).is_file()


def save_checkpoint(
    directory: str | os.PathLike,
    model: GenerativeModel,
    train_config: TrainConfig | None = None,
    state: dict[str, Any] | None = None,
) -> None:
    """Write ``model.safetensors`` then ``config.json`` (with ``state``: epoch, step, timings) into ``directory``
    (through its ``CheckpointFolder``, the writer of its files)."""
    folder = CheckpointFolder(directory)
    folder.path.mkdir(parents=True, exist_ok=True)
    state = dict(state or {})
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    metadata = {"format": "pt", "epoch": str(state.get("epoch", 0))}
    folder.write_weights(weights, metadata)
    config = {
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "package_version": __version__,
        "model": to_dict(model.config),
        "train": to_dict(train_config) if train_config is not None else None,
        "state": state,
        "parameters": _parameter_counts(model),
    }
    folder.write_config(config)


def _parameter_counts(model: GenerativeModel) -> dict[str, int]:
    """Trainable parameters, in total and per network (stored so listings need not load the weights)."""
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
        config = read_json(path)
    except JSONFileError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the file is corrupt") from None
    if not isinstance(config, dict) or "model" not in config or "class" not in config:
        raise CheckpointError(f"{path} lacks the 'class' and 'model' entries of a vaegan checkpoint")
    for key, kinds in (("class", str), ("state", dict), ("train", (dict, type(None)))):
        if key in config and not isinstance(config[key], kinds):
            raise CheckpointError(f"{path}: '{key}' holds a {type(config[key]).__name__}; the file is corrupt")
    try:
        config["model_config"] = from_dict(ModelConfig, config["model"])
        config["train_config"] = from_dict(TrainConfig, config["train"]) if config.get("train") else None
    except VaeganError as error:
        raise CheckpointError(f"{path}: {error}") from None
    expected_class = MODEL_CLASSES[config["model_config"].kind].__name__
    if config["class"] != expected_class:
        raise CheckpointError(f"{path} names class {config['class']!r} but its model kind needs {expected_class!r}")
    return config


def load_weights(model: GenerativeModel, directory: str | os.PathLike, start_average: bool = False) -> dict[str, str]:
    """Load ``model.safetensors`` into ``model`` (strictly); returns the file's metadata.

    The names and shapes in the file's header are compared with the model's first: a mismatched file is
    refused before any of its tensor data is read. ``start_average``: a model with a moving average of the
    decoder may load a file that has none (a run continued with the average added); the average starts at the
    decoder's weights."""
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete")
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as handle:
            stored = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            added = start_average and getattr(model, "decoder_ema", None) is not None and not any(
                name.startswith("decoder_ema.") for name in stored)
            if added:
                expected = {name: shape for name, shape in expected.items() if not name.startswith("decoder_ema.")}
            _check_shapes(path, expected, stored)
            metadata = handle.metadata() or {}
            weights = {name: handle.get_tensor(name) for name in handle.keys()}
    except CheckpointError:
        raise
    except Exception as error:  # safetensors raises its own error type for truncated or garbled files
        raise CheckpointError(f"{path} is truncated or corrupt ({first_line(error)}); re-download or retrain it") \
            from None
    model.load_state_dict(weights, strict=not added)
    if added:
        model.reset_ema()
    return metadata


def _check_shapes(path: Path, expected: dict[str, tuple], stored: dict[str, tuple]) -> None:
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(stored) if expected[k] != stored[k])
    if missing or unexpected or wrong_shape:
        details = "; ".join(
            f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape))
            if names
        )
        raise CheckpointError(f"{path} does not match its config.json ({details})")


def resolve_checkpoint(path_or_repo_id: str | os.PathLike) -> Path:
    """A local checkpoint folder: the path itself, or the Hub snapshot (in the Hugging Face cache) of
    ``USER/NAME``, ``hf://USER/NAME`` or ``hf://USER/NAME@REVISION``. A local folder that exists wins
    over a repo id of the same spelling; ``hf://`` always means the Hub."""
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


def _class_frequencies(state: dict, num_classes: int) -> list[float] | None:
    """The share of each class in a conditional model's training data, as its trainer recorded it; None when the
    checkpoint predates the record or the record does not fit the model (evaluation then uses the real split's)."""
    shares = state.get("class_frequencies") if isinstance(state, dict) else None
    if (not num_classes or not isinstance(shares, list) or len(shares) != num_classes
            or not all(isinstance(share, (int, float)) and share >= 0 for share in shares)
            or not 0.99 <= sum(shares) <= 1.01):
        return None
    return [float(share) for share in shares]


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def _checked_device(device: str | torch.device) -> torch.device:
    """The torch device ``load_model`` puts a model on: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (a CUDA
    GPU, then Apple's MPS, then the CPU). A misspelt name or a device this machine lacks is a one-line ConfigError
    that names the fix, said before anything is read."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {device!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={str(device)!r} asks for a CUDA GPU, but no CUDA device is available on this "
                              "machine; use device='cpu' (or device='auto': a GPU when there is one)")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ConfigError(f"device={str(device)!r}: this machine has {count} CUDA device(s), numbered from 0 to "
                              f"{count - 1}; use device='cuda:0' (or 'cpu')")
    elif resolved.type == "mps" and not _mps_available():
        raise ConfigError(f"device={str(device)!r} asks for Apple's MPS backend, which is not available on this "
                          "machine; use device='cpu' (or device='auto')")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device={str(device)!r} is not one vaegan_core runs on; use 'cpu', 'cuda', 'mps' or "
                          "'auto'")
    return resolved


def bind(model, directory: str | os.PathLike, fingerprint: str | None = None):
    """Give ``model`` the checkpoint folder it came from: ``model.checkpoint`` (a ``CheckpointFolder``, owner of the
    folder's files: where derived results are shipped, metrics.json), ``model.checkpoint_dir`` (its path) and
    ``model.fingerprint`` (the key of every cache of work derived from the model; ``fingerprint`` when the weights
    were read from a snapshot of the folder, else the folder's own). Returns the model."""
    folder = CheckpointFolder(directory)
    model.checkpoint = folder
    model.checkpoint_dir = str(folder.path)
    model.fingerprint = fingerprint if fingerprint is not None else folder.fingerprint()
    return model


def load_model(path_or_repo_id: str | os.PathLike, device: str | torch.device = "cpu") -> GenerativeModel:
    """A model from a checkpoint folder or a Hub repo (see ``resolve_checkpoint``) on ``device`` (``cpu``, ``cuda``,
    ``cuda:N``, ``mps`` or ``auto``: see ``_checked_device``), in eval mode.

    The model's ``sample``, ``decode``, ``encode`` and ``reconstruct`` take and give images B x C x H x W, float in
    [0, 1], returned on the CPU (``grad=True``: on the input's device, differentiable); its parameters live on
    ``device``. Raises CheckpointError for a missing, corrupt or mismatched checkpoint, ConfigError for a device
    this machine lacks."""
    device = _checked_device(device)
    directory = resolve_checkpoint(path_or_repo_id)
    config = read_config(directory)
    try:  # refused from the config's numbers alone when its networks would be too large to build
        model = build_model(config["model_config"])
    except ConfigError as error:
        raise CheckpointError(f"{Path(directory) / CONFIG_FILE}: {error}") from None
    load_weights(model, directory)
    bind(model, directory)
    model.class_frequencies = _class_frequencies(config.get("state", {}), model.config.num_classes)
    names = (config.get("state") or {}).get("class_names")
    model.class_names = ([str(name) for name in names] if isinstance(names, list) and names
                         and all(isinstance(name, str) for name in names) else None)  # an image folder's, as trained
    try:
        model.latent_gmm = LatentGMM.load(directory)
    except CheckpointError as error:  # an optional file: the model still loads, prior="gmm" says why not
        model.latent_gmm_error = str(error)
    model = model.to(device).eval()
    if device.type in ("cpu", "cuda"):  # NHWC convolutions: ~30 % faster sampling on CPU
        model = model.to(memory_format=torch.channels_last)
    return model


SNAPSHOT_FILES = (CONFIG_FILE, WEIGHTS_FILE, LATENT_GMM_FILE)
SNAPSHOT_LIMIT = 4 * 2**30  # far above any model this package builds (MAX_WIDTH at MAX_IMAGE_SIZE)


def _saved_epoch(folder: Path) -> tuple[str | None, str | None]:
    """(epoch in config.json's state, epoch in the weights' metadata) of a folder, as text; None where unknown."""
    try:
        state = read_json(folder / CONFIG_FILE, dict).get("state")
        config_epoch = str(state.get("epoch")) if isinstance(state, dict) and "epoch" in state else None
    except (OSError, JSONFileError):
        config_epoch = None
    try:
        with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as handle:
            weights_epoch = (handle.metadata() or {}).get("epoch")
    except Exception:  # noqa: BLE001 - a missing or torn file: load_model says why
        weights_epoch = None
    return config_epoch, weights_epoch


@contextlib.contextmanager
def snapshot(path_or_repo_id: str | os.PathLike, attempts: int = 5):
    """``with snapshot(folder) as frozen:`` a private copy of a checkpoint's config, weights and latent GMM, all of
    one save: what ``vaegan eval`` scores and fingerprints, whatever a training run writes into the folder meanwhile.

    Each file is copied whole (a save replaces files by renaming, so an open file stays one version); the config's
    epoch and the weights' are compared, and the copy is taken again while they differ (a save between the two
    copies). Raises ``CheckpointError`` when the folder keeps changing. The copy is removed on leaving."""
    directory = resolve_checkpoint(path_or_repo_id)
    read_config(directory)  # a folder that is not a checkpoint is said in its own words, not the copy's
    with tempfile.TemporaryDirectory(prefix="vaegan-snapshot-") as temporary:
        frozen = Path(temporary)
        for attempt in range(attempts):
            for name in SNAPSHOT_FILES:
                (frozen / name).unlink(missing_ok=True)
                try:
                    copy_bounded(directory / name, frozen / name, SNAPSHOT_LIMIT)
                except FileNotFoundError:
                    continue
                except FileKindError as error:
                    raise CheckpointError(f"{error}; a checkpoint holds regular files only") from None
            config_epoch, weights_epoch = _saved_epoch(frozen)
            if config_epoch is None or weights_epoch is None or config_epoch == weights_epoch:
                break
            time.sleep(0.1 * (attempt + 1))
        else:
            raise CheckpointError(f"{directory} changed on every read (a training run is saving into it); "
                                  "evaluate it when the run has ended, or a copy of it")
        try:
            yield frozen
        except VaeganError as error:  # a fault of a copied file is named as the folder's file
            if str(frozen) not in str(error):
                raise
            raise type(error)(str(error).replace(str(frozen), str(directory))) from None


def save_trainer_state(directory: str | os.PathLike, state: dict[str, Any]) -> None:
    """Optimizer, RNG and counters for --resume; only tensors and plain Python values."""
    CheckpointFolder(directory).write_trainer_state(state)


def load_trainer_state(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / TRAINER_STATE_FILE
    continue_anyway = (f"start a new run, or continue from the weights alone with a fresh optimizer: `vaegan train "
                       f"--resume --reset-optimizer --out {directory} --epochs N`")
    if not path.is_file():
        raise CheckpointError(f"{path} is missing, so training cannot resume exactly; {continue_anyway}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # a pickle holding more than tensors and plain values: never unpickled
        raise CheckpointError(f"{path} is truncated or not a vaegan trainer state (it holds objects other than "
                              f"tensors and plain values, which are never loaded); {continue_anyway}") from None
    except Exception:  # a truncated or garbled zip
        raise CheckpointError(f"{path} is truncated or not a vaegan trainer state (not a readable file of "
                              f"tensors); {continue_anyway}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is truncated or not a vaegan trainer state (a {type(state).__name__}, not "
                              f"a dict); {continue_anyway}")
    return state


def _classes(model: GenerativeModel, config: dict[str, Any]) -> dict[str, Any]:
    """The classes of the training data, with their names, and whether the model is conditional on them."""
    from ..training.data import CLASS_NAMES

    dataset = config["train_config"].dataset if config.get("train_config") else None
    names = CLASS_NAMES.get(dataset or "", [])
    count = model.config.num_classes or len(names)
    if model.config.num_classes and len(names) != count:
        names = [str(index) for index in range(count)]
    return {"conditional": bool(model.config.num_classes), "count": count, "names": list(names)}


def _train_settings(train: dict | None, model) -> dict | None:
    """The training settings as stored, with a learning rate of 0 ("the model's default") shown as the rate used."""
    if not isinstance(train, dict):
        return train
    shown = dict(train)
    for key in ("lr", "lr_discriminator"):
        if shown.get(key) == 0:
            lr = train.get("lr") or model.default_lr
            shown[key] = f"{lr:g} (default)" if key == "lr" else f"{lr:g} (same as lr)"
    return shown


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
        "train": _train_settings(config.get("train"), model),
        "state": config.get("state", {}),
        "files": sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")),
        "latent_gmm": model.latent_gmm.metadata if model.latent_gmm is not None else model.latent_gmm_error,
        "classes": _classes(model, config),
    }
    history = CheckpointFolder(directory).history()  # the one reader: a torn last line (a kill mid-write) is skipped
    if history:
        summary["last_log"] = history[-1]
    metrics = directory / METRICS_FILE
    if metrics.is_file():
        try:
            summary["metrics"] = read_json(metrics, dict)
        except JSONFileError as error:
            raise CheckpointError(f"{metrics} is not the results `vaegan eval` writes ({error}); move it away and "
                                  "run `vaegan eval` again") from None
    return summary
