"""Training in front of the class: one to three small models trained in a background thread, steered live.

``LiveRun(settings)`` trains its models at equal CPU time (the one that has had the least takes the next step)
through the Trainer's own ``train_step``; ``start``, ``pause``, ``step``, ``stop`` steer it from any thread and
``snapshot()`` hands out what it has seen: each loss term, a grid decoded from fixed codes, the discriminator's
scores, and every few hundred steps a cheap quality reading. ``export_zip()`` zips each model as an ordinary
checkpoint folder. A process trains ``VAEGAN_LIVE_RUNS`` (default 1) runs at a time (``REGISTRY``), the others
wait in a queue; a run stops when nobody looks at it (``heartbeat``), when its session ends (``alive``) or at a
time limit. No UI here: demo/app_pages/train_live.py shows it, benchmarks/live_presets.py measures the presets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import shutil
import tempfile
import threading
import time
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DATASETS, MODEL_KINDS, MODEL_LABELS, ModelConfig, TrainConfig, _check_int
from .data import load_dataset
from ..errors import ConfigError, VaeganError, first_line
from ..storage.checkpoint_folder import CheckpointFolder
from ..images import grid
from .live_presets import PRESETS, Preset, _minimax_losses, quality_reading, sharpness  # noqa: F401 (the live API)
from ..models import build_model
from .train import Trainer, _epoch_permutation

LOG_EVERY = 5  # steps per logged window of the loss curves (each point averages its window)
PUBLISH_SECONDS = 0.5  # how often the grids and the discriminator's scores are redrawn while training
MAX_POINTS = 3000  # points kept per curve; older ones are thinned, not dropped
GRID = 36  # images in the grid of fixed codes (6 x 6)
GENERATOR_LOSSES = ("non-saturating", "minimax")
SESSION_GRACE = 10.0  # seconds a run outlives its session's connection (a browser that reconnects keeps it)
LIVE_DATASET = "live"  # the dataset name of a live run's models in the apps (``LiveRun.open_as_checkpoints``)


@dataclass(frozen=True)
class LiveSettings:
    """What a live run trains: the knobs of the Train live page."""

    kinds: tuple = ("vaegan",)  # the models trained side by side at equal CPU time
    dataset: str = "digits"  # digits (1,437 training images, no files) | mnist | fashion-mnist
    subset: int = 5000  # mnist / fashion-mnist: the first N training images; 0 = all 60,000
    beta: float = 1.0  # weight of the KL term (VAE, VAE-GAN)
    gamma: float = 0.05  # VAE-GAN: weight of the feature-wise reconstruction against the GAN term in the decoder
    lr: float = 0.0  # the generator's (VAE: the whole model's) Adam rate; 0 = the model's default
    lr_discriminator: float = 0.0  # the discriminator's rate; 0 = lr
    d_steps: int = 1  # discriminator updates per generator update (GAN, VAE-GAN)
    width: int = 16  # channels of the first conv stage (each later stage doubles it)
    batch_size: int = 64  # images per step
    latent_dim: int = 16  # size of z
    discriminator_norm: str = "spectral"  # spectral | batch | none
    generator_loss: str = "non-saturating"  # GAN: -log D(G(z)), or minimax log(1 - D(G(z))) (saturates)
    seed: int = 0
    reading_every: int = 300  # steps of a model between two quality readings; 0 = none
    reading_n: int = 1000  # samples per quality reading

    def __post_init__(self) -> None:  # the other settings are checked by the configs themselves
        if not self.kinds or not set(self.kinds) <= set(MODEL_KINDS) or len(set(self.kinds)) < len(self.kinds):
            raise ConfigError(f"kinds must be one or more of {', '.join(MODEL_KINDS)}, each once; got {self.kinds!r}")
        if self.generator_loss not in GENERATOR_LOSSES:
            raise ConfigError(f"generator_loss must be one of {', '.join(GENERATOR_LOSSES)}")
        for name, low, high in (("d_steps", 1, 20), ("reading_every", 0, 10**6), ("reading_n", 200, 10_000)):
            _check_int(name, getattr(self, name), low, high)  # (the FID of n samples needs n > 128 features)
        for kind in self.kinds:
            self.model_config(kind)
        self.train_config()

    def model_config(self, kind: str) -> ModelConfig:
        return ModelConfig(kind=kind, latent_dim=self.latent_dim, width=self.width, beta=self.beta, gamma=self.gamma,
                           discriminator_norm=self.discriminator_norm)

    def train_config(self) -> TrainConfig:
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        return TrainConfig(dataset=self.dataset, batch_size=self.batch_size, lr=self.lr,
                           lr_discriminator=self.lr_discriminator, seed=self.seed, device="cpu", precision="fp32",
                           limit=0 if self.dataset == "digits" else self.subset, sample_grid=GRID, log_every=LOG_EVERY)


_DATA: dict = {}
_DATA_LOCK = threading.Lock()


def training_data(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The training split, read once per process (every live run shares it; nothing writes to it)."""
    with _DATA_LOCK:
        if dataset not in _DATA:
            _DATA[dataset] = load_dataset(dataset, "train")
        return _DATA[dataset]


