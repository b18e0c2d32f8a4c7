"""Results of the app's slow page computations (a UMAP map of the test codes, the latent diagnostics of the test
split, the anomaly scores of 2,000 test images, the reconstruction errors of the first 1,000), kept on disk and keyed by the checkpoint's fingerprint, so the
first visit of a page reads them in milliseconds instead of computing for seconds.

Two places are read, in this order: ``<checkpoint>/page_cache/`` (shipped with the shipped checkpoints, written by
``scripts/page_cache.py``; a live run's models keep theirs there too) and
``$XDG_CACHE_HOME/vaegan/pages/<fingerprint>/`` (what this machine computed before; where other new results go). A
file whose fingerprint is not the checkpoint's (a retrained model) is ignored. Arrays are safetensors, anything else
JSON: nothing here is unpickled.

A stored file is data from disk, so it is read like any: only a regular file of at most ``LIMIT`` bytes, and what it
holds is checked before a page sees it (finite numbers always; with ``check``, the keys, dtypes and shapes the
computation gives). A bad entry is computed again and rewritten, never returned. A cache is an optimisation: a
write that fails (a full disk, a read-only folder) is one warning naming the file, never an error on the page.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import first_line
from .files import JSONFileError, read_bounded, read_json, write_bytes_atomic
from .checkpoint_folder import PAGE_CACHE_DIR, CheckpointFolder
from .paths import user_cache_dir

FOLDER = PAGE_CACHE_DIR  # in a checkpoint folder
# The most bytes a stored page result may have: the largest shipped one is 40 kB, so a larger file is not ours
# (and a link to /dev/zero or a FIFO is refused before it is read).
LIMIT = 16 * 2**20
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
log = logging.getLogger("vaegan.page_cache")
# A check of a stored value: raises ValueError saying what is wrong with it (then it is computed again).
Check = Callable[[Any], None]
_warned_unwritten: set[str] = set()  # files whose failed write was reported: once per file and process is enough


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
           checkpoint: str | os.PathLike | None = None,
           write_to: str | os.PathLike | CheckpointFolder | None = None, check: Check | None = None) -> dict:
    """``{key: array}`` stored under ``name`` for this fingerprint, else ``compute()`` (then stored in
    ``write_to``: a folder, a CheckpointFolder (its page_cache/), default the user's cache; a folder that cannot be
    written is skipped: the result is still returned). A stored entry is used only if its arrays are numeric and
    finite and ``check`` (see ``expect_arrays``) accepts them."""
    from safetensors import SafetensorError
    from safetensors.numpy import load, save

    for path in _places(name, fingerprint, checkpoint, ".safetensors"):
        data = _read(path)
        if data is None:
            continue
        try:
            if _header_fingerprint(data) != fingerprint:
                continue
            stored = load(data)
            _check_numbers(stored)
            if check is not None:
                check(stored)
        except (SafetensorError, ValueError, TypeError, RecursionError) as error:
            _unusable(path, error)
            continue
        return stored
    value = compute()
    target = _target(name, fingerprint, write_to, ".safetensors")

    def serialize() -> bytes:
        _check_numbers(value)  # what would be refused on reading is not stored
        if check is not None:
            check(value)
        return save({key: np.ascontiguousarray(array) for key, array in value.items()},
                    metadata={"fingerprint": fingerprint})

    _store(target, serialize, (SafetensorError, ValueError, TypeError), _owner(write_to))
    return value


def document(name: str, fingerprint: str, compute: Callable[[], Any],
             checkpoint: str | os.PathLike | None = None,
             write_to: str | os.PathLike | CheckpointFolder | None = None, check: Check | None = None) -> Any:
    """A JSON value stored under ``name`` for this fingerprint, else ``compute()`` (stored as ``arrays`` does).
    A stored value is used only if ``check`` accepts it."""
    for path in _places(name, fingerprint, checkpoint, ".json"):
        try:
            stored = read_json(path, dict, limit=LIMIT)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except (OSError, JSONFileError) as error:
            _unusable(path, error)
            continue
        if stored.get("fingerprint") != fingerprint or "value" not in stored:
            continue
        try:
            if check is not None:
                check(stored["value"])
        except (ValueError, TypeError, KeyError) as error:
            _unusable(path, error)
            continue
        return stored["value"]
    value = compute()
    target = _target(name, fingerprint, write_to, ".json")

    def serialize() -> bytes:
        if check is not None:
            check(value)
        return json.dumps({"fingerprint": fingerprint, "value": value}, allow_nan=False).encode("utf-8")

    _store(target, serialize, (ValueError, TypeError, KeyError), _owner(write_to))  # ValueError: NaN (not JSON)
    return value


def expect_arrays(shapes: dict[str, tuple[int, ...]], dtype) -> Check:
    """A ``check`` for ``arrays``: exactly the keys of ``shapes``, each an array of ``dtype`` and that shape."""
    dtype = np.dtype(dtype)

    def check(stored: dict) -> None:
        if set(stored) != set(shapes):
            raise ValueError(f"it holds {', '.join(sorted(stored)) or 'nothing'}, not {', '.join(sorted(shapes))}")
        for key, shape in shapes.items():
            value = stored[key]
            if value.dtype != dtype or value.shape != tuple(shape):
                raise ValueError(f"{key} is {value.dtype} of shape {value.shape}, not {dtype} of shape {tuple(shape)}")
    return check


def _check_numbers(stored: dict) -> None:
    """Every entry a numeric array without NaN or infinity: no computation here stores anything else."""
    for key, value in stored.items():
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{key} is {value.dtype}, not numbers")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{key} holds NaN or infinity")


def _read(path: Path) -> bytes | None:
    """The bytes of a stored file, or None when there is none or it cannot be used (said in the log)."""
    try:
        return read_bounded(path, LIMIT)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:  # not a regular file, larger than LIMIT, unreadable
        _unusable(path, error)
        return None


def _header_fingerprint(data: bytes) -> str | None:
    """The fingerprint in a safetensors file's header, None when absent; ValueError when the header is torn."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise ValueError("its header runs past the end of the file")
    header = json.loads(data[8:8 + size])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    fingerprint = metadata.get("fingerprint") if isinstance(metadata, dict) else None
    return fingerprint if isinstance(fingerprint, str) else None


