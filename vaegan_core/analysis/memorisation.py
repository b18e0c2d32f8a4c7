"""Has a model memorised its training set? Each sample's nearest training image, measured against how close
*real test images* come to the training set.

A model that generalises produces samples about as far from their nearest training image as unseen real
images are. The summary is the share of samples closer to a training image than the ``quantile`` (5 %) of
test images are: about 5 % for a model that generalises like the data, far more for one that copies. A
sample within ``COPY_DISTANCE`` of a training image (in [0, 1] pixels) is flagged as a copy.

Neighbours are exact (no approximate index): a chunked matrix product over the 60,000 training images, in
the pixels and in the domain classifier's features.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..errors import ConfigError

COPY_DISTANCE = 1e-3  # Euclidean, in pixels in [0, 1]: an 8-bit rounding of a copy stays far below it
SPACES = ("pixels", "features")
_CHUNK = 256


def nearest(queries, references, chunk: int = _CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean nearest neighbour in ``references`` (M x d) of each row of ``queries`` (N x d):
    (distances N, indices N)."""
    queries = torch.as_tensor(np.asarray(queries), dtype=torch.float32).flatten(1)
    references = torch.as_tensor(np.asarray(references), dtype=torch.float32).flatten(1)
    if queries.shape[1] != references.shape[1]:
        raise ConfigError(f"queries have {queries.shape[1]} values each, the references {references.shape[1]}")
    if references.shape[0] == 0:
        raise ConfigError("no reference images to search")
    reference_norms = references.pow(2).sum(1)
    distances, indices = [], []
    for part in queries.split(chunk):
        squared = part.pow(2).sum(1, keepdim=True) - 2 * part @ references.T + reference_norms
        best, where = squared.min(1)
        # the expansion loses precision next to 0: recompute the winners' distances exactly
        exact = (part - references[where]).pow(2).sum(1)
        distances.append(exact.clamp_min(0).sqrt())
        indices.append(where)
    return torch.cat(distances).numpy().astype(np.float64), torch.cat(indices).numpy()


