"""The models: the VAE (``vae``), the GAN (``gan``) and the VAE-GAN (``vaegan``): their losses; what they share
(``generative``: ``GenerativeModel``, the inference helpers), the model of a config (``registry``: ``build_model``,
``MODEL_CLASSES``), their networks (``nets``), the priors of their codes (``prior``: N(0, I) and the GMM of the
training codes) and the class-conditional helpers (``conditional``). ``vaegan_core.models.build_model`` and the
classes are importable from here as before."""

from .gan import GAN
from .generative import (INFERENCE_BATCH, ONE_PROCESS, GenerativeModel, OneProcess, count_parameters,
                         kl_to_standard_normal)
from .registry import MODEL_CLASSES, build_model
from .vae import VAE
from .vaegan import VAEGAN

__all__ = ["GAN", "INFERENCE_BATCH", "MODEL_CLASSES", "ONE_PROCESS", "VAE", "VAEGAN", "GenerativeModel", "OneProcess",
           "build_model", "count_parameters", "kl_to_standard_normal"]
