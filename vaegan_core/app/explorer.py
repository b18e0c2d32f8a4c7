"""The Explorer: everything the apps show, computed or read once per process and shared by every visitor.

One ``Explorer`` per checkpoints folder. It opens the models of a dataset (loaded once, keyed by the content
fingerprint of their files, so a retrained checkpoint is loaded afresh), gives the dataset view (test split, class
names, upload style), reads each checkpoint folder through ``CheckpointFolder``, keeps the FID results
(``ResultStore``) and runs the pages' slow computations through the page cache, so that every front end shows the
same numbers of the same images (the Overview's stored AUCs, the Anomalies page and ``vaegan anomaly`` all score
``anomaly.detection_sets``). No UI here: Streamlit and Gradio each hold one Explorer and draw what it returns.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..storage import zoo
from ..storage.checkpoint_folder import CheckpointFolder
from ..config import DATASET_LABELS, ENCODER_KINDS, MODEL_KINDS
from ..errors import DatasetError
from .memo import Memo
from .results import ResultStore

REFERENCE_IMAGES = 2000  # test images each anomaly score is ranked against (those of the stored diagnostics)
SAMPLES_KEPT_BYTES = 2 * 2**20  # Explorer.samples keeps draws up to this size: any MNIST grid to 10 x 10 of 3 models
SAMPLES_KEPT = 32  # and this many of them (at most 64 MiB); a larger draw (a class histogram's) is made afresh


def upload_style(dataset: str) -> str:
    """How an upload or a drawing is fitted for ``dataset``'s models: ``mnist`` (cropped, 20 x 20, centred by its
    mass, as MNIST was made) or ``fashion`` (the whole picture, as Fashion-MNIST and image folders were made)."""
    return "mnist" if dataset == "mnist" else "fashion"


LIVE = "live"  # the models of a session's live run (vaegan_core.training.live: LiveRun.open_as_checkpoints)


def dataset_label(dataset: str) -> str:
    """A dataset's name for people: "MNIST", "Fashion-MNIST", "Your live models", or "NAME (image folder)"."""
    if dataset == LIVE:
        return "Your live models (this session)"
    return DATASET_LABELS.get(dataset) or f"{dataset} (image folder)"


@dataclass(frozen=True)
class DatasetView:
    """The test split of a dataset as the apps show it: ``images`` uint8 N x C x S x S and ``labels`` N (shared by
    every visitor: never changed in place), the class names and how uploads are fitted."""

    name: str
    data: str  # what load_dataset reads: the name, or an image folder's folder:PATH
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return dataset_label(self.name)

    @property
    def style(self) -> str:
        return upload_style(self.data)  # a live run's models ("live") trained on MNIST: the MNIST style

    def __len__(self) -> int:
        return len(self.labels)

    def floats(self, indices) -> "Any":
        """Test images by index as a float tensor B x C x S x S in [0, 1]; an index outside the split raises
        DatasetError."""
        import torch

        chosen = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= len(self)):
            bad = int(chosen[(chosen < 0) | (chosen >= len(self))][0])
            raise DatasetError(f"image index {bad} is outside 0..{len(self) - 1}")
        return torch.from_numpy(self.images[chosen]).float() / 255.0

    def caption(self, index: int) -> str:
        """"#12 (Sneaker)": a test image by its index and class."""
        label = int(self.labels[index])
        name = self.class_names[label] if 0 <= label < len(self.class_names) else str(label)
        return f"#{int(index)} ({name})"


@dataclass(frozen=True)
class Opened:
    """What ``Explorer.open`` found: the model, or None with one sentence for the user (``missing``: the checkpoint
    is not there, as opposed to there but broken)."""

    model: Any
    message: str | None = None
    missing: bool = False


# The training splits (uint8 images, their float pixels, labels), keyed by what load_dataset reads: all of MNIST is
# about 235 MB, kept once per process and shared by every Explorer (each Train live session has an Explorer of its own)
_TRAINING = Memo(2)


