"""Image folders as datasets: ``--dataset folder:PATH``.

A folder of images, or (as torchvision's ``ImageFolder`` has it) one sub-folder per class, which gives
the labels a conditional model needs. Every image is decoded once, centre-cropped to a square and
resized with antialiasing (PIL's ``ImageOps.fit``, Lanczos) to ``image_size``, in grey (1 channel) or
RGB (3), into a compact uint8 cache under ``$XDG_CACHE_HOME/vaegan-folders`` (or ``~/.cache``). Later
runs read the cache memory-mapped, so epochs never decode a JPEG again and a dataset larger than
memory is paged in from disk as batches ask for it instead of being loaded whole. The cache is keyed
by the folder's listing (names, sizes, modification times), the size and the channels: a changed
folder is decoded again and the stale cache removed.

Files that cannot be used (not an image, truncated, 0 bytes, CMYK, 16-bit) are skipped: the count and
the first few names with the reason go to a warning, never a crash. The split is fixed per file: an
image belongs to the test split when the CRC-32 of its path inside the folder is 0 modulo 10 (about
10 %), so adding images never moves old ones between the splits.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError
from .paths import user_cache_dir

PREFIX = "folder:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's list
TEST_SHARE = 10  # one image in TEST_SHARE (by the CRC-32 of its path) is a test image
SHOWN_SKIPS = 5  # names of skipped files in the warning
CACHE_VERSION = 1  # bump when the decoding changes, so that old caches are not reused


def is_folder(name: str) -> bool:
    """Whether a dataset name is an image folder (``folder:PATH``)."""
    return isinstance(name, str) and name.startswith(PREFIX)


def folder_path(name: str) -> Path:
    path = name[len(PREFIX):] if is_folder(name) else ""
    if not path:
        raise DatasetError("an image-folder dataset is written folder:PATH, e.g. --dataset folder:~/photos")
    return Path(os.path.expanduser(path))


def canonical(name: str) -> str:
    """``folder:`` with the absolute path (what config.json stores, so a run resumes from any directory)."""
    return PREFIX + str(folder_path(name).resolve())


def short_name(name: str) -> str:
    """The folder's own name, for labels and default output folders."""
    return folder_path(name).resolve().name or "folder"


def storage_name(name: str, image_shape: tuple[int, ...] | None = None) -> str:
    """A file-name-safe name of a dataset for caches of things computed from it (features of real images):
    the name itself for a built-in dataset; for a folder its name, path and listing (a changed folder gets a
    new name, so no stale features are reused) and the image shape (channels, size, size) when given."""
    if not is_folder(name):
        return name
    root = folder_path(name).resolve()
    short = "".join(c if c.isalnum() or c in "-_" else "_" for c in (root.name or "folder"))[:40]
    where = hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:8]
    shape = f"-{image_shape[-1]}px-{image_shape[0]}ch" if image_shape else ""
    return f"folder-{short}-{where}-{scan(root).fingerprint}{shape}"


@dataclass(frozen=True)
class Listing:
    files: tuple[str, ...]  # image files, relative to the root, sorted
    labels: tuple[int, ...]  # class index per file (0 everywhere when the folder has no class sub-folders)
    classes: tuple[str, ...]  # class sub-folder names, sorted; () for a flat folder
    ignored_top_level: int  # files directly in the root of a folder with class sub-folders (ImageFolder skips them)
    fingerprint: str  # of the names, sizes and modification times


def scan(root: Path) -> Listing:
    """The image files under ``root``: with class sub-folders when it has any, else the flat (recursive) listing."""
    if not root.is_dir():
        raise DatasetError(f"image folder {root} not found (or not a folder); pass --dataset folder:PATH with a "
                           "folder of images, optionally one sub-folder per class")
    visible = lambda entry: not entry.name.startswith(".")  # noqa: E731
    class_dirs = sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and visible(entry))
    files, labels, stats = [], [], []

    def walk(folder: Path, label: int) -> None:
        for current, dirs, names in os.walk(folder, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
                    continue
                path = Path(current) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                files.append(path.relative_to(root).as_posix())
                labels.append(label)
                stats.append(f"{files[-1]}\t{stat.st_size}\t{stat.st_mtime_ns}")

    ignored = 0
    with_images = [name for name in class_dirs if _has_images(root / name)]
    if with_images:
        for label, name in enumerate(with_images):
            walk(root / name, label)
        ignored = sum(1 for entry in os.scandir(root) if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES))
    else:
        walk(root, 0)
    if not files:
        raise DatasetError(f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)}); put the images there, or one "
                           "sub-folder of images per class")
    digest = hashlib.sha1("\n".join(stats).encode("utf-8")).hexdigest()[:16]
    return Listing(tuple(files), tuple(labels), tuple(with_images), ignored, digest)


