"""User uploads: any common image becomes a 1 x 1 x 28 x 28 model input, or one clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vaegan_core.uploads import ImageInputError, read_upload


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def digit_like(size=(120, 90), ink=0, paper=255) -> Image.Image:
    """A dark bar on a light page (how people draw digits), off-centre."""
    pixels = np.full((size[1], size[0]), paper, np.uint8)
    pixels[20:70, 30:45] = ink
    return Image.fromarray(pixels)


@pytest.mark.parametrize("mode, fmt", [("L", "PNG"), ("RGB", "JPEG"), ("RGB", "BMP"), ("RGB", "WEBP"),
                                       ("L", "TIFF"), ("P", "GIF"), ("1", "PNG")])
def test_common_formats_and_modes(mode, fmt):
    tensor, notes = read_upload(encode(digit_like().convert(mode), fmt))
    assert tensor.shape == (1, 1, 28, 28) and tensor.dtype == torch.float32
    assert 0 <= tensor.min() and tensor.max() <= 1
    assert any("inverted" in note for note in notes)  # light page -> white ink on black
    assert tensor[0, 0, 0].max() < 0.05  # background black


def test_mnist_style_centres_the_ink_by_mass_in_a_20_pixel_box():
    tensor, _ = read_upload(encode(digit_like()))
    pixels = tensor[0, 0].numpy()
    rows, cols = np.nonzero(pixels > 0.1)
    assert rows.max() - rows.min() + 1 <= 21
    ys, xs = np.indices(pixels.shape)
    assert abs((ys * pixels).sum() / pixels.sum() - 14) < 1.5
    assert abs((xs * pixels).sum() / pixels.sum() - 14) < 1.5


def test_sixteen_bit_image_is_rescaled_not_clipped():
    pixels = np.zeros((40, 40), np.uint16)
    pixels[10:30, 15:25] = 60000
    tensor, notes = read_upload(encode(Image.fromarray(pixels)))
    assert tensor.max() > 0.9 and any("rescaled" in note for note in notes)


def test_transparent_image_uses_alpha_as_ink():
    rgba = np.zeros((50, 50, 4), np.uint8)
    rgba[10:40, 20:30] = (0, 0, 0, 255)  # black ink on fully transparent
    tensor, notes = read_upload(encode(Image.fromarray(rgba, "RGBA")))
    assert tensor.max() > 0.9 and tensor[0, 0, 0, 0] == 0
    assert any("alpha" in note for note in notes)


def test_animated_gif_uses_first_frame():
    frames = [digit_like(), Image.new("L", (120, 90), 0)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    tensor, notes = read_upload(data)
    assert tensor.max() > 0.5 and any("first" in note for note in notes)


def test_fashion_style_fits_the_whole_image():
    tensor, _ = read_upload(encode(Image.new("L", (56, 28), 200)), style="fashion", invert="no")
    assert tensor[0, 0, 14, 0] > 0.7 and tensor[0, 0, 0, 0] == 0  # 2:1 image fills the width, centred


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"GIF89a but not really", "not an image"),
    (b"%PDF-1.4 hello", "not an image"),
])
def test_not_an_image(data, match):
    with pytest.raises(ImageInputError, match=match):
        read_upload(data)


def test_truncated_image():
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200), np.uint8)), "PNG")
    with pytest.raises(ImageInputError, match="truncated"):
        read_upload(data[: len(data) // 2])


def test_huge_image_refused_from_its_header():
    # a 50-megapixel PNG compresses to a few hundred kB; it must be refused before it is decoded
    data = encode(Image.new("1", (10_000, 5_000)), "PNG")
    with pytest.raises(ImageInputError, match="megapixels"):
        read_upload(data)


def test_bad_options():
    with pytest.raises(ImageInputError, match="style"):
        read_upload(encode(digit_like()), style="cifar")
    with pytest.raises(ImageInputError, match="invert"):
        read_upload(encode(digit_like()), invert="maybe")


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("PNG", "L"), ("PNG", "P")])
def test_a_large_upload_is_reduced_before_it_is_converted(fmt, mode, monkeypatch):
    """A large image reads the same as a small copy of it, and no float copy of the full image is ever made
    (the JPEG is even decoded at a reduced scale)."""
    from vaegan_core import uploads

    small = digit_like((300, 240))
    large = small.resize((small.width * 8, small.height * 8), Image.Resampling.NEAREST).convert(mode)
    widest = []
    real_ink = uploads._ink
    monkeypatch.setattr(uploads, "_ink", lambda image, notes: widest.append(image.size) or real_ink(image, notes))
    expected, _ = read_upload(encode(small.convert(mode), fmt))
    got, _ = read_upload(encode(large, fmt))
    assert max(widest[1]) <= uploads.WORKING_SIDE  # reduced before _ink's float conversion
    assert (got - expected).abs().mean() < 0.02 and got.max() > 0.5


def test_an_image_over_the_pixel_limit_is_refused_before_decoding():
    from vaegan_core import uploads

    side = int((uploads.MAX_MEGAPIXELS * 1e6) ** 0.5) + 10
    with pytest.raises(ImageInputError, match=r"\(8\.1 megapixels\); the limit is 8: downscale it first"):
        read_upload(encode(Image.new("L", (side, side), 200)))
    tensor, _ = read_upload(encode(Image.new("RGB", (side, side), (200, 200, 200)), "JPEG"))  # JPEG: decoded small
    assert tensor.shape == (1, 1, 28, 28)


def test_preview_keeps_colour_and_shape_and_refuses_what_read_upload_refuses():
    from vaegan_core.uploads import preview

    photo = np.zeros((300, 150, 3), np.uint8)
    photo[..., 0] = 220  # red
    shown = preview(encode(Image.fromarray(photo), "PNG"), side=100)
    assert shown.shape == (100, 50, 3) and shown.dtype == np.uint8 and shown[..., 0].mean() > 200
    assert shown[..., 1].mean() < 10  # colour kept, not grey
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    assert preview(encode(clear, "PNG")).shape == (40, 40, 3)  # transparency over grey, never enlarged
    with pytest.raises(ImageInputError, match="not an image"):
        preview(b"%PDF-1.4 hello")


def test_a_valid_image_far_over_the_limit_says_its_size_not_that_it_cannot_be_read():
    """A 20000 x 20000 PNG (400 megapixels; PIL refuses it when opening) is a size problem, and says so."""
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")
    with pytest.raises(ImageInputError, match=r"too large \(400 megapixels\); the limit is 8 megapixels"):
        read_upload(buffer.getvalue())
