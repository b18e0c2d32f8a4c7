"""Image folders as datasets: ``--dataset folder:PATH``.

A folder of images, or (as torchvision's ``ImageFolder`` has it) one sub-folder per class, which gives
the labels a conditional model needs. Every image is decoded once, centre-cropped to a square and
resized with antialiasing (PIL's ``ImageOps.fit``, Lanczos) to ``image_size``, in grey (1 channel) or
RGB (3), into a compact uint8 cache under ``$XDG_CACHE_HOME/vaegan-folders`` (or ``~/.cache``). Later
runs read the cache memory-mapped, so epochs never decode a JPEG again and a dataset larger than
memory is paged in from disk as batches ask for it instead of being loaded whole. The cache is keyed
by the folder's listing (names, sizes, modification times, classes), the size and the channels: a changed
folder is decoded again and the stale cache removed; a damaged cache is noticed, said and rebuilt.

Nothing outside the folder is read: the walk follows a link only to a place inside the folder, enters
each real folder once and never a link back into a folder above it, so a link loop cannot make it endless.
Only regular files are opened (never a FIFO or a device), each under a size limit, and an image is refused
from its header when it has more pixels than ``MAX_MEGAPIXELS``. Every class sub-folder is a class, an
empty one too, so that labels do not shift when a folder is empty. Files that cannot be used (not an
image, truncated, 0 bytes, CMYK, 16-bit, too large) and links not followed are skipped: the count and the
first few names with the reason go to a warning, never a crash. The split is fixed per file: an image
belongs to the test split when the CRC-32 of its path inside the folder is 0 modulo 10 (about 10 %), so
adding images never moves old ones between the splits.
"""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError, first_line

PREFIX = "folder:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's list
TEST_SHARE = 10  # one image in TEST_SHARE (by the CRC-32 of its path) is a test image
SHOWN_SKIPS = 5  # names of skipped files in the warning
CACHE_VERSION = 2  # bump when the decoding changes, so that old caches are not reused (2: empty classes, limits)
SPLITS = ("train", "test")
# Pixels an image may have (after a JPEG's reduced decoding, Image.draft). Higher than uploads' 8: a folder
# holds camera photos (12-24 megapixels in PNG, WebP or TIFF are common) and one image is decoded at a time;
# 40 megapixels of RGBA are 160 MB, where a 13000 x 13000 palette PNG took 1.5-2.7 GB.
MAX_MEGAPIXELS = 40.0
MAX_FILE_BYTES = 256 * 2**20  # no usable image under MAX_MEGAPIXELS is larger (40 MP of RGBA, uncompressed: 160 MB)
NOT_REGULAR = "not a regular file (a FIFO, socket or device)"


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
    files: tuple[str, ...]  # image files, relative to the root, in walk order (each folder's entries sorted)
    labels: tuple[int, ...]  # class index per file (0 everywhere when the folder has no class sub-folders)
    classes: tuple[str, ...]  # class sub-folder names, sorted, empty ones included; () for a flat folder
    ignored_top_level: int  # files directly in the root of a folder with class sub-folders (ImageFolder skips them)
    fingerprint: str  # of the names, sizes and modification times, the classes and what was left out
    skipped: tuple[tuple[str, str], ...] = ()  # (file, why) of image files not listed: FIFOs, links out, twins
    not_followed: tuple[tuple[str, str], ...] = ()  # (folder, why) of folders not entered: loops, links out


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


