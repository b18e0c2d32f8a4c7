"""The training split as the Trainer holds it: loaded and checked against the model (``training_data``), the
labels of a conditional model (``conditional_labels``) and whether the split fits on the training device
(``fits_on_device``). ``Trainer`` builds its data with them; the loaders of the datasets are in ``data``."""

from __future__ import annotations

from typing import Any

import torch

from . import distributed
from ..config import ModelConfig
from .data import load_dataset
from ..errors import ConfigError


def training_data(trainer, model_config: ModelConfig, data, data_root) -> tuple[torch.Tensor, Any]:
    """The training split (``data`` when given), cut to ``limit``; process 0 decodes an image folder first."""
    config = trainer.config
    if not trainer.context.main:
        distributed.barrier(trainer.context)
    images, labels = data if data is not None else load_dataset(
        config.dataset, "train", data_root, image_size=model_config.image_size, channels=model_config.channels,
        progress=trainer.progress)
    if trainer.context.main:
        distributed.barrier(trainer.context)
    trainer.images_available = images.shape[0]  # before --limit: whether raising it can help (the error's advice)
    if config.limit:
        images, labels = images[: config.limit], labels[: config.limit]
    if images.dtype != torch.uint8:  # batches are divided by 255: floats would train on near-black images
        raise ConfigError(f"training images must be uint8 pixels (0-255) as load_dataset gives them, got "
                          f"{images.dtype}; vaegan_core.train_model takes float images in [0, 1]")
    expected = (model_config.channels, model_config.image_size, model_config.image_size)
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(
            f"{config.dataset} images are {'x'.join(map(str, images.shape[1:]))} but the model expects "
            f"{'x'.join(map(str, expected))}; set image_size / channels to match the data"
        )
    return images, labels


def conditional_labels(trainer, model_config: ModelConfig, labels, count: int) -> torch.Tensor | None:
    """The class of each training image on the device, for a conditional model (None otherwise); sets
    ``class_frequencies``, the share of each class, from which samples for evaluation draw their labels."""
    if not model_config.num_classes:
        return None
    labels = torch.as_tensor(labels).long()
    if labels.numel() != count or labels.min() < 0 or labels.max() >= model_config.num_classes:
        raise ConfigError(f"a conditional model of {model_config.num_classes} classes needs one label from 0 "
                          f"to {model_config.num_classes - 1} per training image; {trainer.config.dataset} "
                          f"has labels from {int(labels.min())} to {int(labels.max())}")
    counts = torch.bincount(labels, minlength=model_config.num_classes).double()
    trainer.class_frequencies = [round(float(share), 6) for share in counts / counts.sum()]
    return labels.to(trainer.device)


def fits_on_device(device: torch.device, images: torch.Tensor) -> bool:
    """Whether the uint8 training split may live on ``device``: on the CPU always, on a CUDA GPU while it takes under
    a quarter of the free memory (elsewhere under 2**30 values); else it stays in host memory."""
    if device.type != "cuda":
        return device.type == "cpu" or images.numel() < 2**30
    free, _ = torch.cuda.mem_get_info(device)
    return images.numel() * images.element_size() < free // 4
