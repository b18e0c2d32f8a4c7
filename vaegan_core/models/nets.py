"""DCGAN-style networks shared by the VAE, the GAN and the VAE-GAN (Radford et al. 2015).

All three model families build from the same three classes, so comparisons are fair.
The spatial size halves at each stage (rounding up) until it reaches 4 x 4: 28 -> 14 -> 7 -> 4
and 32 -> 16 -> 8 -> 4. An even size uses a 4x4 kernel, an odd one a 3x3 kernel, both with
stride 2 and padding 1, so every size maps back exactly in the decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig, stage_sizes


def _kernel(size_in: int) -> int:
    return 4 if size_in % 2 == 0 else 3


def _stage_widths(config: ModelConfig) -> list[int]:
    """Channels after each downsampling stage: width, 2 width, 4 width, ..."""
    return [config.width * 2**i for i in range(len(stage_sizes(config.image_size)) - 1)]


def largest_network_weights(config: ModelConfig) -> int:
    """The weights of the largest network of ``config`` (its conv kernels and linear maps, to within the
    biases and norms), from the stage sizes alone: what building the model would cost, known before it
    is built (a config.json asking for a huge network is refused on this number)."""
    sizes, widths = stage_sizes(config.image_size), _stage_widths(config)
    channels = [config.channels] + widths
    convs = sum(channels[i] * channels[i + 1] * _kernel(sizes[i]) ** 2 for i in range(len(widths)))
    return convs + widths[-1] * 16 * 2 * config.latent_dim  # the encoder's head (2 latent) or decoder's projection


class _ConvStack(nn.Module):
    """Strided convolutions from the image to a 4x4 map; shared body of encoder and discriminator."""

    def __init__(self, config: ModelConfig, norm: str = "batch"):
        super().__init__()
        sizes = stage_sizes(config.image_size)
        widths = _stage_widths(config)
        layers = []
        in_channels = config.channels
        for index, (size_in, out_channels) in enumerate(zip(sizes[:-1], widths)):
            # B x in x s x s -> B x out x ceil(s/2) x ceil(s/2)
            batch_norm = norm == "batch" and index > 0  # DCGAN: no normalisation right after the input
            conv = nn.Conv2d(in_channels, out_channels, _kernel(size_in), 2, 1, bias=not batch_norm)
            if norm == "spectral":
                conv = nn.utils.parametrizations.spectral_norm(conv)
            layers.append(conv)
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            in_channels = out_channels
        self.layers = nn.Sequential(*layers)
        self.out_features = in_channels * 4 * 4

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class Encoder(nn.Module):
    """q(z|x): images B x C x H x W in [0, 1] -> (mu, logvar), each B x latent_dim."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.body = _ConvStack(config)  # B x C x H x W -> B x 4w x 4 x 4 (w = width, for 28 or 32)
        self.head = nn.Linear(self.body.out_features, 2 * config.latent_dim)  # -> B x 2 latent
        if config.num_classes:  # q(z | x, y): the label enters the head, as a one-hot column block would
            self.label_head = nn.Embedding(config.num_classes, 2 * config.latent_dim)
            self.label_head.init_std = label_init_std(config)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.head(self.body(images * 2 - 1).flatten(1))
        if labels is not None:
            hidden = hidden + self.label_head(labels).to(hidden.dtype)
        mu, logvar = hidden.float().chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """p(x|z), also the GAN generator: z B x latent_dim -> pixel logits B x C x H x W."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        sizes = stage_sizes(config.image_size)
        widths = _stage_widths(config)
        self.start_channels = widths[-1]
        batch_norm = config.decoder_norm == "batch"
        self.project = nn.Sequential(  # B x latent -> B x (4w * 4 * 4)
            nn.Linear(config.latent_dim, widths[-1] * 16, bias=not batch_norm),
            nn.BatchNorm1d(widths[-1] * 16) if batch_norm else nn.Identity(),
            nn.ReLU(inplace=True),
        )
        layers = []
        out_widths = list(reversed(widths[:-1])) + [config.channels]
        in_channels = widths[-1]
        for index, (size_out, out_channels) in enumerate(zip(reversed(sizes[:-1]), out_widths)):
            # B x in x s x s -> B x out x size_out x size_out, size_out = 2s or 2s - 1
            last = index == len(out_widths) - 1
            norm_here = batch_norm and not last
            layers.append(nn.ConvTranspose2d(in_channels, out_channels, _kernel(size_out), 2, 1, bias=not norm_here))
            if norm_here:
                layers.append(nn.BatchNorm2d(out_channels))
            if not last:
                layers.append(nn.ReLU(inplace=True))
            in_channels = out_channels
        self.layers = nn.Sequential(*layers)
        if config.num_classes:  # p(x | z, y): the label enters the projection, as a one-hot input block would
            self.label_project = nn.Embedding(config.num_classes, widths[-1] * 16)
            self.label_project.init_std = label_init_std(config)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            hidden = self.project(z)
        else:
            linear = self.project[0](z)
            hidden = self.project[1:](linear + self.label_project(labels).to(linear.dtype))
        return self.layers(hidden.view(z.shape[0], self.start_channels, 4, 4))


class Discriminator(nn.Module):
    """D(x): images B x C x H x W in [0, 1] -> (real/fake logit B, features of layer Dis_l).

    The features are the output of a conv stage, by default the last (B x 4w x 4 x 4): the layer
    Larsen et al. (2016) compare real and reconstructed images in. ``config.feature_stage`` picks an
    earlier one (e.g. 2: B x 2w x 7 x 7 for 28 x 28 images), finer and less abstract; the logit always
    reads the last stage.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.body = _ConvStack(config, norm=config.discriminator_norm)  # -> B x 4w x 4 x 4
        stages = len(stage_sizes(config.image_size)) - 1
        self.feature_stage = config.feature_stage or stages  # the stage whose output is Dis_l
        self.feature_stage_is_last = self.feature_stage == stages
        self.head = nn.Linear(self.body.out_features, 1)  # -> B x 1
        if config.discriminator_norm == "spectral":
            self.head = nn.utils.parametrizations.spectral_norm(self.head)
        if config.num_classes:
            # The projection discriminator (Miyato & Koyama 2018): logit = psi(phi(x)) + <embed(y), phi(x)>, the
            # form the log-ratio of the conditional densities takes when p(y|x) is log-linear in phi(x); it
            # beats concatenating y to the input or the features, and keeps D's features (Dis_l) label-free.
            self.label_embed = nn.Embedding(config.num_classes, self.body.out_features)
            if config.discriminator_norm == "spectral":
                self.label_embed = nn.utils.parametrizations.spectral_norm(self.label_embed)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.feature_stage_is_last:
            hidden = features = self.body(images * 2 - 1)
        else:
            hidden, stage = images * 2 - 1, 0
            for layer in self.body.layers:
                hidden = layer(hidden)
                if isinstance(layer, nn.LeakyReLU):  # the end of a stage (the next layers do not write into it)
                    stage += 1
                    if stage == self.feature_stage:
                        features = hidden
        flat = hidden.flatten(1)
        logits = self.head(flat).squeeze(1)
        if labels is not None:
            logits = logits + (self.label_embed(labels).to(flat.dtype) * flat).sum(1)
        return logits, features


