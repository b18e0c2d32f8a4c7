"""Latent-space tools: encode a dataset, interpolate (lerp / slerp), project to 2-D, neighbours, GAN inversion.

Everything here is UI-free: the Streamlit pages, the Gradio app and the benchmarks call these
functions. Codes are CPU float32 tensors ``N x latent_dim``; images are float in [0, 1].
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..errors import ConfigError

PROJECTIONS = ("umap", "pca", "tsne")
INTERPOLATIONS = ("lerp", "slerp")
Progress = Callable[[float, str], None]


def as_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels or float images -> float32 in [0, 1] (floats are passed through unchanged)."""
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    return images.float()


def encode_images(model, images: torch.Tensor) -> torch.Tensor:
    """Posterior means of ``images`` (uint8 or float in [0, 1], N x C x H x W) -> N x latent_dim."""
    mu, _ = model.encode(as_float_images(images))
    return mu


def reconstruct_with_error(model, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (uint8 or float in [0, 1], B x C x H x W) -> (reconstructions decode(mu(x)) in [0, 1],
    per-image mean squared error per pixel, a float tensor of length B)."""
    originals = as_float_images(images)
    recon = model.reconstruct(originals)
    return recon, (recon - originals).pow(2).flatten(1).mean(1)


def shared_codes(latent_dims, n: int, seed: int = 0, temperature: float = 1.0) -> dict[int, torch.Tensor]:
    """One batch of prior codes per latent size, all from the same seed, so that models with the same
    latent size decode *the same* z (the side-by-side comparison)."""
    if n < 1:
        raise ConfigError(f"n must be a positive integer, got {n}")
    codes = {}
    for dim in sorted(set(latent_dims)):
        generator = torch.Generator().manual_seed(seed)
        codes[dim] = torch.randn(n, dim, generator=generator) * temperature
    return codes


def sample_side_by_side(models: dict, n: int, seed: int = 0, temperature: float = 1.0, prior: str = "normal") -> dict:
    """``{name: model}`` -> ``{name: images n x C x H x W}``, every model decoding the same seeded noise.

    Each model draws from ``model.prior(prior, fallback=True)``: with N(0, I), models of the same latent size
    decode *the same* z; with ``gmm``, the same seeded noise goes through each model's own mixture (see
    ``vaegan_core.models.prior``), and a model without one (a GAN) decodes the N(0, I) codes.
    """
    return {name: model.decode(model.prior(prior, fallback=True).sample(n, torch.Generator().manual_seed(seed),
                                                                        temperature))
            for name, model in models.items()}


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` codes from z0 to z1 (both ends included), ``steps x d``.

    lerp: straight line. slerp: along the great circle with the norm interpolated linearly
    (White 2016, "Sampling generative networks"), which keeps intermediate codes at the
    typical radius of a Gaussian prior instead of cutting through its low-density centre.
    """
    if method not in INTERPOLATIONS:
        raise ConfigError(f"unknown interpolation {method!r}; choose lerp or slerp")
    if steps < 2:
        raise ConfigError(f"steps must be at least 2, got {steps}")
    z0, z1 = z0.reshape(-1).float(), z1.reshape(-1).float()
    if z0.shape != z1.shape:
        raise ConfigError(f"the two codes differ in size: {z0.numel()} vs {z1.numel()}")
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    if method == "lerp":
        return (1 - t) * z0 + t * z1
    norm0, norm1 = z0.norm(), z1.norm()
    if norm0 < 1e-8 or norm1 < 1e-8:
        return (1 - t) * z0 + t * z1
    u0, u1 = z0 / norm0, z1 / norm1
    omega = torch.arccos((u0 @ u1).clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:  # (nearly) the same direction: slerp degenerates to lerp
        direction = (1 - t) * u0 + t * u1
    else:
        direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * norm0 + t * norm1)


def interpolation_ends(model, images: torch.Tensor | None = None, seed: int = 0, invert: bool = False):
    """The two end codes (z0, z1) of an interpolation through ``model``.

    With two ``images`` (2 x C x H x W in [0, 1]): their posterior means, or, for a model without an
    encoder (the GAN), codes found by ``invert_generator`` when ``invert`` is set, else None.
    Without images: two prior draws with seeds ``seed`` and ``seed + 1``, the same for every model
    of the same latent size.
    """
    dim = model.config.latent_dim
    if images is None:
        return shared_codes([dim], 1, seed)[dim][0], shared_codes([dim], 1, seed + 1)[dim][0]
    if model.has_encoder:
        codes = encode_images(model, images)
    elif invert:
        codes, _ = invert_generator(model, images, steps=200, seed=seed)
    else:
        return None
    return codes[0], codes[1]


