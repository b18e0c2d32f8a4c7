"""The model of a config: ``MODEL_CLASSES`` (kind -> class) and ``build_model``, which refuses networks over
``MAX_NETWORK_WEIGHTS`` before it allocates them."""

from __future__ import annotations

from ..config import MAX_NETWORK_WEIGHTS, ModelConfig
from ..errors import ConfigError
from .gan import GAN
from .generative import GenerativeModel
from .nets import largest_network_weights
from .vae import VAE
from .vaegan import VAEGAN

MODEL_CLASSES = {"vae": VAE, "gan": GAN, "vaegan": VAEGAN}


def build_model(config: ModelConfig) -> GenerativeModel:
    """A freshly initialised model of ``config.kind``; refused (before any allocation) when one of its
    networks would exceed ``MAX_NETWORK_WEIGHTS``."""
    weights = largest_network_weights(config)
    if weights > MAX_NETWORK_WEIGHTS:
        raise ConfigError(f"this config asks for networks of about {weights:,} weights, more than the "
                          f"{MAX_NETWORK_WEIGHTS:,} this package builds; lower width, latent_dim or image_size")
    model = MODEL_CLASSES[config.kind](config)
    model.reset_ema()
    return model
