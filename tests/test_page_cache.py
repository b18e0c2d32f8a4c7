"""Stored page results (vaegan_core.storage.page_cache): found by fingerprint, recomputed when stale or unreadable, never
a crash on a folder that cannot be written, and the app's pages read the shipped ones."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from conftest import tiny_model_config
from vaegan_core.storage import page_cache
from vaegan_core.models import build_model


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value
    return compute, calls


def test_arrays_are_computed_once_then_read(tmp_path):
    compute, calls = counting({"points": np.arange(6, dtype=np.float32).reshape(3, 2)})
    first = page_cache.arrays("map-umap-3-seed0", "abc", compute, checkpoint=tmp_path)
    second = page_cache.arrays("map-umap-3-seed0", "abc", compute, checkpoint=tmp_path)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["points"], second["points"])
    assert (page_cache.user_folder("abc") / "map-umap-3-seed0.safetensors").is_file()


def test_another_fingerprint_is_computed_again(tmp_path):
    compute, calls = counting({"points": np.zeros((3, 2), np.float32)})
    page_cache.arrays("m", "old", compute, write_to=tmp_path)
    page_cache.arrays("m", "new", compute, checkpoint=tmp_path.parent / tmp_path.name)  # the file is "old"'s
    assert len(calls) == 2


def test_shipped_results_are_read_from_the_checkpoint_folder(tmp_path):
    shipped = tmp_path / "ckpt" / page_cache.FOLDER
    page_cache.document("usage-test-10", "fp", lambda: {"active_units": 7}, write_to=shipped)
    value = page_cache.document("usage-test-10", "fp", lambda: pytest.fail("recomputed"), checkpoint=tmp_path / "ckpt")
    assert value == {"active_units": 7}


@pytest.mark.parametrize("content", [b"", b"\xff\x00garbage", b"{\"fingerprint\": \"fp\"", b"[1, 2]"])
def test_a_corrupt_file_is_recomputed_not_a_crash(tmp_path, content):
    folder = tmp_path / page_cache.FOLDER
    folder.mkdir()
    (folder / "u.json").write_bytes(content)
    (folder / "a.safetensors").write_bytes(content)
    assert page_cache.document("u", "fp", lambda: {"x": 1}, checkpoint=tmp_path) == {"x": 1}
    assert page_cache.arrays("a", "fp", lambda: {"x": np.ones(2)}, checkpoint=tmp_path)["x"].tolist() == [1, 1]


def test_an_unwritable_target_still_returns_the_result(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    assert page_cache.document("u", "fp", lambda: {"x": 1}, write_to=blocker / "sub") == {"x": 1}


def test_names_with_path_characters_stay_in_their_folder(tmp_path):
    page_cache.document("scores-../../My Folder_x-10", "fp", lambda: {"x": 1}, write_to=tmp_path)
    (written,) = list(tmp_path.iterdir())
    assert written.parent == tmp_path and "/" not in written.name and written.name.startswith("scores-")


def test_the_page_functions_store_what_the_core_computes(tmp_path):
    from vaegan_core.analysis.anomaly import anomaly_scores
    from vaegan_core.analysis.latent import reconstruct_with_error
    from vaegan_core.analysis.latent_usage import latent_usage

    model = build_model(tiny_model_config("vaegan"))
    model.eval()
    model.fingerprint = "f" * 16  # no model.checkpoint: nothing shipped, results go to the user's cache
    images = (torch.rand(40, 1, 28, 28) * 255).to(torch.uint8)
    usage = page_cache.latent_usage(model, images)
    assert usage == json.loads(json.dumps(latent_usage(model, images)))
    scores = page_cache.anomaly_scores(model, images, "noise")
    for name, values in anomaly_scores(model, images).items():
        np.testing.assert_allclose(scores[name], values, rtol=1e-5)
    points = page_cache.latent_map(model, images, "pca")
    assert points.shape == (40, 2)
    again = page_cache.latent_map(model, images, "pca")
    np.testing.assert_array_equal(points, again)
    errors = page_cache.reconstruction_errors(model, images)
    np.testing.assert_allclose(errors, reconstruct_with_error(model, images)[1].numpy(), rtol=1e-5)
    assert errors.shape == (40,)
    assert {path.name for path in page_cache.user_folder(model.fingerprint).iterdir()} == {
        "usage-test-40.json", "scores-noise-40-seed0.safetensors", "map-pca-40-seed0.safetensors",
        "recon-errors-40.safetensors"}


def test_prune_keeps_the_current_fingerprint_only(tmp_path):
    page_cache.document("a", "new", lambda: {"x": 1}, write_to=tmp_path)
    page_cache.arrays("b", "new", lambda: {"x": np.ones(2)}, write_to=tmp_path)
    page_cache.document("c", "old", lambda: {"x": 1}, write_to=tmp_path)
    page_cache.arrays("d", "old", lambda: {"x": np.ones(2)}, write_to=tmp_path)
    (tmp_path / "e.json").write_text("not json")
    (tmp_path / "f.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 9\n")
    assert page_cache.prune(tmp_path, "new") == ["c.json", "d.safetensors", "e.json", "f.safetensors"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.json", "b.safetensors"]


# ---------------------------------------------------------------- stored files are data: bounded, checked, optional

def tiny_vae(fingerprint="e" * 16):
    model = build_model(tiny_model_config("vae"))
    model.eval()
    model.fingerprint = fingerprint
    return model


def store_arrays(path, values, fingerprint):
    """A stored entry as any writer (an old version, a hand, a bug) could have left it: no check on the way."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(values, str(path), metadata={"fingerprint": fingerprint})


