"""Image folders that fight back (vaegan_core.training.folders): link loops, links out of the folder, FIFOs, huge images,
empty classes, and a cache that is damaged, interrupted or cannot be written."""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vaegan_core.training import folder_cache, folders
from vaegan_core.training.data import load_dataset
from vaegan_core.errors import DatasetError

needs_links = pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                                 reason="symbolic links need a POSIX file system here")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def pngs(folder, count: int, colour=(200, 0, 0), start: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        Image.new("RGB", (12, 10), (colour[0], colour[1], (index * 9) % 256)).save(folder / f"{index:03d}.png")
    return folder


def load_all(root, size: int = 8, channels: int = 3):
    name = f"folder:{root}"
    train = load_dataset(name, "train", image_size=size, channels=channels)
    test = load_dataset(name, "test", image_size=size, channels=channels)
    return train, test


def only_warning(caught) -> str:
    messages = [str(item.message) for item in caught if issubclass(item.category, UserWarning)]
    assert len(messages) == 1, messages
    assert "\n" not in messages[0]
    return messages[0]


# 1. links: every walk is finite and reads nothing outside the folder

@needs_links
@pytest.mark.timeout(30)
def test_two_links_to_the_folder_itself_end_and_make_no_classes(tmp_path, cache):
    root = pngs(tmp_path / "flat", 30)
    os.symlink(".", root / "a")
    os.symlink(".", root / "b")
    listing = folders.scan(root)
    assert listing.classes == () and len(listing.files) == 30  # each image once, no class "a" or "b"
    with pytest.warns(UserWarning) as caught:
        (train, _), (test, _) = load_all(root)
    assert train.shape[0] + test.shape[0] == 30
    message = only_warning(caught)
    assert "a: a link back to a folder above it" in message and "b: a link back" in message


@needs_links
@pytest.mark.timeout(30)
def test_loops_inside_classes_and_aliases_of_a_class_are_followed_once(tmp_path, cache):
    root = tmp_path / "images"
    pngs(root / "cats", 12)
    pngs(root / "dogs" / "puppies", 12, colour=(0, 200, 0))
    os.symlink("..", root / "cats" / "up")  # back to the root
    os.symlink("../dogs", root / "dogs" / "puppies" / "again")  # back to an ancestor, two levels
    os.symlink("cats", root / "felines")  # the same folder a second time: not a third class
    listing = folders.scan(root)
    assert listing.classes == ("cats", "dogs")
    assert len(listing.files) == 24 and len(set(listing.files)) == 24
    assert dict(listing.not_followed)["felines"].startswith("the same folder as cats")


@needs_links
def test_links_out_of_the_folder_are_not_followed(tmp_path, cache):
    outside = pngs(tmp_path / "elsewhere", 5, colour=(0, 0, 200))
    root = tmp_path / "images"
    pngs(root / "cats", 30)
    os.symlink(outside, root / "cats" / "more")  # a folder outside
    os.symlink(outside / "000.png", root / "cats" / "stolen.png")  # a file outside
    os.symlink(root / "cats" / "001.png", root / "cats" / "twin.png")  # a second name of a file inside
    listing = folders.scan(root)
    assert sorted(listing.files) == [f"cats/{index:03d}.png" for index in range(30)]
    assert "outside" in dict(listing.not_followed)["cats/more"]
    skipped = dict(listing.skipped)
    assert "outside" in skipped["cats/stolen.png"] and skipped["cats/twin.png"] == "the same file as cats/001.png"
    with pytest.warns(UserWarning) as caught:
        load_all(root)
    message = only_warning(caught)
    assert "cats/more" in message and "cats/stolen.png" in message


# 4. empty class folders keep their place, so labels do not shift

def test_an_empty_class_folder_keeps_its_label(tmp_path, cache):
    root = tmp_path / "images"
    pngs(root / "ants", 20)
    (root / "bees").mkdir()
    pngs(root / "cows", 20, colour=(0, 200, 0))
    assert folders.folder_classes(f"folder:{root}") == ["ants", "bees", "cows"]
    with pytest.warns(UserWarning) as caught:
        (train, train_labels), (test, test_labels) = load_all(root)
    labels = torch.cat([train_labels, test_labels]).tolist()
    assert sorted(set(labels)) == [0, 2] and labels.count(2) == 20
    assert "class bees (label 1) has no images" in only_warning(caught)
    # a later image in the empty class changes nothing for the others
    pngs(root / "bees", 3, colour=(0, 0, 200))
    assert folders.scan(root).labels.count(2) == 20


# 5. only regular files are read, and never more than a bound

@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_among_the_images_is_skipped_without_opening_it(tmp_path, cache):
    root = pngs(tmp_path / "flat", 20)
    os.mkfifo(root / "pipe.png")
    assert folders.decode(root / "pipe.png", 8, 3) == (None, "not a regular file (a FIFO, socket or device)")
    listing = folders.scan(root)
    assert "pipe.png" not in listing.files
    assert dict(listing.skipped)["pipe.png"] == "not a regular file (a FIFO, socket or device)"
    with pytest.warns(UserWarning, match="pipe.png: not a regular file"):
        load_all(root)


def test_a_file_over_the_byte_limit_is_skipped(tmp_path, cache, monkeypatch):
    root = pngs(tmp_path / "flat", 20)
    monkeypatch.setattr(folders, "MAX_FILE_BYTES", 50)
    assert folders.decode(root / "000.png", 8, 3)[1].startswith("over the 50-byte limit")


# 3. huge images are refused from their header, before any pixel is decoded

def png_claiming(path, width: int, height: int) -> None:
    """A palette PNG whose header says width x height (its pixel data is an 8 x 8 image's): what a decoder
    would allocate for is the header's size, so this stands in for a real 13000 x 13000 file at 100 bytes."""
    Image.new("P", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("side", [7000, 13000])  # over our limit only; over PIL's decompression-bomb warning too
def test_an_image_with_too_many_pixels_is_refused_before_decoding(tmp_path, cache, monkeypatch, side):
    png_claiming(tmp_path / "huge.png", side, side)
    from PIL import ImageFile

    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: loads.append(image.size) or real_load(image))
    array, why = folders.decode(tmp_path / "huge.png", 8, 3)
    assert array is None and loads == []
    assert why.startswith(f"{side} x {side} pixels")


# 2. the cache: damaged caches are rebuilt, failed and interrupted writes leave nothing behind

def cache_files(cache):
    return sorted(path.name for path in cache.rglob("*") if path.is_file())


def test_a_truncated_cache_is_rebuilt_with_a_warning(tmp_path, cache):
    root = pngs(tmp_path / "flat", 40)
    (first, _), _ = load_all(root)
    first = first.clone()  # a memory map of the file damaged below
    pixels = next(path for path in cache.rglob("*-train.u8"))
    pixels.write_bytes(pixels.read_bytes()[:-5])
    with pytest.warns(UserWarning) as caught:
        (again, _), _ = load_all(root)
    message = only_warning(caught)
    assert str(pixels) in message and "decoding the folder again" in message
    assert torch.equal(first, again)


@pytest.mark.parametrize("damage", [
    lambda meta: meta["counts"].update(train="12"),
    lambda meta: meta["counts"].update(train=-1),
    lambda meta: meta["counts"].update(train=meta["counts"]["train"] + 1),
    lambda meta: meta["counts"].update(train=True),
    lambda meta: meta["labels"].update(train=[]),
    lambda meta: meta.update(skipped=[7]),
    lambda meta: meta.clear(),
], ids=["count-text", "count-negative", "count-not-the-file-size", "count-bool", "labels-short", "skipped-junk",
        "empty"])
def test_a_cache_description_with_bad_counts_is_rebuilt(tmp_path, cache, damage):
    root = pngs(tmp_path / "flat", 40)
    (first, first_labels), _ = load_all(root)
    first = first.clone()
    description = next(path for path in cache.rglob("*.json"))
    meta = json.loads(description.read_text())
    damage(meta)
    description.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="decoding the folder again"):
        (again, labels), _ = load_all(root)
    assert torch.equal(first, again) and torch.equal(first_labels, labels)


