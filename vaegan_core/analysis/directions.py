"""Directions in the latent space: traversals along one dimension or one principal direction of the codes,
and class arithmetic ("this 1, moved the way a 7 differs from a 1").

Everything here is codes in, codes out; the models decode them (``model.decode``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError

SPAN = 3.0  # traversals go from -3 to +3 standard deviations


def _codes(codes) -> torch.Tensor:
    codes = torch.as_tensor(np.asarray(codes), dtype=torch.float32)
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise ConfigError(f"codes must be N x latent_dim with N >= 2, got shape {tuple(codes.shape)}")
    return codes


def principal_directions(codes, k: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` (default all) principal directions of ``codes`` (N x d): unit vectors k x d, largest
    variance first, and the standard deviation of the codes along each (k)."""
    codes = _codes(codes)
    centred = codes.double() - codes.double().mean(0)
    _, singular, vectors = torch.linalg.svd(centred, full_matrices=False)
    k = vectors.shape[0] if k is None else max(1, min(int(k), vectors.shape[0]))
    sigmas = singular[:k] / max(1, codes.shape[0] - 1) ** 0.5
    directions = vectors[:k]
    # a fixed sign per direction (its largest entry positive), so the same codes give the same strips
    signs = torch.sign(directions.gather(1, directions.abs().argmax(1, keepdim=True)))
    return (directions * signs).float(), sigmas.float()


def axis(dimension: int, latent_dim: int) -> torch.Tensor:
    """The unit vector of one latent dimension."""
    if not 0 <= dimension < latent_dim:
        raise ConfigError(f"dimension must be from 0 to {latent_dim - 1}, got {dimension}")
    vector = torch.zeros(latent_dim)
    vector[dimension] = 1.0
    return vector


def traversal(z0, direction, sigma: float = 1.0, steps: int = 7, span: float = SPAN) -> tuple[torch.Tensor, np.ndarray]:
    """Codes ``z0 + t * sigma * direction`` for ``steps`` values of t from -span to +span: (steps x d, the t's)."""
    z0 = torch.as_tensor(np.asarray(z0), dtype=torch.float32).reshape(-1)
    direction = torch.as_tensor(np.asarray(direction), dtype=torch.float32).reshape(-1)
    if z0.shape != direction.shape:
        raise ConfigError(f"the code has {z0.numel()} values, the direction {direction.numel()}")
    if not 2 <= steps <= 64:
        raise ConfigError(f"steps must be from 2 to 64, got {steps}")
    offsets = np.linspace(-span, span, steps)
    codes = z0 + torch.as_tensor(offsets, dtype=torch.float32)[:, None] * float(sigma) * direction
    return codes, offsets


def class_means(codes, labels, num_classes: int | None = None) -> torch.Tensor:
    """The mean code of each class (classes x d); a class without codes is an error that names it."""
    codes = _codes(codes)
    labels = torch.as_tensor(np.asarray(labels)).long().reshape(-1)
    if labels.numel() != codes.shape[0]:
        raise ConfigError(f"{codes.shape[0]} codes but {labels.numel()} labels")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    means = []
    for label in range(num_classes):
        members = codes[labels == label]
        if members.shape[0] == 0:
            raise ConfigError(f"class {label} has no codes to average")
        means.append(members.mean(0))
    return torch.stack(means)


def arithmetic(z, mean_to, mean_from, steps: int = 8) -> torch.Tensor:
    """Codes from ``z`` to ``z + (mean_to - mean_from)`` in ``steps`` even steps (steps x d): the image's code
    moved the way class "to" differs from class "from" on average. The last row is the full move."""
    z = torch.as_tensor(np.asarray(z), dtype=torch.float32).reshape(-1)
    shift = torch.as_tensor(np.asarray(mean_to), dtype=torch.float32) - torch.as_tensor(np.asarray(mean_from),
                                                                                       dtype=torch.float32)
    if shift.reshape(-1).shape != z.shape:
        raise ConfigError(f"the code has {z.numel()} values, the class means {shift.numel()}")
    if not 2 <= steps <= 64:
        raise ConfigError(f"steps must be from 2 to 64, got {steps}")
    amounts = torch.linspace(0.0, 1.0, steps)[:, None]
    return z + amounts * shift.reshape(-1)
