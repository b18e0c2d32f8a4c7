"""What the Trainer saves at the end of each epoch (process 0 alone): the sample grid, the trainer state, the
checkpoint and its model card (``end_of_epoch``), and with ``track_fid`` the run's quality, one line per epoch in
quality.jsonl, with ``keep_best`` the epoch that scores lowest kept in ``best/`` (``track_quality``, ``best_fid``).
The functions take the Trainer; ``Trainer._end_of_epoch`` and ``Trainer._track_quality`` call them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from ..errors import VaeganError, first_line
from ..images import save_grid
from ..storage import checkpoint as ckpt
from ..storage import paths
from ..storage.card import write_model_card
from ..storage.checkpoint_folder import CheckpointFolder


MAIN_LOGS = ("loss", "loss_discriminator", "loss_decoder", "loss_generator", "kl", "d_accuracy")  # what a line shows


def epoch_line(trainer, seconds: float) -> str:
    """``epoch 3/10: loss 101.2, kl 12.3 (4.2 s)``: the main losses of the epoch just ended (means over its steps)
    and its seconds, the Trainer's line per epoch without a progress bar (``epoch_lines``); starts the next sums."""
    sums, trainer._epoch_sums = trainer._epoch_sums, {}
    steps = sums.pop("steps", 0) or 1
    shown = ", ".join(f"{key.replace('loss_', '')} {sums[key] / steps:.4g}" for key in MAIN_LOGS if key in sums)
    return f"epoch {trainer.epoch}/{trainer.config.epochs}: {shown or 'no steps'} ({seconds:.1f} s)"


def end_of_epoch(trainer, images_per_second: float) -> None:
    """Sample grid, weights, config, trainer state and model card for the epoch just finished."""
    model, out_dir = trainer.model, trainer.out_dir
    model.eval()
    folder = CheckpointFolder(out_dir)
    save_grid(model.decode(trainer.fixed_z, trainer.fixed_labels), folder.sample_grid_file(trainer.epoch))
    model.train()
    state = {"epoch": trainer.epoch, "step": trainer.step, "train_seconds": round(trainer.train_seconds, 2),
             "device": str(trainer.device), "precision": trainer.precision,
             "images_per_second": images_per_second, "torch_version": torch.__version__,
             **({"compiled": True} if trainer.compiled else {}),
             **({"stages": trainer.stages} if trainer.stages else {})}
    if trainer.labels is not None:
        state["class_frequencies"] = trainer.class_frequencies
    if trainer.class_names:  # an image folder's classes as trained: the folder may change later, the labels may not
        state["class_names"] = trainer.class_names
    # The trainer state goes first and carries the weights: whatever write a kill interrupts, the folder
    # holds one complete (weights, optimizers, noise, counters) to resume from (see resume.load_state).
    trainer_state = {
        "model": {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()},
        "optimizers": {name: optimizer.state_dict() for name, optimizer in trainer.optimizers.items()},
        "noise_rng": trainer.noise.get_state(),
        "noise_device": trainer.device.type,
        "epoch": trainer.epoch, "step": trainer.step, "train_seconds": trainer.train_seconds,
    }
    ckpt.save_trainer_state(out_dir, trainer_state)
    ckpt.save_checkpoint(out_dir, model, trainer.config, state)
    write_model_card(out_dir, model, trainer.config, state)
    trainer._track_quality(state)  # through the Trainer: a subclass or a test may replace it
    if trainer.on_epoch_end is not None:
        trainer.model.eval()
        try:
            trainer.on_epoch_end(trainer.epoch, trainer.model)
        finally:
            trainer.model.train()


def track_quality(trainer, state: dict[str, Any]) -> None:
    """With ``track_fid``: the domain FID of fresh samples against the train split (the test split plays no
    part in training choices), one line per epoch in quality.jsonl beside the CPU time so far: the run's
    quality against its training time. The evaluation's own time is not training time. With ``keep_best``,
    an epoch that scores lower than the one in ``best/`` replaces it there."""
    config, model, out_dir = trainer.config, trainer.model, trainer.out_dir
    n = config.track_fid
    if not n or trainer._quality_off:
        return
    from ..metrics.evaluate import evaluate  # heavy imports, only when asked for

    model.eval()
    try:
        result = evaluate(model, config.dataset, n=n, extractor="lenet", metrics=("fid",),
                          split="train", seed=config.seed, device=str(trainer.device), data_root=trainer.data_root)
    except (VaeganError, OSError) as error:
        trainer._quality_off = True
        off = "--track-fid and --keep-best are" if config.keep_best else "--track-fid is"
        # stacklevel 3: the warning names the end of the epoch, as when this was the Trainer's own method
        warnings.warn(f"{off} off for this run: {first_line(error)}", stacklevel=3)
        return
    finally:
        model.train()
    row = {"epoch": trainer.epoch, "step": trainer.step, "train_seconds": round(trainer.train_seconds, 2),
           "fid_domain_train": round(float(result["metrics"]["fid"]), 3), "n": n}
    CheckpointFolder(out_dir).append_quality(row)
    if config.keep_best and row["fid_domain_train"] < best_fid(out_dir):
        best = out_dir / paths.BEST_DIR
        chosen = {**state, "fid_domain_train": row["fid_domain_train"], "chosen_by": "lowest --track-fid"}
        # what belonged to the weights being replaced goes with them: a GMM of their codes (vaegan fit-gmm), its
        # samples and their scores would pass for the new epoch's
        for stale in (paths.LATENT_GMM_FILE, paths.METRICS_FILE, f"{paths.SAMPLES_DIR}/{paths.GMM_GRID_FILE}"):
            (best / stale).unlink(missing_ok=True)
        ckpt.save_checkpoint(best, model, config, chosen)
        write_model_card(best, model, config, chosen)


def best_fid(out_dir: Path) -> float:
    """The tracked FID of the epoch kept in ``out_dir/best/`` (infinity when none is kept or it cannot be read)."""
    try:
        value = (ckpt.read_config(Path(out_dir) / paths.BEST_DIR).get("state") or {}).get("fid_domain_train")
    except VaeganError:
        return float("inf")
    return float(value) if isinstance(value, (int, float)) else float("inf")
