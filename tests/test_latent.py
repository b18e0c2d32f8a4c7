"""Latent-space tools: interpolation, projections, neighbours, map decoding, GAN inversion, side-by-side codes."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_model_config
from vaegan_core.errors import ConfigError
from vaegan_core.images import gif_bytes, png_bytes
from vaegan_core.analysis.latent import (code_at, encode_images, interpolate, invert_generator, nearest_neighbours, project,
                                reconstruct_with_error, sample_side_by_side, shared_codes)
from vaegan_core.models import build_model


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolation_starts_and_ends_at_the_codes(method):
    z0, z1 = torch.randn(16), torch.randn(16)
    path = interpolate(z0, z1, 7, method)
    assert path.shape == (7, 16)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1, atol=1e-5, rtol=1e-5)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    z0 = torch.zeros(32)
    z0[0] = 5.0
    z1 = torch.zeros(32)
    z1[1] = 5.0
    middle_lerp = interpolate(z0, z1, 3, "lerp")[1]
    middle_slerp = interpolate(z0, z1, 3, "slerp")[1]
    assert middle_lerp.norm() == pytest.approx(5 / 2**0.5, rel=1e-5)
    assert middle_slerp.norm() == pytest.approx(5.0, rel=1e-5)


def test_slerp_of_parallel_codes_is_finite():
    z = torch.randn(8)
    assert torch.isfinite(interpolate(z, 2 * z, 5, "slerp")).all()


def test_interpolation_bad_arguments():
    with pytest.raises(ConfigError, match="lerp or slerp"):
        interpolate(torch.zeros(2), torch.ones(2), 3, "cubic")
    with pytest.raises(ConfigError, match="at least 2"):
        interpolate(torch.zeros(2), torch.ones(2), 1)
    with pytest.raises(ConfigError, match="differ in size"):
        interpolate(torch.zeros(2), torch.ones(3), 3)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_shapes_and_separation(method):
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(12, 1, (60, 8))]).astype(np.float32)
    points = project(codes, method, seed=0)
    assert points.shape == (120, 2) and points.dtype == np.float32
    # two far-apart clusters stay apart: each point's nearest neighbour is in its own cluster
    distances = ((points[:, None] - points[None]) ** 2).sum(-1) + np.eye(120) * 1e9
    nearest = distances.argmin(1)
    assert ((nearest < 60) == (np.arange(120) < 60)).all()


@pytest.mark.slow
def test_umap_projection_is_seeded():
    codes = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    first, second = project(codes, "umap", seed=3), project(codes, "umap", seed=3)
    assert first.shape == (200, 2)
    np.testing.assert_allclose(first, second)


def test_projection_bad_input():
    with pytest.raises(ConfigError, match="at least 3"):
        project(np.zeros((2, 4)), "pca")
    with pytest.raises(ConfigError, match="unknown projection"):
        project(np.zeros((10, 4)), "isomap")


def test_nearest_neighbours_and_code_at():
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.1, 0.0]], dtype=np.float32)
    assert list(nearest_neighbours(codes, 0, k=2)) == [3, 1]
    with pytest.raises(ConfigError, match="outside"):
        nearest_neighbours(codes, 9)
    # on top of a map point, its own code dominates the weighted mean
    code = code_at(codes, codes * 10, (5.0, 5.0), k=2)
    torch.testing.assert_close(code, torch.tensor([50.0, 50.0]), atol=1e-3, rtol=1e-4)


def test_side_by_side_models_decode_the_same_codes():
    first = build_model(tiny_model_config("gan")).eval()
    second = build_model(tiny_model_config("vae")).eval()
    samples = sample_side_by_side({"gan": first, "vae": second}, 4, seed=5)
    codes = shared_codes([8], 4, seed=5)[8]
    torch.testing.assert_close(samples["gan"], first.decode(codes))
    torch.testing.assert_close(samples["vae"], second.decode(codes))
    torch.testing.assert_close(samples["gan"], first.sample(4, torch.Generator().manual_seed(5)))


def test_side_by_side_with_the_gmm_prior():
    from vaegan_core.models.prior import LatentGMM

    gan = build_model(tiny_model_config("gan")).eval()
    vae = build_model(tiny_model_config("vae")).eval()
    plain = build_model(tiny_model_config("vaegan")).eval()  # no GMM fitted: stays on N(0, I)
    vae.latent_gmm = LatentGMM([1.0], [[3.0] * 8], np.eye(8)[None] * 0.5)
    samples = sample_side_by_side({"gan": gan, "vae": vae, "vaegan": plain}, 4, seed=5, prior="gmm")
    codes = shared_codes([8], 4, seed=5)[8]
    torch.testing.assert_close(samples["gan"], gan.decode(codes))
    torch.testing.assert_close(samples["vaegan"], plain.decode(codes))
    torch.testing.assert_close(samples["vae"], vae.decode(3.0 + 0.5 * codes))  # the same noise, through the mixture
    assert [m.prior("gmm", fallback=True).name for m in (gan, vae, plain)] == ["normal", "gmm", "normal"]
    models = {"gan": gan, "vae": vae, "vaegan": plain}

    def without_gmm(prior):  # the models with an encoder that fell back to N(0, I), as the apps say
        return [name for name, model in models.items() if model.prior(prior, fallback=True).note]

    assert without_gmm("gmm") == ["vaegan"] and without_gmm("normal") == []
    with pytest.raises(ConfigError, match="unknown prior"):
        vae.prior("laplace", fallback=True)


def test_encode_images_accepts_uint8_pixels(images):
    model = build_model(tiny_model_config("vae")).eval()
    pixels = (images * 255).round().to(torch.uint8)
    torch.testing.assert_close(encode_images(model, pixels), model.encode(pixels.float() / 255)[0])


def test_gan_inversion_finds_a_code_for_a_generated_image():
    torch.manual_seed(0)
    gan = build_model(tiny_model_config("gan")).eval()
    with torch.no_grad():  # DCGAN init makes an untrained generator nearly constant: give z a visible effect
        for parameter in gan.decoder.parameters():
            if parameter.ndim > 1:
                parameter.mul_(8)
    target = gan.decode(torch.randn(2, 8))
    start = gan.decode(torch.zeros(2, 8))
    codes, inverted = invert_generator(gan, target, steps=150, lr=0.05)
    assert codes.shape == (2, 8)
    assert (inverted - target).pow(2).mean() < 0.5 * (start - target).pow(2).mean()
    assert all(p.requires_grad for p in gan.decoder.parameters())  # left as found


def test_png_and_gif_bytes(images):
    png = Image.open(io.BytesIO(png_bytes(images[:4], nrow=4, scale=2)))
    assert png.format == "PNG" and png.mode == "L"
    gif = Image.open(io.BytesIO(gif_bytes(list(images[:5]))))
    assert gif.format == "GIF" and gif.n_frames == 8  # 5 forward + 3 back


def test_reconstruct_with_error_gives_one_mse_per_image():
    model = build_model(tiny_model_config("vae")).eval()
    pixels = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    recon, errors = reconstruct_with_error(model, pixels)
    assert recon.shape == (3, 1, 28, 28) and errors.shape == (3,)
    expected = (recon - pixels.float() / 255).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(errors, expected)


def test_interpolation_ends(images):
    from vaegan_core.analysis.latent import interpolation_ends

    vae = build_model(tiny_model_config("vae")).eval()
    gan = build_model(tiny_model_config("gan")).eval()
    z0, z1 = interpolation_ends(vae, None, seed=3)
    g0, g1 = interpolation_ends(gan, None, seed=3)
    torch.testing.assert_close(z0, g0)  # random ends: the same codes for every model
    assert not torch.equal(z0, z1)
    mu, _ = vae.encode(images[:2])
    torch.testing.assert_close(torch.stack(interpolation_ends(vae, images[:2])), mu)
    assert interpolation_ends(gan, images[:2]) is None  # no encoder, no inversion asked for
    assert interpolation_ends(gan, images[:2], invert=True)[0].shape == (8,)


@pytest.mark.parametrize("count, nrow, channels", [(7, 3, 1), (16, None, 1), (5, 8, 3), (10, 10, 1), (64, 8, 3),
                                                   (1, None, 1), (1, 4, 3)])
def test_grid_lays_images_out_as_torchvision_does(count, nrow, channels):
    """vaegan_core.images.grid draws what torchvision's make_grid(pad_value=1) draws (one channel stays one)."""
    from torchvision.utils import make_grid

    from vaegan_core.images import grid

    images = torch.rand(count, channels, 9, 11, generator=torch.Generator().manual_seed(count))
    expected = make_grid(images, nrow=nrow or math.ceil(math.sqrt(count)), padding=2, pad_value=1.0)
    assert torch.equal(grid(images, nrow), expected[:channels])
