"""Resuming a run (``Trainer.resume``): which settings a continuation may change and the ConfigErrors for those it
may not (``resume_settings``), the loaders of the saved state into a new Trainer (``load_state``: weights,
optimizers, noise and counters from trainer_state.pt; ``load_weights_only``: the weights alone, fresh optimizers),
and the continuation's record in the run's ``stages`` (``record_stages``). The loaders take the Trainer."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from ..config import ModelConfig, TrainConfig
from ..errors import CheckpointError, ConfigError, first_line
from ..storage import checkpoint as ckpt
from ..storage import paths
from ..storage.checkpoint_folder import CheckpointFolder


def resume_settings(saved: dict[str, Any], out_dir, epochs: int | None = None, device: str | None = None,
                    reset_optimizer: bool = False, ema_decay: float | None = None, track_fid: int | None = None,
                    keep_best: bool | None = None, prior_gan_weight: float | None = None,
                    lr_schedule: str | None = None) -> tuple[ModelConfig, TrainConfig, dict[str, Any]]:
    """The (model config, training config) a resumed run trains with, from ``saved`` (``out_dir``'s config.json as
    ``ckpt.read_config`` gives it) and the changes asked for (see ``Trainer.resume``), and the model settings the
    continuation changes ({setting: new value}). A change a resume may not make is a ConfigError, raised before
    anything is built; the lr_schedule is checked here and applied after the state is loaded (``record_stages``)."""
    train_config: TrainConfig = saved["train_config"]
    model_config: ModelConfig = saved["model_config"]
    if train_config is None:
        raise CheckpointError(f"{Path(out_dir) / paths.CONFIG_FILE} has no training config, so it cannot be resumed")
    changes = {name: value for name, value in (("epochs", epochs), ("device", device), ("track_fid", track_fid),
                                               ("keep_best", keep_best)) if value is not None}
    if changes.get("track_fid", train_config.track_fid) == 0:
        changes["keep_best"] = False
    if changes:
        train_config = dataclasses.replace(train_config, **changes)
    if ema_decay is not None and ema_decay != model_config.ema_decay:
        if model_config.ema_decay > 0 and ema_decay == 0:
            raise ConfigError("a run's moving average cannot be turned off on a resume (both weights stay in the "
                              "checkpoint; load it with model.use_ema = False to sample the trained ones)")
        if model_config.ema_decay == 0 and not reset_optimizer:
            raise ConfigError("a moving average can only be added to a run without one, continued from its "
                              "weights alone (--reset-optimizer)")
        model_config = dataclasses.replace(model_config, ema_decay=ema_decay)
    if prior_gan_weight is not None and prior_gan_weight != model_config.prior_gan_weight:
        if model_config.kind != "vaegan":
            raise ConfigError("the weight of the GAN terms on prior samples is a VAE-GAN setting; this run "
                              f"trains a {model_config.kind}")
        model_config = dataclasses.replace(model_config, prior_gan_weight=prior_gan_weight)
    if lr_schedule is not None and lr_schedule != train_config.lr_schedule and lr_schedule != "cosine":
        raise ConfigError(f"a run on the {train_config.lr_schedule} schedule cannot switch to {lr_schedule}; only "
                          "a constant rate can become a cosine decay from the epoch resumed from")
    changed = {name: getattr(model_config, name) for name in ("ema_decay", "prior_gan_weight")
               if getattr(model_config, name) != getattr(saved["model_config"], name)}
    return model_config, train_config, changed


def record_stages(trainer, saved: dict[str, Any], reset_optimizer: bool, lr_schedule: str | None,
                  changed: dict[str, Any]) -> None:
    """After the state is loaded: a new lr_schedule takes effect (a cosine decay from the epoch resumed from), and
    the trainer's ``stages`` are the saved ones plus this continuation when it is not a plain resume."""
    if lr_schedule is not None and lr_schedule != trainer.config.lr_schedule:
        trainer.config = dataclasses.replace(trainer.config, lr_schedule=lr_schedule, lr_decay_from=trainer.epoch)
        changed["lr_schedule"] = lr_schedule
    stages = (saved.get("state") or {}).get("stages")
    trainer.stages = [stage for stage in stages if isinstance(stage, dict)] if isinstance(stages, list) else []
    if reset_optimizer or changed:
        trainer.stages.append({"from_epoch": trainer.epoch, "optimizer": "fresh" if reset_optimizer else "kept",
                               **({"changed": changed} if changed else {})})


