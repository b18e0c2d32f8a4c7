"""Which latent dimensions a VAE or VAE-GAN really uses: the diagnostics of *posterior collapse*.

A dimension d the encoder has given up on has q(z_d | x) = N(0, 1) for every x: it carries no KL and its
posterior mean does not move with the image. Two measures, over a set of real images:

- the KL per dimension, E_x KL(q(z_d | x) || N(0, 1)); summed over d it is the model's KL term;
- *active units* (Burda et al. 2016, arXiv 1509.00519): d is active when Cov_x(E_q[z_d | x]) > 0.01, i.e. the
  posterior mean of that dimension varies across images.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError

ACTIVITY_THRESHOLD = 0.01  # Burda et al. 2016


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension, averaged over the rows: a tensor of latent_dim nats
    whose sum is the mean per-image KL of ``models.kl_to_standard_normal``."""
    mu, logvar = mu.double(), logvar.double()
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def activity(mu: torch.Tensor) -> torch.Tensor:
    """Cov_x(E_q[z_d | x]) per dimension: the variance across images of each posterior mean."""
    if mu.shape[0] < 2:
        raise ConfigError("the activity of a latent dimension needs at least 2 images")
    return mu.double().var(0, unbiased=True)


def latent_usage(model, images: torch.Tensor, threshold: float = ACTIVITY_THRESHOLD, labels=None) -> dict:
    """The posterior-collapse diagnostics of ``model`` (a VAE or VAE-GAN) on ``images`` (uint8 or float in
    [0, 1], N x C x H x W, N >= 2), as a JSON-ready dict:

    ``kl_per_dim`` (nats, in dimension order), ``kl_total`` (their sum), ``kl_share`` (each dimension's share
    of the total), ``activity`` and ``active`` per dimension, ``active_units`` (the count), ``latent_dim``,
    ``order`` (dimensions by KL, largest first), ``threshold`` and ``n``. A conditional model encodes with the
    images' ``labels``.
    """
    if not model.has_encoder:
        raise ConfigError(f"a {model.kind.upper()} has no encoder, so it has no posterior to diagnose; "
                          "use a VAE or VAE-GAN")
    floats = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    return usage_of_codes(*model.encode(floats, labels), threshold)


def usage_of_codes(mu: torch.Tensor, logvar: torch.Tensor, threshold: float = ACTIVITY_THRESHOLD) -> dict:
    """``latent_usage`` from posterior parameters already computed (N x latent_dim each, N >= 2)."""
    per_dim = kl_per_dimension(mu, logvar)
    spread = activity(mu)
    total = float(per_dim.sum())
    active = spread > threshold
    return {
        "n": int(mu.shape[0]),
        "latent_dim": int(per_dim.numel()),
        "threshold": threshold,
        "kl_total": total,
        "kl_per_dim": [float(value) for value in per_dim],
        "kl_share": [float(value) / total if total > 0 else 0.0 for value in per_dim],
        "activity": [float(value) for value in spread],
        "active": [bool(value) for value in active],
        "active_units": int(active.sum()),
        "order": [int(index) for index in torch.argsort(per_dim, descending=True)],
    }


def explain(usage: dict) -> str:
    """One plain sentence on what the diagnostics say."""
    active, dim = usage["active_units"], usage["latent_dim"]
    shares = sorted(usage["kl_share"], reverse=True)
    top = next((count for count in range(1, dim + 1) if sum(shares[:count]) >= 0.9), dim)
    if active == 0:
        return ("No latent dimension is active: the encoder ignores the image (full posterior collapse), so "
                "every reconstruction is the same average image.")
    collapsed = dim - active
    return (f"{active} of {dim} latent dimensions {'is' if active == 1 else 'are'} active (the code moves with "
            f"the image); {collapsed} {'has' if collapsed == 1 else 'have'} collapsed to the prior and carry no "
            f"information. {top} dimension{'s' if top > 1 else ''} carry 90 % of the KL of {usage['kl_total']:.1f} "
            "nats.")
