"""The GAN: a DCGAN with the non-saturating generator loss (Goodfellow et al. 2014, Radford et al. 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import ModelConfig
from .generative import GenerativeModel, _discriminator_accuracy
from .nets import Discriminator, init_weights


class GAN(GenerativeModel):
    """DCGAN (Radford et al. 2015) with the non-saturating generator loss (Goodfellow et al. 2014)."""

    kind = "gan"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.discriminator = Discriminator(config)
        self.apply(init_weights)

    def parameter_groups(self):
        return {"discriminator": list(self.discriminator.parameters()), "decoder": list(self.decoder.parameters())}

    def training_losses(self, images, generator=None, labels=None):
        batch = images.shape[0]
        z = self.training_noise((batch, self.config.latent_dim), generator, images.device)
        # conditional (Mirza & Osindero 2014): the fakes are drawn for the real batch's labels, so y follows the
        # data's class frequencies, and D judges each image with its label (projection, see nets.Discriminator)
        fakes = torch.sigmoid(self.decoder(z, labels)).to(images.dtype)
        # One discriminator pass over real and fake images together. The discriminator loss is
        # back-propagated into the discriminator only, which equals detaching the fakes.
        logits, _ = self.discriminator(torch.cat([images, fakes]),
                                       None if labels is None else torch.cat([labels, labels]))
        real_logits, fake_logits = logits.float().split(batch)
        # Goodfellow et al. 2014: D maximises log D(x) + log(1 - D(G(z))), i.e. minimises the two BCEs;
        # G minimises -log D(G(z)) (the non-saturating form) instead of log(1 - D(G(z))).
        loss_real = F.softplus(-real_logits).mean()
        loss_fake = F.softplus(fake_logits).mean()
        loss_discriminator = loss_real + loss_fake
        loss_generator = F.softplus(-fake_logits).mean()
        logs = {
            "loss_discriminator": loss_discriminator.detach(),
            "loss_generator": loss_generator.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": torch.sigmoid(fake_logits).mean().detach(),
            "d_accuracy": _discriminator_accuracy(real_logits, fake_logits).detach(),
        }
        return {"discriminator": loss_discriminator, "decoder": loss_generator}, logs