def load_state(trainer) -> None:
    """Model, optimizers, noise and counters from ``trainer_state.pt`` into ``trainer``.

    The trainer state carries the model's weights too and is written first at each save, in one atomic
    rename: a run killed between the files of a save resumes from whichever state is complete, equal to
    an uninterrupted run. (A state written before it carried the weights needs model.safetensors of its
    own epoch.)"""
    out_dir = trainer.out_dir
    state = ckpt.load_trainer_state(out_dir)
    state_file = out_dir / paths.TRAINER_STATE_FILE
    try:
        if "model" in state:
            trainer.model.load_state_dict(state["model"], strict=True)
        else:
            metadata = ckpt.load_weights(trainer.model, out_dir)
            if metadata.get("epoch") != str(int(state["epoch"])):
                raise CheckpointError(
                    f"{out_dir}: model.safetensors is from epoch {metadata.get('epoch')} but "
                    f"trainer_state.pt from epoch {int(state['epoch'])}; continue from the weights alone with "
                    f"`vaegan train --resume --reset-optimizer --out {out_dir} --epochs N`")
        for name, optimizer in trainer.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        trainer.epoch, trainer.step = int(state["epoch"]), int(state["step"])
        if state.get("noise_device", "cpu") == trainer.device.type:
            trainer.noise.set_state(state["noise_rng"])
        else:  # a CUDA generator's state means nothing to a CPU one: reseed, deterministically
            reseed_noise(trainer, f"resuming on {trainer.device.type} a run trained on {state.get('noise_device')}")
        trainer.train_seconds = float(state["train_seconds"])
    except (KeyError, ValueError, RuntimeError, TypeError) as error:
        raise CheckpointError(f"{state_file} does not match the model ({first_line(error)}); continue from the "
                              f"weights alone with `vaegan train --resume --reset-optimizer --out {out_dir} "
                              "--epochs N`") from None
    truncate_history(trainer)


def load_weights_only(trainer, state: dict) -> None:
    """Weights from model.safetensors, counters from config.json's ``state``, fresh optimizers (see
    ``Trainer.resume``)."""
    metadata = ckpt.load_weights(trainer.model, trainer.out_dir, start_average=True)
    try:
        trainer.epoch = int(metadata.get("epoch", state.get("epoch", 0)))
        trainer.step = int(state.get("step", trainer.epoch * trainer.steps_per_epoch))
        trainer.train_seconds = float(state.get("train_seconds", 0.0))
    except (TypeError, ValueError):
        raise CheckpointError(f"{trainer.out_dir / paths.CONFIG_FILE} has no usable epoch and step in its state; "
                              "start a new run") from None
    reseed_noise(trainer, "resuming from the weights alone (--reset-optimizer)")
    truncate_history(trainer)


def reseed_noise(trainer, why: str) -> None:
    """A deterministic noise stream for a run whose saved one cannot be restored, with a warning that says ``why``."""
    trainer.noise.manual_seed(trainer.config.seed + 1 + trainer.step)
    # stacklevel 3: the warning names the caller of the loader (Trainer.resume)
    warnings.warn(f"{why}: the noise stream is reseeded, so the run is reproducible but not identical to an "
                  "uninterrupted one", stacklevel=3)


def truncate_history(trainer) -> None:
    """Drop history lines logged after the checkpoint we resume from (they will be logged again)."""
    folder = CheckpointFolder(trainer.out_dir)
    if not folder.history_file.exists() or not trainer.context.main:
        return
    folder.rewrite_history([row for row in folder.history()  # a torn last line is dropped too
                            if isinstance(row.get("step", 0), int) and row.get("step", 0) <= trainer.step])
    if folder.quality_file.exists():
        folder.rewrite_quality([row for row in folder.quality() if row["step"] <= trainer.step])
