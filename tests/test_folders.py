"""Image folders as datasets (vaegan_core.training.folders): decoding, the cache, bad files, splits, and the CLI on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vaegan_core.training import folder_cache, folders
from vaegan_core.cli import main
from vaegan_core.training.data import load_dataset
from vaegan_core.errors import DatasetError

BAD_FILES = {"circles/bad.png": "not an image", "circles/empty.jpg": "empty file", "squares/trunc.png": "truncated",
             "squares/cmyk.jpg": "CMYK", "squares/deep.png": "16-bit"}


def make_folder(root, per_class: int = 40, size=(40, 48), bad: bool = True):
    """Two classes of RGB PNGs (a red or a green field with a white square), one grey PNG, and the bad files."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(["circles", "squares"]):
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = np.zeros((*size, 3), np.uint8)
            pixels[..., label] = 200
            y, x = rng.integers(2, size[0] - 12), rng.integers(2, size[1] - 12)
            pixels[y:y + 10, x:x + 10] = 255
            Image.fromarray(pixels).save(root / name / f"{index:03d}.png")
    Image.new("L", (50, 30), 128).save(root / "squares" / "grey.png")
    if bad:
        (root / "circles" / "bad.png").write_bytes(b"not an image at all")
        (root / "circles" / "empty.jpg").write_bytes(b"")
        whole = (root / "squares" / "000.png").read_bytes()
        (root / "squares" / "trunc.png").write_bytes(whole[: len(whole) // 2])
        Image.new("CMYK", (30, 30)).save(root / "squares" / "cmyk.jpg")
        Image.fromarray(np.full((30, 30), 40000, np.uint16)).save(root / "squares" / "deep.png")
    return root


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_folder_with_class_subfolders_and_bad_files(tmp_path, cache):
    root = make_folder(tmp_path / "images")
    name = f"folder:{root}"
    with pytest.warns(UserWarning) as caught:
        train, train_labels = load_dataset(name, "train", image_size=32, channels=3)
    message = str(caught[0].message)
    assert "skipped 5 of 86 files" in message
    for file, why in BAD_FILES.items():
        assert file in message and why in message
    test, test_labels = load_dataset(name, "test", image_size=32, channels=3)
    assert train.dtype == torch.uint8 and tuple(train.shape[1:]) == (3, 32, 32)
    assert train.shape[0] + test.shape[0] == 81 and 0 < test.shape[0] < 20
    assert sorted(set(train_labels.tolist())) == [0, 1] and len(train_labels) == train.shape[0]
    assert folders.folder_classes(name) == ["circles", "squares"]
    # the colour survives: class 0 is red, class 1 green (outside the white square)
    red = train[train_labels == 0].float().mean(dim=(0, 2, 3))
    green = train[train_labels == 1].float().mean(dim=(0, 2, 3))
    assert red[0] > red[1] + 50 and green[1] > green[0] + 50


def test_the_cache_is_used_then_renewed_when_the_folder_changes(tmp_path, cache, monkeypatch):
    root = make_folder(tmp_path / "images", bad=False)
    name = f"folder:{root}"
    first, _ = load_dataset(name, "train", image_size=16, channels=1)
    assert tuple(first.shape[1:]) == (1, 16, 16)
    calls = []
    real_decode = folders.decode
    monkeypatch.setattr(folder_cache, "decode", lambda *a: calls.append(a) or real_decode(*a))
    again, _ = load_dataset(name, "train", image_size=16, channels=1)
    assert calls == [] and torch.equal(first, again)  # read from the cache, nothing decoded
    assert len(list(next(cache.iterdir()).glob("*-16px-1ch*"))) == 3

    Image.new("RGB", (20, 20), (0, 0, 255)).save(root / "circles" / "new.png")
    grown_train, _ = load_dataset(name, "train", image_size=16, channels=1)
    grown_test, _ = load_dataset(name, "test", image_size=16, channels=1)
    assert len(calls) == 82 and grown_train.shape[0] + grown_test.shape[0] == 82
    assert len(list(next(cache.iterdir()).glob("*-16px-1ch*"))) == 3  # the stale cache is gone
    # adding a file moves no old file between the splits
    old_split = {f: folders.split_of(f) for f in folders.scan(root).files if f != "circles/new.png"}
    assert all(folders.split_of(f) == split for f, split in old_split.items())


def test_flat_folders_and_folder_errors(tmp_path, cache):
    flat = tmp_path / "flat"
    flat.mkdir()
    for index in range(30):
        Image.new("RGB", (10 + index, 12), (index * 8, 0, 0)).save(flat / f"{index}.jpg")
    (flat / "notes.txt").write_text("not an image suffix: ignored")
    images, labels = load_dataset(f"folder:{flat}", "train", image_size=8, channels=3)
    assert set(labels.tolist()) == {0} and folders.folder_classes(f"folder:{flat}") == []
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(f"folder:{tmp_path / 'missing'}", "train", image_size=8, channels=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        load_dataset(f"folder:{tmp_path / 'empty'}", "train", image_size=8, channels=3)
    with pytest.raises(DatasetError, match="image size and channels"):
        load_dataset(f"folder:{flat}", "train")
    with pytest.raises(DatasetError, match="folder:PATH"):
        folders.folder_path("folder:")


def test_train_sample_info_and_eval_errors_on_a_folder(tmp_path, cache, capsys):
    root = make_folder(tmp_path / "images")
    out = tmp_path / "run"
    args = ["train", "--model", "vaegan", "--dataset", f"folder:{root}", "--epochs", "1", "--width", "8",
            "--latent-dim", "8", "--batch-size", "16", "--out", str(out), "--no-progress", "--precision", "fp32"]
    with pytest.warns(UserWarning, match="skipped 5 of 86 files"):
        assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["image_size"] == 32 and config["model"]["channels"] == 3
    assert config["train"]["dataset"] == f"folder:{root.resolve()}"
    assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").mode == "RGB"
    capsys.readouterr()
    assert main(["eval", str(out), "--n", "200", "--extractor", "lenet"]) == 1
    assert "use --extractor inception" in capsys.readouterr().err
    # a conditional model takes the sub-folders as classes; resume keeps the size
    conditional = tmp_path / "conditional"
    assert main(args[:-5] + ["--conditional", "--image-size", "16", "--channels", "1", "--out", str(conditional),
                             "--no-progress", "--precision", "fp32"]) == 0
    model = json.loads((conditional / "config.json").read_text())["model"]
    assert (model["num_classes"], model["image_size"], model["channels"]) == (2, 16, 1)
    assert main(["train", "--resume", "--out", str(conditional), "--epochs", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(conditional), "--epochs", "3", "--image-size", "32"]) == 2
    assert "--image-size cannot change when resuming" in capsys.readouterr().err
    assert main(["train", "--model", "vae", "--dataset", "digits", "--channels", "3", "--epochs", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "are for image folders" in capsys.readouterr().err
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (8, 8)).save(flat / "a.png")
    assert main(["train", "--model", "vae", "--dataset", f"folder:{flat}", "--conditional", "--epochs", "1",
                 "--out", str(tmp_path / "y")]) == 2
    assert "has no class sub-folders" in capsys.readouterr().err


def test_the_command_line_says_a_warning_in_one_line(tmp_path, cache):
    import os
    import subprocess
    import sys

    root = make_folder(tmp_path / "images", per_class=8)
    done = subprocess.run([sys.executable, "-m", "vaegan_core.cli", "train", "--model", "vae", "--dataset",
                           f"folder:{root}", "--epochs", "1", "--width", "8", "--batch-size", "8", "--out",
                           str(tmp_path / "run"), "--no-progress"], capture_output=True, text=True,
                          env={**os.environ, "VAEGAN_FOLDER_CACHE": str(cache), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and warnings[0].startswith("vaegan train: warning: ") and "skipped 5" in warnings[0]


@pytest.mark.slow
def test_eval_of_a_colour_folder_model_with_inception(tmp_path, cache):
    from vaegan_core.storage.checkpoint import load_model
    from vaegan_core.metrics.evaluate import evaluate

    root = make_folder(tmp_path / "images", per_class=30, bad=False)
    out = tmp_path / "run"
    assert main(["train", "--model", "vae", "--dataset", f"folder:{root}", "--epochs", "1", "--width", "8",
                 "--batch-size", "16", "--out", str(out), "--no-progress"]) == 0
    result = evaluate(load_model(out), f"folder:{root.resolve()}", n=40, extractor="inception", force=True,
                      metrics=("fid", "is", "reconstruction"))
    assert result["metrics"]["fid"] > 0 and "is" not in result["metrics"]  # no domain classifier, no classifier IS
    assert result["preprocessing"].startswith("RGB x") and "replicated" not in result["preprocessing"]
    assert result["n_real"] == load_dataset(f"folder:{root}", "test", image_size=32, channels=3)[0].shape[0]
