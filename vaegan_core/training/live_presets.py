"""The live page's presets (settings that make a phenomenon happen on a 2-core CPU, with what to watch) and its
readings (a cheap quality reading, sharpness, the original minimax GAN loss). ``vaegan_core.training.live`` runs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ..analysis.latent_usage import usage_of_codes
from ..metrics.evaluate import evaluate

READING_CHUNK = 250  # samples per chunk of a quality reading: a pause or stop waits for one chunk at most
COVERED_SHARE = 0.25  # a class is covered when it gets at least this share of its fair share (1/10) of the samples


@dataclass(frozen=True)
class Preset:  # settings that make one phenomenon happen on a 2-core CPU within ``seconds``, and what to watch
    label: str
    settings: dict  # LiveSettings fields
    watch: str  # what to watch, and why it happens
    seconds: float = 120.0


PRESETS = {  # checked over 5 seeds by benchmarks/live_presets.py
    "mode-collapse": Preset("Mode collapse (GAN)", {"kinds": ("gan",), "lr": 2e-3, "lr_discriminator": 2e-5,
                                                     "discriminator_norm": "none"},
        "the grid and *classes covered*: within seconds every code gives the same digit and the classes covered fall "
        "to one or two of ten. The discriminator learns 100 times slower than the generator, and the best answer to an "
        "(almost) fixed judge is one image, the one it rates most real; when the judge moves, the whole grid hops to "
        "another digit instead of spreading out."),
    "posterior-collapse": Preset("Posterior collapse (VAE, large KL weight)", {"kinds": ("vae",), "beta": 16.0},
        "*active units* and the KL curve: with the KL term weighted 16 times, every latent unit switches off (0 of 16 "
        "active, KL near 0) and every code decodes to the same blurred average digit. Sending information through z "
        "costs more KL than it saves in reconstruction, so the encoder gives up and q(z|x) = N(0, I) for every x."),
    "blur": Preset("Blur against sharpness (VAE vs VAE-GAN, equal CPU time)",
        {"kinds": ("vae", "vaegan"), "batch_size": 32, "lr": 1e-3, "lr_discriminator": 2e-4},
        "the two grids and *sharpness*: given the same CPU time, the VAE's digits stay soft (sharpness well below real "
        "images') while the VAE-GAN's get crisp strokes (about 1). The VAE's pixel likelihood pays for a wrong edge "
        "twice, so under doubt it predicts the average of the possible images, a blur; the VAE-GAN measures its "
        "error in the discriminator's features, where a blurred digit is far from any real one."),
    "discriminator-wins": Preset("A discriminator that wins (vanishing gradient)",
        {"kinds": ("gan",), "lr": 1e-4, "lr_discriminator": 1e-3, "d_steps": 5, "discriminator_norm": "none",
         "generator_loss": "minimax"},
        "D's scores and the *gradient norm* of the generator: D(real) goes to 1, D(generated) to 0 and the "
        "generator's gradient to almost nothing, so the grid stops changing. With the original minimax loss "
        "log(1 - D(G(z))) the generator's gradient is proportional to D(G(z)), which a winning D has pushed to 0. "
        "Switch *GAN generator loss* to non-saturating (More settings) and Reset: the gradient comes back."),
}


def sharpness(images: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels (B x C x H x W in [0, 1]): blur lowers it."""
    images = images.float()
    return float(((images[..., 1:, :] - images[..., :-1, :]).abs().mean()
                  + (images[..., :, 1:] - images[..., :, :-1]).abs().mean()) / 2)


class _Interrupted(Exception):
    """A quality reading cut short by a pause or a stop."""


def quality_reading(model, settings: Any, real: torch.Tensor, interrupted: Callable[[], bool]) -> dict | None:
    """The cheap reading of ``model`` (in eval mode): the domain FID and class histogram of ``reading_n`` samples
    (``metrics.evaluate`` against the training split), the classes covered, the samples' sharpness against ``real``
    (uint8 training images; real = 1) and, with an encoder, the active units on them. None when ``interrupted()``
    turns true (it is asked between chunks of READING_CHUNK samples)."""
    def progress(fraction: float, message: str) -> None:
        if interrupted():
            raise _Interrupted

    try:
        scores = evaluate(model, settings.dataset, n=settings.reading_n, extractor="lenet", metrics=("fid", "modes"),
                          split="train", seed=settings.seed, batch_size=READING_CHUNK, progress=progress)["metrics"]
    except _Interrupted:
        return None
    counts, images = np.asarray(scores["histogram"]), real.float() / 255
    samples = model.sample(settings.reading_n, generator=torch.Generator().manual_seed(settings.seed))
    reading = {"fid": round(scores["fid"], 2), "histogram": counts.tolist(),
               "classes_covered": int((counts >= COVERED_SHARE * counts.sum() / len(counts)).sum()),
               "sharpness": round(sharpness(samples) / max(sharpness(images), 1e-9), 3)}
    if model.has_encoder:
        reading["active_units"] = usage_of_codes(*model.encode(images))["active_units"]
    return reading


def _minimax_losses(model, images, generator=None, labels=None):
    """The GAN's losses with Goodfellow et al. 2014's original generator loss: G minimises log(1 - D(G(z))), whose
    gradient -D(G(z)) vanishes when D rejects the fakes (the reason the non-saturating -log D(G(z)) is used)."""
    import torch.nn.functional as F

    z = model.training_noise((images.shape[0], model.config.latent_dim), generator, images.device)
    logits = model.discriminator(torch.cat([images, torch.sigmoid(model.decoder(z)).to(images.dtype)]))[0].float()
    real, fake = logits.split(images.shape[0])
    # D: BCE(D(x), 1) + BCE(D(G(z)), 0); G: log(1 - sigmoid(l)) = -softplus(l)
    losses = {"discriminator": F.softplus(-real).mean() + F.softplus(fake).mean(), "decoder": -F.softplus(fake).mean()}
    logs = {"loss_discriminator": losses["discriminator"], "loss_generator": losses["decoder"],
            "d_real": torch.sigmoid(real).mean(), "d_fake": torch.sigmoid(fake).mean(),
            "d_accuracy": ((real > 0).float().sum() + (fake < 0).float().sum()) / logits.numel()}
    return losses, {key: value.detach() for key, value in logs.items()}