class _Walk:
    """A finite walk of one dataset folder. Each real folder is entered at most once (keyed by st_dev and
    st_ino), so a link loop ends; a link is followed only to a place inside the root (nothing is read outside
    the folder it belongs to); each file is listed once, so one image cannot land in both splits under two
    names. Only ``os.stat`` is called: listing opens no file, so a FIFO cannot make it wait."""

    def __init__(self, root: Path):
        self.root = root
        self.real_root = os.path.realpath(root)
        self.folders: dict[object, str] = {}  # real folder -> the relative path it was entered under
        self.seen_files: dict[object, str] = {}  # real file -> the relative path it was listed under
        self.files, self.labels, self.stats = [], [], []  # per listed file: path, label, "path size mtime"
        self.skipped: list[tuple[str, str]] = []
        self.not_followed: list[tuple[str, str]] = []
        self.enter(os.stat(root), "", "")

    @staticmethod
    def _key(info: os.stat_result, path: str) -> object:
        # st_ino is 0 on file systems that have none: the resolved path is the next best identity
        return (info.st_dev, info.st_ino) if info.st_ino else os.path.realpath(path)

    def enter(self, info: os.stat_result, relative: str, parent: str) -> bool:
        """Whether to walk into the folder at ``relative`` (found in ``parent``); noted when not."""
        key = self._key(info, os.path.join(self.root, relative))
        owner = self.folders.get(key)
        if owner is None:
            self.folders[key] = relative
            return True
        above = owner == "" or parent == owner or parent.startswith(owner + "/")
        self.not_followed.append((relative, "a link back to a folder above it (a loop)" if above
                                  else f"the same folder as {owner}"))
        return False

    def entries(self, current: str) -> tuple[list[str], list[tuple[str, os.stat_result]]]:
        """(the sub-folders to walk into, the image files with their stat) of one folder, names sorted."""
        path = os.path.join(self.root, current)
        try:
            with os.scandir(path) as found:
                listed = sorted(found, key=lambda entry: entry.name)
        except OSError as error:
            self.not_followed.append((current or ".", f"could not be listed ({error.strerror or first_line(error)})"))
            return [], []
        folders, images = [], []
        for entry in listed:
            if entry.name.startswith("."):
                continue
            relative = f"{current}/{entry.name}" if current else entry.name
            is_image = entry.name.lower().endswith(IMAGE_SUFFIXES)
            notes = self.skipped if is_image else self.not_followed
            try:
                info = os.stat(entry.path)  # follows a link (raises for a broken one or a link to itself)
            except OSError:
                if entry.is_symlink():
                    notes.append((relative, "a broken link"))
                continue
            if entry.is_symlink() and not _inside(os.path.realpath(entry.path), self.real_root):
                if is_image or stat.S_ISDIR(info.st_mode):
                    notes.append((relative, "a link to a place outside the folder"))
            elif stat.S_ISDIR(info.st_mode):
                if self.enter(info, relative, current):
                    folders.append(relative)
            elif is_image:
                images.append((relative, info))
        return folders, images

    def add(self, relative: str, info: os.stat_result, label: int) -> None:
        if not stat.S_ISREG(info.st_mode):
            self.skipped.append((relative, NOT_REGULAR))
            return
        key = self._key(info, os.path.join(self.root, relative))
        if key in self.seen_files:
            self.skipped.append((relative, f"the same file as {self.seen_files[key]}"))
            return
        self.seen_files[key] = relative
        if info.st_size > MAX_FILE_BYTES:
            self.skipped.append((relative, f"over the {MAX_FILE_BYTES:,}-byte limit ({info.st_size:,} bytes)"))
            return
        self.files.append(relative)
        self.labels.append(label)
        self.stats.append(f"{relative}\t{info.st_size}\t{info.st_mtime_ns}")

    def walk(self, start: str, label: int) -> None:
        """Every image under ``start`` (already entered), depth first, as ``os.walk`` goes, without recursion:
        a deep tree cannot reach Python's recursion limit."""
        stack = [start]
        while stack:
            current = stack.pop()
            folders, images = self.entries(current)
            for relative, info in images:
                self.add(relative, info, label)
            stack.extend(reversed(folders))


