"""The one place where float image tensors become pixels (uint8, PIL, PNG grids)."""

from __future__ import annotations

import math
import os

import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] (any shape) -> uint8 in [0, 255], rounded, on the CPU."""
    return (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)


def grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """B x C x H x W in [0, 1] -> one C x H' x W' image in [0, 1], ``nrow`` images per row (default: square)."""
    from torchvision.utils import make_grid

    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    return make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding, pad_value=1.0)


def to_pil(image: torch.Tensor) -> Image.Image:
    """One C x H x W image in [0, 1] -> a PIL image (mode L for one channel, RGB for three)."""
    pixels = to_uint8(image)
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0].numpy(), mode="L")
    return Image.fromarray(pixels.permute(1, 2, 0).numpy(), mode="RGB")


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> None:
    """Save a batch B x C x H x W in [0, 1] as one PNG grid (grayscale stays one channel)."""
    picture = grid(images, nrow)
    if images.shape[1] == 1:
        picture = picture[:1]  # make_grid repeats a single channel to three
    to_pil(picture).save(path, format="PNG")
