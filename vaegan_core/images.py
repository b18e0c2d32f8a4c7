"""The one place where float image tensors become pixels (uint8, PIL, PNG grids)."""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from PIL import Image

from .storage.files import atomic_write, read_bounded

PICTURE_BYTES = 32 * 2**20  # a sample grid the package writes is a few KB to a few MB
PICTURE_PIXELS = 16_000_000  # ... and a few megapixels at most; a decompression bomb is far above


def check_image_batch(images, shape: tuple[int, ...] | None, error: type[Exception]) -> None:
    """Raise ``error`` unless ``images`` is a float tensor B x C x H x W in [0, 1] (of ``shape`` = (C, H, W) if given)."""
    valid = isinstance(images, torch.Tensor) and images.ndim == 4 and images.shape[1] in (1, 3)
    if not valid or (shape is not None and tuple(images.shape[1:]) != tuple(shape)):
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        want = " x ".join(map(str, shape)) if shape is not None else "C x H x W (C = 1 or 3)"
        raise error(f"images must be a tensor of shape B x {want}, got {got}")
    if not images.is_floating_point():
        raise error(f"images must be float in [0, 1], got dtype {images.dtype}; divide uint8 pixels by 255")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise error("images must be in [0, 1]; divide uint8 pixels by 255")


def to_uint8(images: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """Float images in [0, 1] (any shape) -> uint8 in [0, 255], rounded, on the CPU.

    ``channels_last``: a batch B x C x H x W comes out as B x H x W x C, the layout image viewers
    (``st.image``, PIL) take.
    """
    pixels = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1) if channels_last else pixels


def grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """B x C x H x W in [0, 1] -> one C x H' x W' image in [0, 1], ``nrow`` images per row (default: square), each
    framed by ``padding`` white pixels, as torchvision's ``make_grid(..., pad_value=1)`` lays it out (written here
    so that drawing a grid never imports torchvision, whose compiled operators must match torch's build exactly)."""
    images = images.detach().float().cpu()
    count, channels, height, width = images.shape
    if count == 1:
        return images[0]  # one image comes back as it is, unframed, as make_grid gives it
    nrow = max(1, min(nrow or math.ceil(math.sqrt(count)), count))
    rows = math.ceil(count / nrow)
    cell_h, cell_w = height + padding, width + padding
    canvas = torch.ones(channels, rows * cell_h + padding, nrow * cell_w + padding)
    for index in range(count):
        top, left = (index // nrow) * cell_h + padding, (index % nrow) * cell_w + padding
        canvas[:, top:top + height, left:left + width] = images[index]
    return canvas


def to_pil(image: torch.Tensor) -> Image.Image:
    """One C x H x W image in [0, 1] -> a PIL image (mode L for one channel, RGB for three)."""
    pixels = to_uint8(image)
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0].numpy(), mode="L")
    return Image.fromarray(pixels.permute(1, 2, 0).numpy(), mode="RGB")


def grid_image(images: torch.Tensor, nrow: int | None = None, scale: int = 1) -> Image.Image:
    """A batch B x C x H x W in [0, 1] as one PIL grid (grayscale stays one channel), ``scale`` times
    larger by nearest neighbour so pixels stay sharp."""
    image = to_pil(grid(images, nrow))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    return image


def open_picture(path: str | os.PathLike, max_pixels: int = PICTURE_PIXELS) -> Image.Image:
    """A picture file the package wrote (a sample grid), decoded only when it is a regular file of at most
    ``PICTURE_BYTES`` bytes whose header says at most ``max_pixels`` pixels; anything else (missing, a FIFO, a
    bomb, a torn file) is a ``ValueError`` with the reason in one line. Returns a loaded RGB or L image."""
    import io

    try:
        data = read_bounded(path, PICTURE_BYTES)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > max_pixels:
                raise ValueError(f"{path} is {width}x{height} pixels, over the {max_pixels:,} a picture may have")
            image.load()
            return image.convert("L" if image.mode in ("1", "L", "I;16") else "RGB")
    except ValueError:
        raise
    except Image.DecompressionBombError:  # PIL refuses at open above twice its own pixel limit
        raise ValueError(f"{path} claims more pixels than a picture may have ({max_pixels:,})") from None
    except Exception as error:  # OSError, PIL's UnidentifiedImageError, SyntaxError
        raise ValueError(f"{path} could not be read as a picture ({type(error).__name__})") from None


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> None:
    """Save a batch B x C x H x W in [0, 1] as one PNG grid (grayscale stays one channel), atomically."""
    picture = grid_image(images, nrow)
    atomic_write(path, lambda temporary: picture.save(temporary, format="PNG"))


def png_bytes(images: torch.Tensor, nrow: int | None = None, scale: int = 1) -> bytes:
    """A batch B x C x H x W in [0, 1] as the bytes of one PNG grid (for downloads), upscaled ``scale`` times."""
    import io

    buffer = io.BytesIO()
    grid_image(images, nrow, scale).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes(frames: list[torch.Tensor], milliseconds: int = 120, scale: int = 4, bounce: bool = True) -> bytes:
    """Frames (each a C x H x W image in [0, 1]) as the bytes of a looping animated GIF.

    ``bounce`` plays the frames forward then backward, so an interpolation loops smoothly.
    """
    import io

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    order = list(frames) + (list(frames)[-2:0:-1] if bounce else [])
    pictures = []
    for frame in order:
        image = to_pil(frame[:1] if frame.shape[0] == 1 else frame).convert("L" if frame.shape[0] == 1 else "RGB")
        pictures.append(image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST))
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=milliseconds, loop=0)
    return buffer.getvalue()


# "hot" anchors for error maps: black (no error) -> dark red -> orange -> yellow -> white (the largest error)
_HEAT = np.array([[0, 0, 0], [128, 0, 0], [230, 60, 0], [255, 200, 0], [255, 255, 255]], dtype=np.float64)


def error_heatmap(original: torch.Tensor, reconstruction: torch.Tensor, top: float | None = None) -> np.ndarray:
    """|original - reconstruction| of one image (C x H x W in [0, 1], channels averaged) as an H x W x 3 uint8
    picture in a black-red-yellow-white scale; ``top`` is the error shown white (default: 1, the largest
    possible), so maps made with the same ``top`` compare."""
    error = (original.detach().float() - reconstruction.detach().float()).abs().mean(0).cpu().numpy()
    scaled = np.clip(error / (top if top and top > 0 else 1.0), 0, 1) * (len(_HEAT) - 1)
    low = np.floor(scaled).astype(int).clip(0, len(_HEAT) - 2)
    mix = (scaled - low)[..., None]
    return ((1 - mix) * _HEAT[low] + mix * _HEAT[low + 1]).round().astype(np.uint8)


def sharpness_kept(original: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """How much of the original's edge energy the reconstruction keeps: the sum of squared differences between
    neighbouring pixels (across and down) of the reconstruction over that of the original, for one image
    C x H x W. A blurred copy scores well below 1; a copy with the same crispness about 1 (or more, if noisy)."""
    def energy(image: torch.Tensor) -> float:
        image = image.detach().float()
        return float((image[:, 1:] - image[:, :-1]).pow(2).sum() + (image[:, :, 1:] - image[:, :, :-1]).pow(2).sum())
    base = energy(original)
    return energy(reconstruction) / base if base > 0 else float("nan")