def project(codes, method: str = "umap", seed: int = 0, progress: Progress | None = None) -> np.ndarray:
    """Codes N x d -> N x 2 float32 by UMAP (umap-learn), PCA or t-SNE (scikit-learn), seeded."""
    points = np.asarray(codes, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] < 3:
        raise ConfigError(f"need at least 3 codes of shape N x d to project, got shape {points.shape}")
    if method not in PROJECTIONS:
        raise ConfigError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    report = progress or (lambda fraction, message: None)
    report(0.0, f"projecting {points.shape[0]:,} codes with {method.upper()}")
    if method == "pca":
        from sklearn.decomposition import PCA

        result = PCA(n_components=2, random_state=seed).fit_transform(points)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (points.shape[0] - 1) // 3)))
        result = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap warns that a seed disables its parallelism: intended
            try:
                import umap
            except ImportError:  # an extra of the apps: the library alone maps with PCA or t-SNE
                raise ConfigError('a UMAP map needs umap-learn: pip install "vaegan[app]" (or use method="pca" or '
                                  '"tsne")') from None

            neighbours = int(min(15, points.shape[0] - 1))
            knn = _exact_neighbours(points, neighbours)
            # 200 optimisation epochs instead of umap's 500 for small data: the same clusters, 2.5x faster
            result = umap.UMAP(n_components=2, n_neighbors=neighbours, n_epochs=200, random_state=seed,
                               precomputed_knn=knn).fit_transform(points)
    report(1.0, "projection done")
    return np.asarray(result, dtype=np.float32)


def _exact_neighbours(points: np.ndarray, k: int):
    """Exact k nearest neighbours (self included, as umap expects) for umap's ``precomputed_knn``.

    For the few thousand codes of a latent map, brute force takes a tenth of a second, and it spares
    umap's approximate nearest-neighbour descent, whose numba compilation made the first map of a
    process take ~47 s instead of ~10 s on a 2-core CPU (benchmarks/demo_latency.py).
    """
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)
    return indices, distances.astype(np.float32), None


def warm_up_umap() -> None:
    """Compile umap-learn's numba code once per process (several seconds on a 2-core CPU), so the first
    real projection does not pay for it."""
    project(np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32), "umap")


def nearest_neighbours(codes, index: int, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` codes nearest (Euclidean, in latent space) to ``codes[index]``, itself excluded."""
    points = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
    if not 0 <= index < points.shape[0]:
        raise ConfigError(f"index {index} is outside 0..{points.shape[0] - 1}")
    distances = (points - points[index]).pow(2).sum(1)
    distances[index] = float("inf")
    k = min(k, points.shape[0] - 1)
    return torch.topk(distances, k, largest=False).indices.numpy()


def code_at(points2d, codes, xy, k: int = 8) -> torch.Tensor:
    """A latent code for an arbitrary spot (x, y) of a 2-D map: the inverse-distance weighted mean of
    the codes of its ``k`` nearest map points. It lets a user decode empty regions of the map."""
    points2d = np.asarray(points2d, dtype=np.float64)
    distances = np.sqrt(((points2d - np.asarray(xy, dtype=np.float64)) ** 2).sum(1))
    nearest = np.argsort(distances)[:k]
    weights = 1.0 / (distances[nearest] + 1e-6)
    weights /= weights.sum()
    return torch.as_tensor((np.asarray(codes)[nearest] * weights[:, None]).sum(0), dtype=torch.float32)


def invert_generator(model, images: torch.Tensor, steps: int = 300, lr: float = 0.05, seed: int = 0,
                     progress: Progress | None = None, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Find codes z with decode(z) close to ``images`` by gradient descent (for the GAN, which has no encoder).

    Minimises the per-pixel MSE plus a small prior penalty 1e-3 |z|^2 with Adam from a seeded start.
    A conditional model inverts given ``labels`` (one per image). Returns (codes B x d, their decoded
    images) on the CPU.
    """
    model.check_images(images)
    labels = model.check_labels(labels, images.shape[0])
    device_labels = None if labels is None else labels.to(model.device)
    report = progress or (lambda fraction, message: None)
    generator = torch.Generator().manual_seed(seed)
    target = images.to(model.device, torch.float32)
    z = (torch.randn(images.shape[0], model.config.latent_dim, generator=generator) * 0.5).to(model.device)
    z.requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    was_training = model.training
    model.eval()
    decoder = model.sampling_decoder  # the one decode() uses, so the inverted codes decode to what was found
    trainable = [parameter.requires_grad for parameter in decoder.parameters()]
    for parameter in decoder.parameters():
        parameter.requires_grad_(False)
    try:
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            output = torch.sigmoid(decoder(z, device_labels))
            loss = (output - target).pow(2).mean() + 1e-3 * z.pow(2).mean()
            loss.backward()
            optimizer.step()
            if step % 25 == 0:
                report(step / steps, f"inverting: step {step}/{steps}, mse {loss.item():.4f}")
    finally:
        for parameter, was_trainable in zip(decoder.parameters(), trainable):
            parameter.requires_grad_(was_trainable)
        model.train(was_training)
    report(1.0, "inversion done")
    codes = z.detach().cpu()
    return codes, model.decode(codes, labels)