def test_a_cache_description_that_is_not_an_object_is_rebuilt(tmp_path, cache):
    root = pngs(tmp_path / "flat", 40)
    load_all(root)
    description = next(path for path in cache.rglob("*.json"))
    description.write_text("[1, 2]")
    with pytest.warns(UserWarning, match="decoding the folder again"):
        load_all(root)
    assert isinstance(json.loads(description.read_text()), dict)


@pytest.mark.parametrize("when", ["pixels", "description"])
def test_a_full_disk_names_the_cache_and_leaves_no_partial_file(tmp_path, cache, monkeypatch, when):
    root = pngs(tmp_path / "flat", 40)

    def full(*args, **named):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folder_cache, "_append" if when == "pixels" else "write_text_atomic", full)
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"folder:{root}", "train", image_size=8, channels=3)
    message = str(caught.value)
    assert "\n" not in message and str(cache) in message and "No space left on device" in message
    assert cache_files(cache) == []
    monkeypatch.undo()
    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(cache))
    load_all(root)  # the next run builds it


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_temporary_files_of_a_killed_run_are_removed_by_the_next(tmp_path, cache):
    root = pngs(tmp_path / "flat", 40)
    folder = folder_cache._cache_dir(root.resolve())
    folder.mkdir(parents=True)
    dead, alive = dead_pid(), os.getppid()
    leftovers = [folder / f".v9-abc-8px-3ch-train.u8.tmp{dead}", folder / f"v1-abc-8px-3ch-test.u8.tmp{dead}"]
    for path in leftovers:
        path.write_bytes(b"\0" * 100)
    busy = folder / f".v9-abc-8px-3ch-train.u8.tmp{alive}"  # another run, still writing
    busy.write_bytes(b"\0")
    load_all(root)
    assert not any(path.exists() for path in leftovers) and busy.exists()


def test_ctrl_c_while_decoding_leaves_no_partial_cache(tmp_path, cache, monkeypatch):
    root = pngs(tmp_path / "flat", 40)
    calls = []
    real_decode = folders.decode

    def interrupted(*args):
        calls.append(args)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_decode(*args)

    monkeypatch.setattr(folder_cache, "decode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(f"folder:{root}", "train", image_size=8, channels=3)
    assert cache_files(cache) == []
    monkeypatch.undo()
    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(cache))
    (train, _), (test, _) = load_all(root)
    assert train.shape[0] + test.shape[0] == 40 and np.asarray(train).any()
