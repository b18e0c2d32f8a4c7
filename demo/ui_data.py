"""The models, test images and class names a page shows, from the app layer (``vaegan_core.app``: one Explorer per
checkpoints folder and process, shared by every session); a missing or broken checkpoint or dataset is said on the
page. The warm-up thread loads the default view's models before the first visitor asks."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from ui_links import stop
from ui_settings import DEFAULT_PRIOR
from vaegan_core.app import LIVE, dataset_label
from vaegan_core.app import explorer as explorer_of
from vaegan_core.config import ENCODER_KINDS, MODEL_KINDS
from vaegan_core.storage import zoo


def checkpoints_root() -> Path:
    """``streamlit run demo/app.py -- --checkpoints DIR``, else $VAEGAN_CHECKPOINTS_DIR, else checkpoints/."""
    argv = sys.argv[1:]
    for position, argument in enumerate(argv):
        if argument == "--checkpoints" and position + 1 < len(argv):
            return Path(argv[position + 1])
        if argument.startswith("--checkpoints="):
            return Path(argument.split("=", 1)[1])
    return zoo.checkpoints_root(os.environ.get("VAEGAN_CHECKPOINTS_DIR"))


@st.cache_resource
def start_warm_up() -> bool:
    """Once per process, in a background thread, after the first page has rendered: import torch, pandas (the
    pages' tables) and the pages' modules (seconds of the first visit of any page that draws), load the sidebar's
    default models into the model cache (Compare and Reconstruction open with all three), time the domain
    features for the FID page's estimate, then compile UMAP's numba code (the first map of another size or
    model). Off with VAEGAN_NO_WARMUP=1 (the tests set it, to keep both cores for themselves);
    with VAEGAN_WARMUP_REPORT=FILE, the seconds it took are written there when done (benchmarks/browser_latency.py
    waits for it)."""
    if os.environ.get("VAEGAN_NO_WARMUP") == "1":
        return False
    import time

    root = checkpoints_root()  # read here: the thread has no script context

    def warm_up() -> None:
        time.sleep(2)  # the first page first: importing now would slow the app's start
        started = time.perf_counter()
        import importlib

        for module in ("torch", "pandas", "vaegan_core.images", "vaegan_core.analysis.anomaly", "vaegan_core.models.conditional",
                       "vaegan_core.analysis.latent_usage", "vaegan_core.storage.page_cache", "vaegan_core.metrics.evaluate"):
            importlib.import_module(module)
        from vaegan_core.training.live import warm_up as warm_up_live

        warm_up_live("digits", train_step=False)  # Train live's data read (its page warms torch's training up)
        for kind in MODEL_KINDS:  # the default view's models, into the cache every session shares
            explorer_of(root).open("mnist", kind)  # a missing or broken one is the page's to explain
        from vaegan_core.app import FID_METRICS
        from vaegan_core.errors import VaeganError

        try:  # the FID page's default estimates (the features', each model's sampling, the scores): timed once
            for opened in (explorer_of(root).open("mnist", kind) for kind in MODEL_KINDS):
                if opened.model is not None:  # the keys the page asks for: its default n, metrics and prior
                    prior = opened.model.prior(DEFAULT_PRIOR, fallback=True).name
                    explorer_of(root).results.estimate_seconds("lenet", 5000, "mnist", FID_METRICS, opened.model, prior)
        except VaeganError:  # no classifier shipped: the page says so
            pass
        from vaegan_core.analysis.latent import warm_up_umap

        warm_up_umap()
        report = os.environ.get("VAEGAN_WARMUP_REPORT")
        if report:
            Path(report).write_text(f"{time.perf_counter() - started:.1f}\n")

    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    return True


LIVE_ROOT = "_live-root"  # session_state: the checkpoints root of this session's live models (Train live)


def live_root() -> Path | None:
    """The checkpoints root of the models this session trained live and opened (``Train live``), while it exists."""
    root = st.session_state.get(LIVE_ROOT)
    return Path(root) if root and (Path(root) / LIVE).is_dir() else None


def explorer(dataset: str | None = None):
    """The app layer (``vaegan_core.app``) that holds ``dataset`` (default: the sidebar's): this session's live
    models for the dataset "live", else this app's checkpoints folder. Every model, dataset view, result and page
    computation the pages show comes from it, shared by every session of the process."""
    root = live_root()
    if root is not None and (dataset if dataset is not None else st.session_state.get("dataset")) == LIVE:
        return explorer_of(root)
    return shipped_explorer()


def shipped_explorer():
    """The app layer over this app's checkpoints folder (``--checkpoints DIR``), whatever the sidebar shows."""
    return explorer_of(checkpoints_root())


def load(dataset: str, kind: str, conditional: bool = False):
    """The model (the class-conditional one with ``conditional``), or None (after saying how to get it) when its
    checkpoint is missing or broken."""
    found = explorer()
    if found.is_open(dataset, kind, conditional):
        opened = found.open(dataset, kind, conditional)
    else:
        with st.spinner("Loading the model..."):
            opened = found.open(dataset, kind, conditional)
    if opened.message:
        (st.info if opened.missing else st.error)(opened.message)
    return opened.model


def models(dataset: str, kinds, need_encoder: bool = False) -> dict:
    """``{kind: model}`` for the chosen kinds that load; the others are explained on the page."""
    loaded = {}
    for kind in kinds:
        if need_encoder and kind not in ENCODER_KINDS:
            continue
        model = load(dataset, kind)
        if model is not None:
            loaded[kind] = model
    return loaded


def datasets() -> list[str]:
    """The sidebar's datasets: MNIST and Fashion-MNIST, then every image folder with models in the checkpoints
    folder (``--checkpoints DIR``), then this session's live models when it opened them."""
    found = explorer_of(checkpoints_root()).datasets()
    return found + [LIVE] if live_root() is not None else found


def dataset_view(dataset: str):
    """The test split of ``dataset`` with its class names (``vaegan_core.app.DatasetView``): from VAEGAN_DATA_DIR or
    the copy shipped with the app; an image folder's from the folder its models were trained on. A folder that is
    not on this machine stops the page with one line that says so."""
    from vaegan_core.errors import DatasetError

    try:
        with st.spinner("Reading the test images..."):
            return explorer().dataset(dataset)
    except DatasetError as error:
        st.error(f"The test images of {dataset_label(dataset)} are not here: {error}")
        stop()


def test_split(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N x C x S x S, labels N)`` of ``dataset_view``."""
    view = dataset_view(dataset)
    return view.images, view.labels


def test_images(dataset: str, indices):
    """Test images by index as a float tensor B x C x S x S in [0, 1]."""
    return dataset_view(dataset).floats(indices)


def class_names(dataset: str) -> list[str]:
    names = explorer()._class_names(dataset, explorer().data_of(dataset))
    return names if names is not None else dataset_view(dataset).class_names


def static_picture(path, caption: str, where=None, fraction: float = 1.0) -> None:
    """A picture file (a sample grid a run wrote) as wide as its column, pixels kept sharp (nearest neighbour);
    ``fraction``: only its top share (half a grid of 8 rows: its first 4 rows). A damaged, oversized or foreign
    file shows a one-line note in its place, never an error page."""
    from PIL import Image

    from vaegan_core.images import open_picture

    where = where or st
    try:
        image = open_picture(path)
    except ValueError as error:
        where.caption(f"{caption}: no picture ({zoo.shown(str(error), checkpoints_root())})")
        return
    if fraction < 1:
        image = image.crop((0, 0, image.width, max(1, round(image.height * fraction))))
    scale = max(1, 480 // max(image.size))
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    where.image(image, caption=caption, width="stretch")
