"""Fuzz harness for the files added after the first one (tests/test_fuzz_files.py covers a checkpoint folder's):
a collapse study's results.json and strip.npy, the page cache and the image-folder cache (the Hub cache's refs and
snapshots have theirs in tests/test_hub.py).

Each file is corrupted many ways (truncations, random bytes, wrong JSON types and shapes, a FIFO, a link to
/dev/zero, huge sizes) and goes through every reader of it. Allowed outcomes: success (a stale or bad entry
computed again, a bad study skipped with one line), or one line of error with exit code 1. Never a traceback,
never a hang, never a large allocation, never a pickle executed.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
from pathlib import Path

import numpy as np
import pytest

from vaegan_core.cli import main
from vaegan_core.errors import DatasetError
from vaegan_core.experiments.collapse_images import ImageCollapseConfig, read_strip, run, start_fingerprint
from vaegan_core.experiments.collapse_report import load_studies, markdown, verdict

from conftest import tiny_model_config, tiny_train_config
from test_fuzz_files import said  # noqa: E402

MEMORY_BOUND_MB = 512


def _json_variants(original: dict) -> dict[str, bytes]:
    text = json.dumps(original)
    first = original["generations"][0]
    variants = {
        "a list": b"[1, 2, 3]", "null": b"null", "empty": b"", "torn": text.encode()[:-9],
        "not utf-8": b"\xff\xfe{\x00}", "deep nesting": b"[" * 5000 + b"]" * 5000,
        "NaN": text.replace(str(first["fid"]), "NaN", 1).encode(),
        "generations not a list": json.dumps({**original, "generations": {"0": first}}).encode(),
        "no config": json.dumps({"generations": original["generations"]}).encode(),
        "a generation that is a number": json.dumps({**original, "generations": [7]}).encode(),
        "generations out of order": json.dumps({**original, "generations": original["generations"][::-1]}).encode(),
        "huge": b'{"config": {}, "generations": [' + b" " * (9 * 2**20) + b"]}",
    }
    for value in (0, None, "9.5", -3.0, True, 1e400):
        changed = json.loads(text)
        changed["generations"][-1]["fid"] = value
        variants[f"fid={value!r}"] = json.dumps(changed).replace("Infinity", "1e400").encode()
    changed = json.loads(text)
    del changed["generations"][0]["recall"]
    variants["no recall"] = json.dumps(changed).encode()
    return variants


def _strip_variants(path: Path) -> dict[str, bytes]:
    data = path.read_bytes()
    variants = {f"truncated at {cut}": data[:cut] for cut in (0, 8, 64, len(data) // 2, len(data) - 1)}
    variants["random bytes"] = bytes(random.Random(0).getrandbits(8) for _ in range(2048))
    for name, array in (("float32", np.zeros((3, 10, 1, 28, 28), np.float32)), ("2-d", np.zeros((3, 5), np.uint8)),
                        ("too few rows", np.zeros((1, 10, 1, 28, 28), np.uint8))):
        target = path.with_name("variant.npy")
        np.save(target, array)
        variants[name] = target.read_bytes()
        target.unlink()
    target = path.with_name("variant.npy")
    np.save(target, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # an object array: a pickle inside
    variants["object array"] = target.read_bytes()
    target.unlink()
    return variants


@pytest.fixture(scope="module")
def study_root(tmp_path_factory):
    """A checkpoints root with a tiny GAN and a two-generation study that started from it."""
    from vaegan_core.training.train import Trainer

    root = tmp_path_factory.mktemp("studies")
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=1), root / "mnist" / "gan", progress=False).fit()
    config = ImageCollapseConfig(model="gan", dataset="digits", generations=2, per_generation=64, epochs=1,
                                 eval_n=200, device="cpu", start_from=str(root / "mnist" / "gan"))
    run(config, root / "collapse" / "mnist" / "gan" / "synthetic-seed0")
    return root, config


def _special_files(path: Path) -> dict[str, callable]:
    """Ways to put something that is not a regular file where ``path`` is expected."""
    return {"a FIFO": lambda: os.mkfifo(path), "a link to /dev/zero": lambda: path.symlink_to("/dev/zero"),
            "a folder": lambda: path.mkdir()}


def _bounded(call):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = call()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown < MEMORY_BOUND_MB, f"peak memory grew by {grown:.0f} MB"
    return result


def _check_study(root: Path, config: ImageCollapseConfig, tmp_path: Path, label: str, capsys) -> None:
    """Every reader of a study: the report (as the page and docs use it), the runner's state, and a resume."""
    studies, problems, stale = _bounded(lambda: load_studies(root / "collapse", "mnist", checkpoints=root))
    assert all("\n" not in line and "skipped" in line for line in problems), (label, problems)
    assert bool(problems) != bool(studies.get(("gan", "synthetic")) or stale), label
    markdown(studies), verdict(studies)
    folder = root / "collapse" / "mnist" / "gan" / "synthetic-seed0"
    if (folder / "strip.npy").exists() or (folder / "strip.npy").is_symlink():
        try:
            read_strip(folder / "strip.npy")
        except ValueError as error:
            assert "\n" not in str(error), label
    code = _bounded(lambda: main(["collapse", "--model", "gan", "--dataset", "digits", "--generations", "3",
                                  "--per-generation", "64", "--epochs", "1", "--eval-n", "200", "--device", "cpu",
                                  "--start-from", str(root / "mnist" / "gan"), "--out", str(folder),
                                  "--no-progress"]))
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err and len(said(err)) == (code == 1), (label, err)


