"""Datasets as tensors: MNIST and Fashion-MNIST from IDX files, and scikit-learn's digits.

``load_dataset(name, split)`` returns ``(images, labels)``: a ``uint8`` tensor
``N x 1 x 28 x 28`` and an ``int64`` tensor ``N`` (``dtype=torch.float32``: images float in
[0, 1], what every model takes). IDX files are read by the small
parser below, which checks magic numbers and sizes so that a truncated or corrupt
file is an error naming that file, never a silently short dataset.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

from ..config import DATASETS, SPLITS
from ..errors import ConfigError, DatasetError, first_line
from .folder_cache import load_folder
from .folders import is_folder
from ..storage.paths import bundled_data_dir, user_cache_dir  # noqa: F401  (user_cache_dir: its old home, still imported)

CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "digits": [str(digit) for digit in range(10)],
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}

# Folder names inside a data root: ours (as written by fetch-datasets) and torchvision's.
_FOLDERS = {
    "mnist": ("mnist", os.path.join("MNIST", "raw")),
    "fashion-mnist": ("fashion-mnist", os.path.join("FashionMNIST", "raw")),
}
_FILE_PREFIX = {"train": "train", "test": "t10k"}
_IDX_UBYTE = 0x08
_DOWNLOAD_HOST = ("ossci-datasets.s3.amazonaws.com", 443)


def default_cache_dir() -> Path:
    """Where downloads go when no root is given: ``$XDG_CACHE_HOME/vaegan-data`` or ``~/.cache/vaegan-data``."""
    return user_cache_dir() / "vaegan-data"


def load_dataset(name: str, split: str = "train", root: str | os.PathLike | None = None,
                 image_size: int | None = None, channels: int | None = None, progress: bool = False, *,
                 dtype: torch.dtype = torch.uint8) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a dataset split as ``(images N x 1 x 28 x 28, labels int64 N)``, CPU tensors.

    ``dtype``: ``torch.uint8`` (the default) gives the pixels 0-255 as stored; a float dtype (``torch.float32``,
    ``float16``, ``bfloat16``, ``float64``) gives them divided by 255, in [0, 1]: what ``encode``, ``reconstruct``
    and the Trainer take (four times the memory of uint8 for float32).

    ``folder:PATH`` is an image folder (``vaegan_core.training.folders``): N x channels x image_size x image_size,
    memory-mapped from its decoded cache (``root`` plays no part; ``progress``: a bar while decoding).

    Root lookup: ``root`` if given (and nothing else); otherwise ``$VAEGAN_DATA_DIR``,
    then the download cache, then (test split only) the copy shipped in ``checkpoints/data``,
    then a torchvision download into the cache when online.
    ``digits`` (scikit-learn's 1,797 8x8 digits, scaled to 28x28) needs no files at all.
    """
    if dtype != torch.uint8 and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ConfigError(f"dtype must be torch.uint8 (pixels 0-255) or a float dtype such as torch.float32 (images "
                          f"in [0, 1]), got {dtype!r}")
    images, labels = _load_uint8(name, split, root, image_size, channels, progress)
    if dtype != torch.uint8:
        images = images.to(dtype).div_(255.0)
    return images, labels


