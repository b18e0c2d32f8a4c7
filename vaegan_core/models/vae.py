"""The VAE (Kingma & Welling 2013): its pixel likelihoods (Bernoulli, Gaussian, calibrated) and its ELBO."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import ModelConfig
from .generative import GenerativeModel, _EncoderMixin, _per_image_sum, kl_to_standard_normal
from .nets import Encoder, init_weights


class VAE(_EncoderMixin, GenerativeModel):
    """Variational autoencoder (Kingma & Welling 2013) with a Bernoulli or Gaussian pixel likelihood."""

    kind = "vae"
    default_lr = 1e-3

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder = Encoder(config)
        self.apply(init_weights)
        if config.likelihood == "calibrated":  # the pixel sigma the ELBO of new images uses (a moving average)
            self.register_buffer("pixel_sigma", torch.tensor(float(config.gaussian_sigma)))

    def parameter_groups(self):
        return {"vae": list(self.encoder.parameters()) + list(self.decoder.parameters())}

    def reconstruction_nll(self, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) summed over pixels, averaged over the batch (constants dropped)."""
        if self.config.likelihood == "bernoulli":
            return _per_image_sum(F.binary_cross_entropy_with_logits(logits.float(), images, reduction="none"))
        squared = (torch.sigmoid(logits.float()) - images).pow(2)
        if self.config.likelihood == "calibrated":
            # sigma-VAE (Rybkin et al. 2021): the sigma that maximises the likelihood of this batch, sigma^2 = MSE,
            # so -log p(x|z) = D/2 log sigma^2 + D/2 per image: the reconstruction weighs against the KL as a
            # learnt variance would make it (Dai & Wipf 2019), without a parameter to tune
            variance = self.global_mean(squared.mean()).detach().clamp_min(1e-6)
            if self.training:
                with torch.no_grad():
                    self.pixel_sigma.mul_(0.99).add_(0.01 * variance.sqrt())
            pixels = squared[0].numel()
            return _per_image_sum(squared) / (2 * variance) + 0.5 * pixels * torch.log(variance)
        sigma = self.config.gaussian_sigma  # Gaussian: ||x - x_hat||^2 / (2 sigma^2)
        return _per_image_sum(squared) / (2 * sigma**2)

    def training_losses(self, images, generator=None, labels=None):
        # ELBO (Kingma & Welling 2013): L = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I));
        # conditional (Sohn et al. 2015): q(z|x, y), p(x|z, y), the same bound given y
        mu, logvar = self.encoder(images, labels)
        z = self.reparameterize(mu, logvar, generator)
        logits = self.decoder(z, labels)
        nll = self.reconstruction_nll(logits, images)
        kl = kl_to_standard_normal(mu, logvar)
        loss = nll + self.config.beta * self.kl_scale * kl
        with torch.no_grad():
            recon_mse = (torch.sigmoid(logits.float()) - images).pow(2).mean()
        logs = {"loss": loss.detach(), "nll": nll.detach(), "kl": kl.detach(), "recon_mse": recon_mse}
        return {"vae": loss}, logs
