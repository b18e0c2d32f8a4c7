"""Training from Python: ``train_model(model_config, train_config, data, on_step=..., on_epoch=...)``.

The command line's ``vaegan train`` and this function drive the same ``Trainer``; this one takes the data as
tensors or a dataset object, calls back at each step and each epoch's end, and speaks Python in its errors
(``train_config.batch_size``, not ``--batch-size``). Made for scripts and notebooks::

    import vaegan_core
    images, labels = vaegan_core.load_dataset("digits", dtype=torch.float32)
    run = vaegan_core.train_model({"kind": "vae", "latent_dim": 8}, {"dataset": "digits", "epochs": 2},
                                  (images, labels), on_epoch=lambda epoch, model: print(epoch))
    run.model.sample(16)  # 16 x 1 x 28 x 28, float in [0, 1], on the CPU

``loggers=[vaegan_core.loggers.TensorBoardLogger("runs/tb")]`` sends the losses, a sample grid per epoch and the
tracked FID to TensorBoard (or any object with the same three methods: W&B, MLflow; see ``vaegan_core.loggers``).

A run writes its checkpoint folder as ``vaegan train`` does (``out_dir``, a fresh temporary folder by default):
``load_model(run.out_dir)`` gives the last finished epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .storage import checkpoint as ckpt
from .config import ModelConfig, TrainConfig, from_dict
from .errors import CheckpointError, ConfigError, VaeganError
from .loggers import Logger, LoggerHooks, check_loggers
from .models import GenerativeModel
from .training.train import Trainer
from .storage.zoo import read_history

StepHook = Callable[[int, dict[str, float]], Any]  # (optimizer steps taken so far, this step's losses as floats)
EpochHook = Callable[[int, GenerativeModel], Any]  # (epochs finished, the model in eval mode)
LogHook = Callable[[dict[str, Any]], Any]  # one history.jsonl line (means over train_config.log_every steps)


class StopTraining(Exception):
    """Raise it from a hook to end a ``train_model`` run early and cleanly: the run returns a ``TrainResult``
    with ``stopped=True``; its folder keeps the last finished epoch's checkpoint."""


@dataclass
class TrainResult:
    """What ``train_model`` returns."""

    model: GenerativeModel  # the trained model, in eval mode, on the training device (its weights as training ended)
    out_dir: Path  # the checkpoint folder; load_model(out_dir) gives the last finished epoch
    summary: dict[str, Any] = field(default_factory=dict)  # epoch, step, train_seconds, images_per_second, device
    stopped: bool = False  # True when a hook raised StopTraining

    @property
    def history(self) -> list[dict[str, Any]]:
        """The run's log lines (``history.jsonl``): step, epoch and the mean losses of each window."""
        return read_history(self.out_dir)


def train_model(model_config: ModelConfig | dict, train_config: TrainConfig | dict | None = None, data: Any = None,
                *, out_dir: str | Path | None = None, on_step: StepHook | None = None,
                on_epoch: EpochHook | None = None, on_log: LogHook | None = None,
                loggers: list[Logger] | None = None, progress: bool = True) -> TrainResult:
    """Train a new model of ``model_config`` with ``train_config`` (dataclasses, or dicts of their fields).

    ``data``: None (the split ``train_config.dataset`` names, as ``vaegan train`` loads it); images, an
    ``(images, labels)`` pair, or a dataset object (``torch.utils.data.Dataset``, items ``image`` or
    ``(image, label)``, e.g. a torchvision dataset with ``transform=ToTensor()``), read once into memory. Images are
    N x C x H x W (C x H x W per item), float in [0, 1] or uint8 pixels, matching ``model_config.channels`` and
    ``image_size``; float images are kept as 8-bit pixels, as every dataset here is. Labels (int, one per image) are
    needed by a conditional model only. ``train_config.dataset`` then only names the data in config.json and the
    model card (and ``track_fid`` scores against that dataset).

    ``out_dir``: the checkpoint folder to write (it must not hold a checkpoint yet); default, a new temporary one.
    Hooks, all optional: ``on_step(step, logs)`` after every optimizer step (``logs``: that step's losses as
    floats), ``on_epoch(epoch, model)`` after each epoch's checkpoint is saved (the model in eval mode meanwhile),
    ``on_log(record)`` with each history line. A hook may raise ``StopTraining`` to end the run early.
    ``loggers``: objects with ``log_scalars``, ``log_images`` and ``close`` (``vaegan_core.loggers``, e.g.
    ``TensorBoardLogger(log_dir)``), sent each history line's numbers, a grid of fixed-code samples per epoch and the
    tracked FID (``track_fid``) before the hooks run; closed when the run ends, however it ends.
    ``progress``: a tqdm bar (a widget in Jupyter). Errors are ``vaegan_core.errors`` ones (ConfigError,
    DatasetError, CheckpointError, TrainingDiverged), one line each.
    """
    logged = LoggerHooks(check_loggers(loggers))
    with _closing(logged):  # the loggers are closed however the run ends: a refused setting, a stop, an error
        model_config = _as_config(ModelConfig, model_config, "model_config")
        train_config = _as_config(TrainConfig, TrainConfig() if train_config is None else train_config,
                                  "train_config")
        ckpt._checked_device(train_config.device)  # an absent GPU said in Python's words, before any data is read
        tensors = _training_tensors(data, model_config)
        temporary = out_dir is None
        folder = _output_folder(out_dir)
        logged.out_dir, logged.seed = folder, train_config.seed  # quality.jsonl's folder; the samples' codes
        try:
            with _python_errors():
                trainer = Trainer(model_config, train_config, folder, data=tensors, progress=progress,
                                  callback=_both(logged.on_log if logged.loggers else None, on_log),
                                  on_step=_step_hook(on_step),
                                  on_epoch_end=_both(logged.on_epoch if logged.loggers else None, on_epoch))
                try:
                    summary, stopped = trainer.fit(), False
                except StopTraining:
                    summary, stopped = _summary(trainer), True
        finally:
            if temporary:  # the temporary folder goes when the run left nothing in it (it failed before a save)
                with contextlib.suppress(OSError):
                    folder.parent.rmdir()
    model = trainer.model.eval()
    ckpt.bind(model, folder)  # model.checkpoint, checkpoint_dir and fingerprint, as load_model gives them
    model.class_frequencies = getattr(trainer, "class_frequencies", None)
    return TrainResult(model=model, out_dir=folder, summary=summary, stopped=stopped)


