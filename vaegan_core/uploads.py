"""User images (uploads) -> model input: 1 x 1 x 28 x 28 float in [0, 1], white ink on black like MNIST.

Any common format, size or mode is accepted; what cannot be read gives an ``ImageInputError``
with one sentence a user can act on. Nothing here raises anything else for bad bytes.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import VaeganError

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
# Pixels that may be decoded at full size (RGBA: 32 MB). A JPEG is decoded at 1/2 to 1/8 of its size first
# (Image.draft), so a 40-megapixel photo costs what a 1000-pixel one does.
MAX_MEGAPIXELS = 8.0
WORKING_SIDE = 1024  # the image is reduced to this before any float copy: 28 x 28 needs no more


class ImageInputError(VaeganError):
    """An upload that cannot be used as an image."""


def read_upload(data: bytes, style: str = "mnist", invert: str = "auto") -> tuple[torch.Tensor, list[str]]:
    """Bytes of an image file -> (tensor 1 x 1 x 28 x 28 in [0, 1], notes on what was done to it).

    style "mnist": the ink is cropped, scaled to fit 20 x 20 and centred by its centre of mass in
    28 x 28, as the MNIST digits were made. style "fashion": the whole image is fitted into 28 x 28.
    invert "auto": a light background is turned dark (MNIST has white ink on black); "yes" / "no" force it.
    Transparent images use their alpha channel as the ink. Animated images use their first frame.
    """
    if style not in ("mnist", "fashion"):
        raise ImageInputError(f"unknown style {style!r}; use 'mnist' or 'fashion'")
    if invert not in ("auto", "yes", "no"):
        raise ImageInputError(f"unknown invert {invert!r}; use 'auto', 'yes' or 'no'")
    notes: list[str] = []
    pixels = _ink(_open(data, notes), notes)
    if invert == "yes" or (invert == "auto" and _border_mean(pixels) > 0.5):
        pixels = 1.0 - pixels
        notes.append("light background: inverted to white on black")
    pixels = _fit_mnist(pixels) if style == "mnist" else _fit_whole(pixels)
    return torch.from_numpy(pixels).float().reshape(1, 1, 28, 28).clamp(0, 1), notes


def _open(data: bytes, notes: list[str]) -> Image.Image:
    """The image in ``data``, decoded at no more than ``WORKING_SIDE`` pixels a side, or an ImageInputError that
    says what to do (the messages name no exception class: a person reads them)."""
    if not data:
        raise ImageInputError("the upload is empty; choose a PNG, JPEG, GIF, BMP, TIFF or WebP image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageInputError(f"the upload is {len(data) / 2**20:.0f} MB; the limit is "
                              f"{MAX_UPLOAD_BYTES // 2**20} MB: save a smaller image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode_small(Image.open(io.BytesIO(data)), notes)
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # a valid image that is too large: say so (PIL refuses it at open, before _decode_small can measure it)
        found = re.search(r"\((\d+) pixels\)", str(error))
        size = f" ({int(found.group(1)) / 1e6:.0f} megapixels)" if found else ""
        raise ImageInputError(f"the image is too large{size}; the limit is {MAX_MEGAPIXELS:g} megapixels: "
                              "downscale it first") from None
    except UnidentifiedImageError:
        raise ImageInputError("this file is not an image that can be read; choose a PNG, JPEG, GIF, BMP, TIFF or "
                              "WebP image") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageInputError("the image could not be decoded: the file may be truncated or corrupt; save it again "
                              "or choose another") from None


def preview(data: bytes, side: int = 168) -> np.ndarray:
    """The upload as it is (colour kept, no cropping), fitted into ``side`` x ``side`` pixels: an H x W x 3 uint8
    array to show beside what the model sees. Bad bytes give the same ImageInputError as ``read_upload``."""
    image = _open(data, [])
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # no RGB conversion for these: rescale like _ink
        image = Image.fromarray((_ink(image, []) * 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "P"):  # transparency over a checker-free mid grey, so ink shows
        image = image.convert("RGBA")
        backdrop = Image.new("RGBA", image.size, (128, 128, 128, 255))
        image = Image.alpha_composite(backdrop, image)
    image = image.convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _decode_small(image: Image.Image, notes: list[str]) -> Image.Image:
    """Decode an opened image at no more than ``WORKING_SIDE`` pixels a side, paying for as few pixels as the
    format allows: a JPEG decodes at a reduced scale, other formats are refused above ``MAX_MEGAPIXELS``
    and reduced right after decoding, before any conversion copies them."""
    image.draft(None, (WORKING_SIDE, WORKING_SIDE))  # JPEG only: DCT scaling; a no-op for other formats
    megapixels = image.width * image.height / 1e6
    if megapixels > MAX_MEGAPIXELS:
        raise ImageInputError(f"the image is {image.width} x {image.height} ({megapixels:.1f} megapixels); "
                              f"the limit is {MAX_MEGAPIXELS:g}: downscale it first")
    if getattr(image, "is_animated", False):  # is_animated reads one frame ahead; n_frames would read them all
        notes.append("animated image: using the first frame")
        image.seek(0)
    image.load()
    factor = -(-max(image.size) // WORKING_SIDE)  # ceiling division
    if factor > 1:
        try:
            image = image.reduce(factor)  # a box average over factor x factor pixels, in place of them
        except ValueError:  # a mode reduce does not take (a palette): nearest neighbour keeps the palette
            image = image.resize((max(1, image.width // factor), max(1, image.height // factor)),
                                 Image.Resampling.NEAREST)
    return image


def _ink(image: Image.Image, notes: list[str]) -> np.ndarray:
    """The image as a float32 H x W array in [0, 1] (brightness, or alpha for transparent images)."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        notes.append(f"{image.mode} image: rescaled from [{low:g}, {high:g}]")
        return ((values - low) / (high - low) if high > low else np.zeros_like(values)).astype(np.float32)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 0.99:
            notes.append("transparent image: its alpha channel is used as the ink")
            return alpha
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _border_mean(pixels: np.ndarray) -> float:
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return float(border.mean())


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    image = Image.fromarray((pixels * 255).round().astype(np.uint8), mode="L")
    return np.asarray(image.resize((max(1, width), max(1, height)), Image.Resampling.LANCZOS),
                      dtype=np.float32) / 255.0