def _load_uint8(name: str, split: str, root, image_size, channels, progress) -> tuple[torch.Tensor, torch.Tensor]:
    """``load_dataset`` as stored: uint8 images and int64 labels."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose 'train' or 'test'")
    if is_folder(name):
        return load_folder(name, split, image_size, channels, progress)
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or folder:PATH")
    if name == "digits":
        return _load_digits(split)

    if root is not None:
        search = [Path(root)]
    else:
        search = [Path(p) for p in [os.environ.get("VAEGAN_DATA_DIR")] if p] + [default_cache_dir()]
        if split == "test":
            search.append(bundled_data_dir())
    for folder in search:
        found = _find_idx_pair(folder, name, split)
        if found is not None:
            return _checked_split(name, split, folder, *_read_pair(*found))

    if root is None and _online():
        _download_with_torchvision(name, default_cache_dir())
        found = _find_idx_pair(default_cache_dir(), name, split)
        if found is not None:
            return _checked_split(name, split, default_cache_dir(), *_read_pair(*found))

    images_file, labels_file = _file_names(split)
    where = " or ".join(str(folder / _FOLDERS[name][0]) for folder in search)
    raise DatasetError(
        f"{name} {split} split not found: put {images_file}.gz and {labels_file}.gz into {where} "
        f"(or point VAEGAN_DATA_DIR at a folder holding {_FOLDERS[name][0]}/); "
        "no internet connection for a download"
    )


# The test splits every shipped figure was measured on (metrics.json, the reference statistics, the collapse studies,
# the page caches): the copies shipped in checkpoints/data, by content (split_fingerprint). Fashion-MNIST's is the
# class-balanced split of the 70,000 images that ../shared/data/fetch-datasets writes, not the official one a
# torchvision download brings (docs/data.md); a test split with other content is said, never used silently.
CANONICAL_TEST_SPLITS = {"mnist": "a0863a96c44e5666", "fashion-mnist": "a232e4226ba49384"}
_checked_splits: set[tuple[str, str]] = set()  # (folder, name): each checked once per process


def split_fingerprint(images: torch.Tensor, labels: torch.Tensor) -> str:
    """The content of a split (uint8 images and int64 labels, in order): sha256, first 16 hex digits."""
    import hashlib

    digest = hashlib.sha256(images.contiguous().numpy().tobytes())
    digest.update(labels.to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _checked_split(name: str, split: str, folder: Path, images: torch.Tensor, labels: torch.Tensor):
    """The split as read; a test split whose content is not the one the shipped figures were made on gets one
    warning (once per folder and process): its scores will not match the stored ones."""
    expected = CANONICAL_TEST_SPLITS.get(name) if split == "test" else None
    if expected is not None and (str(folder), name) not in _checked_splits:
        _checked_splits.add((str(folder), name))
        found = split_fingerprint(images, labels)
        if found != expected:
            warnings.warn(f"the {name} test split in {folder} is not the one the shipped figures were measured on "
                          f"(content {found}, the shipped split's is {expected}): scores against it will differ "
                          f"from the stored ones; checkpoints/data/{name} holds the shipped split (docs/data.md)",
                          stacklevel=3)
    return images, labels


def _file_names(split: str) -> tuple[str, str]:
    prefix = _FILE_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_idx_pair(root: Path, name: str, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of a split under ``root``, plain or gzipped, or None."""
    for folder in _FOLDERS[name]:
        pair = []
        for stem in _file_names(split):
            candidates = [root / folder / (stem + ".gz"), root / folder / stem]
            path = next((c for c in candidates if c.is_file()), None)
            pair.append(path)
        if all(pair):
            return pair[0], pair[1]
    return None


