"""Fuzz harness: every file a checkpoint folder can hold, corrupted many ways, through every reader.

For each file (config.json, model.safetensors, trainer_state.pt, latent_gmm.safetensors, metrics.json,
history.jsonl, a sample grid, the reference statistics .npz) the corruptions below (truncations at many
offsets, random bytes, wrong JSON types, huge numbers, non-UTF-8, a planted pickle) go through `vaegan info`,
`vaegan sample`, `vaegan eval`, `vaegan train --resume`, the FID page's FID from the shipped statistics and
the apps' loader (`zoo.open_model`). The only
allowed outcomes: success, or one line on stderr with exit code 1. Never a traceback, never a large
allocation, never a file changed by a refused command, never a pickle executed.

The default suite runs a seeded sample of the cases; the whole sweep is marked slow (CI runs it).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import resource
import shutil
from pathlib import Path

import pytest
import torch

from vaegan_core.storage import zoo
from vaegan_core.storage.checkpoint import load_model
from vaegan_core.cli import main
from vaegan_core.errors import VaeganError
from vaegan_core.metrics.evaluate import evaluate
from vaegan_core.metrics.classifier import train_classifier
from vaegan_core.metrics.reference import compute_reference_stats
from vaegan_core.models.prior import fit_latent_gmm
from vaegan_core.training.train import Trainer

from conftest import tiny_model_config, tiny_train_config

SAMPLED_CASES = 14  # cases of the default suite (a seeded sample); the slow sweep runs them all
MEMORY_BOUND_MB = 1024  # no case may grow this process's peak memory by more
MARKER = "pickle-ran.txt"  # what a planted pickle would write if it were ever unpickled


class _Planted:
    """Unpickling this writes MARKER into the folder named when it was made: the proof a pickle ran."""

    def __init__(self, folder: Path):
        self.folder = str(folder)

    def __reduce__(self):
        return (Path.write_text, (Path(self.folder) / MARKER, "executed"))


def _json_variants(original: dict) -> dict[str, bytes]:
    """Wrong types, huge or odd numbers and broken encodings of a JSON object file."""
    variants = {
        "a list": b"[1, 2, 3]", "a string": b'"config"', "a number": b"42", "null": b"null",
        "empty": b"", "torn": json.dumps(original).encode()[:-7], "not utf-8": b"\xff\xfe{\x00}",
        "deep nesting": b"[" * 5000 + b"]" * 5000, "NaN": json.dumps(original).replace("0", "NaN", 1).encode(),
    }
    if "model" in original:  # config.json: its fields with wrong types and sizes
        for field, value in (("width", 10**12), ("width", 2000), ("latent_dim", 32.5), ("latent_dim", -1),
                             ("image_size", 10**9), ("beta", 1e308), ("kind", ["vae"]), ("channels", True)):
            changed = json.loads(json.dumps(original))
            changed["model"][field] = value
            variants[f"model.{field}={value!r}"[:40]] = json.dumps(changed).encode()
        for section, value in (("model", []), ("train", "mnist"), ("state", 7), ("class", None)):
            changed = dict(original, **{section: value})
            variants[f"{section}={value!r}"] = json.dumps(changed).encode()
        changed = json.loads(json.dumps(original))
        changed["train"]["epochs"] = 10**15
        variants["train.epochs=1e15"] = json.dumps(changed).encode()
    else:  # metrics.json: results of the wrong shape
        variants["result not a dict"] = json.dumps({"lenet-test": [1, 2]}).encode()
        variants["metrics not a dict"] = json.dumps({"lenet-test": {"metrics": "fid"}}).encode()
    return variants


def _binary_variants(data: bytes, folder: Path, seed: int) -> dict[str, bytes]:
    """Truncations at many offsets, random bytes, flipped header bytes and a planted pickle."""
    rng = random.Random(seed)
    variants = {f"truncated at {cut}": data[:cut]
                for cut in sorted({0, 1, 7, 8, 9, 64, len(data) // 3, len(data) // 2, len(data) - 1})}
    variants["random bytes"] = bytes(rng.getrandbits(8) for _ in range(min(len(data), 4096)))
    flipped = bytearray(data)
    for index in rng.sample(range(min(len(data), 200)), 8):
        flipped[index] ^= 0xFF
    variants["header bytes flipped"] = bytes(flipped)
    huge_header = (10**15).to_bytes(8, "little") + data[8:]
    variants["header length 1e15"] = huge_header
    path = folder / "planted.bin"
    torch.save({"payload": _Planted(folder)}, path)
    variants["planted pickle"] = path.read_bytes()
    path.unlink()
    return variants


def _history_variants(data: bytes) -> dict[str, bytes]:
    return {
        "torn last line": data + b'{"step": 99, "loss": 1.',
        "not utf-8": data + b"\xff\xfe\xfa\n",
        "lines of other types": data + b"[1, 2]\n42\n\"x\"\nnull\n",
        "a step of the wrong type": data + b'{"step": "nine"}\n',
        "empty": b"",
        "one huge line": data + b'{"loss": ' + b"9" * 100_000 + b"}\n",
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A checkpoints root: a digits classifier and its reference statistics, and a tiny VAE-GAN that has every
    file (weights, trainer state, GMM, metrics, history, samples)."""
    root = tmp_path_factory.mktemp("fuzz")
    cache = tmp_path_factory.mktemp("fuzz-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAEGAN_CHECKPOINTS_DIR", str(root))
        patch.setenv("XDG_CACHE_HOME", str(cache))
        train_classifier("digits", root / "classifiers" / "digits", epochs=2, progress=False)
        compute_reference_stats("digits", "test", "lenet", out_dir=root / "reference_stats")
        folder = root / "model"
        Trainer(tiny_model_config("vaegan"), tiny_train_config(limit=256, epochs=1), folder, progress=False).fit()
        model = load_model(folder)
        fit_latent_gmm(model, torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0)),
                       components=2).save(folder)
        assert main(["eval", str(folder), "--n", "200", "--no-progress"]) == 0
    return root, cache