def _cases(root: Path) -> list[tuple[str, str, object]]:
    folder = root / "collapse" / "mnist" / "gan" / "synthetic-seed0"
    results = json.loads((folder / "results.json").read_text())
    cases = [("results.json", name, content) for name, content in _json_variants(results).items()]
    cases += [("strip.npy", name, content) for name, content in _strip_variants(folder / "strip.npy").items()]
    for file in ("results.json", "strip.npy"):
        cases += [(file, name, name) for name in _special_files(folder / file)]
    return cases


def _apply(root: Path, file: str, corruption: str, content) -> None:
    path = root / "collapse" / "mnist" / "gan" / "synthetic-seed0" / file
    path.unlink()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _special_files(path)[content]()


def _check_case(study_root, tmp_path, capsys, case) -> None:
    source, config = study_root
    root = tmp_path / "root"
    shutil.copytree(source, root, symlinks=True)
    file, corruption, content = case
    _apply(root, file, corruption, content)
    _check_study(root, config, tmp_path, f"{file} ({corruption})", capsys)


def test_a_seeded_sample_of_corrupt_studies(study_root, tmp_path, capsys):
    cases = _cases(study_root[0])
    assert len(cases) > 25
    for index, case in enumerate(random.Random(0).sample(cases, 8)):
        _check_case(study_root, tmp_path / str(index), capsys, case)


@pytest.mark.slow
def test_every_corrupt_study(study_root, tmp_path, capsys):
    for index, case in enumerate(_cases(study_root[0])):
        _check_case(study_root, tmp_path / str(index), capsys, case)


def test_the_studys_start_is_its_fingerprint(study_root):
    root, _ = study_root
    results = json.loads((root / "collapse" / "mnist" / "gan" / "synthetic-seed0" / "results.json").read_text())
    assert results["start_fingerprint"] == start_fingerprint(root / "mnist" / "gan")


# --- the page cache: every stored entry corrupted, then read by the page computations ---------------------------