def _unusable(path: Path, error: BaseException) -> None:
    log.warning("page cache %s unusable (%s); computing it", path, first_line(error))


def prune(folder: str | os.PathLike, fingerprint: str) -> list[str]:
    """Delete the files in ``folder`` that belong to another fingerprint (an earlier checkpoint) or cannot be
    read; returns their names."""
    removed = []
    for path in sorted(Path(folder).glob("*")) if Path(folder).is_dir() else []:
        try:
            stored = (read_json(path, dict, limit=LIMIT).get("fingerprint") if path.suffix == ".json"
                      else _header_fingerprint(read_bounded(path, LIMIT)))
        except Exception:  # noqa: BLE001 - unreadable in any way (a torn file, a Git LFS pointer): not ours to keep
            stored = None
        if stored != fingerprint:
            path.unlink()
            removed.append(path.name)
    return removed


def _target(name: str, fingerprint: str, write_to, suffix: str) -> Path:
    """Where a new result goes: ``write_to``'s page_cache/ when it is a CheckpointFolder (scripts/page_cache.py, a
    live run's models), the folder ``write_to`` when it is a path, else the user's cache by fingerprint."""
    if isinstance(write_to, CheckpointFolder):
        folder = write_to.page_cache_dir
    else:
        folder = Path(write_to) if write_to is not None else user_folder(fingerprint)
    return folder / _file_name(name, suffix)


def _store(path: Path, serialize: Callable[[], bytes], refusals: tuple[type[BaseException], ...],
           owner: CheckpointFolder | None = None) -> None:
    """Write ``serialize()`` to ``path`` (atomically: a failed write leaves no file, not even a temporary one), through
    ``owner`` when the file is a checkpoint folder's. Nothing raises: a value that cannot be stored, a full disk or
    a read-only folder (a Space image, a shared install) only means computing again next time, said once per file."""
    try:
        data = serialize()
        if len(data) > LIMIT:
            raise ValueError(f"{len(data):,} bytes, over the {LIMIT:,} a page cache file may have")
    except refusals as error:
        _not_written(path, error)
        return
    try:
        if owner is not None:  # a checkpoint folder writes its own files
            owner.write_page_cache(path.name, data)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, data)
    except OSError as error:
        _not_written(path, error)


def _owner(write_to) -> CheckpointFolder | None:
    return write_to if isinstance(write_to, CheckpointFolder) else None


def _not_written(path: Path, error: BaseException) -> None:
    if str(path) not in _warned_unwritten:
        _warned_unwritten.add(str(path))
        log.warning("page cache %s not written (%s); the page computes it again next time", path, first_line(error))


# The pages' slow computations, named so that the app and scripts/page_cache.py store and find the same results.