def _cases(root: Path) -> list[tuple[str, str, bytes]]:
    """(file, corruption, bytes) for every file of the folder."""
    folder = root / "model"
    files = {
        "config.json": folder / "config.json", "model.safetensors": folder / "model.safetensors",
        "trainer_state.pt": folder / "trainer_state.pt", "latent_gmm.safetensors": folder / "latent_gmm.safetensors",
        "metrics.json": folder / "metrics.json", "history.jsonl": folder / "history.jsonl",
        "samples/epoch_001.png": folder / "samples" / "epoch_001.png",
        "reference_stats": root / "reference_stats" / "digits-test-lenet-digits.npz",
    }
    cases = []
    for name, path in files.items():
        data = path.read_bytes()
        if name.endswith(".json"):
            variants = _json_variants(json.loads(data))
        elif name == "history.jsonl":
            variants = _history_variants(data)
        else:
            variants = _binary_variants(data, folder, seed=len(cases))
        cases += [(name, corruption, content) for corruption, content in variants.items()]
    return cases


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _run(operation, capsys) -> tuple[int, str]:
    """A CLI command (a list of arguments), or a Python call whose user-facing errors become exit code 1."""
    if isinstance(operation, list):
        code = main(operation)
        return code, capsys.readouterr().err
    try:
        operation()
    except VaeganError as error:
        return 1, str(error) + "\n"
    return 0, ""


def _fid_from_shipped_statistics(folder: Path) -> None:
    """What the app's FID page does without precision and recall: FID against the reference .npz."""
    evaluate(load_model(folder), "digits", n=200, metrics=("fid",), reference="stats")


def _operations(folder: Path, tmp_path: Path) -> dict:
    out = tmp_path / "grid.png"
    return {
        "info": ["info", str(folder)],
        "sample": ["sample", str(folder), "--n", "4", "--out", str(out)],
        "sample --prior gmm": ["sample", str(folder), "--n", "4", "--out", str(out), "--prior", "gmm"],
        "eval": ["eval", str(folder), "--n", "200", "--no-progress"],
        "train --resume": ["train", "--resume", "--out", str(folder), "--epochs", "2", "--no-progress"],
        "FID from the shipped statistics": lambda: _fid_from_shipped_statistics(folder),
    }


def said(err: str) -> list[str]:
    """What a command said on stderr beyond its progress (`--no-progress` prints one "epoch k/N: ..." line per
    epoch): an error is one line, a success nothing."""
    return [line for line in err.strip().splitlines() if not re.match(r"epoch \d+/\d+: ", line)]


def _check_case(pristine, tmp_path, monkeypatch, capsys, case):
    name, corruption, content = case
    source_root, cache = pristine
    root = tmp_path / "root"
    shutil.copytree(source_root, root, symlinks=True)
    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    folder = root / "model"
    target = root / "reference_stats" / "digits-test-lenet-digits.npz" if name == "reference_stats" else folder / name
    target.write_bytes(content)
    label = f"{name} ({corruption})"
    for operation, call in _operations(folder, tmp_path).items():
        before = _snapshot(root)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        code, err = _run(call, capsys)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
        assert code in (0, 1), f"{label}, {operation}: exit {code}: {err}"
        assert "Traceback" not in err and len(said(err)) == (0 if code == 0 else 1), f"{label}, {operation}: {err}"
        assert grown_mb < MEMORY_BOUND_MB, f"{label}, {operation}: peak memory grew by {grown_mb:.0f} MB"
        if code == 1:
            assert _snapshot(root) == before, f"{label}, {operation}: a refused command changed files"
        assert not (folder / MARKER).exists(), f"{label}, {operation}: a planted pickle was executed"
    model, message = _open_like_the_apps(root, folder)
    assert (model is None) == (message is not None) and (message is None or "\n" not in message), label
    assert not (folder / MARKER).exists(), f"{label}, app loader: a planted pickle was executed"


def _open_like_the_apps(root: Path, folder: Path):
    """The apps' loader (zoo.open_model) on this folder, laid out as root/mnist/vaegan."""
    layout = root / "apps"
    (layout / "mnist").mkdir(parents=True)
    (layout / "mnist" / "vaegan").symlink_to(folder)
    return zoo.open_model("mnist", "vaegan", lambda path, fingerprint: load_model(path), layout)


def _sample(cases: list, count: int, seed: int = 0) -> list:
    return random.Random(seed).sample(cases, min(count, len(cases)))


def test_a_seeded_sample_of_corrupt_files(pristine, tmp_path, monkeypatch, capsys):
    cases = _cases(pristine[0])
    assert len(cases) > 80  # the sweep covers many corruptions of every file
    for index, case in enumerate(_sample(cases, SAMPLED_CASES)):
        _check_case(pristine, tmp_path / str(index), monkeypatch, capsys, case)


@pytest.mark.slow
def test_every_corrupt_file(pristine, tmp_path, monkeypatch, capsys):
    for index, case in enumerate(_cases(pristine[0])):
        _check_case(pristine, tmp_path / str(index), monkeypatch, capsys, case)