class Explorer:
    """The app layer over one checkpoints folder (default: ``$VAEGAN_CHECKPOINTS_DIR`` or the shipped one)."""

    def __init__(self, root: str | os.PathLike | None = None, max_models: int = 24):
        self.root = zoo.checkpoints_root(root)
        self.results = ResultStore()
        self._models = Memo(max_models)
        self._views = Memo(4)
        self._derived = Memo(64)
        self._samples = Memo(SAMPLES_KEPT)
        self._training = _TRAINING  # one copy per process, whichever folder's models ask (a live run's too)

    def clear(self) -> None:
        """Forget every model, dataset view and computed result (the FID results stay), and the process's training
        splits (shared by every Explorer): the next request reads the files again."""
        for memo in (self._models, self._views, self._derived, self._samples, self._training):
            memo.clear()

    # ------------------------------------------------------------------ the catalogue
    def upload_style(self, dataset: str) -> str:
        """How an upload or a drawing is fitted for ``dataset``'s models (the data they trained on decides)."""
        return upload_style(self.data_of(dataset))

    def datasets(self) -> list[str]:
        """MNIST and Fashion-MNIST, then every image folder with models in the checkpoints folder."""
        return zoo.available_datasets(self.root)

    def data_of(self, dataset: str) -> str:
        """What ``load_dataset`` reads for a zoo dataset (an image folder's models name the folder they learnt)."""
        return zoo.data_of(dataset, self.root)[0]

    def folder(self, dataset: str, kind: str, conditional: bool = False) -> CheckpointFolder:
        return CheckpointFolder(zoo.checkpoint_dir(dataset, kind, self.root, conditional))

    def is_available(self, dataset: str, kind: str, conditional: bool = False) -> bool:
        return zoo.is_available(dataset, kind, self.root, conditional)

    def missing_message(self, dataset: str, kind: str, conditional: bool = False) -> str:
        return zoo.missing_message(dataset, kind, self.root, conditional)

    def shown_path(self, path) -> str:
        return zoo.shown_path(path, self.root)

    def description(self) -> str:
        """Which checkpoints this Explorer shows, in words."""
        return zoo.root_description(self.root)

    # ------------------------------------------------------------------ models
    def _key(self, dataset: str, kind: str, conditional: bool) -> tuple:
        folder = zoo.checkpoint_dir(dataset, kind, self.root, conditional)
        return str(folder), zoo.fingerprint(folder)

    def is_open(self, dataset: str, kind: str, conditional: bool = False) -> bool:
        """Whether the model is loaded already (a front end shows "Loading..." only when it is not)."""
        if not self.is_available(dataset, kind, conditional):
            return True
        try:
            return self._key(dataset, kind, conditional) in self._models
        except OSError:
            return True

    def open(self, dataset: str, kind: str, conditional: bool = False) -> Opened:
        """The model of ``kind`` for ``dataset`` (its class-conditional twin with ``conditional``), loaded once per
        process and shared; or None with one sentence saying how to get it (missing) or what is wrong (broken)."""
        def load(path: str, fingerprint: str):
            from ..storage.checkpoint import load_model

            app_threads()
            return self._models.get((path, fingerprint), lambda: load_model(path))

        model, message = zoo.open_model(dataset, kind, load, self.root, conditional)
        return Opened(model, message, missing=message is not None and not self.is_available(dataset, kind, conditional))

    def models(self, dataset: str, kinds: Iterable[str], need_encoder: bool = False,
               conditional: bool = False) -> tuple[dict, list[Opened]]:
        """``({kind: model}, [the Opened of each kind that did not load])`` for the chosen kinds (with
        ``need_encoder``, the GAN is left out without a word: it has no encoder)."""
        loaded, failed = {}, []
        for kind in [kind for kind in MODEL_KINDS if kind in kinds]:
            if need_encoder and kind not in ENCODER_KINDS:
                continue
            opened = self.open(dataset, kind, conditional)
            if opened.model is not None:
                loaded[kind] = opened.model
            else:
                failed.append(opened)
        return loaded, failed

    # ------------------------------------------------------------------ the dataset view
    def dataset(self, dataset: str) -> DatasetView:
        """The test split of ``dataset`` with its class names: from VAEGAN_DATA_DIR or the copy shipped with the
        app; an image folder's from the folder its models were trained on. Raises DatasetError when it is not on
        this machine."""
        name, size, channels = zoo.data_of(dataset, self.root)

        def read() -> DatasetView:
            from ..training.data import load_dataset

            images, labels = load_dataset(name, "test", image_size=size, channels=channels)
            images, labels = np.array(images.numpy()), np.array(labels.numpy())
            return DatasetView(dataset, name, images, labels, self._class_names(dataset, name, labels))

        return self._views.get((dataset, name, size, channels), read)

    def class_names(self, dataset: str) -> list[str]:
        """The class names of ``dataset``: the built-in ones, the names its models stored when they were trained,
        the image folder's classes, else the label numbers of its test split."""
        return self._class_names(dataset, self.data_of(dataset)) or self.dataset(dataset).class_names

    def _class_names(self, dataset: str, name: str, labels: np.ndarray | None = None) -> list[str] | None:
        """None when only the test labels can tell and ``labels`` is not given (``name``: the data ``dataset``'s
        models trained on: a live run's "live" models name MNIST's, say)."""
        for known in (dataset, name):
            if known in _builtin_names():
                return list(_builtin_names()[known])
        from ..training.folders import folder_classes, is_folder

        for kind in MODEL_KINDS:  # the names a model recorded when it was trained win over the folder as it is now
            stored = self.folder(dataset, kind).class_names()
            if stored:
                return stored
        try:
            names = folder_classes(name) if is_folder(name) else []
        except DatasetError:  # the folder is not here: the indices
            names = []
        if names:
            return names
        if labels is None:
            return None
        names = [str(index) for index in range(int(labels.max()) + 1)] if len(labels) else []
        return names or ["all"]

    # ------------------------------------------------------------------ the pages' computations
    def _cached(self, key: tuple, compute):
        return self._derived.get(key, compute)

    def test_codes(self, model, dataset: str, n: int = 10_000) -> np.ndarray:
        """Posterior means of the first ``n`` test images (n x latent_dim)."""
        def compute():
            import torch

            from ..analysis.latent import encode_images

            return encode_images(model, torch.from_numpy(self.dataset(dataset).images[:n])).numpy()

        return self._cached(("codes", model.fingerprint, dataset, n), compute)

    def latent_map(self, model, dataset: str, n: int, method: str) -> np.ndarray:
        """The codes of the first ``n`` test images in 2-D (PCA, t-SNE or UMAP; shipped for the shipped
        checkpoints, else computed once and kept in the user's cache, or a live model's own folder)."""
        def compute():
            from ..storage import page_cache
            from ..analysis.latent import project

            if method == "pca":  # instant: from the codes, not worth a file
                return _frozen(project(self.test_codes(model, dataset, n), method, seed=0))
            return _frozen(page_cache.latent_map(model, self.dataset(dataset).images[:n], method, seed=0,
                                                 write_to=_stored_in(model, dataset)))

        return self._cached(("map", model.fingerprint, dataset, n, method), compute)

    def latent_usage(self, model, dataset: str) -> dict:
        """``latent_usage`` of the whole test split (the Latent space page's active units)."""
        def compute():
            from ..storage import page_cache

            return page_cache.latent_usage(model, self.dataset(dataset).images, write_to=_stored_in(model, dataset))

        return self._cached(("usage", model.fingerprint, dataset), compute)

    def reconstruction_errors(self, model, dataset: str, pool: int) -> np.ndarray:
        """The per-pixel MSE of each of the first ``pool`` test images' reconstruction."""
        def compute():
            from ..storage import page_cache

            return _frozen(page_cache.reconstruction_errors(model, self.dataset(dataset).images[:pool],
                                                            write_to=_stored_in(model, dataset)))

        return self._cached(("recon", model.fingerprint, dataset, pool), compute)

    def anomaly_scores(self, model, dataset: str, against: str, n: int = REFERENCE_IMAGES) -> dict[str, np.ndarray]:
        """Scores of the first ``n`` (<= REFERENCE_IMAGES) images of ``anomaly.detection_sets``: the model's own test
        split (``against`` = dataset), another dataset's or a corruption of its own. One scoring of
        REFERENCE_IMAGES serves every n; at n = REFERENCE_IMAGES they are the images of the stored AUCs (the
        Overview's, ``vaegan eval``'s diagnostics and ``vaegan anomaly``). A missing second dataset raises
        DatasetError."""
        def compute():
            from ..analysis import anomaly
            from ..storage import page_cache

            normal, sets, skipped = anomaly.detection_sets(
                self.data_of(dataset), REFERENCE_IMAGES, seed=0, image_size=model.config.image_size,
                channels=model.config.channels)
            if against in skipped:
                raise DatasetError(skipped[against])
            images = normal if against == dataset else sets[against]
            found = page_cache.anomaly_scores(model, images, against, write_to=_stored_in(model, dataset))
            return {score: _frozen(values) for score, values in found.items()}

        scores = self._cached(("anomaly", model.fingerprint, dataset, against), compute)
        return {score: values[:n] for score, values in scores.items()}

    def memorisation(self, model, dataset: str, n: int, seed: int) -> dict:
        """``memorisation.check_model``: how near each of ``n`` samples comes to a training image."""
        def compute():
            from ..analysis import memorisation

            return memorisation.check_model(model, self.data_of(dataset), n=n, seed=seed)

        return self._cached(("memorisation", model.fingerprint, dataset, n, seed), compute)

    def samples(self, models: dict, n: int, seed: int = 0, temperature: float = 1.0, prior: str = "normal") -> dict:
        """``{kind: images n x C x H x W in [0, 1]}``: ``sample_side_by_side`` of ``{kind: model}`` (every model
        decoding the same seeded noise, Compare's grids in both apps), drawn once per models' fingerprints and
        settings while the draw is small (SAMPLES_KEPT_BYTES), shared by every visitor: never change it in place."""
        key = ("samples", _fingerprints(models), int(n), int(seed), float(temperature), prior)

        def draw() -> dict:
            from ..analysis.latent import sample_side_by_side

            return sample_side_by_side(models, int(n), seed=int(seed), temperature=float(temperature), prior=prior)

        size = sum(4 * int(n) * model.config.channels * model.config.image_size ** 2 for model in models.values())
        return dict(self._samples.get(key, draw) if size <= SAMPLES_KEPT_BYTES else draw())

    def class_histograms(self, models: dict, dataset: str, n: int, seed: int = 0, temperature: float = 1.0,
                         prior: str = "normal") -> dict:
        """``{kind: class_histogram}`` (``histogram`` counts per class, ``classes_covered``, ``kl_to_uniform``) of
        ``n`` samples of each model (``samples``' draw) by the domain classifier of the data ``dataset``'s models
        learnt; computed once per fingerprints and settings. No classifier for it raises MetricError."""
        def compute() -> dict:
            from ..metrics.evaluate import class_histogram

            drawn = self.samples(models, n, seed, temperature, prior)
            return {kind: class_histogram(images, self.data_of(dataset)) for kind, images in drawn.items()}

        key = ("histograms", _fingerprints(models), dataset, int(n), int(seed), float(temperature), prior)
        return dict(self._cached(key, compute))

    def train_split(self, dataset: str) -> tuple[np.ndarray, Any]:
        """``(images uint8 N x C x S x S, pixels)``: the training split, and the same images as one float matrix
        (images x pixels in [0, 1]) kept once per process for nearest-image searches. Raises DatasetError when
        the training split is not on this machine."""
        images, pixels, _ = self._training.get(self.data_of(dataset), lambda: self._read_train(dataset))
        return images, pixels

    def train_labels(self, dataset: str) -> np.ndarray:
        """The training split's labels (read with ``train_split``, kept with it)."""
        return self._training.get(self.data_of(dataset), lambda: self._read_train(dataset))[2]

    def _read_train(self, dataset: str) -> tuple:
        import torch

        from ..training.data import load_dataset

        images, labels = load_dataset(self.data_of(dataset), "train")
        images = np.array(images.numpy())
        pixels = torch.from_numpy(images.reshape(images.shape[0], -1)).float() / 255
        return images, pixels, _frozen(np.array(labels.numpy()))