def warm_up(dataset: str, wait: bool = False, train_step: bool = True) -> None:
    """Read ``dataset``'s training split and (``train_step``) once per process take one training step of a model on
    blank images, in a background thread (``wait``: joined): a Start soon after finds the data read and torch ready
    (a first optimizer imports torch._dynamo: 3 s; a first backward pass loads about 200 MB of kernels, kept for the
    process), so the first run adds no more memory than a later one (benchmarks/live_memory.py --first). The Train
    live page calls it when opened; the app's own warm-up reads the data only (a server nobody trains on keeps
    its memory)."""
    def read() -> None:
        with contextlib.suppress(VaeganError, OSError):  # the run that needs it says why
            training_data(dataset)
        with _WARM_LOCK:
            if train_step and not _WARMED:
                model = build_model(LiveSettings().model_config("vaegan")).train()
                optimizer, config = torch.optim.Adam(model.parameters()), model.config
                images = torch.zeros(4, config.channels, config.image_size, config.image_size)
                sum(model.training_losses(images, generator=torch.Generator().manual_seed(0))[0].values()).backward()
                optimizer.step()
                _WARMED.append(True)

    if dataset not in _DATA or (train_step and not _WARMED):
        thread = threading.Thread(target=read, name="vaegan-live-data", daemon=True)
        thread.start()
        if wait:
            thread.join()


_WARM_LOCK, _WARMED = threading.Lock(), []  # warm_up's one training step: once per process

class _Member:
    """One model of a run: its Trainer, where it is in its data, and what it has shown so far."""

    def __init__(self, kind: str, settings: LiveSettings, data, folder: Path):
        self.kind, self.settings = kind, settings
        self.trainer = Trainer(settings.model_config(kind), settings.train_config(), folder, data=data,
                               progress=False)
        if kind == "gan" and settings.generator_loss == "minimax":
            self.trainer.model.training_losses = _minimax_losses.__get__(self.trainer.model)
        self.trainer.model.train()
        self.epoch, self.index, self.seconds = 0, 0, 0.0
        self.order = _epoch_permutation(settings.seed, 0, self.trainer.images.shape[0])
        self.window, self.view, self.history, self.readings = {}, {}, [], []  # view: the grid and D's scores now

    def next_batch(self) -> torch.Tensor:
        trainer = self.trainer
        if self.index >= trainer.steps_per_epoch:
            self.epoch, self.index = self.epoch + 1, 0
            self.order = _epoch_permutation(self.settings.seed, self.epoch, trainer.images.shape[0])
        self.index += 1
        return trainer._batch(self.order, self.index - 1)

    def train_one(self) -> None:
        """One generator step (after ``d_steps - 1`` discriminator-only steps), timed in this thread's CPU time."""
        trainer, model = self.trainer, self.trainer.model
        start = time.thread_time()
        if hasattr(model, "discriminator"):
            for _ in range(self.settings.d_steps - 1):
                _discriminator_step(trainer, self.next_batch())
        logs = trainer.train_step(self.next_batch())
        trainer.step += 1
        norms = [p.grad.detach().float().norm() ** 2 for p in model.decoder.parameters() if p.grad is not None]
        logs["generator_grad_norm"] = torch.stack(norms).sum().sqrt() if norms else torch.tensor(0.0)
        self.seconds += time.thread_time() - start
        if float(logs.pop("nonfinite")) > 0:
            raise ConfigError(f"the {MODEL_LABELS[self.kind]}'s losses became NaN or infinite at step {trainer.step}: "
                              "its learning rate is too high; Reset and lower it")
        for key, value in logs.items():
            self.window[key] = self.window.get(key, 0.0) + float(value)
        if trainer.step % LOG_EVERY == 0:
            record = {key: round(value / LOG_EVERY, 5) for key, value in self.window.items()}
            self.history.append({"step": trainer.step, "seconds": round(self.seconds, 2), **record})
            if len(self.history) > MAX_POINTS:
                self.history = self.history[::2]  # thinned evenly: the whole run stays on the curve
            self.window = {}

    def look(self, real: torch.Tensor) -> None:
        """The grid of fixed codes and the discriminator's scores on real and generated images, now."""
        model = self.trainer.model
        model.eval()
        try:
            images = model.decode(self.trainer.fixed_z)
            view = {"grid": (grid(images, nrow=6).numpy()[0] * 255).round().astype(np.uint8),
                    "grid_step": self.trainer.step}
            if hasattr(model, "discriminator"):
                with torch.inference_mode():
                    logits = model.discriminator(torch.cat([real[:GRID].float() / 255, images]))[0].float()
                view["d_real"], view["d_fake"] = np.split(torch.sigmoid(logits).reshape(-1).numpy(), 2)
        finally:
            model.train()
        self.view = view

    def public(self) -> dict:
        """What the page may show of this model (copies of the lists; the arrays are never written again)."""
        return {"kind": self.kind, "step": self.trainer.step, "epoch": self.epoch, "seconds": round(self.seconds, 2),
                "history": list(self.history), "readings": list(self.readings), **self.view}


