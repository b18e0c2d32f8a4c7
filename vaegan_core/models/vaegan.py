"""The VAE-GAN (Larsen et al. 2016): a VAE whose reconstruction error is measured in the features of a GAN
discriminator, its losses split over the encoder, the decoder and the discriminator, and the equilibrium trick."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .generative import GenerativeModel, _EncoderMixin, _discriminator_accuracy, _per_image_sum, kl_to_standard_normal
from .nets import Discriminator, Encoder, init_weights


class VAEGAN(_EncoderMixin, GenerativeModel):
    """VAE-GAN of Larsen et al. 2016 (arXiv 1512.09300): a VAE whose reconstruction error is
    measured in the feature space of a GAN discriminator.

    L = L_prior + L_llike^Dis_l + L_GAN, split over the three networks (their eq. 9):
      encoder:       beta * KL(q(z|x) || N(0, I)) + L_llike^Dis_l          (no L_GAN gradient)
      decoder:       gamma * L_llike^Dis_l - L_GAN  (in the non-saturating form)
      discriminator: -L_GAN, with real images against reconstructions and prior samples
    where L_llike^Dis_l = 1/2 ||Dis_l(x) - Dis_l(x~)||^2, summed over the feature map
    (a unit-variance Gaussian in feature space). Because it is a sum over 4w x 4 x 4 features,
    gamma is small (default 0.05) to keep the decoder's GAN term from being drowned.
    """

    kind = "vaegan"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder = Encoder(config)
        self.discriminator = Discriminator(config)
        self.apply(init_weights)

    # One discriminator pass over real | reconstructed | sampled images (True), or one over the real images and one
    # over the generated ones (False): then the encoder's and the decoder's losses back-propagate through the
    # discriminator over the generated rows only, not over the real ones as well (benchmarks/train_speed.py).
    # The two give the same losses and gradients; a discriminator with BatchNorm (whose statistics would differ)
    # and a DistributedDataParallel one (one forward per step) always take the single pass.
    fused_discriminator = False

    def parameter_groups(self):
        return {
            "discriminator": list(self.discriminator.parameters()),
            "encoder": list(self.encoder.parameters()),
            "decoder": list(self.decoder.parameters()),
        }

    def _discriminate(self, images, decoded, labels, twice):
        """(real logits, reconstructed logits, prior logits, real features, reconstructed features), in float."""
        batch = images.shape[0]
        fused = (self.fused_discriminator or self.config.discriminator_norm == "batch"
                 or isinstance(self.discriminator, nn.parallel.DistributedDataParallel))
        if fused:
            logits, features = self.discriminator(torch.cat([images, decoded]),
                                                  None if labels is None else torch.cat([labels, twice]))
            real_logits, recon_logits, prior_logits = logits.float().split(batch)
            real_features, recon_features, _ = features.float().split(batch)
            return real_logits, recon_logits, prior_logits, real_features, recon_features
        real_logits, real_features = self.discriminator(images, labels)
        logits, features = self.discriminator(decoded, twice)
        recon_logits, prior_logits = logits.float().split(batch)
        return real_logits.float(), recon_logits, prior_logits, real_features.float(), features[:batch].float()

    def training_losses(self, images, generator=None, labels=None):
        config = self.config
        batch = images.shape[0]
        # conditional (the CVAE-GAN of Bao et al. 2017, in Larsen et al.'s losses): y goes to the encoder, the
        # decoder and the (projection) discriminator; the prior samples take the real batch's labels
        mu, logvar = self.encoder(images, labels)
        z = self.reparameterize(mu, logvar, generator)
        z_prior = self.training_noise(z.shape, generator, z.device, z.dtype)
        # One decoder pass for the reconstructions and the prior samples (larger matrix products, fewer launches;
        # its BatchNorm sees both), then the discriminator (_discriminate: one pass or two).
        twice = None if labels is None else torch.cat([labels, labels])
        decoded = torch.sigmoid(self.decoder(torch.cat([z, z_prior]), twice)).to(images.dtype)
        real_logits, recon_logits, prior_logits, real_features, recon_features = self._discriminate(
            images, decoded, labels, twice)

        # L_prior = KL(q(z|x) || p(z)) (Kingma & Welling 2013)
        kl = kl_to_standard_normal(mu, logvar)
        # L_llike^Dis_l = -log N(Dis_l(x) | Dis_l(x~), s^2 I) = ||Dis_l(x) - Dis_l(x~)||^2 / (2 s^2) + const.
        # Larsen et al. fix s = 1; we set s^2 to the mean power of the real features (no gradient),
        # which makes the term independent of the discriminator's feature scale (spectral norm
        # shrinks it ~20x), so that KL and feature likelihood keep their balance as D trains.
        real_features = real_features.detach()
        feature_power = self.global_mean(real_features.pow(2).mean()).clamp_min(1e-8)
        feature_nll = 0.5 * _per_image_sum((recon_features - real_features).pow(2)) / feature_power
        # -L_GAN for the discriminator: BCE(D(x), 1) + BCE(D(x~), 0) + BCE(D(x_p), 0)
        loss_real = F.softplus(-real_logits).mean()
        loss_recon = F.softplus(recon_logits).mean()
        # (the prior samples' terms weighted by prior_gan_weight, 1 in Larsen et al.: more pushes the decoder to make
        # N(0, I) codes look real, beyond the codes the encoder gives)
        weight = config.prior_gan_weight
        loss_prior = F.softplus(prior_logits).mean()
        loss_discriminator = loss_real + loss_recon + weight * loss_prior
        # Decoder side of L_GAN, non-saturating: -log D(x~) - log D(x_p)
        loss_gan_decoder = F.softplus(-recon_logits).mean() + weight * F.softplus(-prior_logits).mean()

        train_discriminator, train_decoder_gan = True, True
        if config.equilibrium:
            # Larsen et al.'s equilibrium trick: pause the player that is too far ahead.
            low = config.equilibrium_target - config.equilibrium_margin
            high = config.equilibrium_target + config.equilibrium_margin
            real_bce, fake_bce = float(loss_real.detach()), 0.5 * float((loss_recon + loss_prior).detach())
            train_discriminator = not (real_bce < low or fake_bce < low)
            train_decoder_gan = not (real_bce > high or fake_bce > high)
            if not (train_discriminator or train_decoder_gan):
                train_discriminator = train_decoder_gan = True

        loss_encoder = config.beta * self.kl_scale * kl + feature_nll
        loss_decoder = config.gamma * feature_nll + (loss_gan_decoder if train_decoder_gan else 0.0)
        losses = {"encoder": loss_encoder, "decoder": loss_decoder}
        if train_discriminator:
            losses = {"discriminator": loss_discriminator, **losses}

        with torch.no_grad():
            recon_mse = (decoded[:batch].float() - images.float()).pow(2).mean()
            fake_logits = torch.cat([recon_logits, prior_logits])
        logs = {
            "loss_discriminator": loss_discriminator.detach(),
            "loss_encoder": loss_encoder.detach(),
            "loss_decoder": loss_decoder.detach(),
            "loss_gan_decoder": loss_gan_decoder.detach(),
            "kl": kl.detach(),
            "feature_nll": feature_nll.detach(),
            "recon_mse": recon_mse,
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": torch.sigmoid(prior_logits).mean().detach(),
            "d_recon": torch.sigmoid(recon_logits).mean().detach(),
            "d_accuracy": _discriminator_accuracy(real_logits, fake_logits),
        }
        if config.equilibrium:
            # on the loss's device: the Trainer stacks all logs into one tensor
            logs["train_discriminator"] = loss_real.new_tensor(float(train_discriminator))
            logs["train_decoder_gan"] = loss_real.new_tensor(float(train_decoder_gan))
        return losses, logs