def _read_pair(images_path: Path, labels_path: Path):
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.shape[0]} labels; "
            "re-fetch both files"
        )
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, expected 28x28")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path} holds label {labels.max()}, expected 0-9; the file is corrupt")
    images_tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    labels_tensor = torch.from_numpy(labels.astype(np.int64))
    return images_tensor, labels_tensor


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (plain or gzipped) into a uint8 array.

    Raises DatasetError naming the file when the magic number, the number of
    dimensions or the byte count does not match the header.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist") from None
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is not a readable gzip file ({error}); re-fetch it") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes (bad magic number); re-fetch it")
    dims_count = raw[3]
    if ndim is not None and dims_count != ndim:
        raise DatasetError(f"{path} has {dims_count} dimensions, expected {ndim}; is it the right file?")
    header = 4 + 4 * dims_count
    if len(raw) < header:
        raise DatasetError(f"{path} is truncated inside its header; re-fetch it")
    dims = struct.unpack(f">{dims_count}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DatasetError(f"{path} is {state} ({len(raw)} bytes, expected {expected}); re-fetch it")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _online(timeout: float = 2.0) -> bool:
    if os.environ.get("VAEGAN_OFFLINE") or os.environ.get("HF_HUB_OFFLINE"):
        return False
    try:
        with socket.create_connection(_DOWNLOAD_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _download_with_torchvision(name: str, cache: Path) -> None:
    from torchvision import datasets  # imported here: heavy, and only needed online

    dataset_class = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[name]
    try:
        for train in (True, False):
            dataset_class(root=str(cache), train=train, download=True)
    except Exception as error:  # network errors come in many types; the caller reports the missing files
        warnings.warn(f"torchvision download of {name} failed: {error}", stacklevel=2)


def splits_missing(name: str, root: str | os.PathLike) -> str | None:
    """None when both splits of ``name`` (mnist or fashion-mnist) load from ``root`` (and only there), else why
    not: the first split's error."""
    for split in SPLITS:
        try:
            _load_uint8(name, split, Path(root), None, None, False)
        except DatasetError as error:
            return str(error)
    return None


def download(name: str, root: str | os.PathLike) -> Path:
    """Download both splits of ``name`` (mnist or fashion-mnist) with torchvision and move its four IDX files into
    ``root/<name>/`` (the layout ``fetch-datasets`` writes and ``$VAEGAN_DATA_DIR`` holds); returns that folder.
    A failed download (no internet, ``VAEGAN_OFFLINE``) is one DatasetError saying where to put the files."""
    if name not in _FOLDERS:
        raise DatasetError(f"cannot download {name!r}; choose one of {', '.join(_FOLDERS)}")
    root = Path(root)
    folder = root / _FOLDERS[name][0]
    staging = root / f".download-{name}"  # torchvision's MNIST/raw layout, on the same disk: moves are renames
    try:
        reason = _torchvision_reason(name, staging)
        pairs = [_find_idx_pair(staging, name, split) for split in SPLITS]
        if None in pairs:
            files = ", ".join(f"{stem}.gz" for split in SPLITS for stem in _file_names(split))
            raise DatasetError(f"{name} could not be downloaded into {root} ({reason}): put its IDX "
                               f"files ({files}) into {folder}/, or point VAEGAN_DATA_DIR at a folder holding "
                               f"{_FOLDERS[name][0]}/ (see docs/data.md)")
        for pair in pairs:
            _read_pair(*pair)  # a damaged download is an error naming the file, before it replaces anything
        folder.mkdir(parents=True, exist_ok=True)
        for path in (path for pair in pairs for path in pair):
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _torchvision_reason(name: str, staging: Path) -> str:
    """Run torchvision's download of ``name`` into ``staging``; what went wrong, in one line, if anything did."""
    if os.environ.get("VAEGAN_OFFLINE") or os.environ.get("HF_HUB_OFFLINE"):
        return "downloads are off: VAEGAN_OFFLINE or HF_HUB_OFFLINE is set"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _download_with_torchvision(name, staging)
        except Exception as error:  # torchvision missing or broken: the caller's message says what to do instead
            return f"torchvision: {first_line(error)}"
    lines = [line.strip() for warning in caught for line in str(warning.message).splitlines() if line.strip()]
    return f"torchvision: {lines[-1]}; no internet?" if lines else "torchvision left no files"


def _load_digits(split: str):
    """scikit-learn's bundled digits, scaled like MNIST: the 8x8 digit fills a 20x20 box centred in 28x28."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0  # N x 1 x 8 x 8 in [0, 1]
    images = torch.nn.functional.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False)
    images = torch.nn.functional.pad(images, (4, 4, 4, 4))
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.from_numpy(bunch.target).long()
    indices = np.arange(len(labels))
    train_index, test_index = train_test_split(indices, test_size=0.2, random_state=0, stratify=bunch.target)
    chosen = np.sort(train_index if split == "train" else test_index)
    return images[chosen].contiguous(), labels[chosen].contiguous()
