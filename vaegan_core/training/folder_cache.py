"""The decoded cache of an image folder (``vaegan_core.training.folders`` lists and decodes it): ``load_folder``.

Every image is decoded once into a compact uint8 file per split under ``$VAEGAN_FOLDER_CACHE`` (default
``$XDG_CACHE_HOME/vaegan-folders``), keyed by the folder's listing, the size and the channels; later runs read it
memory-mapped. The description (JSON) is written last and checked on every read (counts, labels, sizes, the
pixel files' exact byte sizes): a damaged cache is said in one line and built again; a build that fails (a full
disk, Ctrl-C) removes all it wrote, and temporary files of killed runs are removed by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError, first_line
from ..storage.files import clean_temporaries, read_json, write_text_atomic
from .folders import CACHE_VERSION, SPLITS, SHOWN_SKIPS, TEST_SHARE, Listing, decode, folder_path, scan, split_of
from ..storage.paths import user_cache_dir


def cache_root() -> Path:
    return Path(os.environ.get("VAEGAN_FOLDER_CACHE") or user_cache_dir() / "vaegan-folders")


def load_folder(name: str, split: str, image_size: int | None, channels: int | None,
                progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images uint8 N x C x S x S, labels int64 N)`` of one split of an image folder (memory-mapped)."""
    if image_size is None or channels is None:
        raise DatasetError(f"{name}: an image folder needs the image size and channels of the model "
                           "(--image-size, --channels)")
    root = folder_path(name).resolve()
    listing = scan(root)
    meta = _ensure_cache(root, listing, image_size, channels, progress)
    count = meta["counts"][split]
    if count == 0:
        raise DatasetError(f"{root} has no {split} images after decoding (the test split is one image in "
                           f"{TEST_SHARE}); add images")
    path = _cache_dir(root) / f"{_stem(listing, image_size, channels)}-{split}.u8"
    try:  # checked by _ensure_cache; only a change since (another process) fails here
        images = np.memmap(path, dtype=np.uint8, mode="c", shape=(count, channels, image_size, image_size))
    except (OSError, ValueError) as error:
        raise DatasetError(f"the image cache {path} could not be read ({first_line(error)}); delete it and run "
                           "again") from None
    labels = np.asarray(meta["labels"][split], dtype=np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)  # copy-on-write memmap: paged in as batches ask


def _cache_dir(root: Path) -> Path:
    return cache_root() / hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:16]


def _stem(listing: Listing, image_size: int, channels: int) -> str:
    return f"v{CACHE_VERSION}-{listing.fingerprint}-{image_size}px-{channels}ch"


def _ensure_cache(root: Path, listing: Listing, image_size: int, channels: int, progress: bool) -> dict:
    folder = _cache_dir(root)
    stem = _stem(listing, image_size, channels)
    # temporaries of earlier runs killed while writing the cache; a live writer's stay (another run building the
    # same cache now), and ours are removed by _build_cache itself
    clean_temporaries(folder, every_name=True)
    meta, damage = _read_cache(folder, stem, listing, image_size, channels)
    if meta is not None:
        return meta
    if damage:
        warnings.warn(f"the image cache {damage}; decoding the folder again", stacklevel=3)
    meta = _build_cache(root, listing, folder, stem, image_size, channels, progress)
    for stale in _entries(folder):  # caches of an earlier state of the folder, at this size
        if stale.name.endswith((f"-{image_size}px-{channels}ch.json", f"-{image_size}px-{channels}ch-train.u8",
                                f"-{image_size}px-{channels}ch-test.u8")) and not stale.name.startswith(stem):
            _unlink_quietly(stale.path)
    report_skips(root, meta)
    return meta


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as found:
            return list(found)
    except OSError:  # no cache folder yet, or one we cannot list: nothing to tidy
        return []


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:  # gone already, or not ours to remove: tidying never fails a run
        pass


def _natural(value) -> bool:
    return type(value) is int and value >= 0  # bool is an int subclass: True is no count


def _notes_ok(value, key: str) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) and isinstance(item.get(key), str)
                                           and isinstance(item.get("why"), str) for item in value)


def _read_cache(folder: Path, stem: str, listing: Listing, image_size: int,
                channels: int) -> tuple[dict | None, str]:
    """``(meta, "")`` of a sound cache; ``(None, "")`` when there is none; ``(None, what is wrong, naming the
    file)`` when it is damaged (a truncated .u8, a description with wrong counts): then it is rebuilt."""
    meta_path = folder / f"{stem}.json"
    try:
        meta = read_json(meta_path, expect=dict)
    except FileNotFoundError:  # never built, or killed before the description (written last) was in place
        return None, ""
    except (OSError, ValueError) as error:  # JSONFileError is a ValueError: not JSON, too large, not a file
        return None, f"{meta_path} is damaged ({first_line(error)})"
    counts, labels, classes = meta.get("counts"), meta.get("labels"), list(listing.classes)
    if (meta.get("image_size") != image_size or meta.get("channels") != channels or meta.get("classes") != classes
            or not _natural(meta.get("ignored_top_level")) or not _notes_ok(meta.get("skipped"), "file")
            or not _notes_ok(meta.get("not_followed", []), "folder")):
        return None, f"{meta_path} is damaged (its size, channels, classes or skip lists do not match)"
    for split in SPLITS:
        count = counts.get(split) if isinstance(counts, dict) else None
        split_labels = labels.get(split) if isinstance(labels, dict) else None
        if not _natural(count) or not isinstance(split_labels, list) or len(split_labels) != count:
            return None, f"{meta_path} is damaged (the {split} count is not the number of its labels)"
        if not all(type(label) is int and 0 <= label < max(1, len(classes)) for label in split_labels):
            return None, f"{meta_path} is damaged (a {split} label is not a class index)"
        pixels = folder / f"{stem}-{split}.u8"
        expected = count * channels * image_size * image_size
        try:
            info = os.stat(pixels)
        except OSError as error:
            return None, f"{pixels} is missing ({error.strerror or first_line(error)})"
        if not stat.S_ISREG(info.st_mode) or info.st_size != expected:
            return None, f"{pixels} is damaged ({info.st_size:,} bytes where {count} images take {expected:,})"
    return meta, ""