def _both(first: Callable | None, second: Callable | None) -> Callable | None:
    """One hook that calls ``first`` then ``second`` with the same arguments (either may be None)."""
    if first is None or second is None:
        return first or second

    def hook(*args: Any) -> None:
        first(*args)
        second(*args)
    return hook


@contextlib.contextmanager
def _closing(logged: LoggerHooks) -> Iterator[None]:
    """Close the loggers when the block ends; when it failed, its error is the one raised (a logger that also fails
    to close is not let hide it)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            logged.close()
        raise
    logged.close()


def _step_hook(on_step: StepHook | None):
    """``on_step`` as the Trainer calls it (steps so far, the step's loss tensors), given the losses as floats."""
    if on_step is None:
        return None

    def hook(step: int, logs: dict[str, torch.Tensor]) -> None:
        names = [name for name in logs if name != "nonfinite"]
        values = torch.stack([logs[name].detach().float() for name in names]).tolist() if names else []
        on_step(step, dict(zip(names, values)))
    return hook


def _summary(trainer: Trainer) -> dict[str, Any]:
    """``fit``'s summary for a run a hook stopped."""
    return {"out_dir": str(trainer.out_dir), "epoch": trainer.epoch, "step": trainer.step,
            "train_seconds": round(trainer.train_seconds, 2), "images_per_second": None,
            "device": str(trainer.device), "precision": trainer.precision}


def _as_config(kind: type, value: Any, name: str):
    if isinstance(value, kind):
        return value
    if isinstance(value, dict):
        return from_dict(kind, value)
    raise ConfigError(f"{name} must be a {kind.__name__} or a dict of its fields, got {type(value).__name__}")


def _output_folder(out_dir: str | Path | None) -> Path:
    """``out_dir``, refused when it holds a checkpoint already; None: a new folder under the temporary directory."""
    if out_dir is None:
        return Path(tempfile.mkdtemp(prefix="vaegan-run-")) / "run"
    out_dir = Path(out_dir)
    if ckpt.has_checkpoint(out_dir):
        raise CheckpointError(f"{out_dir} already holds a checkpoint; choose another out_dir (or load it with "
                              f"vaegan_core.load_model, continue it with vaegan_core.Trainer.resume({str(out_dir)!r}, "
                              "epochs=N))")
    return out_dir


def _training_tensors(data: Any, model_config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``data`` as the Trainer holds a dataset: (uint8 images N x C x H x W, int64 labels N); None stays None."""
    if data is None:
        return None
    if isinstance(data, torch.utils.data.TensorDataset):
        data = tuple(data.tensors[:2]) if len(data.tensors) > 1 else data.tensors[0]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = data
    elif isinstance(data, torch.Tensor) or hasattr(data, "__array__"):
        images, labels = data, None
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        images, labels = _collect(data)
    else:
        raise ConfigError(f"data must be images, an (images, labels) pair or a dataset object, got "
                          f"{type(data).__name__}")
    images = _as_pixels(images, model_config)
    return images, _as_labels(labels, images.shape[0], model_config)


def _collect(dataset: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every item of a dataset object, stacked: (images, labels or None)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=1024, shuffle=False)
    images, labels = [], []
    try:
        for batch in loader:
            pair = isinstance(batch, (tuple, list))
            images.append(batch[0] if pair else batch)
            if pair and len(batch) > 1:
                labels.append(torch.as_tensor(batch[1]))
    except (TypeError, RuntimeError) as error:
        raise ConfigError(f"the dataset's items must be tensors or arrays, an image C x H x W or an (image, label) "
                          f"pair (a torchvision dataset: transform=torchvision.transforms.ToTensor()); "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    if not images:
        raise ConfigError("the dataset is empty")
    return torch.cat(images), (torch.cat(labels) if len(labels) == len(images) else None)


def _as_pixels(images: Any, model_config: ModelConfig) -> torch.Tensor:
    """Images as uint8 pixels N x C x H x W of the model's shape; float images must lie in [0, 1]."""
    try:
        images = torch.as_tensor(images)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"images must be a tensor or an array, got {type(images).__name__}") from None
    expected = (model_config.channels, model_config.image_size, model_config.image_size)
    if images.ndim == 3 and model_config.channels == 1:
        raise ConfigError(f"images must be N x C x H x W, got {tuple(images.shape)}; add the channel of grayscale "
                          "images with images.unsqueeze(1)")
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ConfigError(f"images must be N x {' x '.join(map(str, expected))} (model_config's channels and "
                          f"image_size), got {tuple(images.shape)}; set ModelConfig(image_size=..., channels=...) to "
                          "match the data")
    if images.dtype == torch.uint8:
        return images.cpu()
    if not images.is_floating_point():
        raise ConfigError(f"images must be float in [0, 1] or uint8 pixels, got {images.dtype}")
    images = images.detach().cpu().float()
    if images.numel() and not (torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise ConfigError("images must be float in [0, 1] (or uint8 pixels); divide pixels 0-255 by 255")
    return (images * 255).round().to(torch.uint8)


def _as_labels(labels: Any, count: int, model_config: ModelConfig) -> torch.Tensor:
    """One int64 label per image; zeros stand in for an unconditional model's missing labels (it reads none)."""
    if labels is None:
        if model_config.num_classes:
            raise ConfigError(f"a conditional model (num_classes={model_config.num_classes}) needs one label per "
                              "image: pass data=(images, labels)")
        return torch.zeros(count, dtype=torch.int64)
    labels = torch.as_tensor(labels).cpu()
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ConfigError(f"labels must be integer class indices, got {labels.dtype}")
    labels = labels.reshape(-1).long()
    if labels.numel() != count:
        raise ConfigError(f"{labels.numel()} labels for {count} images: pass one label per image")
    return labels


_FLAG = re.compile(r"--([a-z][a-z0-9-]*)(?: (\d+(?:\.\d+)?|auto|cpu|cuda|mps)\b)?")
_FLAG_WORDS = {"out": "out_dir", "conditional": "ModelConfig(num_classes=N)"}
_FIELDS = {"train_config": {f.name for f in dataclasses.fields(TrainConfig)},
           "model_config": {f.name for f in dataclasses.fields(ModelConfig)}}


def _python_words(message: str) -> str:
    """A message of the Trainer with its command-line flags as the config fields they set (``--batch-size 2`` ->
    ``train_config.batch_size=2``); a command quoted in backticks stays as it is."""
    def field_of(match: re.Match) -> str:
        flag, value = match.group(1), match.group(2)
        name = flag.replace("-", "_")
        owner = next((owner for owner, names in _FIELDS.items() if name in names), None)
        if owner is None:
            return _FLAG_WORDS.get(flag, match.group(0)) + (f" {value}" if value else "")
        shown = "" if value is None else "=" + (value if value[0].isdigit() else repr(value))
        return f"{owner}.{name}{shown}"

    parts = message.split("`")
    parts[::2] = [_FLAG.sub(field_of, part) for part in parts[::2]]
    return "`".join(parts)


@contextlib.contextmanager
def _python_errors() -> Iterator[None]:
    """Re-raise the package's errors with their flags in Python's words (see ``_python_words``)."""
    try:
        yield
    except VaeganError as error:
        text = _python_words(str(error))
        if text == str(error):
            raise
        raise type(error)(text).with_traceback(error.__traceback__) from None