def label_init_std(config: ModelConfig) -> float:
    """The starting spread of the label embeddings of the encoder and the decoder, which differs by family.

    The GAN: nothing makes its generator use z (there is no reconstruction), so a label that dominates the
    decoder's projection from the first step lets it ignore z: with torch's default N(0, 1) (the label ~9x the
    code's spread there, whose BatchNorm then scaled z away) the conditional GAN drew one image per class. Its label
    starts as a one-hot input block of the projection would, N(0, 0.02), and the GAN uses z.
    The VAE and the VAE-GAN: reconstruction makes them use z, and a label that dominates from the start keeps the
    class out of z (the decoder reads the class from y before z could carry it). Measured by
    benchmarks/label_init.py (cVAE, MNIST, 5 epochs, seed 0): a decoder label at N(0, 1) gave label adherence 92 %
    and domain FID 163; at the code's own spread 87 %, 206; at a one-hot block's 82 %, 218. So they keep N(0, 1).
    """
    return 0.02 if config.kind == "gan" else 1.0


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv, linear and label-embedding weights ~ N(0, 0.02), norm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        # A label embedding is the one-hot input block of the linear map it is added to, so it starts as that
        # block's weights would, N(0, 0.02), unless its network sets the scale (init_std: see label_init_std).
        nn.init.normal_(module.weight, 0.0, getattr(module, "init_std", 0.02))
