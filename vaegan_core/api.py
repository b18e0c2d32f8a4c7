"""Training from Python: ``train_model(model_config, train_config, data, on_step=..., on_epoch=...)`` starts a run,
``resume_model(out_dir, epochs)`` continues one.

Both go through ``run_trainer``, the one path the command line's ``vaegan train`` (on one process) takes too: the
same checks, data loading, Trainer and checkpoint folder. These take the data as tensors or a dataset object, call
back at each step and each epoch's end, and speak Python in their errors (``train_config.batch_size``, not
``--batch-size``); the command line keeps its flags. Made for scripts and notebooks::

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
from typing import Any, Callable, Iterator, Union

import torch

from .storage import checkpoint as ckpt
from .config import ModelConfig, TrainConfig, from_dict
from .errors import CheckpointError, ConfigError, VaeganError
from .loggers import Logger, LoggerHooks, check_loggers
from .models import MODEL_CLASSES, GenerativeModel
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


Progress = Union[bool, str]  # True: a tqdm bar (a widget in Jupyter); False: none; "epochs": a line per epoch on stderr


class NothingToTrain(ConfigError):
    """A continuation asked for no more epochs than the run has trained (``epoch``: the run's)."""

    epoch = 0


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (a KeyboardInterrupt) during a run: its folder keeps the last finished epoch (``epoch``), from which
    ``resume_model`` continues; the message says so."""

    epoch = 0


def train_model(model_config: ModelConfig | dict, train_config: TrainConfig | dict | None = None, data: Any = None,
                *, out_dir: str | Path | None = None, on_step: StepHook | None = None,
                on_epoch: EpochHook | None = None, on_log: LogHook | None = None,
                loggers: list[Logger] | None = None, progress: Progress = True, threads: int | str | None = "auto",
                compile: bool = False, data_root: str | Path | None = None) -> TrainResult:
    """Train a new model of ``model_config`` with ``train_config`` (dataclasses, or dicts of their fields).

    ``data``: None (the split ``train_config.dataset`` names, as ``vaegan train`` loads it, from ``data_root`` or
    where ``load_dataset`` looks); images, an ``(images, labels)`` pair, or a dataset object
    (``torch.utils.data.Dataset``, items ``image`` or ``(image, label)``, e.g. a torchvision dataset with
    ``transform=ToTensor()``), read once into memory. Images are N x C x H x W (C x H x W per item), float in [0, 1] or
    uint8 pixels, matching ``model_config.channels`` and ``image_size``; float images are kept as 8-bit pixels, as
    every dataset here is. Labels (int, one per image) are needed by a conditional model only.
    ``train_config.dataset`` then only names the data in config.json and the model card (and ``track_fid`` scores
    against that dataset). ``train_config.lr`` 0 is the model's own rate, which config.json records.

    ``out_dir``: the checkpoint folder to write (it must not hold a checkpoint yet); default, a new temporary one.
    Hooks, all optional: ``on_step(step, logs)`` after every optimizer step (``logs``: that step's losses as
    floats), ``on_epoch(epoch, model)`` after each epoch's checkpoint is saved (the model in eval mode meanwhile),
    ``on_log(record)`` with each history line. A hook may raise ``StopTraining`` to end the run early.
    ``loggers``: objects with ``log_scalars``, ``log_images`` and ``close`` (``vaegan_core.loggers``, e.g.
    ``TensorBoardLogger(log_dir)``), sent each history line's numbers, a grid of fixed-code samples per epoch and the
    tracked FID (``track_fid``) before the hooks run; closed when the run ends, however it ends.
    ``progress``: True, a tqdm bar (a widget in Jupyter); False, none; ``"epochs"``, one line per epoch on stderr.
    ``threads``: torch's CPU threads during the run, as ``vaegan train --threads``: ``"auto"`` (the cores other work
    leaves free, checked each epoch), a number, or None (torch's setting left as it is); OMP_NUM_THREADS, when set,
    wins; the setting before the run is restored after it. ``compile``: ``torch.compile`` the networks.
    Errors are ``vaegan_core.errors`` ones (ConfigError, DatasetError, CheckpointError, TrainingDiverged), one line
    each; Ctrl-C is a ``TrainingInterrupted`` (a KeyboardInterrupt) saying where the last epoch is kept.
    """
    logged = LoggerHooks(check_loggers(loggers))
    with _closing(logged):  # the loggers are closed however the run ends: a refused setting, a stop, an error
        model_config = _as_config(ModelConfig, model_config, "model_config")
        train_config = _as_config(TrainConfig, TrainConfig() if train_config is None else train_config,
                                  "train_config")
        _check_options(progress, threads)
        ckpt._checked_device(train_config.device)  # an absent GPU said in Python's words, before any data is read
        tensors = _training_tensors(data, model_config)
        folder = _output_folder(out_dir)
        with _temporary(folder, out_dir is None):
            return run_trainer(folder, model_config, train_config, data=tensors, data_root=data_root,
                               progress=progress, threads=threads, compile=compile, on_step=on_step,
                               on_epoch=on_epoch, on_log=on_log, logged=logged)


def resume_model(out_dir: str | Path, epochs: int, data: Any = None, *, device: str | None = None,
                 reset_optimizer: bool = False, ema_decay: float | None = None,
                 prior_gan_weight: float | None = None, lr_schedule: str | None = None,
                 track_fid: int | None = None, keep_best: bool | None = None, on_step: StepHook | None = None,
                 on_epoch: EpochHook | None = None, on_log: LogHook | None = None,
                 loggers: list[Logger] | None = None, progress: Progress = True, threads: int | str | None = "auto",
                 compile: bool = False, data_root: str | Path | None = None) -> TrainResult:
    """Continue the run in ``out_dir`` (of ``train_model`` or ``vaegan train``) from its last finished epoch to
    ``epochs`` in all, exactly as an uninterrupted run would have gone on (``vaegan train --resume``).

    ``data``: what the run trained on when that was not its dataset's split (``train_model``'s ``data``, the same
    images); None: the dataset its config names. The changes a continuation may make, each None for the run's own
    (``vaegan_core.Trainer.resume`` says more): ``device``; ``reset_optimizer`` (from the weights alone, with a fresh
    optimizer; then a moving average may be added with ``ema_decay``); ``ema_decay`` (a run with a moving average
    may change its decay); ``prior_gan_weight`` (a VAE-GAN's fine-tuning stage); ``lr_schedule="cosine"`` (a decay
    from here to the last epoch); ``track_fid`` and ``keep_best`` (the per-epoch scoring from now on). Everything
    else is the run's own, from its config.json. Hooks, loggers, ``progress``, ``threads``, ``compile`` and
    ``data_root`` as in ``train_model``. A run that is at ``epochs`` already is a ``NothingToTrain`` (a ConfigError).
    """
    logged = LoggerHooks(check_loggers(loggers))
    with _closing(logged):
        _check_options(progress, threads)
        if device is not None:
            ckpt._checked_device(device)
        out_dir = Path(out_dir)
        with _python_errors():
            saved = ckpt.read_config(out_dir)  # a missing or damaged folder said before any data is read
        if keep_best and not (track_fid or (saved["train_config"] and saved["train_config"].track_fid)):
            raise ConfigError("keep_best=True needs track_fid: the tracked FID picks the best epoch (e.g. "
                              "track_fid=5000)")
        epoch = start_epoch(out_dir, saved, reset_optimizer)
        if epoch is not None and epoch >= epochs:  # nothing to train: said before the folder is touched
            raise _nothing_to_train(out_dir, epoch)
        tensors = _training_tensors(data, saved["model_config"])
        resume = dict(epochs=epochs, device=device, reset_optimizer=reset_optimizer, ema_decay=ema_decay,
                      prior_gan_weight=prior_gan_weight, lr_schedule=lr_schedule, track_fid=track_fid,
                      keep_best=keep_best)
        return run_trainer(out_dir, resume=resume, data=tensors, data_root=data_root, progress=progress,
                           threads=threads, compile=compile, on_step=on_step, on_epoch=on_epoch, on_log=on_log,
                           logged=logged)


def start_epoch(out_dir: str | Path, saved: dict[str, Any], reset_optimizer: bool) -> int | None:
    """The epoch a continuation of ``out_dir`` (its ``read_config``: ``saved``) starts from: the run's last finished
    one, or (``reset_optimizer``, from the weights alone) the weights' own; None where the files do not say."""
    epoch = (saved.get("state") or {}).get("epoch")
    if reset_optimizer:
        from .storage.checkpoint_folder import CheckpointFolder

        weights_epoch = CheckpointFolder(out_dir).weights_metadata().get("epoch", "")
        epoch = int(weights_epoch) if weights_epoch.isdigit() else epoch
    return epoch if isinstance(epoch, int) else None


