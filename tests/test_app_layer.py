"""The app layer (vaegan_core.app) on its own: its cache computes each value once under concurrent visitors and forgets
failures cleanly, and a checkpoints root whose dataset is named for something else (a live run's "live" models) is
served by what its models trained on: class names, upload style, training split. Compare's samples and class
histograms are drawn once per models and settings, and the Gradio app shows the very draw the Explorer keeps."""

from __future__ import annotations

import importlib
import json
import shutil
import threading
import time

import pytest

from vaegan_core.app import LIVE, Explorer
from vaegan_core.app.memo import Memo
from vaegan_core.config import MODEL_KINDS
from vaegan_core.training.data import CLASS_NAMES

explorer_module = importlib.import_module("vaegan_core.app.explorer")  # the module (the package's explorer: a function)


def test_memo_computes_once_for_concurrent_callers_and_retries_after_a_failure():
    memo, calls, gate = Memo(4), [], threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return len(calls)

    threads = [threading.Thread(target=lambda: memo.get("k", slow)) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert calls == [1] and memo.get("k", slow) == 1
    assert memo._computing == {}  # nothing left behind for a later caller to wait on

    def broken():
        raise ValueError("no")

    with pytest.raises(ValueError):
        memo.get("x", broken)
    assert "x" not in memo and memo._computing == {}
    assert memo.get("x", lambda: 7) == 7  # tried again, not stuck


def test_memo_keeps_the_last_entries():
    memo = Memo(2)
    for key in "abc":
        memo.get(key, lambda key=key: key.upper())
    assert "a" not in memo and memo.get("b", lambda: "?") == "B" and len(memo) == 2


def test_a_live_root_is_served_by_the_data_its_models_trained_on(tiny_checkpoints, tmp_path):
    """The models of a live run sit under the dataset "live"; they trained on MNIST here, so the view has MNIST's
    class names and the MNIST upload style, and the training split is MNIST's."""
    root = tmp_path / "session"
    shutil.copytree(tiny_checkpoints / "mnist" / "vae", root / LIVE / "vae")
    config = root / LIVE / "vae" / "config.json"  # the tiny model trained on digits: say MNIST, as a live run may
    saved = json.loads(config.read_text())
    saved["train"]["dataset"] = "mnist"
    config.write_text(json.dumps(saved))
    explorer = Explorer(root)
    assert LIVE in explorer.datasets() and explorer.data_of(LIVE) == "mnist"
    view = explorer.dataset(LIVE)
    assert view.style == "mnist" and explorer.upload_style(LIVE) == "mnist"
    assert explorer.class_names(LIVE) == CLASS_NAMES["mnist"] == view.class_names
    assert view.caption(0).startswith("#0 (")
    opened = explorer.open(LIVE, "vae")
    assert opened.model is not None and opened.message is None
    assert explorer.open(LIVE, "gan").missing


def test_a_live_models_page_results_stay_in_its_own_folder(tiny_checkpoints, tmp_path, monkeypatch):
    """A live model's page computations go into its folder's page_cache/ (replaced with the folder when the run is
    opened again, gone with the session), never into the user's cache, where every snapshot of every session
    would leave files behind; a second Explorer reads them back instead of computing."""
    from vaegan_core.analysis import latent_usage

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "session"
    shutil.copytree(tiny_checkpoints / "mnist" / "vae", root / LIVE / "vae")
    explorer = Explorer(root)
    model = explorer.open(LIVE, "vae").model
    usage = explorer.latent_usage(model, LIVE)
    errors = explorer.reconstruction_errors(model, LIVE, 20)
    stored = sorted(path.name for path in (root / LIVE / "vae" / "page_cache").iterdir())
    assert len(stored) == 2 and not (tmp_path / "cache").exists(), stored
    calls = counting(monkeypatch, latent_usage, "latent_usage")
    again = Explorer(root)
    model = again.open(LIVE, "vae").model
    assert again.latent_usage(model, LIVE)["active_units"] == usage["active_units"] and not calls
    assert (again.reconstruction_errors(model, LIVE, 20) == errors).all()
    shipped = Explorer(tiny_checkpoints)  # a folder's own models: by fingerprint in the user's cache, as before
    shipped.latent_usage(shipped.open("mnist", "vae").model, "mnist")
    assert any((tmp_path / "cache").rglob("*"))


@pytest.fixture
def tiny_models(tiny_checkpoints):
    explorer = Explorer(tiny_checkpoints)
    models, failed = explorer.models("mnist", MODEL_KINDS)
    assert list(models) == list(MODEL_KINDS) and not failed
    return explorer, models


def counting(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that records each call's arguments (the Explorer imports it late, so it
    finds the wrapper)."""
    calls, real = [], getattr(module, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_the_training_split_is_read_once_per_process_whichever_folder_asks(tmp_path, monkeypatch):
    """Every Explorer (the shipped folder's, each Train live session's) shares one copy of a training split: all of
    MNIST is about 235 MB with its float pixels."""
    from vaegan_core.training import data

    module = importlib.import_module("vaegan_core.app.explorer")

    reads = []
    real = data.load_dataset
    monkeypatch.setattr(data, "load_dataset", lambda *args, **kwargs: reads.append(args) or real(*args, **kwargs))
    module._TRAINING.clear()
    first, second = Explorer(tmp_path / "a"), Explorer(tmp_path / "b")
    images, pixels = first.train_split("digits")
    again, _ = second.train_split("digits")
    assert again is images and second.train_labels("digits") is first.train_labels("digits")
    assert reads == [("digits", "train")] and pixels.shape == (images.shape[0], 28 * 28)
    module._TRAINING.clear()


def test_the_explorer_draws_each_grid_once_and_as_sample_side_by_side_does(tiny_models, monkeypatch):
    """Compare's grids (both apps): the same draw as ``sample_side_by_side``, drawn once per models and settings
    and then shared; a draw too large to keep is made afresh each time."""
    import torch

    from vaegan_core.analysis import latent

    explorer, models = tiny_models
    direct = latent.sample_side_by_side(models, 9, seed=7, temperature=0.8, prior="gmm")
    calls = counting(monkeypatch, latent, "sample_side_by_side")
    first = explorer.samples(models, 9, seed=7, temperature=0.8, prior="gmm")
    again = explorer.samples(models, 9, seed=7, temperature=0.8, prior="gmm")
    assert len(calls) == 1 and list(first) == list(MODEL_KINDS)
    assert all(again[kind] is first[kind] and torch.equal(first[kind], direct[kind]) for kind in MODEL_KINDS)
    other = explorer.samples(models, 9, seed=8, temperature=0.8, prior="gmm")  # a new setting: a new draw
    assert len(calls) == 2 and not torch.equal(other["vae"], first["vae"])
    explorer.samples(models, 9, seed=7, temperature=0.5, prior="gmm")
    explorer.samples(models, 9, seed=7, temperature=0.8, prior="normal")
    assert len(calls) == 4

    monkeypatch.setattr(explorer_module, "SAMPLES_KEPT_BYTES", 9 * 28 * 28 * 4)  # one model's grid, not three
    explorer.samples(models, 16, seed=1)
    explorer.samples(models, 16, seed=1)
    assert len(calls) == 6  # not kept: memory stays bounded
    explorer.samples({"vae": models["vae"]}, 9, seed=1)
    explorer.samples({"vae": models["vae"]}, 9, seed=1)
    assert len(calls) == 7


def test_the_explorer_classifies_each_draw_once(tiny_models, monkeypatch):
    from vaegan_core.analysis.latent import sample_side_by_side
    from vaegan_core.metrics import evaluate

    explorer, models = tiny_models
    calls = counting(monkeypatch, evaluate, "class_histogram")
    histograms = explorer.class_histograms(models, "mnist", 60, seed=3, temperature=0.9, prior="normal")
    assert explorer.class_histograms(models, "mnist", 60, seed=3, temperature=0.9, prior="normal") == histograms
    assert len(calls) == len(MODEL_KINDS)  # one classification per model, once
    drawn = sample_side_by_side(models, 60, seed=3, temperature=0.9, prior="normal")
    assert histograms == {kind: evaluate.class_histogram(images, "mnist") for kind, images in drawn.items()}
    assert all(sum(result["histogram"]) == 60 for result in histograms.values())


def test_gradio_compare_shows_the_explorers_samples(tiny_checkpoints, monkeypatch):
    """The Gradio app's Compare and the Streamlit page both draw through the process's Explorer: the same seed gives
    the same pictures, drawn once."""
    pytest.importorskip("gradio")
    import gradio_app
    import torch

    from vaegan_core.analysis import latent
    from vaegan_core.app import explorer

    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(tiny_checkpoints))
    shown = []
    real_grid = gradio_app.grid_picture
    monkeypatch.setattr(gradio_app, "grid_picture",
                        lambda images, nrow: shown.append(images) or real_grid(images, nrow))
    shared = explorer(tiny_checkpoints)
    shared.clear()
    models, _ = shared.models("mnist", MODEL_KINDS)
    calls = counting(monkeypatch, latent, "sample_side_by_side")
    *pictures, notes = gradio_app.compare("mnist", 5, 3, 0.7, "normal")
    assert "9 samples per model from seed 5" in notes and len(calls) == 1
    samples = shared.samples(models, 9, seed=5, temperature=0.7, prior="normal")
    assert len(calls) == 1  # the Explorer's draw, kept for the next visitor of either app
    assert [images is samples[kind] for images, kind in zip(shown, MODEL_KINDS)] == [True] * 3
    direct = latent.sample_side_by_side(models, 9, seed=5, temperature=0.7, prior="normal")
    for picture, kind in zip(pictures, MODEL_KINDS):
        assert torch.equal(samples[kind], direct[kind])
        assert picture.tobytes() == real_grid(direct[kind], 3).tobytes()