def scan(root: Path) -> Listing:
    """The image files under ``root``: with class sub-folders when it has any, else the flat (recursive) listing."""
    if not root.is_dir():
        raise DatasetError(f"image folder {root} not found (or not a folder); pass --dataset folder:PATH with a "
                           "folder of images, optionally one sub-folder per class")
    walk = _Walk(root)
    class_dirs, top_images = walk.entries("")
    for label, name in enumerate(class_dirs):
        walk.walk(name, label)
    ignored = sum(1 for _, info in top_images if stat.S_ISREG(info.st_mode))
    if not walk.files:  # no class sub-folder holds an image: a flat folder, walked again from the top
        walk, class_dirs, ignored = _Walk(root), [], 0
        walk.walk("", 0)
    if not walk.files:
        raise DatasetError(f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)}); put the images there, or one "
                           "sub-folder of images per class")
    # The classes and what was left out are in the fingerprint: an empty class folder added or a link changed
    # moves labels or the report without touching any listed file.
    lines = walk.stats + ["classes\t" + "\t".join(class_dirs)] + [f"left out\t{p}\t{w}" for p, w in
                                                                  walk.skipped + walk.not_followed]
    digest = hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()[:16]
    return Listing(tuple(walk.files), tuple(walk.labels), tuple(class_dirs), ignored, digest,
                   tuple(walk.skipped), tuple(walk.not_followed))


def split_of(relative_path: str) -> str:
    return "test" if zlib.crc32(relative_path.encode("utf-8")) % TEST_SHARE == 0 else "train"


def listed_split_size(name: str, split: str) -> int:
    """The image files of ``split`` an image folder lists, from its listing alone (nothing decoded): at least as
    many as the split will hold (a file that fails to decode is dropped then)."""
    return sum(split_of(path) == split for path in scan(folder_path(name).resolve()).files)


def _open_regular(path: Path):
    """``(binary file, "")`` for a regular file of 1 to MAX_FILE_BYTES bytes, else ``(None, why)``. Opened
    without blocking, so a FIFO is refused at once instead of waiting for a writer."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(fd)
    why = (NOT_REGULAR if not stat.S_ISREG(info.st_mode) else "empty file" if info.st_size == 0
           else f"over the {MAX_FILE_BYTES:,}-byte limit ({info.st_size:,} bytes)" if info.st_size > MAX_FILE_BYTES
           else "")
    if why:
        os.close(fd)
        return None, why
    return os.fdopen(fd, "rb"), ""


def _open_image(handle, image_size: int):
    """``(image, "")`` with its header read and no pixel decoded, or ``(None, why)`` when it has too many
    pixels: over MAX_MEGAPIXELS, or over what PIL's decompression-bomb check warns about or refuses."""
    from PIL import Image

    with warnings.catch_warnings(record=True) as caught:  # PIL warns above its limit: a refusal here
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        image = Image.open(handle)
    bomb = any(issubclass(item.category, Image.DecompressionBombWarning) for item in caught)
    image.draft(None, (2 * image_size, 2 * image_size))  # JPEG only: decoded at 1/2 to 1/8 scale, still >= 2x
    width, height = image.size
    if bomb or width * height > MAX_MEGAPIXELS * 1e6:
        image.close()
        return None, (f"{width} x {height} pixels ({width * height / 1e6:.0f} megapixels), over the limit of "
                      f"{MAX_MEGAPIXELS:g}: downscale it")
    return image, ""


def decode(path: Path, image_size: int, channels: int) -> tuple[np.ndarray | None, str]:
    """One image as ``channels x image_size x image_size`` uint8, or ``(None, why it was skipped)``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        handle, why = _open_regular(path)
        if handle is None:
            return None, why
        with handle:
            image, why = _open_image(handle, image_size)
            if image is None:
                return None, why
            with image:
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
        return None, "too many pixels (over PIL's decompression-bomb limit): downscale it"
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return None, "truncated" if "truncated" in str(error).lower() else "unreadable"
    return (array[None] if channels == 1 else array.transpose(2, 0, 1)).copy(), ""


def folder_classes(name: str) -> list[str]:
    """The class names of an image folder (its sub-folders, empty ones included), [] for a flat one."""
    return list(scan(folder_path(name).resolve()).classes)