def run_trainer(out_dir: Path, model_config: ModelConfig | None = None, train_config: TrainConfig | None = None, *,
                resume: dict[str, Any] | None = None, data: tuple[torch.Tensor, torch.Tensor] | None = None,
                data_root: str | Path | None = None, progress: Progress = True, threads: int | str | None = "auto",
                compile: bool = False, on_step: StepHook | None = None, on_epoch: EpochHook | None = None,
                on_log: LogHook | None = None, logged: LoggerHooks | None = None, python: bool = True) -> TrainResult:
    """The one path of ``train_model``, ``resume_model`` and ``vaegan train`` on one process: the Trainer of a new
    run (``model_config``, ``train_config``) or of a continuation
    (``resume``: ``Trainer.resume``'s keywords), built (the device checked, the data read: ``data`` as the Trainer
    holds it, or the dataset from ``data_root``) and fitted. ``python``: the Trainer's errors in Python's words
    (``train_config.batch_size``); False keeps the command line's (``--batch-size``), for ``vaegan train``.
    A continuation with nothing to train is a ``NothingToTrain``, Ctrl-C a ``TrainingInterrupted``."""
    loggers = logged if logged is not None and logged.loggers else None
    options = dict(data=data, data_root=data_root, progress=progress is True, epoch_lines=progress == "epochs",
                   threads=threads, compile=compile, on_step=_step_hook(on_step),
                   callback=_both(loggers and loggers.on_log, on_log),
                   on_epoch_end=_both(loggers and loggers.on_epoch, on_epoch))
    with _python_errors() if python else contextlib.nullcontext():
        if resume is None:
            trainer = Trainer(model_config, train_config, out_dir, **options)  # it records the rate it trains at
        else:
            trainer = Trainer.resume(out_dir, **resume, **options)
            if trainer.epoch >= trainer.config.epochs:  # the weights' own epoch (reset_optimizer) said otherwise
                trainer.release()
                raise _nothing_to_train(out_dir, trainer.epoch)
        if loggers is not None:
            loggers.out_dir, loggers.seed = trainer.out_dir, trainer.config.seed  # quality.jsonl; the samples' codes
        try:
            summary, stopped = trainer.fit(), False
        except StopTraining:
            summary, stopped = _summary(trainer), True
        except KeyboardInterrupt:
            raise _interrupted(trainer) from None
    model = trainer.model.eval()
    ckpt.bind(model, trainer.out_dir)  # model.checkpoint, checkpoint_dir and fingerprint, as load_model gives them
    model.class_frequencies = getattr(trainer, "class_frequencies", None)
    return TrainResult(model=model, out_dir=trainer.out_dir, summary=summary, stopped=stopped)