def nearest_k(query, references, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``references`` (M x d) to one ``query`` (d, or 1 x ...), exact and closest
    first: (distances k, indices k)."""
    query = torch.as_tensor(np.asarray(query), dtype=torch.float32).reshape(1, -1)
    references = torch.as_tensor(np.asarray(references), dtype=torch.float32).flatten(1)
    if query.shape[1] != references.shape[1]:
        raise ConfigError(f"the query has {query.shape[1]} values, the references {references.shape[1]}")
    k = max(1, min(int(k), references.shape[0]))
    # the direct sum, in blocks of rows: exact, and no M x d difference array at once (60,000 x 784 floats)
    squared = torch.cat([(block - query).pow_(2).sum(1) for block in references.split(4096)])
    distances, indices = squared.topk(k, largest=False)
    return distances.sqrt().numpy().astype(np.float64), indices.numpy()


def summary(sample_distances: np.ndarray, test_distances: np.ndarray, quantile: float = 0.05,
            copy_distance: float | None = None) -> dict:
    """The memorisation figure from the nearest-training-image distances of samples and of real test images:
    ``closer_than_test`` (share of samples below the test distances' ``quantile``; about ``quantile`` when the
    model generalises), ``copies`` (samples within ``copy_distance``), and the medians of both."""
    sample_distances, test_distances = np.asarray(sample_distances, float), np.asarray(test_distances, float)
    if sample_distances.size == 0 or test_distances.size == 0:
        raise ConfigError("the memorisation check needs samples and test images")
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must be between 0 and 1, got {quantile}")
    threshold = float(np.quantile(test_distances, quantile))
    result = {"quantile": quantile, "threshold": threshold,
              "closer_than_test": float(np.mean(sample_distances < threshold)),
              "sample_median": float(np.median(sample_distances)), "test_median": float(np.median(test_distances)),
              "n_samples": int(sample_distances.size), "n_test": int(test_distances.size)}
    if copy_distance is not None:
        result["copies"] = int(np.sum(sample_distances <= copy_distance))
    return result


def _floats(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


def reference_distances(test: torch.Tensor, train: torch.Tensor, extractor=None,
                        train_features: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The distances of real test images to their nearest training image, per space (``pixels``, and
    ``features`` with an extractor): the yardstick of ``memorisation_check``, the same for every model."""
    test, train = _floats(test), _floats(train)
    found = {"pixels": nearest(test, train)[0]}
    if extractor is not None:
        if train_features is None:
            train_features = np.concatenate([extractor.features(part).numpy() for part in train.split(2000)])
        found["features"] = nearest(extractor.features(test).numpy(), train_features)[0]
    return found


def memorisation_check(samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor | None = None, extractor=None,
                       train_features: np.ndarray | None = None, quantile: float = 0.05,
                       reference: dict[str, np.ndarray] | None = None) -> dict:
    """Nearest training image of each sample in pixels (and in ``extractor``'s features when given), against
    the test images' distances to the training set. Images are N x C x H x W, uint8 or float in [0, 1].

    Returns ``{"pixels": {...}, "features": {...}}``: each a ``summary`` plus, per sample, ``distance``,
    ``neighbour`` (index into the training images) and ``copy`` (pixels only). ``train_features``: the
    extractor's features of ``train``, when cached, saves the pass over the training set; ``reference``:
    ``reference_distances`` computed before, in place of ``test``.
    """
    samples, train_pixels = _floats(samples), _floats(train)
    if extractor is not None and train_features is None:
        train_features = np.concatenate([extractor.features(part).numpy() for part in train_pixels.split(2000)])
    if reference is None:
        if test is None:
            raise ConfigError("the memorisation check needs test images or their reference distances")
        reference = reference_distances(test, train_pixels, extractor, train_features)
    result = {}
    distances, neighbours = nearest(samples, train_pixels)
    result["pixels"] = {**summary(distances, reference["pixels"], quantile, COPY_DISTANCE),
                        "distance": distances.tolist(), "neighbour": neighbours.tolist(),
                        "copy": (distances <= COPY_DISTANCE).tolist()}
    if extractor is not None:
        distances, neighbours = nearest(extractor.features(samples).numpy(), train_features)
        result["features"] = {**summary(distances, reference["features"], quantile), "extractor": extractor.name,
                              "distance": distances.tolist(), "neighbour": neighbours.tolist()}
    return result


@functools.lru_cache(maxsize=2)
def _train_data(dataset: str, data_root, with_features: bool):
    """The train split (float: all of MNIST is 188 MB) and its domain features, loaded once per process and dataset,
    whatever n and seed the checks ask for (a new seed once made a new copy)."""
    from ..training.data import load_dataset
    from ..metrics.extractors import LeNetExtractor
    from ..metrics.features_cache import real_features

    train, _ = load_dataset(dataset, "train", data_root)
    extractor = train_features = None
    if with_features:
        extractor = LeNetExtractor(dataset)
        train_features = real_features(extractor, dataset, "train", data_root, images=train)
    return _floats(train), extractor, train_features


@functools.lru_cache(maxsize=4)
def _split_data(dataset: str, n: int, seed: int, data_root, with_features: bool):
    """The train split (float), its domain features (``_train_data``), n seeded test images' reference distances:
    once per process for every model of a dataset (the apps and ``vaegan eval`` check several models in a row)."""
    from ..training.data import load_dataset

    train, extractor, train_features = _train_data(dataset, data_root, with_features)
    test, _ = load_dataset(dataset, "test", data_root)
    test = test[torch.randperm(test.shape[0], generator=torch.Generator().manual_seed(seed))[:n]]
    return train, extractor, train_features, reference_distances(test, train, extractor, train_features)


def check_model(model, dataset: str, n: int = 1000, seed: int = 0, prior: str = "normal", data_root=None,
                with_features: bool = True, quantile: float = 0.05) -> dict:
    """``memorisation_check`` of ``n`` seeded samples of ``model`` against the train split of ``dataset`` (and
    ``n`` test images as the reference), in pixels and in the domain classifier's features (cached on disk)."""
    root = None if data_root is None else str(data_root)
    train, extractor, train_features, reference = _split_data(dataset, n, seed, root, with_features)
    # a conditional model draws every class in turn (uniform labels)
    labels = torch.arange(n) % model.config.num_classes if model.config.num_classes else None
    samples = model.sample(n, generator=torch.Generator().manual_seed(seed), prior=prior, labels=labels)
    result = memorisation_check(samples, train, extractor=extractor, train_features=train_features,
                                quantile=quantile, reference=reference)
    result.update(dataset=dataset, n=n, seed=seed, prior=prior)
    return result


def headline(result: dict) -> dict:
    """The numbers worth storing in metrics.json: each space's summary without the per-sample lists."""
    keep = {}
    for space in SPACES:
        if space in result:
            keep[space] = {key: value for key, value in result[space].items()
                           if key not in ("distance", "neighbour", "copy")}
    return {**keep, **{key: result[key] for key in ("dataset", "n", "seed", "prior") if key in result}}