def _fit_mnist(pixels: np.ndarray) -> np.ndarray:
    """Crop to the ink, fit into 20 x 20 keeping the aspect ratio, centre by mass in 28 x 28 (LeCun et al.)."""
    mask = pixels > 0.1
    if not mask.any():
        return _fit_whole(pixels)
    rows, cols = np.where(mask.any(1))[0], np.where(mask.any(0))[0]
    crop = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = 20.0 / max(crop.shape)
    small = _resize(crop, round(crop.shape[1] * scale), round(crop.shape[0] * scale))
    canvas = np.zeros((28, 28), dtype=np.float32)
    total = small.sum()
    if total > 0:
        ys, xs = np.indices(small.shape)
        cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    else:
        cy, cx = small.shape[0] / 2, small.shape[1] / 2
    top = int(np.clip(round(14 - cy), 0, 28 - small.shape[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - small.shape[1]))
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas


def _fit_whole(pixels: np.ndarray) -> np.ndarray:
    """Fit the whole image into 28 x 28 keeping the aspect ratio, centred on black."""
    scale = 28.0 / max(pixels.shape)
    small = _resize(pixels, round(pixels.shape[1] * scale), round(pixels.shape[0] * scale))
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas


def read_drawing(pixels: np.ndarray, style: str = "mnist") -> tuple[torch.Tensor | None, list[str]]:
    """A drawing from a canvas (H x W x 4 RGBA or H x W x 3 or H x W, uint8 or float in [0, 1], light strokes on
    a dark or transparent background) -> (tensor 1 x 1 x 28 x 28 in [0, 1], notes), through the same
    preprocessing as an upload. An empty canvas gives (None, [a hint]), not an error."""
    if style not in ("mnist", "fashion"):
        raise ImageInputError(f"unknown style {style!r}; use 'mnist' or 'fashion'")
    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim not in (2, 3) or min(array.shape[:2]) < 1 or not np.isfinite(array).all():
        raise ImageInputError(f"a drawing must be an H x W (x 3 or 4) array of numbers, got shape {array.shape}")
    if array.max(initial=0) > 1.0:
        array = array / 255.0
    if array.ndim == 3:
        ink = array[..., :3].max(axis=2)
        if array.shape[2] == 4:  # strokes are opaque, the untouched canvas may be transparent
            ink = ink * array[..., 3]
    else:
        ink = array
    ink = np.clip(ink, 0.0, 1.0)
    if float(ink.max(initial=0)) < 0.1:
        return None, ["draw with the mouse (or a finger) in the box: the canvas is empty"]
    fitted = _fit_mnist(ink) if style == "mnist" else _fit_whole(ink)
    notes = ["drawing cropped, fitted into 20 x 20 and centred by its mass, as MNIST was made" if style == "mnist"
             else "drawing fitted into 28 x 28"]
    return torch.from_numpy(fitted).float().reshape(1, 1, 28, 28).clamp(0, 1), notes
