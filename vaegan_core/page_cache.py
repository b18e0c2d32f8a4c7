"""Results of the app's slow page computations (a UMAP map of the test codes, the latent diagnostics of the test
split, the anomaly scores of 2,000 test images, the reconstruction errors of the first 1,000), kept on disk and keyed by the checkpoint's fingerprint, so the
first visit of a page reads them in milliseconds instead of computing for seconds.

Two places are read, in this order: ``<checkpoint>/page_cache/`` (shipped with the shipped checkpoints, written by
``scripts/page_cache.py``) and ``$XDG_CACHE_HOME/vaegan/pages/<fingerprint>/`` (what this machine computed before;
where new results go). A file whose fingerprint is not the checkpoint's (a retrained model) is ignored. Arrays are
safetensors, anything else JSON: nothing here is unpickled.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .files import JSONFileError, atomic_write, read_json
from .paths import user_cache_dir

FOLDER = "page_cache"  # in a checkpoint folder
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
log = logging.getLogger("vaegan.page_cache")


def user_folder(fingerprint: str) -> Path:
    return user_cache_dir() / "vaegan" / "pages" / fingerprint


def _file_name(name: str, suffix: str) -> str:
    if not _NAME.match(name):  # e.g. an image folder's name: a file name of its own, free of path characters
        import hashlib

        name = re.sub(r"[^a-z0-9-]", "-", name.lower())[:60] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name + suffix


def _places(name: str, fingerprint: str, checkpoint: str | os.PathLike | None, suffix: str) -> list[Path]:
    shipped = [Path(checkpoint) / FOLDER / _file_name(name, suffix)] if checkpoint else []
    return shipped + [user_folder(fingerprint) / _file_name(name, suffix)]


def arrays(name: str, fingerprint: str, compute: Callable[[], dict[str, np.ndarray]],
           checkpoint: str | os.PathLike | None = None, write_to: str | os.PathLike | None = None) -> dict:
    """``{key: array}`` stored under ``name`` for this fingerprint, else ``compute()`` (then stored in
    ``write_to``, default the user's cache; a folder that cannot be written is skipped: the result is still
    returned)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, save_file

    for path in _places(name, fingerprint, checkpoint, ".safetensors"):
        try:
            if _stored_fingerprint(path) == fingerprint:
                return {key: value for key, value in load_file(path).items()}
        except (OSError, SafetensorError, ValueError, json.JSONDecodeError) as error:
            log.warning("page cache %s unreadable (%s); computing it", path, error)
    value = compute()
    target = _target(name, fingerprint, write_to, ".safetensors")
    _write(target, lambda temporary: save_file({key: np.ascontiguousarray(array) for key, array in value.items()},
                                               temporary, metadata={"fingerprint": fingerprint}))
    return value


def document(name: str, fingerprint: str, compute: Callable[[], Any],
             checkpoint: str | os.PathLike | None = None, write_to: str | os.PathLike | None = None) -> Any:
    """A JSON value stored under ``name`` for this fingerprint, else ``compute()`` (stored as ``arrays`` does)."""
    for path in _places(name, fingerprint, checkpoint, ".json"):
        try:
            stored = read_json(path, dict)
        except FileNotFoundError:
            continue
        except (OSError, JSONFileError) as error:
            log.warning("page cache %s unreadable (%s); computing it", path, error)
            continue
        if stored.get("fingerprint") == fingerprint and "value" in stored:
            return stored["value"]
    value = compute()
    target = _target(name, fingerprint, write_to, ".json")
    text = json.dumps({"fingerprint": fingerprint, "value": value}, allow_nan=False)
    _write(target, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
    return value


def _stored_fingerprint(path: Path) -> str | None:
    """The fingerprint in a safetensors file's header (read without loading the arrays), None when absent."""
    if not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        return (handle.metadata() or {}).get("fingerprint")


def prune(folder: str | os.PathLike, fingerprint: str) -> list[str]:
    """Delete the files in ``folder`` that belong to another fingerprint (an earlier checkpoint) or cannot be
    read; returns their names."""
    removed = []
    for path in sorted(Path(folder).glob("*")) if Path(folder).is_dir() else []:
        try:
            stored = (read_json(path, dict).get("fingerprint") if path.suffix == ".json"
                      else _stored_fingerprint(path))
        except Exception:  # noqa: BLE001 - unreadable in any way (a torn file, a Git LFS pointer): not ours to keep
            stored = None
        if stored != fingerprint:
            path.unlink()
            removed.append(path.name)
    return removed


def _target(name: str, fingerprint: str, write_to, suffix: str) -> Path:
    folder = Path(write_to) if write_to is not None else user_folder(fingerprint)
    return folder / _file_name(name, suffix)


def _write(path: Path, write: Callable[[str], None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except OSError as error:  # a read-only folder (a Space image, a shared install): compute again next time
        log.info("page cache %s not written (%s)", path, error)


# The pages' slow computations, named so that the app and scripts/page_cache.py store and find the same results.

def latent_map(model, images, method: str = "umap", seed: int = 0, write_to=None) -> np.ndarray:
    """The test codes of ``images`` (the first n test images, uint8) projected to 2-D: n x 2 float32."""
    from .latent import encode_images, project

    def compute() -> dict:
        import torch

        return {"points": project(encode_images(model, torch.as_tensor(images)).numpy(), method, seed=seed)}
    name = f"map-{method}-{len(images)}-seed{seed}"
    return arrays(name, model.fingerprint, compute, getattr(model, "folder", None), write_to)["points"]


def latent_usage(model, images, split: str = "test", write_to=None) -> dict:
    """``vaegan_core.latent_usage.latent_usage`` of ``images`` (a whole split, uint8)."""
    from . import latent_usage as usage

    def compute() -> dict:
        import torch

        return usage.latent_usage(model, torch.as_tensor(images))
    return document(f"usage-{split}-{len(images)}", model.fingerprint, compute, getattr(model, "folder", None),
                    write_to)


def anomaly_scores(model, images, against: str, write_to=None) -> dict[str, np.ndarray]:
    """``vaegan_core.anomaly.anomaly_scores`` of ``images``: the test images (``against`` = the model's dataset),
    another dataset's or a corruption of them, as ``against`` names."""
    from . import anomaly

    def compute() -> dict:
        import torch

        return anomaly.anomaly_scores(model, torch.as_tensor(images))
    return arrays(f"scores-{against}-{len(images)}", model.fingerprint, compute, getattr(model, "folder", None),
                  write_to)


def reconstruction_errors(model, images, write_to=None) -> np.ndarray:
    """The mean squared error per pixel of each image's reconstruction decode(mu(x)) (``images``: the first n test
    images, uint8): the Reconstruction page's worst-first gallery. n floats."""
    from .latent import reconstruct_with_error

    def compute() -> dict:
        import torch

        return {"errors": reconstruct_with_error(model, torch.as_tensor(images))[1].numpy()}
    return arrays(f"recon-errors-{len(images)}", model.fingerprint, compute, getattr(model, "folder", None),
                  write_to)["errors"]