def _has_images(folder: Path) -> bool:
    for _, _, names in os.walk(folder, followlinks=True):
        if any(name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".") for name in names):
            return True
    return False


def split_of(relative_path: str) -> str:
    return "test" if zlib.crc32(relative_path.encode("utf-8")) % TEST_SHARE == 0 else "train"


def decode(path: Path, image_size: int, channels: int) -> tuple[np.ndarray | None, str]:
    """One image as ``channels x image_size x image_size`` uint8, or ``(None, why it was skipped)``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            return None, "empty file"
        with Image.open(path) as image:
            if image.mode == "CMYK":
                return None, "CMYK colour (save it as RGB)"
            if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
                return None, f"{'16' if image.mode.startswith('I;16') else '32'}-bit pixels (save it as 8-bit)"
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "P", "PA"):  # transparency: composite over white, not black
                rgba = image.convert("RGBA")
                image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image.alpha_composite(rgba)
            image = image.convert("RGB" if channels == 3 else "L")
            image = ImageOps.fit(image, (image_size, image_size), method=Image.Resampling.LANCZOS)
            array = np.asarray(image, dtype=np.uint8)
    except UnidentifiedImageError:
        return None, "not an image"
    except Image.DecompressionBombError:
        return None, "too many pixels"
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return None, "truncated" if "truncated" in str(error).lower() else "unreadable"
    return (array[None] if channels == 1 else array.transpose(2, 0, 1)).copy(), ""


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
    stem = _cache_dir(root) / _stem(listing, image_size, channels)
    shape = (count, channels, image_size, image_size)
    images = np.memmap(f"{stem}-{split}.u8", dtype=np.uint8, mode="c", shape=shape)  # copy-on-write: paged in
    labels = np.asarray(meta["labels"][split], dtype=np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


def folder_classes(name: str) -> list[str]:
    """The class names of an image folder (its sub-folders), [] for a flat one."""
    return list(scan(folder_path(name).resolve()).classes)


def _cache_dir(root: Path) -> Path:
    return cache_root() / hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:16]


def _stem(listing: Listing, image_size: int, channels: int) -> str:
    return f"v{CACHE_VERSION}-{listing.fingerprint}-{image_size}px-{channels}ch"


def _ensure_cache(root: Path, listing: Listing, image_size: int, channels: int, progress: bool) -> dict:
    folder = _cache_dir(root)
    stem = _stem(listing, image_size, channels)
    meta_path = folder / f"{stem}.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if all((folder / f"{stem}-{s}.u8").is_file() for s in ("train", "test")):
                return meta
        except (OSError, ValueError):
            pass
    folder.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    outputs = {s: open(folder / f"{stem}-{s}.u8.tmp{os.getpid()}", "wb") for s in ("train", "test")}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    skipped: list[tuple[str, str]] = []
    try:
        for relative, label in tqdm(list(zip(listing.files, listing.labels)), disable=not progress, unit="image",
                                    desc=f"decoding {root.name}"):
            array, why = decode(root / relative, image_size, channels)
            if array is None:
                skipped.append((relative, why))
                continue
            split = split_of(relative)
            outputs[split].write(array.tobytes())
            labels[split].append(label)
    finally:
        for handle in outputs.values():
            handle.close()
    for split in ("train", "test"):
        os.replace(folder / f"{stem}-{split}.u8.tmp{os.getpid()}", folder / f"{stem}-{split}.u8")
    meta = {"root": str(root), "image_size": image_size, "channels": channels, "classes": list(listing.classes),
            "counts": {s: len(labels[s]) for s in labels}, "labels": labels,
            "skipped": [{"file": f, "why": w} for f, w in skipped], "ignored_top_level": listing.ignored_top_level}
    tmp = meta_path.with_name(meta_path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, meta_path)
    for stale in folder.iterdir():  # caches of an earlier state of the folder, at this size
        if stale.name.endswith((f"-{image_size}px-{channels}ch.json", f"-{image_size}px-{channels}ch-train.u8",
                                f"-{image_size}px-{channels}ch-test.u8")) and not stale.name.startswith(stem):
            stale.unlink(missing_ok=True)
    report_skips(root, meta)
    return meta


def report_skips(root: Path, meta: dict) -> None:
    skipped = meta.get("skipped", [])
    notes = []
    if skipped:
        shown = "; ".join(f"{item['file']}: {item['why']}" for item in skipped[:SHOWN_SKIPS])
        more = f" and {len(skipped) - SHOWN_SKIPS} more" if len(skipped) > SHOWN_SKIPS else ""
        notes.append(f"skipped {len(skipped)} of {len(skipped) + sum(meta['counts'].values())} files: {shown}{more}")
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