def _byte_variants(data: bytes) -> dict[str, bytes]:
    variants = {f"truncated at {cut}": data[:cut] for cut in sorted({0, 1, 8, 9, len(data) // 2, len(data) - 1})}
    variants["random bytes"] = bytes(random.Random(1).getrandbits(8) for _ in range(1024))
    variants["header length 1e15"] = (10**15).to_bytes(8, "little") + data[8:]
    variants["not utf-8 json"] = b"\xff\xfe{\x00}"
    variants["json of another kind"] = b'{"fingerprint": "x", "value": [1, 2]}'
    variants["huge"] = data + b" " * (17 * 2**20)
    return variants


def test_every_corrupt_page_cache_entry_is_computed_again(tmp_path, monkeypatch):
    import torch

    from vaegan_core.storage import page_cache
    from vaegan_core.models import build_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    torch.manual_seed(0)
    model = build_model(tiny_model_config("vae")).eval()
    model.fingerprint = "fuzz"
    images = torch.rand(24, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    calls = {
        "latent map": lambda: page_cache.latent_map(model, images, method="pca"),
        "latent usage": lambda: page_cache.latent_usage(model, images),
        "reconstruction errors": lambda: page_cache.reconstruction_errors(model, images),
    }
    truth = {name: call() for name, call in calls.items()}  # computed and stored once
    stored = sorted(page_cache.user_folder("fuzz").iterdir())
    assert len(stored) == 3
    for path in stored:
        original = path.read_bytes()
        cases = [(name, content) for name, content in _byte_variants(original).items()]
        cases += [(name, name) for name in _special_files(path)]
        for corruption, content in cases:
            path.unlink() if not path.is_dir() else path.rmdir()
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                _special_files(path)[content]()
            for name, call in calls.items():
                value = _bounded(call)
                expected = truth[name]
                if isinstance(expected, np.ndarray):
                    np.testing.assert_allclose(value, expected, rtol=1e-5, err_msg=f"{path.name} ({corruption})")
                else:
                    assert value.keys() == expected.keys(), (path.name, corruption)
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
        path.write_bytes(original)


# --- the image-folder cache: its pixel files and description corrupted, then loaded ------------------------------

def test_every_corrupt_folder_cache_is_rebuilt(tmp_path, monkeypatch):
    import warnings

    from PIL import Image

    from vaegan_core.training.data import load_dataset

    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))
    for name, colour in (("a", 40), ("b", 200)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for index in range(15):
            Image.new("L", (10, 12), colour + index).save(tmp_path / "photos" / name / f"{index}.png")
    dataset = f"folder:{tmp_path / 'photos'}"
    truth = [load_dataset(dataset, split, image_size=8, channels=1) for split in ("train", "test")]
    files = sorted(path for path in (tmp_path / "cache").rglob("*") if path.is_file())
    assert {path.suffix for path in files} == {".u8", ".json"}
    for path in files:
        for left in files:  # the last case of the file before left a folder in its place
            if left.is_dir() and not left.is_symlink():
                left.rmdir()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_dataset(dataset, "train", image_size=8, channels=1)  # whole again after the file before
        original = path.read_bytes()
        variants = _byte_variants(original)
        if path.suffix == ".u8":  # raw pixels carry no checksum: a change that keeps the size reads as other pixels
            variants = {name: data for name, data in variants.items() if len(data) != len(original)}
        if path.suffix == ".json":
            meta = json.loads(original)
            for key, value in (("counts", {"train": -1, "test": 3}), ("counts", {"train": 10**12, "test": 0}),
                               ("labels", {"train": [99] * meta["counts"]["train"], "test": []}),
                               ("classes", "ab"), ("image_size", True)):
                variants[f"{key}={str(value)[:20]}"] = json.dumps({**meta, key: value}).encode()
        cases = [(name, content) for name, content in variants.items()] + [(n, n) for n in _special_files(path)]
        for corruption, content in cases:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            elif path.exists() or path.is_symlink():
                path.unlink()
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                _special_files(path)[content]()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for split, (images, labels) in zip(("train", "test"), truth):
                    try:  # rebuilt (the same pixels), or one line where it cannot be (a folder in the file's place)
                        again, again_labels = _bounded(lambda: load_dataset(dataset, split, image_size=8, channels=1))
                    except DatasetError as error:
                        assert "\n" not in str(error) and content == "a folder", (path.name, corruption, error)
                        continue
                    assert torch_equal(again, images) and torch_equal(again_labels, labels), (path.name, corruption)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


# --- a checkpoint folder whose files are not regular files: never a hang, never a huge read -----------------------

@pytest.mark.timeout(300)
def test_special_files_in_a_checkpoint_folder_are_one_line_or_ignored(study_root, tmp_path, capsys):
    import shutil as _shutil

    source = study_root[0] / "mnist" / "gan"
    names = ["config.json", "model.safetensors", "trainer_state.pt", "history.jsonl", "README.md"]
    for name in names:
        for kind in ("a FIFO", "a link to /dev/zero", "a folder"):
            folder = tmp_path / f"{name}-{kind.replace(' ', '-').replace('/', '')}"
            _shutil.copytree(source, folder)
            target = folder / name
            target.unlink()
            _special_files(target)[kind]()
            for command in (["info", str(folder)], ["sample", str(folder), "--n", "4", "--out", str(tmp_path / "g.png")],
                            ["train", "--resume", "--out", str(folder), "--epochs", "2", "--no-progress"]):
                code = _bounded(lambda: main(command))
                err = capsys.readouterr().err
                label = f"{name} as {kind}, {command[0]}"
                assert code in (0, 1), (label, code, err)
                assert "Traceback" not in err and len(said(err)) == (code == 1), (label, err)
