"""A second prior for the models with an encoder: a Gaussian mixture fitted to the training codes.

A VAE (or VAE-GAN) is trained to decode the codes its encoder gives real images, while its prior
N(0, I) is only pulled towards them by the KL term. The two never match: N(0, I) puts mass where no
training image was encoded, and the decoder turns those codes into blends of classes. Fitting a
density to the encoded training set after training and sampling from it ("ex-post density
estimation", Ghosh et al. 2020, *From Variational to Deterministic Autoencoders*; Dai & Wipf 2019's
two-stage VAE is the same idea with a second VAE) keeps the samples where the decoder knows what to
draw. Here the density is a Gaussian mixture with full covariances (100 components by default)
fitted with scikit-learn to the posterior means mu(x) of the whole train split.

The mixture is stored beside the weights as ``latent_gmm.safetensors`` (mixture weights, means and
Cholesky factors of the covariances, float64; how it was fitted in the metadata) and written by

    vaegan fit-gmm checkpoints/mnist/vaegan

Sampling with it (``model.sample(n, prior="gmm")``, ``vaegan sample|eval --prior gmm``) uses the
generator like the N(0, I) prior does: the same seed gives the same standard-normal noise, mapped
through a component drawn afterwards.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import GMM_COMPONENTS, PRIOR_LABELS, PRIORS
from ..errors import CheckpointError, ConfigError, first_line
from ..storage.checkpoint_folder import CheckpointFolder


def check_prior_name(name: str) -> str:
    """``name`` if it is one of ``PRIORS``, else a ConfigError that lists them (the one check of a prior's name)."""
    if name not in PRIORS:
        raise ConfigError(f"unknown prior {name!r}; choose one of {', '.join(PRIORS)}")
    return name


class Prior:
    """Where a model's codes come from: ``sample(n, generator, temperature)`` gives n codes (CPU float32,
    n x dim). A model owns its priors (``GenerativeModel.prior(name)``); a class-aware prior for the
    conditional models would take the labels as a further keyword of ``sample``.

    ``note``: when the model was asked for another prior and fell back to this one, the reason, in words
    an app can show; None otherwise.
    """

    name = ""
    note: str | None = None

    @property
    def label(self) -> str:
        return PRIOR_LABELS[self.name]

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        raise NotImplementedError


def _check_count(n: int) -> None:
    if n < 1:
        raise ConfigError(f"n must be a positive integer, got {n}")


class NormalPrior(Prior):
    """N(0, T^2 I): the prior every model is trained with."""

    name = "normal"

    def __init__(self, dim: int, note: str | None = None):
        self._dim = dim
        self.note = note

    @property
    def dim(self) -> int:
        return self._dim

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """n codes z = T eps, eps ~ N(0, I), on the CPU so that a seed gives the same codes on every device."""
        _check_count(n)
        return torch.randn(n, self._dim, generator=generator) * temperature


class LatentGMM(Prior):
    """A Gaussian mixture over codes: ``weights`` (K), ``means`` (K x d), ``cholesky`` (K x d x d, lower)."""

    def __init__(self, weights, means, cholesky, metadata: dict | None = None):
        weights, means, cholesky = (torch.as_tensor(np.asarray(a), dtype=torch.float64)
                                    for a in (weights, means, cholesky))
        if means.ndim != 2 or weights.shape != means.shape[:1] or cholesky.shape != means.shape + means.shape[1:]:
            raise ConfigError(f"a latent GMM needs weights K, means K x d and Cholesky factors K x d x d; got "
                              f"{tuple(weights.shape)}, {tuple(means.shape)}, {tuple(cholesky.shape)}")
        if not all(torch.isfinite(a).all() for a in (weights, means, cholesky)) or (weights < 0).any() \
                or weights.sum() <= 0:
            raise ConfigError("a latent GMM needs finite values and non-negative weights that do not all vanish")
        self.weights = weights / weights.sum()
        self.means = means
        self.cholesky = torch.tril(cholesky)
        self.metadata = dict(metadata or {})

    name = "gmm"

    @property
    def components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """n codes (CPU float32, n x d): z = mean_k + T L_k eps with eps ~ N(0, I) drawn first, then k ~ weights."""
        _check_count(n)
        eps = torch.randn(n, self.dim, generator=generator).double()
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        codes = self.means[component] + temperature * torch.einsum("nij,nj->ni", self.cholesky[component], eps)
        return codes.float()

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``latent_gmm.safetensors`` into ``directory`` (atomically, through its ``CheckpointFolder``);
        returns its path."""
        tensors = {"weights": self.weights, "means": self.means, "cholesky": self.cholesky}
        metadata = {"format": "vaegan-latent-gmm-1", "info": json.dumps(self.metadata)}
        return CheckpointFolder(directory).write_gmm(tensors, metadata)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "LatentGMM | None":
        """The mixture stored in ``directory``, or None when there is none; a damaged file is a CheckpointError."""
        from safetensors import safe_open

        path = CheckpointFolder(directory).gmm_file
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            info = json.loads(metadata.get("info", "{}"))
            return cls(tensors["weights"], tensors["means"], tensors["cholesky"], info)
        except (ConfigError, KeyError, ValueError, TypeError) as error:
            raise CheckpointError(f"{path} is not a latent GMM ({error}); refit it with `vaegan fit-gmm "
                                  f"{Path(directory)}`") from None
        except Exception as error:  # safetensors' own error for truncated or garbled files
            raise CheckpointError(f"{path} is truncated or corrupt ({first_line(error)}); refit it with "
                                  f"`vaegan fit-gmm {Path(directory)}`") from None


def _require_encoder(model) -> None:
    if not model.has_encoder:
        raise ConfigError(f"a {model.kind.upper()} has no encoder, so there are no codes to fit a GMM to; "
                          "use a VAE or VAE-GAN")


def _check_components(components: int, total: int) -> None:
    if components < 1:
        raise ConfigError(f"components must be a positive integer, got {components}")
    if total < 10 * components:
        raise ConfigError(f"{total} images are too few for a {components}-component GMM; give at least "
                          f"{10 * components}")


def _warn_thin_components(components: int, total: int, dim: int) -> None:
    """A warning when the codes per component are fewer than a full d x d covariance needs (d + 1): EM then fits
    the covariances to a handful of codes each, held up by the regularisation alone (what a GMM prior samples from
    such a component is the noise of its few codes), e.g. 100 components on digits' 1,437 codes of 32 dimensions."""
    if total < components * (dim + 1):
        most = total // (dim + 1)
        fix = (f"use --components {most} or fewer, or more images" if most > 1 else
               "use --components 1, or more images" if most == 1 else "fit more images")
        warnings.warn(f"{components} full-covariance components on {total:,} codes of {dim} dimensions leave about "
                      f"{total // components} codes per component, fewer than the {dim + 1} a {dim} x {dim} "
                      f"covariance needs: {fix}", stacklevel=3)


def posterior_means(model, images: torch.Tensor, progress: Callable[[float, str], None] | None = None,
                    batch: int = 5000) -> np.ndarray:
    """The codes mu(x) of ``images`` (uint8, or float in [0, 1]) as a float64 array (n, latent_dim).
    The model needs an encoder (a VAE or VAE-GAN); ``progress`` goes from 0 to 1."""
    _require_encoder(model)
    total = images.shape[0]
    codes = []
    for start in range(0, total, batch):
        part = images[start:start + batch]
        part = part.float() / 255 if part.dtype == torch.uint8 else part
        codes.append(model.encode(part)[0].double().numpy())
        if progress:
            progress(min(1.0, (start + batch) / total), f"encoding {total:,} images")
    return np.concatenate(codes)


def gmm_of_codes(codes: np.ndarray, components: int = GMM_COMPONENTS, seed: int = 0,
                 max_iter: int = 200) -> LatentGMM:
    """Fit a full-covariance Gaussian mixture (scikit-learn, EM) to ``codes`` (n, latent_dim)."""
    from sklearn.mixture import GaussianMixture

    _check_components(components, codes.shape[0])
    _warn_thin_components(components, codes.shape[0], codes.shape[1])
    mixture = GaussianMixture(components, covariance_type="full", random_state=seed, max_iter=max_iter,
                              reg_covar=1e-6)
    mixture.fit(codes)
    metadata = {"components": components, "n": int(codes.shape[0]), "seed": seed, "covariance": "full",
                "fitted_on": "posterior means mu(x)", "max_iter": max_iter, "converged": bool(mixture.converged_),
                "iterations": int(mixture.n_iter_), "mean_log_likelihood": float(mixture.score(codes))}
    return LatentGMM(mixture.weights_, mixture.means_, np.linalg.cholesky(mixture.covariances_), metadata)


def fit_latent_gmm(model, images: torch.Tensor, components: int = GMM_COMPONENTS, seed: int = 0,
                   max_iter: int = 200, progress: Callable[[float, str], None] | None = None,
                   batch: int = 5000) -> LatentGMM:
    """Fit a full-covariance Gaussian mixture to the posterior means of ``images`` (uint8, or float in [0, 1]).

    Returns the mixture; its ``metadata`` records n, components, seed, the mean log-likelihood per
    code and whether EM converged. The model needs an encoder (a VAE or VAE-GAN).
    """
    _require_encoder(model)
    _check_components(components, images.shape[0])  # before the encoding, which is the slow part
    codes = posterior_means(model, images, None if progress is None else lambda f, m: progress(0.5 * f, m), batch)
    if progress:
        progress(0.5, f"fitting {components} Gaussians to {codes.shape[0]:,} codes")
    gmm = gmm_of_codes(codes, components, seed, max_iter)
    if progress:
        progress(1.0, "fitted")
    return gmm


def save_gmm_grid(model, folder: str | os.PathLike, mixture: LatentGMM | None = None, seed: int = 0) -> Path:
    """``samples/gmm.png`` in ``folder``: 64 samples of the GMM prior (``mixture``, else the model's own), seeded;
    the picture the Overview shows of a model with a GMM prior (Compare's default), as the epoch grids show N(0, I)."""
    from ..images import save_grid

    mixture = mixture if mixture is not None else model.latent_gmm
    if mixture is None:
        raise ConfigError(f"{folder} has no GMM prior to draw from; fit one with `vaegan fit-gmm {folder}`")
    codes = mixture.sample(64, torch.Generator().manual_seed(seed)).to(model.device)
    path = CheckpointFolder(folder).gmm_grid_file
    path.parent.mkdir(exist_ok=True)
    with torch.no_grad():
        save_grid(model.decode(codes).cpu(), path)
    return path
