"""One truth per number: the Overview's stored anomaly AUCs (vaegan eval's diagnostics), `vaegan anomaly` and the
Anomalies page score the same images, so they show the same figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaegan_core.analysis import anomaly
from vaegan_core.storage import page_cache
from vaegan_core.storage.checkpoint import load_model
from vaegan_core.cli import main

from conftest import REPO  # noqa: E402


def test_the_page_the_cli_and_the_diagnostics_score_the_same_images(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = load_model(REPO / "checkpoints" / "mnist" / "vae")
    model.fingerprint, model.checkpoint = "test", None
    stored = anomaly.standard_pairs(model, "mnist", n=300, seed=0)
    normal, sets, skipped = anomaly.detection_sets("mnist", 300, seed=0)
    assert not skipped and set(sets) == set(stored["pairs"])
    page_normal = page_cache.anomaly_scores(model, normal, "mnist")
    for name, images in sets.items():
        page = page_cache.anomaly_scores(model, images, name)
        for score, found in stored["pairs"][name].items():
            assert anomaly.detection(page_normal[score], page[score])["auc"] == pytest.approx(found["auc"], abs=1e-12)
    assert main(["anomaly", str(REPO / "checkpoints" / "mnist" / "vae"), "--against", "fashion-mnist",
                 "--n", "300"]) == 0
    cli = json.loads(capsys.readouterr().out)["scores"]
    for score, found in stored["pairs"]["fashion-mnist"].items():
        assert cli[score]["auc"] == pytest.approx(found["auc"], abs=1e-12)
    # the first k of the pick are the same images for every k (the page's smaller sizes are a prefix)
    smaller, smaller_sets, _ = anomaly.detection_sets("mnist", 100, seed=0)
    assert torch.equal(smaller, normal[:100]) and torch.equal(smaller_sets["fashion-mnist"], sets["fashion-mnist"][:100])


def test_the_shipped_page_caches_hold_the_diagnostics_images():
    """The shipped Anomalies page scores give the Overview's stored AUCs at n = 2,000, for every shipped model."""
    for dataset, other in (("mnist", "fashion-mnist"), ("fashion-mnist", "mnist")):
        for kind in ("vae", "gan", "vaegan"):
            folder = REPO / "checkpoints" / dataset / kind
            diagnostics = json.loads((folder / "metrics.json").read_text())["diagnostics"]["anomaly"]
            stored = diagnostics.get("pairs", {}).get(other)
            assert stored, f"{folder}: no stored AUC against {other}"
            files = {name: folder / "page_cache" / f"scores-{name}-2000-seed0.safetensors" for name in (dataset, other)}
            assert all(path.is_file() for path in files.values()), f"run python scripts/page_cache.py ({folder})"
            from safetensors.numpy import load_file

            normal, strange = (load_file(str(path)) for path in files.values())
            for score, found in stored.items():
                auc = anomaly.detection(normal[score].astype(np.float64), strange[score].astype(np.float64))["auc"]
                assert auc == pytest.approx(found["auc"], abs=1e-6), (dataset, kind, score)
