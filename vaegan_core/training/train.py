"""The Trainer: optimizers, the loop, the training step, logging. Its other jobs live beside it: the device,
precision, threads and torch.compile (``devices``), the training split (``training_split``), what each epoch
saves and the tracked quality (``epoch_end``), and resuming a run (``resume``). Their public names (resolve_device,
cpu_threads, best_fid, ...) stay importable from here.

The whole training split lives in one uint8 tensor on the training device and is batched
by a seeded random permutation per epoch (no DataLoader workers): on a GPU this keeps the
device busy, on a CPU it costs nothing. Each network group of the model has its own Adam
optimizer; each loss is back-propagated into its own group only (see models/generative.py).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from ..storage import checkpoint as ckpt
from . import distributed
from ..storage import paths
from ..storage.checkpoint_folder import CheckpointFolder
from ..config import ModelConfig, TrainConfig
from ..errors import CheckpointError, ConfigError, TrainingDiverged, first_line
from .folders import TEST_SHARE, folder_classes, is_folder
from ..storage.lock import LOCK_FILE, FolderLock
from ..models import GenerativeModel, build_model
# the Trainer calls these by their names here (a test may replace train.cpu_threads); importable from here as before
from .devices import compile_networks, cpu_has_fast_bf16, cpu_threads, resolve_device, resolve_precision
from .epoch_end import MAIN_LOGS, best_fid, end_of_epoch, epoch_line, track_quality
from .resume import load_state, load_weights_only, record_stages, resume_settings
from .training_split import conditional_labels, fits_on_device, training_data

__all__ = ["Trainer", "backward_per_group", "best_fid", "check_settings", "compile_networks", "cpu_has_fast_bf16",
           "cpu_threads", "refuse_a_trained_folder", "resolve_device", "resolve_precision"]


def check_settings(model_config: ModelConfig, train_config: TrainConfig, world: int = 1) -> None:
    """The checks of a run's settings that need no data (a ConfigError): the Trainer makes them before it loads any,
    and ``vaegan train --nproc N`` before it starts the N processes, so that a refusal is one line, not a traceback
    from each process. ``world``: the number of processes."""
    if train_config.track_fid and is_folder(train_config.dataset):  # said now, not after an epoch
        raise ConfigError("--track-fid and --keep-best score with the domain LeNet features, which exist for "
                          "mnist, fashion-mnist and digits only; leave them out for an image folder")
    if world > 1 and model_config.equilibrium:
        raise ConfigError("the equilibrium trick (--equilibrium) decides per step whether to train each player, "
                          "which processes could decide differently: train it on one process")
    if train_config.batch_size < 2 and _has_batch_norm(model_config):
        raise ConfigError(f"--batch-size {train_config.batch_size} cannot train the {model_config.kind}: its "
                          "BatchNorm layers need at least 2 images per step; use --batch-size 2 or more")


def _has_batch_norm(model_config: ModelConfig) -> bool:
    with torch.device("meta"):  # the networks' shapes alone: no memory, no initialisation
        model = build_model(model_config)
    return any(isinstance(module, torch.nn.modules.batchnorm._BatchNorm) for module in model.modules())


def refuse_a_trained_folder(out_dir: str | os.PathLike) -> None:
    """A CheckpointError when ``out_dir`` holds a checkpoint already: a new run never overwrites one."""
    if ckpt.has_checkpoint(out_dir):
        raise CheckpointError(f"{out_dir} already holds a checkpoint; continue it (vaegan train --resume, "
                              "Trainer.resume) or choose another folder (--out, out_dir)")


def _too_few_images(config: TrainConfig, count: int, available: int, context) -> str:
    """The error for a training split smaller than one global batch, with the fixes that can help."""
    global_batch = config.batch_size * context.world
    fixes = []
    if is_folder(config.dataset):
        fixes.append(f"add images to the folder (about one in {TEST_SHARE} goes to the test split)")
    if config.limit and available > count:
        fixes.append(f"raise --limit (the split has {available:,})")
    fixes.append(f"lower --batch-size to {count // context.world} or less" if count >= 2 * context.world
                 else "lower --batch-size" + (" or --nproc" if context.active else ""))
    return (f"{config.dataset} has {count} training images, fewer than one batch of {global_batch}"
            + (f" ({config.batch_size} per process x {context.world})" if context.active else "")
            + "; " + ", or ".join(fixes))


def backward_per_group(losses: dict[str, torch.Tensor], groups: dict[str, list[torch.nn.Parameter]]) -> None:
    """Back-propagate each loss into its own parameter group only.

    ``backward(inputs=...)`` leaves every other parameter's ``.grad`` alone: this is what keeps
    L_GAN out of the VAE-GAN encoder and the discriminator loss out of the decoder. All losses
    come from one forward pass, so no parameter may change before the last backward: the
    caller steps the optimizers afterwards.
    """
    names = list(losses)
    for index, name in enumerate(names):
        losses[name].backward(inputs=groups[name], retain_graph=index < len(names) - 1)


def _epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The batch order of one epoch: a function of (seed, epoch) only, so a resumed run sees the same order."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


class Trainer:
    """Trains one model into a checkpoint folder.

    ``Trainer(model_config, train_config, out_dir)`` starts a new run (the folder must not hold
    a checkpoint yet); ``Trainer.resume(out_dir, epochs=...)`` continues one from its last epoch.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        out_dir: str | os.PathLike,
        data: tuple[torch.Tensor, torch.Tensor] | None = None,
        data_root: str | os.PathLike | None = None,
        progress: bool = True,
        callback: Callable[[dict[str, Any]], None] | None = None,
        threads: str | int | None = None,
        compile: bool = False,
        on_step: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
        on_epoch_end: Callable[[int, GenerativeModel], None] | None = None,
        epoch_lines: bool = False,
        _resuming: bool = False,
    ):
        self.model_config = model_config
        if not (_resuming or train_config.lr):  # config.json says the rate a new run trains at, not 0 for "default"
            from ..models.registry import MODEL_CLASSES

            train_config = dataclasses.replace(train_config, lr=MODEL_CLASSES[model_config.kind].default_lr)
        self.config = train_config
        self.out_dir = Path(out_dir)
        self.progress, self.callback = progress, callback
        self.epoch_lines = epoch_lines  # one line per epoch on stderr (`vaegan train --no-progress`: a log's progress)
        # hooks for Python callers (vaegan_core.train_model): after each optimizer step (steps so far, that step's
        # loss tensors) and after each epoch's save (epochs so far, the model in eval mode meanwhile)
        self.on_step, self.on_epoch_end = on_step, on_epoch_end
        self.threads = threads  # CPU threads: a number, "auto" (cpu_threads, every epoch) or None (left alone)
        self.compiled = bool(compile)  # torch.compile of the networks for the training step (not a saved setting)
        self.compile_seconds: float | None = None  # the compiling first step's time, once it has run
        # the run's continuations that were not a plain resume: {"from_epoch", "optimizer": "fresh" | "kept",
        # "changed": {setting: new value}}, oldest first (config.json's state "stages")
        self.stages: list[dict[str, Any]] = []
        self.context = distributed.from_environment()
        # one writer per folder, taken before anything is checked or written (process 0 writes for all)
        self._created = created = not self.out_dir.exists()
        self._lock = FolderLock(self.out_dir).acquire() if self.context.main else None
        try:
            if not _resuming:
                refuse_a_trained_folder(self.out_dir)
            self._build(model_config, train_config, data, data_root)
        except BaseException:
            self.release(remove_if_empty=created)
            raise

    def release(self, remove_if_empty: bool = False) -> None:
        """Give the folder's lock back (``fit`` does at its end); ``remove_if_empty``: remove the folder too when
        the lock file is all it holds (a run refused before it wrote anything leaves nothing behind)."""
        # the folder goes while its lock is still held (another run may take it the moment it is released), and
        # only by process 0, the one that holds it
        if remove_if_empty and self._lock is not None and self.out_dir.is_dir() and \
                {entry.name for entry in self.out_dir.iterdir()} <= {LOCK_FILE}:
            shutil.rmtree(self.out_dir, ignore_errors=True)
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _remove_unsaved(self, made: list[Path]) -> None:
        """What a new run that failed before its first save had made (an empty grid folder, its log)."""
        for path in made:
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            elif path.is_file():
                path.unlink()

    def _build(self, model_config: ModelConfig, train_config: TrainConfig, data, data_root) -> None:
        check_settings(model_config, train_config, self.context.world)
        self.device = resolve_device(train_config.device)
        if self.context.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.context.local_rank)
        self.precision = resolve_precision(train_config.precision, self.device)
        distributed.start(self.context, self.device)

        images, labels = training_data(self, model_config, data, data_root)
        self.class_names = (folder_classes(train_config.dataset) if data is None and is_folder(train_config.dataset)
                            else [])
        global_batch = train_config.batch_size * self.context.world
        if images.shape[0] < global_batch:
            raise ConfigError(_too_few_images(train_config, images.shape[0], self.images_available, self.context))
        # uint8 on the device, batches converted as they are drawn; a dataset too large for the accelerator's
        # memory stays in (memory-mapped) host memory and goes over batch by batch
        self.images = images.to(self.device) if fits_on_device(self.device, images) else images
        self.labels = conditional_labels(self, model_config, labels, images.shape[0])
        self.steps_per_epoch = images.shape[0] // global_batch

        torch.manual_seed(train_config.seed)  # initial weights
        self.model: GenerativeModel = build_model(model_config).to(self.device)
        if self._channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if self.context.active:  # the noise and means of the global batch (one process: the model's own)
            self.model.shard = distributed.Shard(self.context.rank, self.context.world)
        self.wrapped = distributed.wrap_networks(self.model, self.context, self.device) if self.context.active else {}
        if self.compiled:
            self.wrapped = compile_networks(self.model, self.wrapped)
        lr = train_config.lr or self.model.default_lr
        self.base_lr = {name: (train_config.lr_discriminator or lr) if name == "discriminator" else lr
                        for name in self.model.parameter_groups()}
        self.optimizers = {
            name: torch.optim.Adam(params, lr=self.base_lr[name], betas=(train_config.beta1, train_config.beta2))
            for name, params in self.model.parameter_groups().items()
        }
        self.noise = torch.Generator(device=self.device).manual_seed(train_config.seed + 1)
        self.fixed_z = self.model.prior().sample(train_config.sample_grid, torch.Generator().manual_seed(train_config.seed))
        # a conditional model's grid: the classes in turn, so each row of 8 walks through them
        self.fixed_labels = (torch.arange(train_config.sample_grid) % model_config.num_classes
                             if model_config.num_classes else None)
        self.epoch = 0
        self.step = 0
        self.train_seconds = 0.0
        self.data_root = data_root
        self._quality_off = False
        self._epoch_sums: dict[str, float] = {}  # the logs of the epoch so far, x their steps (epoch_line)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    @property
    def _channels_last(self) -> bool:
        return self.config.channels_last and self.device.type in ("cpu", "cuda")

    @classmethod
    def resume(cls, out_dir, epochs: int | None = None, device: str | None = None, reset_optimizer: bool = False,
               ema_decay: float | None = None, track_fid: int | None = None, keep_best: bool | None = None,
               prior_gan_weight: float | None = None, lr_schedule: str | None = None, **kwargs) -> "Trainer":
        """A Trainer that continues the run in ``out_dir`` exactly where its last complete save ended.

        ``reset_optimizer``: continue from the weights in ``model.safetensors`` alone, with fresh Adam
        moments and a reseeded noise stream (for a folder whose trainer state is missing or refused, e.g. a
        shipped checkpoint); reproducible, but not what an uninterrupted run would have done. Such a continuation
        may also add a moving average of the decoder (``ema_decay``; it starts at the decoder's weights). A run
        that has one may change its decay on any resume (e.g. a longer average for a last stage): the average goes
        on from its weights now.
        ``prior_gan_weight``: a new weight of the VAE-GAN's GAN terms on prior samples from now on (a fine-tuning
        stage), with or without the run's own optimizer state. config.json keeps the new settings, and its state's
        ``stages`` lists each such continuation: the epoch it started from, the optimizer (fresh or kept) and the
        settings it changed.
        ``lr_schedule="cosine"`` on a run at a constant rate: a decay stage, the rates falling from their values
        now to 0 at the new last epoch (``lr_decay_from`` is set to the epoch it resumes from); a cosine run
        cannot go back to a constant rate.
        ``track_fid``: score the samples after each epoch from now on (or stop: 0); ``keep_best``: from now on,
        keep the epoch with the lowest score in ``best/`` (stopping the scoring stops it too).
        """
        saved = ckpt.read_config(out_dir)
        model_config, train_config, changed = resume_settings(
            saved, out_dir, epochs=epochs, device=device, reset_optimizer=reset_optimizer, ema_decay=ema_decay,
            track_fid=track_fid, keep_best=keep_best, prior_gan_weight=prior_gan_weight, lr_schedule=lr_schedule)
        trainer = cls(model_config, train_config, out_dir, _resuming=True, **kwargs)
        try:
            if reset_optimizer:
                load_weights_only(trainer, saved.get("state") or {})
            else:
                load_state(trainer)
        except BaseException:  # a refused state: the folder and the process group are given back at once
            trainer.release()
            distributed.stop(trainer.context)
            raise
        record_stages(trainer, saved, reset_optimizer, lr_schedule, changed)
        return trainer

    def _autocast(self):
        enabled = self.precision == "bf16"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _batch(self, order: torch.Tensor, index: int) -> torch.Tensor:
        size = self.config.batch_size
        start = (index * self.context.world + self.context.rank) * size  # this process's share of the global batch
        rows = order[start:start + size]
        batch = self.images[rows.to(self.images.device)].to(self.device, non_blocking=True).float().div_(255.0)
        if self._channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def _batch_labels(self, order: torch.Tensor, index: int) -> torch.Tensor | None:
        if self.labels is None:
            return None
        size = self.config.batch_size
        start = (index * self.context.world + self.context.rank) * size
        return self.labels[order[start:start + size]]

    def learning_rate_factor(self, step: int) -> float:
        """The schedule's factor on each base rate at optimizer step ``step`` (0-based) of the run's
        ``epochs x steps_per_epoch`` steps: 1 (constant), or (1 + cos(pi t / T)) / 2 (cosine, to 0 at the end;
        a run resumed with more epochs stretches its curve from that point). With ``lr_decay_from`` E the cosine
        runs from epoch E's first step to the end and the factor is 1 before it (a decay stage added on resume)."""
        if self.config.lr_schedule == "constant":
            return 1.0
        start = self.config.lr_decay_from * self.steps_per_epoch
        length = max(1, self.config.epochs * self.steps_per_epoch - start)
        return 0.5 * (1.0 + math.cos(math.pi * min(max(step - start, 0), length) / length))

    def kl_weight_factor(self, step: int) -> float:
        """The share of beta the KL term takes at optimizer step ``step`` (0-based): 1, or with ``kl_warmup`` a
        linear rise from 0 over the first kl_warmup epochs (Bowman et al. 2016)."""
        warmup = self.config.kl_warmup * self.steps_per_epoch
        return 1.0 if warmup <= 0 else min(1.0, step / warmup)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One optimizer step of every network on one batch in [0, 1] (with its labels, for a conditional
        model); returns the step's logs (0-d tensors)."""
        factor = self.learning_rate_factor(self.step)
        for name, optimizer in self.optimizers.items():
            optimizer.zero_grad(set_to_none=True)
            for group in optimizer.param_groups:
                group["lr"] = self.base_lr[name] * factor
        self.model.kl_scale = self.kl_weight_factor(self.step)
        with self._autocast(), distributed.use_wrapped(self.model, self.wrapped):
            if labels is None:  # unconditional: the call every model (and every test stand-in) takes
                losses, logs = self.model.training_losses(images, self.noise)
            else:
                losses, logs = self.model.training_losses(images, self.noise, labels=labels)
        groups = self.model.parameter_groups()
        backward_per_group(losses, groups)
        names = list(losses)
        if self.config.grad_clip:
            for name in names:
                torch.nn.utils.clip_grad_norm_(groups[name], self.config.grad_clip)
        # (1) update D  (2) update the encoder  (3) update the decoder  (or the VAE as one group);
        # a group missing from `losses` (the equilibrium trick pausing it) is not stepped.
        for name in names:
            self.optimizers[name].step()
        self.model.update_ema(self.step + 1)  # the step being taken (self.step counts finished ones)
        logs = dict(logs)
        if self.config.kl_warmup:
            logs["kl_weight"] = losses[names[0]].new_tensor(self.model_config.beta * self.model.kl_scale)
        logs["nonfinite"] = distributed.any_true(  # a NaN on any process stops every process
            self.context, (~torch.isfinite(torch.stack([losses[n].detach().float() for n in names]))).any().float())
        return logs

    def fit(self) -> dict[str, Any]:
        """Train until ``config.epochs``; checkpoint every epoch. Returns a summary of the run."""
        config = self.config
        main = self.context.main  # process 0 alone writes (the others hold the same weights)
        if main and self._lock is None:  # a Trainer whose fit has ended once: the folder is taken again
            self._lock = FolderLock(self.out_dir).acquire()
        fresh = main and not ckpt.has_checkpoint(self.out_dir)  # nothing saved yet: nothing to keep on a failure
        made = [path for path in (self.out_dir / paths.SAMPLES_DIR, self.out_dir / paths.HISTORY_FILE)
                if fresh and not path.exists()]
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / paths.SAMPLES_DIR).mkdir(exist_ok=True)
        check_every = 1 if self.device.type == "cpu" else config.log_every  # a check is free on the CPU
        total_steps = (config.epochs - self.epoch) * self.steps_per_epoch
        bar = tqdm(total=total_steps, disable=not (self.progress and main), unit="step", dynamic_ncols=True)
        history = CheckpointFolder(self.out_dir).history_log() if main else None
        window: dict[str, torch.Tensor] = {}
        window_steps, window_start = 0, time.perf_counter()
        last_rate, epoch_at_start, threads_at_start = 0.0, self.epoch, torch.get_num_threads()
        failed = True
        try:
            self.model.train()
            while self.epoch < config.epochs:
                bar.set_description(f"epoch {self.epoch + 1}/{config.epochs}")
                self._choose_threads(first=self.epoch == epoch_at_start)
                order = _epoch_permutation(config.seed, self.epoch, self.images.shape[0]).to(self.device)
                epoch_start = time.perf_counter()
                for index in range(self.steps_per_epoch):
                    step = self._first_compiled_step if self.compiled and self.compile_seconds is None else \
                        self.train_step
                    logs = step(self._batch(order, index), self._batch_labels(order, index))
                    self.step += 1
                    if self.on_step is not None:
                        self.on_step(self.step, logs)
                    window_steps += 1
                    for key, value in logs.items():
                        window[key] = window.get(key, 0.0) + value.detach().float()
                    if window_steps % check_every == 0 and float(window["nonfinite"]) > 0:
                        self._diverged(logs)
                    if window_steps == config.log_every or index == self.steps_per_epoch - 1:
                        record = self._log_record(window, window_steps, time.perf_counter() - window_start, index)
                        if record.pop("nonfinite"):
                            self._diverged(logs)
                        last_rate = record["images_per_second"]
                        if history is not None:
                            history.append(record)  # one whole line, flushed: the apps follow the run
                        bar.set_postfix(_short_postfix(record), refresh=False)
                        if self.callback is not None:
                            self.callback(record)
                        window, window_steps, window_start = {}, 0, time.perf_counter()
                    bar.update(1)
                self.train_seconds += time.perf_counter() - epoch_start
                self.epoch += 1
                if main:
                    self._end_of_epoch(last_rate)
                    if self.epoch_lines:
                        print(epoch_line(self, time.perf_counter() - epoch_start), file=sys.stderr, flush=True)
                distributed.barrier(self.context)
            failed = False
        finally:
            if history is not None:
                history.close()
            bar.close()
            if failed and fresh and not ckpt.has_checkpoint(self.out_dir):
                self._remove_unsaved(made)
            self.release(remove_if_empty=failed and self._created)
            distributed.stop(self.context)
            torch.set_num_threads(threads_at_start)  # the thread policy holds for the run only
            self.model.kl_scale = 1.0  # the model's own losses outside training
        return {"out_dir": str(self.out_dir), "epoch": self.epoch, "step": self.step,
                "train_seconds": round(self.train_seconds, 2), "images_per_second": round(last_rate, 1),
                "device": str(self.device), "precision": self.precision}

    def _first_compiled_step(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The first step of a compiled run, which compiles the networks (about 20 s on a CPU) and is timed
        (``compile_seconds``): a compiler that fails on this machine is one clear error, the run's last checkpoint
        untouched."""
        start = time.perf_counter()
        try:
            logs = self.train_step(images, labels)
        except (ConfigError, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - torch's compiler stack raises many kinds
            raise ConfigError(f"torch.compile failed on this machine ({type(error).__name__}: "
                              f"{first_line(error)}); train without --compile") from None
        self.compile_seconds = time.perf_counter() - start
        return logs

    def _choose_threads(self, first: bool) -> None:
        """On the CPU, set torch's threads for the next epoch (``cpu_threads``): after the first epoch the load
        average holds this run's own threads, which are not counted as other work."""
        if self.device.type != "cpu" or self.threads is None:  # None: a library caller's threads are its own
            return
        threads = cpu_threads(self.threads, ours=0 if first else torch.get_num_threads())
        if threads is not None and threads != torch.get_num_threads():
            torch.set_num_threads(threads)

    def _log_record(self, window: dict[str, torch.Tensor], steps: int, seconds: float, index: int) -> dict[str, Any]:
        keys = list(window)
        # the mean over this window and over every process; one device sync per log line
        means = distributed.mean_over_processes(self.context, torch.stack([window[k] for k in keys]) / steps).tolist()
        record: dict[str, Any] = {"step": self.step, "epoch": round(self.epoch + (index + 1) / self.steps_per_epoch, 4)}
        record.update({k: round(v, 6) for k, v in zip(keys, means)})
        record["images_per_second"] = round(steps * self.config.batch_size * self.context.world / max(seconds, 1e-9), 1)
        for key in [*keys, "steps"]:
            self._epoch_sums[key] = self._epoch_sums.get(key, 0.0) + (steps if key == "steps" else record[key] * steps)
        return record

    def _diverged(self, logs: dict[str, torch.Tensor]) -> None:
        bad = sorted(k for k, v in logs.items() if k != "nonfinite" and not torch.isfinite(v).all())
        kept = (f"the last good checkpoint (epoch {self.epoch}) is kept in {self.out_dir}" if self.epoch
                else "no checkpoint was written yet")
        raise TrainingDiverged(
            f"training stopped at step {self.step} (epoch {self.epoch + 1}): {', '.join(bad) or 'a loss'} became "
            f"NaN or infinite; {kept}; try a lower --lr or --grad-clip 1"
        )

    def _end_of_epoch(self, images_per_second: float) -> None:
        """Sample grid, weights, config, trainer state and model card for the epoch just finished (``epoch_end``)."""
        end_of_epoch(self, images_per_second)

    def _track_quality(self, state: dict[str, Any]) -> None:
        """The tracked FID of the epoch and, with ``keep_best``, ``best/`` (``epoch_end.track_quality``)."""
        track_quality(self, state)



def _short_postfix(record: dict[str, Any]) -> dict[str, str]:
    return {key.replace("loss_", ""): f"{record[key]:.3g}" for key in MAIN_LOGS if key in record}

