"""The models: the VAE, the GAN and the VAE-GAN (``generative``: their losses and inference helpers), their networks
(``nets``), the priors of their codes (``prior``: N(0, I) and the GMM of the training codes) and the
class-conditional helpers (``conditional``). ``vaegan_core.models.build_model`` and the classes are importable from
here as before."""

from .generative import (GAN, INFERENCE_BATCH, MODEL_CLASSES, ONE_PROCESS, VAE, VAEGAN, GenerativeModel, OneProcess,
                         build_model, count_parameters, kl_to_standard_normal)

__all__ = ["GAN", "INFERENCE_BATCH", "MODEL_CLASSES", "ONE_PROCESS", "VAE", "VAEGAN", "GenerativeModel", "OneProcess",
           "build_model", "count_parameters", "kl_to_standard_normal"]
