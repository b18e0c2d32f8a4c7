"""Where things are: the checkpoint folder's file names and the shipped folders. No torch here, so the
apps can list and describe checkpoints before (or without) importing it."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TRAINER_STATE_FILE = "trainer_state.pt"
HISTORY_FILE = "history.jsonl"
QUALITY_FILE = "quality.jsonl"   # optional: domain FID after each epoch (vaegan train --track-fid N)
SAMPLES_DIR = "samples"
GMM_GRID_FILE = "gmm.png"         # in samples/: 64 samples of the GMM prior, written by vaegan fit-gmm
MODEL_CARD_FILE = "README.md"
METRICS_FILE = "metrics.json"
LATENT_GMM_FILE = "latent_gmm.safetensors"  # optional: a GMM of the training codes (vaegan fit-gmm)
NOTES_FILE = "notes.md"           # optional prose for the model card (how it was trained, what was tried)
BEST_DIR = "best"                 # optional: the epoch with the lowest tracked FID (vaegan train --keep-best)


SHIPPED_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"  # beside the package (vaegan_core/storage/)


def default_checkpoints_dir() -> Path:
    """``$VAEGAN_CHECKPOINTS_DIR``, else the ``checkpoints/`` folder shipped beside the package."""
    override = os.environ.get("VAEGAN_CHECKPOINTS_DIR")
    return Path(override) if override else SHIPPED_CHECKPOINTS


def bundled_data_dir() -> Path:
    """The test splits shipped with the project (``checkpoints/data``), so the demo needs no download."""
    return SHIPPED_CHECKPOINTS / "data"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``: the root of every cache the package writes."""
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"))