IMAGES = (torch.arange(5 * 28 * 28) % 251).to(torch.uint8).reshape(5, 1, 28, 28)


@pytest.mark.parametrize("stored", [
    {"errors": np.zeros(7, np.float32)},  # another number of images
    {"errors": np.zeros(5, np.float64)},  # another dtype
    {"errors": np.full(5, np.nan, np.float32)},
    {"errors": np.zeros((5, 1), np.float32)},
    {"errors": np.zeros(5, np.float32), "extra": np.zeros(5, np.float32)},
], ids=["length", "dtype", "nan", "ndim", "keys"])
def test_a_wrong_stored_array_is_recomputed_and_rewritten(stored):
    from vaegan_core.analysis.latent import reconstruct_with_error

    model = tiny_vae()
    path = page_cache.user_folder(model.fingerprint) / "recon-errors-5.safetensors"
    store_arrays(path, stored, model.fingerprint)
    errors = page_cache.reconstruction_errors(model, IMAGES)
    assert errors.shape == (5,) and errors.dtype == np.float32 and np.isfinite(errors).all()
    np.testing.assert_allclose(errors, reconstruct_with_error(model, IMAGES)[1].numpy(), rtol=1e-5)
    from safetensors.numpy import load_file

    assert set(load_file(path)) == {"errors"} and load_file(path)["errors"].shape == (5,)  # rewritten


def test_wrong_stored_maps_and_scores_are_recomputed():
    model = tiny_vae()
    folder = page_cache.user_folder(model.fingerprint)
    store_arrays(folder / "map-pca-5-seed0.safetensors", {"points": np.zeros((5, 3), np.float32)}, model.fingerprint)
    store_arrays(folder / "scores-noise-5.safetensors", {"elbo": np.zeros(5)}, model.fingerprint)  # pixel_error?
    assert page_cache.latent_map(model, IMAGES, "pca").shape == (5, 2)
    assert set(page_cache.anomaly_scores(model, IMAGES, "noise")) == {"elbo", "pixel_error"}


@pytest.mark.parametrize("tamper", [
    lambda usage: usage.update(n=6),
    lambda usage: usage.update(kl_per_dim=usage["kl_per_dim"][:-1]),
    lambda usage: usage.update(order=[0] * len(usage["order"])),
    lambda usage: usage.update(active=["yes"] * len(usage["active"])),
    lambda usage: usage.update(kl_total="1.0"),
], ids=["n", "short-list", "order", "active", "kl-total"])
def test_a_wrong_stored_usage_is_recomputed(tamper):
    from vaegan_core.analysis.latent_usage import latent_usage

    model = tiny_vae()
    expected = json.loads(json.dumps(latent_usage(model, IMAGES)))
    wrong = json.loads(json.dumps(expected))
    tamper(wrong)
    path = page_cache.user_folder(model.fingerprint) / "usage-test-5.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"fingerprint": model.fingerprint, "value": wrong}))
    assert page_cache.latent_usage(model, IMAGES) == expected
    assert json.loads(path.read_text())["value"] == expected  # rewritten


OVERSIZED = 20 * 2**20  # bytes: more than any page result (page_cache.LIMIT)


def _oversized(path):
    """A file with the right fingerprint, larger than any page result: a safetensors file whose one array is
    sparse on disk (so the test writes almost nothing), or a JSON document padded with spaces."""
    if path.suffix == ".json":
        path.write_text(json.dumps({"fingerprint": "fp", "value": {"x": 2}}) + " " * OVERSIZED)
        return
    count = OVERSIZED // 4
    header = json.dumps({"__metadata__": {"fingerprint": "fp"},
                         "x": {"dtype": "F32", "shape": [count], "data_offsets": [0, count * 4]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as handle:
        handle.write(len(header).to_bytes(8, "little") + header)
        handle.truncate(8 + len(header) + count * 4)


@pytest.mark.parametrize("make", [
    lambda path: os.mkfifo(path),
    lambda path: path.symlink_to("/dev/zero"),
    _oversized,
], ids=["fifo", "dev-zero", "oversized"])
def test_a_stored_file_that_is_not_a_small_regular_file_is_not_read(tmp_path, make):
    folder = tmp_path / page_cache.FOLDER
    folder.mkdir()
    make(folder / "a.safetensors")
    make(folder / "d.json")
    assert page_cache.arrays("a", "fp", lambda: {"x": np.ones(2)}, checkpoint=tmp_path)["x"].tolist() == [1, 1]
    assert page_cache.document("d", "fp", lambda: {"x": 1}, checkpoint=tmp_path) == {"x": 1}


# Stores an array and a document under a file-size limit (as a full disk would refuse them), twice each.
FULL_DISK = r"""
import resource, signal, sys
import numpy as np
from vaegan_core.storage import page_cache
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, like ENOSPC
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
for _ in range(2):
    scores = page_cache.arrays("big", "fp", lambda: {"x": np.ones(10_000)}, write_to=sys.argv[1])
    usage = page_cache.document("doc", "fp", lambda: {"x": [0.5] * 5_000}, write_to=sys.argv[1])
print("RESULT", scores["x"].shape[0], len(usage["x"]))
"""


def test_a_full_disk_only_warns_once_per_file(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "RESULT 10000 5000" in result.stdout, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 2 and all("not written" in line for line in warnings), warnings
    assert "big.safetensors" in warnings[0] + warnings[1] and "doc.json" in warnings[0] + warnings[1]
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