def _shipped_in(model) -> Path | None:
    """The checkpoint folder the model was loaded from (``model.checkpoint``), where its results may be shipped."""
    folder = getattr(model, "checkpoint", None)
    return folder.path if folder is not None else None


def latent_map(model, images, method: str = "umap", seed: int = 0, write_to=None) -> np.ndarray:
    """The test codes of ``images`` (the first n test images, uint8) projected to 2-D: n x 2 float32."""
    from ..analysis.latent import encode_images, project

    def compute() -> dict:
        import torch

        return {"points": project(encode_images(model, torch.as_tensor(images)).numpy(), method, seed=seed)}
    name = f"map-{method}-{len(images)}-seed{seed}"
    check = expect_arrays({"points": (len(images), 2)}, np.float32)
    return arrays(name, model.fingerprint, compute, _shipped_in(model), write_to, check)["points"]


def latent_usage(model, images, split: str = "test", write_to=None) -> dict:
    """``vaegan_core.analysis.latent_usage.latent_usage`` of ``images`` (a whole split, uint8)."""
    from ..analysis import latent_usage as usage

    def compute() -> dict:
        import torch

        return usage.latent_usage(model, torch.as_tensor(images))
    return document(f"usage-{split}-{len(images)}", model.fingerprint, compute, _shipped_in(model),
                    write_to, _expect_usage(len(images), model.config.latent_dim))


def anomaly_scores(model, images, against: str, write_to=None) -> dict[str, np.ndarray]:
    """``vaegan_core.analysis.anomaly.anomaly_scores`` of ``images``: ``anomaly.detection_sets``' test images (``against`` =
    the model's dataset), another dataset's or a corruption of them, as ``against`` names (seed 0: the images of
    the stored diagnostics)."""
    from ..analysis import anomaly

    def compute() -> dict:
        import torch

        return anomaly.anomaly_scores(model, torch.as_tensor(images))
    check = expect_arrays({name: (len(images),) for name in anomaly.available_scores(model)}, np.float64)
    return arrays(f"scores-{against}-{len(images)}-seed0", model.fingerprint, compute, _shipped_in(model),
                  write_to, check)


def reconstruction_errors(model, images, write_to=None) -> np.ndarray:
    """The mean squared error per pixel of each image's reconstruction decode(mu(x)) (``images``: the first n test
    images, uint8): the Reconstruction page's worst-first gallery. n floats."""
    from ..analysis.latent import reconstruct_with_error

    def compute() -> dict:
        import torch

        return {"errors": reconstruct_with_error(model, torch.as_tensor(images))[1].numpy()}
    check = expect_arrays({"errors": (len(images),)}, np.float32)
    return arrays(f"recon-errors-{len(images)}", model.fingerprint, compute, _shipped_in(model),
                  write_to, check)["errors"]


def _expect_usage(n: int, latent_dim: int) -> Check:
    """A ``check`` for a stored ``latent_usage``: its counts, per-dimension lists and numbers as the function
    makes them for ``n`` images and ``latent_dim`` dimensions (the Latent space page indexes them by dimension)."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    def check(usage) -> None:
        if not isinstance(usage, dict):
            raise ValueError(f"it holds a {type(usage).__name__}, not a dict")
        if usage.get("n") != n or usage.get("latent_dim") != latent_dim:
            raise ValueError(f"it is for {usage.get('n')} images of {usage.get('latent_dim')} dimensions, not "
                             f"{n} of {latent_dim}")
        for key in ("kl_per_dim", "kl_share", "activity"):
            values = usage.get(key)
            if not isinstance(values, list) or len(values) != latent_dim or not all(map(number, values)):
                raise ValueError(f"{key} is not {latent_dim} finite numbers")
        active = usage.get("active")
        if not isinstance(active, list) or len(active) != latent_dim or not all(isinstance(a, bool) for a in active):
            raise ValueError(f"active is not {latent_dim} true/false values")
        if usage.get("active_units") != sum(active) or isinstance(usage.get("active_units"), bool):
            raise ValueError("active_units is not the count of active dimensions")
        order = usage.get("order")
        if not isinstance(order, list) or sorted(order) != list(range(latent_dim)) \
                or not all(isinstance(index, int) and not isinstance(index, bool) for index in order):
            raise ValueError(f"order is not the dimensions 0 to {latent_dim - 1}")
        if not number(usage.get("kl_total")) or not number(usage.get("threshold")):
            raise ValueError("kl_total or threshold is not a finite number")
    return check