def _append(handle, array: np.ndarray) -> None:
    handle.write(array.tobytes())


def _cache_error(path: Path, error: OSError) -> DatasetError:
    return DatasetError(f"could not write the image cache {path}: {error.strerror or first_line(error)}; make room "
                        "there (or let it be written), or set VAEGAN_FOLDER_CACHE to another folder")


def _build_cache(root: Path, listing: Listing, folder: Path, stem: str, image_size: int, channels: int,
                 progress: bool) -> dict:
    """Decode every listed image into ``STEM-train.u8`` / ``STEM-test.u8`` and describe them in ``STEM.json``
    (written last: its presence says the pixels are complete). Whatever ends the build early (a full disk,
    Ctrl-C) leaves no file of it behind; a failed write is a DatasetError naming the file."""
    from tqdm.auto import tqdm

    meta_path = folder / f"{stem}.json"
    targets = {split: folder / f"{stem}-{split}.u8" for split in SPLITS}
    temporaries = {split: path.with_name(f".{path.name}.tmp{os.getpid()}") for split, path in targets.items()}
    labels: dict[str, list[int]] = {split: [] for split in SPLITS}
    skipped = list(listing.skipped)
    handles: dict = {}
    where, complete = folder, False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        where = meta_path
        meta_path.unlink(missing_ok=True)  # a damaged description must not outlive the pixels it described
        for split in SPLITS:
            where = targets[split]
            handles[split] = open(temporaries[split], "wb")
        for relative, label in tqdm(list(zip(listing.files, listing.labels)), disable=not progress, unit="image",
                                    desc=f"decoding {root.name}"):
            array, why = decode(root / relative, image_size, channels)
            if array is None:
                skipped.append((relative, why))
                continue
            split = split_of(relative)
            where = targets[split]
            _append(handles[split], array)
            labels[split].append(label)
        for split in SPLITS:
            where = targets[split]
            handles.pop(split).close()  # a full disk may only show when the last buffer is flushed
            os.replace(temporaries[split], targets[split])
        meta = {"root": str(root), "image_size": image_size, "channels": channels, "classes": list(listing.classes),
                "counts": {split: len(labels[split]) for split in SPLITS}, "labels": labels,
                "skipped": [{"file": file, "why": why} for file, why in skipped],
                "not_followed": [{"folder": path, "why": why} for path, why in listing.not_followed],
                "ignored_top_level": listing.ignored_top_level}
        where = meta_path
        write_text_atomic(meta_path, json.dumps(meta))
        complete = True
    except OSError as error:
        raise _cache_error(where, error) from None
    finally:
        for handle in handles.values():
            try:
                handle.close()
            except OSError:  # the write already failed: its error is the one to report
                pass
        if not complete:  # interrupted or failed: pixels without their description are of no use to anyone
            for path in [*temporaries.values(), *targets.values()]:
                _unlink_quietly(path)
    return meta


def _first_few(items: list[dict], key: str) -> str:
    shown = "; ".join(f"{item[key]}: {item['why']}" for item in items[:SHOWN_SKIPS])
    return shown + (f" and {len(items) - SHOWN_SKIPS} more" if len(items) > SHOWN_SKIPS else "")


def report_skips(root: Path, meta: dict) -> None:
    skipped, not_followed = meta.get("skipped", []), meta.get("not_followed", [])
    notes = []
    if skipped:
        total = len(skipped) + sum(meta["counts"].values())
        notes.append(f"skipped {len(skipped)} of {total} files: {_first_few(skipped, 'file')}")
    if not_followed:
        notes.append(f"did not enter {len(not_followed)} folder(s): {_first_few(not_followed, 'folder')}")
    used = {label for split in SPLITS for label in meta["labels"][split]}
    empty = [f"class {name} (label {index}) has no images" for index, name in enumerate(meta["classes"])
             if index not in used]
    if empty:
        notes.append(", ".join(empty) + ": kept, so that the labels of the others stay as they are")
    if meta.get("ignored_top_level"):
        notes.append(f"ignored {meta['ignored_top_level']} image(s) directly in the folder: with class sub-folders, "
                     "only their images are used")
    if notes:
        warnings.warn(f"{root}: " + "; ".join(notes), stacklevel=3)


def summary(name: str, image_size: int, channels: int) -> dict:
    """What a decoded folder holds (after ``load_folder`` built its cache): counts, classes, skipped files."""
    root = folder_path(name).resolve()
    listing = scan(root)
    meta = _ensure_cache(root, listing, image_size, channels, progress=False)
    return {key: meta[key] for key in ("root", "image_size", "channels", "classes", "counts", "skipped")}