def _discriminator_step(trainer, images: torch.Tensor) -> None:
    """One update of the discriminator alone: the extra steps of ``d_steps`` > 1 (Arjovsky et al. 2017's n_critic)."""
    optimizer = trainer.optimizers["discriminator"]
    optimizer.zero_grad(set_to_none=True)
    with trainer._autocast():
        losses, _ = trainer.model.training_losses(images, trainer.noise)
    if "discriminator" in losses:  # (the equilibrium trick may pause it)
        losses["discriminator"].backward(inputs=trainer.model.parameter_groups()["discriminator"])
        optimizer.step()


def _setting(name: str, default: float) -> float:
    """A positive number from the environment (the server's settings), else ``default``."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


class LiveRun:
    """One live run (see the module's docstring). States: new, queued, starting, running, paused, stopped, failed."""

    def __init__(self, settings: LiveSettings, registry: "LiveRegistry | None" = None,
                 idle_seconds: float | None = None, max_seconds: float | None = None,
                 alive: Callable[[], bool] | None = None, data=None):
        self.settings = settings
        self.registry = registry if registry is not None else REGISTRY
        self.idle_seconds = idle_seconds or _setting("VAEGAN_LIVE_IDLE_SECONDS", 120)
        self.max_seconds = max_seconds or _setting("VAEGAN_LIVE_MAX_SECONDS", 900)
        self.alive, self._data = alive, data
        self._cond = threading.Condition()
        self._step_lock = threading.RLock()  # held by each step, look, reading and save: they never overlap
        self._state, self._message, self._reason, self._paused, self._rounds = "new", "", None, False, 0
        self._members: list[_Member] = []
        self._thread = self._folder = self._started = None
        self._seen, self._gone = time.monotonic(), None

    # ---- the controls (any thread) ----
    def start(self) -> None:
        """Queue the run for a slot (a new one) or go on training (a paused one)."""
        self._control(paused=False)

    def pause(self) -> None:
        """Pause after the step in progress; returns when it is done, or after 0.3 s (a slow step on a busy machine
        must not hold the page), so that what shows next is where the run stopped."""
        with self._cond:
            self._paused = True
            self._state = "paused" if self._state == "running" else self._state
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread() and \
                self._step_lock.acquire(timeout=0.3):  # held by a step (or a chunk of a reading, which then stops)
            self._step_lock.release()

    def step(self) -> None:
        """One optimizer step of every model, then paused (a new run is queued first); returns when it is done
        (a second at most), so that what is shown next shows it."""
        self._control(paused=True, rounds=1)
        self._await(lambda: not self._rounds or self._state != "paused")

    def _control(self, paused: bool, rounds: int = 0) -> None:
        with self._cond:
            if self._state in ("stopped", "failed"):
                return
            self._paused, self._rounds, self._seen = paused, self._rounds + rounds, time.monotonic()
            submit = self._state == "new"
            if submit:
                self._state = "queued"
            elif self._state in ("running", "paused"):
                self._state = "paused" if paused else "running"
            self._cond.notify_all()
        if submit:
            self.registry.submit(self)

    def stop(self, reason: str = "with the Stop button") -> None:
        """End the training for good; the models stay, to look at and download."""
        with self._cond:
            if self._state in ("stopped", "failed"):
                return
            self._reason = reason
            if self._thread is None:  # never started: nothing to wait for
                self._state, self._message = "stopped", reason
            self._cond.notify_all()
        self.registry.finished(self)
        self._await(lambda: self._state in ("stopped", "failed"))

    def _await(self, done: Callable[[], bool], seconds: float = 1.0) -> None:
        """Wait until ``done()`` (the thread has acted on a control; a step at most), or ``seconds``."""
        if self._thread is not None and self._thread is not threading.current_thread():
            with self._cond:
                self._cond.wait_for(done, timeout=seconds)

    def heartbeat(self) -> None:
        """Someone is looking: a run nobody has looked at for ``idle_seconds`` stops."""
        self._seen = time.monotonic()

    def close(self) -> None:
        """Stop and forget: the thread ends and the run's folder goes."""
        self.stop("closed")
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    state = property(lambda self: self._state)

    def snapshot(self) -> dict:
        """State, message, queue place (``ahead``), and per model (``models``): step, epoch, CPU ``seconds``,
        ``history`` (a record per LOG_EVERY steps: each loss term, D's mean scores, the generator's gradient norm),
        ``readings``, the last ``grid`` (uint8 H x W) and D's scores ``d_real`` / ``d_fake`` at ``grid_step``."""
        with self._cond:
            state, message = self._state, self._message
            models = [member.public() for member in self._members]
        ahead = self.registry.ahead(self) if state == "queued" else 0
        elapsed = 0.0 if self._started is None else time.monotonic() - self._started
        return {"state": state, "message": message, "ahead": ahead, "models": models, "elapsed": round(elapsed, 1),
                "max_seconds": self.max_seconds}

    # ---- the thread ----
    def _end_reason(self) -> str | None:
        """Why the run must end now, or None."""
        now = time.monotonic()
        if self._reason:
            return self._reason
        if now - self._seen > self.idle_seconds:
            return f"nobody looked at it for {self.idle_seconds:.0f} s"
        if self.alive is not None and not self.alive():  # (a reconnect within SESSION_GRACE keeps the run)
            self._gone = self._gone or now
            if now - self._gone > SESSION_GRACE:
                return "its session ended"
        else:
            self._gone = None
        if self._started is not None and now - self._started > self.max_seconds:
            return f"the time limit of {self.max_seconds / 60:.3g} min per live run"
        return None

    def _launch(self) -> None:
        """Called by the registry when the run gets its slot."""
        with self._cond:
            self._state, self._started = "starting", time.monotonic()
        self._thread = threading.Thread(target=self._main, name="vaegan-live", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self._build()
            self._loop()
        except Exception as error:  # noqa: BLE001 - whatever it is, the page shows one line and the slot is freed
            with self._cond:
                self._state, self._message = "failed", first_line(error)
                self._cond.notify_all()
        finally:
            self.registry.finished(self)

    def _build(self) -> None:
        data = self._data if self._data is not None else training_data(self.settings.dataset)
        self._folder = Path(tempfile.mkdtemp(prefix="vaegan-live-"))
        weakref.finalize(self, shutil.rmtree, str(self._folder), True)  # forgotten with the run (its session)
        members = [_Member(kind, self.settings, data, self._folder / kind) for kind in self.settings.kinds]
        self._real = members[0].trainer.images[:1000]
        for member in members:
            member.look(self._real)
        with self._cond:
            self._members = members
            self._state = "paused" if self._paused else "running"

    def _loop(self) -> None:
        last_look = time.monotonic()
        while True:
            with self._cond:
                while not (reason := self._end_reason()) and self._paused and not self._rounds:
                    self._cond.wait(0.25)
                if reason:
                    self._state, self._message = "stopped", reason
                    self._cond.notify_all()
                    return
                stepping = self._paused
            with self._step_lock:
                if stepping:  # Step: one step of each model, shown at once
                    for member in self._members:
                        member.train_one()
                else:  # equal CPU time: the model that has had the least goes next
                    min(self._members, key=lambda member: member.seconds).train_one()
                if stepping or time.monotonic() - last_look >= PUBLISH_SECONDS:
                    for member in self._members:
                        member.look(self._real)
                    last_look = time.monotonic()
            if stepping:
                with self._cond:
                    self._rounds = max(0, self._rounds - 1)
                    self._cond.notify_all()
            else:
                self._read_due()

    def _read_due(self) -> None:
        every = self.settings.reading_every
        for member in self._members:
            if every and member.trainer.step >= (len(member.readings) + 1) * every:  # (a pause or stop cuts it short)
                self._read(member, lambda: self._paused or self._reason is not None)

    def read_now(self) -> None:
        """A quality reading of every model now (waits for the step in progress)."""
        for member in self._members:
            self._read(member, lambda: False)

    def _read(self, member: _Member, interrupted: Callable[[], bool]) -> None:
        with self._step_lock:
            model = member.trainer.model
            model.eval()
            try:
                reading = quality_reading(model, self.settings, self._real, interrupted)
            finally:
                model.train()
            if reading is not None:
                member.readings.append({"step": member.trainer.step, "seconds": round(member.seconds, 2), **reading})

    # ---- what becomes of it ----
    def export_zip(self) -> bytes:
        """Every model as a checkpoint folder (``live-DATASET-KIND/``: config.json, model.safetensors, trainer state,
        history.jsonl, a sample grid, a model card), in one zip; the run goes on afterwards."""
        buffer = io.BytesIO()
        with self._step_lock, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in self._members:
                folder = self._save(member)
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and not path.name.startswith("."):  # not the folder's lock
                        archive.write(path, f"live-{self.settings.dataset}-{member.kind}/{path.relative_to(folder)}")
        return buffer.getvalue()

    def open_as_checkpoints(self) -> Path:
        """Every model as it is now, copied into ``ROOT/live/KIND/`` (ordinary checkpoint folders): ``ROOT`` is a
        checkpoints root the apps open like any other (its dataset ``live``: what the run trained on), so the models
        of this session's run can be looked at in every page. A new call replaces the copies (a run going on has
        moved on); the folder goes with the run."""
        root = self._folder / "checkpoints"
        with self._step_lock:
            for member in self._members:
                folder = self._save(member)
                copy = root / LIVE_DATASET / member.kind
                shutil.rmtree(copy, ignore_errors=True)  # (a page's result written meanwhile may remain: copied over)
                shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(".*", "trainer_state.pt"), dirs_exist_ok=True)
        return root

    def _save(self, member: _Member) -> Path:
        trainer = member.trainer
        (trainer.out_dir / "samples").mkdir(parents=True, exist_ok=True)
        trainer.epoch, trainer.train_seconds = member.epoch, member.seconds
        trainer.config = dataclasses.replace(trainer.config, epochs=max(1, member.epoch))
        CheckpointFolder(trainer.out_dir).rewrite_history(member.history)
        rate = trainer.step * self.settings.batch_size / max(member.seconds, 1e-9)
        trainer._end_of_epoch(round(rate, 1))
        return trainer.out_dir


class LiveRegistry:
    """The live runs of this process: at most ``limit`` train at once (``VAEGAN_LIVE_RUNS``, default 1), the others
    wait in order; a waiting run whose page is gone (no heartbeat, session ended) leaves the queue."""

    def __init__(self, limit: int | None = None):
        self._limit, self._lock = limit, threading.Lock()
        self.running: list[LiveRun] = []  # in the order they got their slot
        self.waiting: list[LiveRun] = []  # in the order they asked

    @property
    def limit(self) -> int:
        return self._limit or int(_setting("VAEGAN_LIVE_RUNS", 1))

    def submit(self, run: LiveRun) -> None:
        with self._lock:
            self.waiting.append(run)
            self._promote()

    def ahead(self, run: LiveRun) -> int:
        """How many runs must end before ``run`` starts (0: it has its slot or is not waiting)."""
        with self._lock:
            self._promote()
            return self.waiting.index(run) + 1 if run in self.waiting else 0

    def finished(self, run: LiveRun) -> None:
        with self._lock:
            for runs in (self.running, self.waiting):
                if run in runs:
                    runs.remove(run)
            self._promote()

    def _promote(self) -> None:
        for run in list(self.waiting):
            reason = run._end_reason()
            if reason:
                self.waiting.remove(run)
                with run._cond:
                    run._state, run._message = "stopped", f"{reason} (while waiting)"
        while self.waiting and len(self.running) < self.limit:
            run = self.waiting.pop(0)
            self.running.append(run)
            run._launch()


REGISTRY = LiveRegistry()  # the process's: every session of a Streamlit server shares it