def default_lr(kind: str) -> float:
    """The Adam rate a model of ``kind`` trains at when ``TrainConfig.lr`` is 0: its class's (VAE 1e-3, GAN and
    VAE-GAN 2e-4)."""
    return MODEL_CLASSES[kind].default_lr


def _nothing_to_train(out_dir: Path, epoch: int) -> NothingToTrain:
    error = NothingToTrain(f"{out_dir} is at epoch {epoch} already, so epochs={epoch} or fewer trains nothing; pass "
                           f"epochs above {epoch} (the new total, e.g. epochs={epoch + 1})")
    error.epoch = epoch
    return error


def _interrupted(trainer: Trainer) -> TrainingInterrupted:
    error = TrainingInterrupted(f"interrupted; the last checkpoint (epoch {trainer.epoch}) is in {trainer.out_dir}: "
                                f"continue with vaegan_core.api.resume_model({str(trainer.out_dir)!r}, "
                                f"epochs={trainer.config.epochs})")
    error.epoch = trainer.epoch
    return error


def _check_options(progress: Any, threads: Any) -> None:
    """``progress`` and ``threads`` of ``train_model`` / ``resume_model``, checked before anything is read."""
    if not (progress is True or progress is False or (isinstance(progress, str) and progress == "epochs")):
        raise ConfigError(f"progress must be True, False or 'epochs', got {progress!r}")
    if not (threads is None or threads == "auto" or (isinstance(threads, int) and not isinstance(threads, bool)
                                                     and threads >= 1)):
        raise ConfigError(f"threads must be 'auto', a number of threads (1 or more) or None, got {threads!r}")


@contextlib.contextmanager
def _temporary(folder: Path, temporary: bool) -> Iterator[None]:
    """The temporary folder of a run without ``out_dir`` goes when the run left nothing in it (it failed before a
    save)."""
    try:
        yield
    finally:
        if temporary:
            with contextlib.suppress(OSError):
                folder.parent.rmdir()


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
                              f"vaegan_core.load_model, continue it with "
                              f"vaegan_core.api.resume_model({str(out_dir)!r}, epochs=N))")
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
_FLAG_WORDS = {"out": "out_dir", "conditional": "ModelConfig(num_classes=N)", "reset-optimizer": "reset_optimizer=True",
               "compile": "compile=True"}
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

    for command, call in _COMMAND_WORDS:  # the commands a message advises, as the calls that do the same
        message = command.sub(call, message)
    parts = message.split("`")
    parts[::2] = [_FLAG.sub(field_of, part) for part in parts[::2]]
    return "`".join(parts)


_COMMAND_WORDS = [
    (re.compile(r"`vaegan train --resume --reset-optimizer --out (\S+) --epochs N`"),
     r"`resume_model('\1', epochs, reset_optimizer=True)`"),
    (re.compile(r"`vaegan train --out (\S+)`"), r"`train_model(..., out_dir='\1')`"),
]


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