def _stored_in(model, dataset: str):
    """Where a page computation of ``model`` is stored: a live run's models (dataset LIVE) keep theirs in their own
    folder's page_cache/, which goes when the run is opened again (a new copy) or its session ends; every other
    model's go to the user's cache, by fingerprint (None)."""
    folder = getattr(model, "checkpoint", None)
    return folder if dataset == LIVE else None


def _builtin_names() -> dict[str, list[str]]:
    from ..training.data import CLASS_NAMES

    return CLASS_NAMES


def _fingerprints(models: dict) -> tuple:
    """The key of a set of models: each one's kind and content fingerprint, in their order (the models themselves
    are not hashed)."""
    return tuple((kind, model.fingerprint) for kind, model in models.items())


def _frozen(array: np.ndarray) -> np.ndarray:
    """The array, read-only: a shared result no visitor can change for the others."""
    array = np.asarray(array)
    array.flags.writeable = False
    return array


_threads_lock = threading.Lock()
_threads: list[int] = []


def app_threads() -> int:
    """Once per process, before the first model runs: torch's intra-op threads for the app, VAEGAN_APP_THREADS
    (default 1). A server runs many visitors' requests at once; two threads per request spin-wait on each other
    when every core is busy, so one thread each serves a class better (benchmarks/load_test.py). A value that is
    not a thread count from 1 to 256 is one line on stderr, and 1."""
    with _threads_lock:
        if _threads:
            return _threads[0]
        import torch

        text = os.environ.get("VAEGAN_APP_THREADS", "1").strip() or "1"
        threads = int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= 256 else 1
        if str(threads) != text:  # a typo in the server's settings must not take every page down
            print(f"vaegan app: VAEGAN_APP_THREADS={text[:20]!r} is not a thread count from 1 to 256; using 1",
                  file=sys.stderr)
        torch.set_num_threads(threads)
        _threads.append(threads)
        return threads


def _forget_app_threads() -> None:
    """For tests: the next ``app_threads()`` reads VAEGAN_APP_THREADS again."""
    with _threads_lock:
        _threads.clear()


app_threads.cache_clear = _forget_app_threads  # the spelling of a functools cache


_explorers: dict[str, Explorer] = {}
_explorers_lock = threading.Lock()


def clear_caches() -> None:
    """Every Explorer of this process forgets what it read and computed (``Explorer.clear``), and the process's
    training splits go."""
    with _explorers_lock:
        found = list(_explorers.values())
    for each in found:
        each.clear()
    _TRAINING.clear()


def explorer(root: str | os.PathLike | None = None) -> Explorer:
    """The process's Explorer of a checkpoints folder (one per folder, shared by every visitor and front end)."""
    key = str(Path(zoo.checkpoints_root(root)).absolute())
    with _explorers_lock:
        for gone in [known for known in _explorers if known != key and not Path(known).is_dir()]:
            del _explorers[gone]  # a folder that went (a live run's, with its session): its models go too
        if key not in _explorers:
            _explorers[key] = Explorer(key)
        return _explorers[key]
