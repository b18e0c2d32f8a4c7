"""Stored page results (vaegan_core.page_cache): found by fingerprint, recomputed when stale or unreadable, never
a crash on a folder that cannot be written, and the app's pages read the shipped ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import tiny_model_config
from vaegan_core import page_cache
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
    from vaegan_core.anomaly import anomaly_scores
    from vaegan_core.latent import reconstruct_with_error
    from vaegan_core.latent_usage import latent_usage

    model = build_model(tiny_model_config("vaegan"))
    model.eval()
    model.fingerprint, model.folder = "f" * 16, str(tmp_path)
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
        "usage-test-40.json", "scores-noise-40.safetensors", "map-pca-40-seed0.safetensors",
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
