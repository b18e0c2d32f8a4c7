"""Loggers: a run's numbers and pictures sent to an experiment tracker while it trains.

    from vaegan_core.loggers import TensorBoardLogger
    run = vaegan_core.train_model(model_config, train_config, data, loggers=[TensorBoardLogger("runs/tb/vae")])
    # then: tensorboard --logdir runs/tb

A logger is any object with the three methods of ``Logger`` (TensorBoard's is here; W&B or MLflow take a class of
a few lines, see docs/api.md). ``train_model(..., loggers=[...])`` sends each of them, through ``LoggerHooks``:

- every line of history.jsonl: its numbers as ``train/NAME`` (``train/loss``, ``train/kl``, ``train/d_accuracy``,
  ``train/images_per_second``, ``train/epoch``, ...), at the line's optimizer step;
- after each epoch, ``samples``: a batch decoded from fixed codes (a generator seeded with the run's seed, so the
  epochs show the same codes and compare), at the epoch's last step; TensorBoard draws it as a grid, 8 per row;
- with ``track_fid``, the epoch's tracked FID (quality.jsonl's ``fid_domain_train``) as
  ``quality/fid_domain_train``, at the epoch's last step.

``train_model`` closes every logger when the run ends, also when a hook stopped it or it failed.
tensorboard is optional: without it ``TensorBoardLogger`` says in one line what to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

import torch

from .errors import ConfigError, VaeganError, first_line
from .images import grid
from .storage.zoo import read_quality

SAMPLES_TAG = "samples"
TRAIN_PREFIX = "train/"
QUALITY_TAGS = {"fid_domain_train": "quality/fid_domain_train"}  # quality.jsonl's numbers a logger is sent
INSTALL = 'pip install "vaegan[tensorboard]"'


class LoggerError(VaeganError):
    """A logger cannot start: its optional package is missing."""


@runtime_checkable
class Logger(Protocol):
    """What ``train_model(..., loggers=[...])`` calls. ``step`` is the run's optimizer step count (from 1)."""

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Numbers by name (``train/loss``, ``quality/fid_domain_train``, ...) at ``step``."""

    def log_images(self, step: int, name: str, images: torch.Tensor) -> None:
        """A batch ``B x C x H x W`` (float in [0, 1], CPU) named ``name`` at ``step``."""

    def close(self) -> None:
        """Write out what is pending and let go of files; called once, at the run's end."""


def _summary_writer() -> type:
    """torch's ``SummaryWriter``; a one-line LoggerError naming the install when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise LoggerError(f"TensorBoardLogger needs the tensorboard package ({first_line(error)}): {INSTALL}") \
            from None
    return SummaryWriter


class TensorBoardLogger:
    """Event files in ``log_dir`` for TensorBoard (``tensorboard --logdir`` it or a folder above it): scalars as
    scalar summaries, each image batch as one grid of ``nrow`` images per row."""

    def __init__(self, log_dir: str | os.PathLike, nrow: int = 8, flush_secs: int = 10):
        writer = _summary_writer()  # before any folder is made: a missing package leaves nothing behind
        self.log_dir = Path(log_dir)
        self.nrow = nrow
        self.writer = writer(log_dir=str(self.log_dir), flush_secs=flush_secs)

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, float(value), global_step=step)

    def log_images(self, step: int, name: str, images: torch.Tensor) -> None:
        self.writer.add_image(name, grid(images, nrow=self.nrow), global_step=step, dataformats="CHW")
        self.writer.flush()  # once an epoch: TensorBoard shows the run as it goes

    def close(self) -> None:
        self.writer.close()

    def __repr__(self) -> str:
        return f"TensorBoardLogger({str(self.log_dir)!r})"


def check_loggers(loggers: Iterable[Any] | None) -> list[Logger]:
    """``loggers`` (a list, or one logger) as a list, each checked to have the methods of ``Logger`` (a one-line
    ConfigError names the first that has not)."""
    if loggers is None:
        return []
    if isinstance(loggers, Logger):
        loggers = [loggers]
    loggers = list(loggers)
    for logger in loggers:
        if isinstance(logger, type):
            raise ConfigError(f"loggers must be instances, got the class {logger.__name__}: pass "
                              f"{logger.__name__}(...), e.g. TensorBoardLogger(log_dir)")
        if not isinstance(logger, Logger):
            raise ConfigError(f"loggers must have log_scalars, log_images and close methods (vaegan_core.loggers."
                              f"Logger), got {type(logger).__name__}")
    return loggers


def fixed_samples(model, n: int = 64, seed: int = 0) -> torch.Tensor:
    """``n`` images of ``model`` from codes of a generator seeded with ``seed``: the same codes at every call (a
    conditional model's labels are the classes in turn)."""
    labels = torch.arange(n) % model.config.num_classes if model.config.num_classes else None
    return model.sample(n, generator=torch.Generator().manual_seed(seed), labels=labels)


def history_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """A history line's numbers (all but ``step``, the x axis) as ``train/NAME``."""
    return {TRAIN_PREFIX + name: float(value) for name, value in record.items()
            if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)}


class LoggerHooks:
    """``train_model``'s ``on_log`` and ``on_epoch`` for a list of loggers (see the module's docstring).

    ``out_dir``: the run's folder, whose quality.jsonl the epoch's tracked FID is read from; ``samples`` images per
    epoch from codes of a generator seeded with ``seed``."""

    def __init__(self, loggers: list[Logger], out_dir: str | os.PathLike | None = None, samples: int = 64,
                 seed: int = 0):
        self.loggers, self.samples, self.seed = loggers, samples, seed
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.step = 0  # the last history line's step: at an epoch's end, that epoch's last step

    def on_log(self, record: Mapping[str, Any]) -> None:
        self.step = int(record.get("step", self.step))
        values = history_scalars(record)
        for logger in self.loggers:
            logger.log_scalars(self.step, values)

    def on_epoch(self, epoch: int, model) -> None:
        if self.samples:
            images = fixed_samples(model, self.samples, self.seed)
            for logger in self.loggers:
                logger.log_images(self.step, SAMPLES_TAG, images)
        for row in read_quality(self.out_dir) if self.out_dir is not None else []:
            if row["epoch"] == epoch:
                self.log_quality(row)

    def log_quality(self, row: Mapping[str, Any]) -> None:
        """One quality.jsonl row (epoch, step, fid_domain_train, ...) as ``quality/...`` scalars at its step."""
        values = {tag: float(row[name]) for name, tag in QUALITY_TAGS.items() if name in row}
        if values:
            for logger in self.loggers:
                logger.log_scalars(int(row["step"]), values)

    def close(self) -> None:
        """Close every logger; the first error, if any, is raised once all have been asked."""
        failure: BaseException | None = None
        for logger in self.loggers:
            try:
                logger.close()
            except Exception as error:  # noqa: BLE001 - a logger's own errors; the others are still closed
                failure = failure or error
        if failure is not None:
            raise failure
