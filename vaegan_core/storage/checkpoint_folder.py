"""One checkpoint folder as one object: the owner of its files (see ``paths`` for their names).

``CheckpointFolder(path)`` reads the config as plain JSON, the training logs, the scores and diagnostics of
``vaegan eval`` (metrics.json), the sample grids, and the content fingerprint that keys every cache of work derived
from the model. It is the one writer of the folder's files too: config, weights and trainer state
(``checkpoint.save_checkpoint``), the model card (``card``), the latent GMM (``models.prior``), the training logs
(the Trainer), metrics.json (read afresh and updated, never overwritten blindly) and the page cache; every write but
a log's append is atomic (``files.atomic_write``). No torch at import: the apps list and describe checkpoints
without it (the writers of tensors import it when called). ``checkpoint.load_model`` builds the model from the same
folder and gives the model its folder (``model.checkpoint``), so nothing else attaches paths to a model.

    folder = CheckpointFolder("checkpoints/mnist/vaegan")
    folder.metrics()        # {"lenet-test": {...}, ...}: results only
    folder.diagnostics()    # latent usage, anomaly AUCs, memorisation
    folder.fingerprint()    # sha256 prefix of config, weights and latent GMM
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from .files import JSONFileError, atomic_write, read_bounded, read_json, write_bytes_atomic, write_text_atomic
from .paths import (CONFIG_FILE, GMM_GRID_FILE, HISTORY_FILE, LATENT_GMM_FILE, METRICS_FILE, MODEL_CARD_FILE,
                    QUALITY_FILE, SAMPLES_DIR, TRAINER_STATE_FILE, WEIGHTS_FILE)

DIAGNOSTICS_KEY = "diagnostics"  # metrics.json's entry for vaegan_core.analysis.diagnostics, beside the scores
JSONL_LIMIT = 256 * 2**20  # a training log: about 100 bytes a logged step
PAGE_CACHE_DIR = "page_cache"  # the pages' slow results shipped with a checkpoint (vaegan_core.storage.page_cache)


class CheckpointFolder:
    """The files of one checkpoint folder. Readers never raise for a missing or damaged optional file (a log, the
    scores: a view is never a reason to stop); ``stored_results`` and ``store_results`` do, since a write must not
    lose what is there."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"CheckpointFolder({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, CheckpointFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # ------------------------------------------------------------------ what is there
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def weights_file(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def card_file(self) -> Path:
        return self.path / MODEL_CARD_FILE

    @property
    def gmm_file(self) -> Path:
        return self.path / LATENT_GMM_FILE

    @property
    def page_cache_dir(self) -> Path:
        return self.path / PAGE_CACHE_DIR

    @property
    def trainer_state_file(self) -> Path:
        return self.path / TRAINER_STATE_FILE

    @property
    def history_file(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def quality_file(self) -> Path:
        return self.path / QUALITY_FILE

    @property
    def gmm_grid_file(self) -> Path:
        """``samples/gmm.png``: 64 samples of the latent GMM prior (``models.prior.save_gmm_grid``)."""
        return self.path / SAMPLES_DIR / GMM_GRID_FILE

    def sample_grid_file(self, epoch: int) -> Path:
        """``samples/epoch_NNN.png``: the fixed noise batch's grid after ``epoch`` (what ``sample_grids`` lists)."""
        return self.path / SAMPLES_DIR / f"epoch_{epoch:03d}.png"

    def exists(self) -> bool:
        """Whether the folder holds a checkpoint (its config and weights)."""
        return self.config_file.is_file() and self.weights_file.is_file()

    # ------------------------------------------------------------------ fingerprints
    def fingerprint(self, names=(CONFIG_FILE, WEIGHTS_FILE, LATENT_GMM_FILE)) -> str:
        """sha256 (first 16 hex digits) of the config, weights and latent GMM (those of ``names`` that exist): a
        cache key that changes with the content. Hashed once per (file size, modification time), so asking on every
        page rerun costs a ``stat``."""
        stamps = []
        for name in names:
            path = self.path / name
            if path.is_file():
                stat = path.stat()
                stamps.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
        return _hash_files(tuple(stamps))

    def evaluated_fingerprint(self, prior: str = "normal") -> str:
        """The fingerprint of what a ``vaegan eval`` with this prior scored: config and weights, and the latent GMM
        when it sampled from it. Stored in metrics.json; a mismatch later means a stale score."""
        return self.fingerprint((CONFIG_FILE, WEIGHTS_FILE) + ((LATENT_GMM_FILE,) if prior == "gmm" else ()))

    def is_stale(self, result: dict[str, Any]) -> bool:
        """Whether a stored ``vaegan eval`` result scored other files than the folder holds now (results written
        before fingerprints were stored cannot tell, and count as current)."""
        stored = result.get("checkpoint_fingerprint")
        return stored is not None and stored != self.evaluated_fingerprint(result.get("prior", "normal"))

    # ------------------------------------------------------------------ readers for people and apps
    def config_json(self) -> dict[str, Any]:
        """``config.json`` as plain JSON (no checking, no torch): for listings; ``checkpoint.read_config`` checks it."""
        try:
            return read_json(self.config_file, dict)
        except (OSError, JSONFileError):
            return {}

    def class_names(self) -> list[str] | None:
        """The class names stored when the model was trained (an image folder's), or None."""
        names = (self.config_json().get("state") or {}).get("class_names")
        if isinstance(names, list) and names and all(isinstance(name, str) for name in names):
            return list(names)
        return None

    def _weights_header(self) -> dict:
        """The JSON header of ``model.safetensors`` (tensor shapes and ``__metadata__``), read alone; {} for a header
        size no safetensors file has. An unreadable file raises (OSError, ValueError)."""
        with open(self.weights_file, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 0 < size < 100_000_000:
                return {}
            header = json.loads(handle.read(size))
        return header if isinstance(header, dict) else {}

    def stored_values(self) -> int:
        """Number of values in ``model.safetensors`` (parameters and buffers), read from its JSON header alone."""
        total = 0
        for name, entry in self._weights_header().items():
            if name != "__metadata__":
                count = 1
                for dimension in entry.get("shape", []):
                    count *= dimension
                total += count
        return total

    def weights_metadata(self) -> dict[str, str]:
        """The text metadata of ``model.safetensors`` (its epoch, ...), read from its header alone; {} when the file
        is missing or unreadable (loading it says why)."""
        try:
            found = self._weights_header().get("__metadata__")
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def history(self) -> list[dict[str, Any]]:
        """The lines of ``history.jsonl`` as dicts: the one reader of the file (the apps, ``vaegan info`` and
        ``train --resume``). A line that is not a JSON object (a torn last line from a run killed mid-write, bytes
        that are not UTF-8) is skipped."""
        return _read_jsonl(self.history_file)

    def quality(self) -> list[dict[str, Any]]:
        """The lines of ``quality.jsonl`` (``vaegan train --track-fid``): per epoch the training seconds so far and
        the domain FID against the train split. Lines without those numbers are skipped like torn ones."""
        return [row for row in _read_jsonl(self.quality_file)
                if all(isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool)
                       for key in ("epoch", "step", "train_seconds", "fid_domain_train"))]

    def _metrics_json(self) -> dict[str, Any]:
        try:
            return read_json(self.metrics_file, dict) if self.metrics_file.is_file() else {}
        except (OSError, JSONFileError):
            return {}

    def metrics(self) -> dict[str, Any]:
        """The results of ``vaegan eval`` in ``metrics.json`` by key (``lenet-test``, ``inception-test-gmm``, ...),
        or {} when there is none or it is unreadable; entries that are not results are left out."""
        return {key: result for key, result in self._metrics_json().items()
                if isinstance(result, dict) and key != DIAGNOSTICS_KEY}

    def result(self, extractor: str, split: str = "test", prior: str = "normal") -> dict[str, Any] | None:
        """One stored result of ``vaegan eval`` (``metrics_key``), or None."""
        return self.metrics().get(metrics_key(extractor, split, prior))

    def diagnostics(self) -> dict[str, Any]:
        """The diagnostics ``vaegan eval`` stored in ``metrics.json`` (latent usage, anomaly AUCs, memorisation; see
        ``vaegan_core.analysis.diagnostics``), or {} when there are none or the file is unreadable."""
        found = self._metrics_json().get(DIAGNOSTICS_KEY)
        return found if isinstance(found, dict) else {}

    def sample_grids(self) -> list[Path]:
        """The per-epoch sample grids ``samples/epoch_NNN.png``, in epoch order."""
        return sorted((self.path / SAMPLES_DIR).glob("epoch_*.png"))

    # ------------------------------------------------------------------ metrics.json, written
    def stored_results(self) -> dict[str, Any]:
        """Everything in ``metrics.json`` (results by key, and the diagnostics), or {} when there is none; a file
        that is not what ``vaegan eval`` writes raises CheckpointError (before hours of work would overwrite it)."""
        path = self.metrics_file
        if not path.is_file():
            return {}
        try:
            stored = read_json(path, dict)
        except JSONFileError as error:
            raise CheckpointError(f"{path} is not the results `vaegan eval` writes ({error}); move it away and run "
                                  "again") from None
        malformed = sorted(str(key) for key, result in stored.items() if not isinstance(result, dict))
        if malformed:
            raise CheckpointError(f"{path}: the entries {', '.join(malformed)[:80]} are not results; move the file "
                                  "away and run again")
        return stored

    def store_results(self, entries: dict[str, Any], earlier: dict[str, Any] | None = None) -> dict[str, Any]:
        """Put ``entries`` into ``metrics.json``, read afresh just before: another ``vaegan eval`` of the same
        folder (the other prior or extractor, at the same time) may have stored its scores meanwhile. Where the file
        can no longer be read, ``earlier`` (its content when the work began) takes its place: the new scores are
        kept either way. Returns what the file holds now."""
        try:
            stored = self.stored_results()
        except CheckpointError:
            stored = dict(earlier or {})
        stored.update(entries)
        write_text_atomic(self.metrics_file, json.dumps(stored, indent=2) + "\n")
        return stored

    # ------------------------------------------------------------------ the other files, written
    # The folder must exist (``save_checkpoint`` and the Trainer make it); a write that fails is a WriteError naming
    # the file, whose previous version is kept (``files.atomic_write``).
    def write_config(self, config: dict[str, Any]) -> None:
        """``config.json``: ``config`` (what ``checkpoint.save_checkpoint`` assembles) as indented JSON."""
        write_text_atomic(self.config_file, json.dumps(config, indent=2) + "\n")

    def write_weights(self, tensors: dict, metadata: dict[str, str]) -> None:
        """``model.safetensors``: ``tensors`` ({name: contiguous CPU torch tensor}) with the text ``metadata``."""
        _write_safetensors(self.weights_file, tensors, metadata)

    def write_trainer_state(self, state: dict[str, Any]) -> None:
        """``trainer_state.pt``: optimizers, noise and counters for --resume (tensors and plain values only, so
        ``torch.load(weights_only=True)`` reads it)."""
        import torch

        atomic_write(self.trainer_state_file, lambda temporary: torch.save(state, temporary))

    def write_card(self, text: str) -> None:
        """``README.md``: the model card ``card.write_model_card`` generates."""
        write_text_atomic(self.card_file, text)

    def write_gmm(self, tensors: dict, metadata: dict[str, str]) -> Path:
        """``latent_gmm.safetensors``: the tensors of a ``models.prior.LatentGMM`` with its text ``metadata``;
        returns the file's path."""
        _write_safetensors(self.gmm_file, tensors, metadata)
        return self.gmm_file

    def history_log(self) -> "JsonlLog":
        """``history.jsonl`` open for appending (created when missing): the Trainer's log for a whole run."""
        return JsonlLog(self.history_file)

    def append_history(self, row: dict[str, Any]) -> None:
        """One line appended to ``history.jsonl``."""
        with self.history_log() as log:
            log.append(row)

    def append_quality(self, row: dict[str, Any]) -> None:
        """One line appended to ``quality.jsonl`` (``vaegan train --track-fid``: an epoch's domain FID)."""
        with JsonlLog(self.quality_file) as log:
            log.append(row)

    def rewrite_history(self, rows: list[dict[str, Any]]) -> None:
        """``history.jsonl`` replaced by ``rows`` (a resumed run drops the lines logged after its checkpoint)."""
        write_text_atomic(self.history_file, _jsonl(rows))

    def rewrite_quality(self, rows: list[dict[str, Any]]) -> None:
        """``quality.jsonl`` replaced by ``rows``."""
        write_text_atomic(self.quality_file, _jsonl(rows))

    def write_page_cache(self, name: str, data: bytes) -> Path:
        """``page_cache/NAME``: one stored result of the pages (``page_cache`` names and serializes it); page_cache/ is
        made when missing, the checkpoint folder never (a FileNotFoundError: a live run's copy removed while a page
        computed must not come back). Returns the file's path."""
        if not name or Path(name).name != name:
            raise ValueError(f"{name!r} is not a file name")
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is gone: its page result is not stored")
        path = self.page_cache_dir / name
        path.parent.mkdir(exist_ok=True)
        write_bytes_atomic(path, data)
        return path


class JsonlLog:
    """A training log of a checkpoint folder (``history.jsonl``, ``quality.jsonl``) open for appending, created when
    missing: ``append(row)`` writes one JSON line and flushes it, so a reader during the run sees every whole line (a
    run killed mid-line leaves a torn last line, which ``CheckpointFolder``'s readers skip). ``with`` closes it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._handle = open(self.path, "a", encoding="utf-8")

    def append(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "JsonlLog":
        return self

    def __exit__(self, *exception) -> None:
        self.close()


def metrics_key(extractor: str, split: str = "test", prior: str = "normal") -> str:
    """Where ``vaegan eval`` stores a result in metrics.json: ``lenet-test``, ``inception-test-gmm``, ..."""
    return f"{extractor}-{split}" + ("" if prior == "normal" else f"-{prior}")


@functools.lru_cache(maxsize=256)
def _hash_files(stamps: tuple) -> str:
    digest = hashlib.sha256()
    for path, _, _ in stamps:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _jsonl(rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def _write_safetensors(path: Path, tensors: dict, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file  # imports torch: only when tensors are written

    atomic_write(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, torn or foreign lines skipped; a file that is not a regular file or is
    over ``JSONL_LIMIT`` bytes is read as empty (a log is a view, never a reason to stop)."""
    try:
        data = read_bounded(path, JSONL_LIMIT)
    except OSError:  # missing, unreadable, a FIFO or device, or too large
        return []
    rows = []
    for line in data.splitlines():
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows
