"""What the VAE, the GAN and the VAE-GAN share: ``GenerativeModel`` (decode, sample, the priors, the labels, the
moving average of the decoder), the encoder's ``encode`` (``_EncoderMixin``, for the VAE and the VAE-GAN), how a
model shares a batch over processes (``OneProcess``) and the helpers of their losses. The models themselves are in
``vae``, ``gan`` and ``vaegan``; ``registry`` builds one from its config.

Models are the math only (encode, decode, sample, losses): they hold no optimizer and pick no device. ``training_losses`` returns one loss per
network group (``parameter_groups`` names them), and the Trainer back-propagates each
loss into its own group only, which is how the VAE-GAN keeps the GAN gradient out of
the encoder and the discriminator step out of the decoder.

Inference entry points (``encode``, ``decode``, ``sample``, ``reconstruct``) run under
``torch.inference_mode``, take a ``torch.Generator`` for reproducibility and return CPU
tensors; images are float in [0, 1]. ``encode``, ``decode`` and ``reconstruct`` take ``grad=True``
for use inside a larger model: then they keep autograd and the input's device.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..config import MODEL_LABELS, ModelConfig
from ..errors import ConfigError
from ..images import check_image_batch
from .nets import Decoder
from .prior import NormalPrior, Prior, check_prior_name

INFERENCE_BATCH = 512  # images per forward pass in the inference helpers (bounds memory)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over latent dims, averaged over the batch.

    Kingma & Welling 2013, appendix B: -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def _per_image_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum over every dim but the batch, then average over the batch."""
    return values.flatten(1).sum(dim=1).mean()


def _inference_unless(grad: bool):
    """``torch.inference_mode()`` for the inference helpers, or (``grad=True``) nothing: the caller's autograd
    mode holds, so that the outputs can be saved for backward (a probe or a larger model on top)."""
    return contextlib.nullcontext() if grad else torch.inference_mode()


def _discriminator_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    correct = (real_logits > 0).float().sum() + (fake_logits < 0).float().sum()
    return correct / (real_logits.numel() + fake_logits.numel())


class OneProcess:
    """Training on one process: the noise of the batch, and means as they are (``distributed.Shard`` is the
    several-process twin)."""

    rank, world = 0, 1

    def noise(self, shape, generator=None, device=None, dtype=None) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        return value


ONE_PROCESS = OneProcess()


class GenerativeModel(nn.Module):
    """What every model offers: a decoder from N(0, I) codes to images, and the inference helpers."""

    kind = ""
    default_lr = 2e-4
    latent_gmm = None  # a vaegan_core.models.prior.LatentGMM, set by load_model when the checkpoint has one
    class_frequencies = None  # a conditional model's share of each class in its training data (load_model)
    latent_gmm_error = None  # why a checkpoint's latent GMM could not be read
    # how the model shares a global batch: one process here; on several, the trainer gives it a
    # vaegan_core.training.distributed.Shard (noise drawn for the whole global batch, means taken over the processes)
    shard = ONE_PROCESS
    # the share of beta the KL term takes in the training losses: 1, or less while the trainer warms it up
    # (TrainConfig.kl_warmup)
    kl_scale = 1.0
    has_encoder = False  # True for the VAE and the VAE-GAN: encode, reconstruct and the posterior exist

    def training_noise(self, shape, generator=None, device=None, dtype=None) -> torch.Tensor:
        """N(0, I) noise for training, ``shape[0]`` rows: this process's share of the global batch's noise."""
        return self.shard.noise(shape, generator, device, dtype)

    def global_mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a per-process scalar over the processes (itself on one process)."""
        return self.shard.mean(value)

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.kind != self.kind:
            raise ConfigError(f"{type(self).__name__} needs a config with kind={self.kind!r}, got {config.kind!r}")
        self.config = config
        self.decoder = Decoder(config)
        # a moving average of the decoder's weights, for sampling (see update_ema); None when off
        self.decoder_ema = Decoder(config).requires_grad_(False) if config.ema_decay > 0 else None

    use_ema = True  # decode with the moving average when the model has one (False: the trained weights)

    @property
    def sampling_decoder(self) -> nn.Module:
        """The decoder that inference uses: the moving average of the weights when there is one (and
        ``use_ema``), else the decoder being trained."""
        return self.decoder_ema if self.decoder_ema is not None and self.use_ema else self.decoder

    @torch.no_grad()
    def reset_ema(self) -> None:
        """Start the moving average at the decoder's weights (after initialisation)."""
        if self.decoder_ema is not None:
            self.decoder_ema.load_state_dict(self.decoder.state_dict())

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """theta_ema <- d theta_ema + (1 - d) theta after optimizer step ``step`` (1, 2, ...), with
        d = min(ema_decay, (1 + step) / (10 + step)) so that the early, random weights fade fast
        (Yazici et al. 2019, "The unusual effectiveness of averaging in GAN training"). Buffers (BatchNorm's
        running statistics) are copied, not averaged."""
        if self.decoder_ema is None:
            return
        decay = min(self.config.ema_decay, (1 + step) / (10 + step))
        for averaged, current in zip(self.decoder_ema.parameters(), self.decoder.parameters()):
            averaged.lerp_(current.detach(), 1 - decay)
        for averaged, current in zip(self.decoder_ema.buffers(), self.decoder.buffers()):
            averaged.copy_(current)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def reparameterize(self, mu, logvar, generator=None):
        """z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2013)."""
        eps = (self.training_noise(mu.shape, generator, mu.device, mu.dtype) if self.training else
               torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype))
        return mu + torch.exp(0.5 * logvar) * eps

    def prior(self, name: str = "normal", fallback: bool = False) -> Prior:
        """The prior called ``name`` (see ``vaegan_core.models.prior``): ``normal``, N(0, T^2 I); or ``gmm``, the
        Gaussian mixture fitted to the training codes (VAE and VAE-GAN checkpoints with ``latent_gmm.safetensors``).

        A model without that prior raises a ConfigError that says why, unless ``fallback`` is set: then it
        gets N(0, I), whose ``note`` says why (for a VAE or VAE-GAN; a GAN has no encoder, so never a GMM).
        """
        check_prior_name(name)
        if name == "normal":
            return NormalPrior(self.config.latent_dim)
        problem = self._gmm_problem()
        if problem is None:
            return self.latent_gmm
        if not fallback:
            raise ConfigError(problem)
        note = None if self.kind == "gan" else "no GMM fitted to this checkpoint, so N(0, I); `vaegan fit-gmm DIR` fits one"
        return NormalPrior(self.config.latent_dim, note=note)

    def _gmm_problem(self) -> str | None:
        """Why this model cannot sample from a GMM of its training codes, or None when it can."""
        if self.kind == "gan":
            return "a GAN has no encoder, so it has no GMM of training codes; use the N(0, I) prior"
        if self.latent_gmm is None:
            return self.latent_gmm_error or (f"this {MODEL_LABELS[self.kind]} has no GMM of its training codes; fit "
                                             "one with `vaegan fit-gmm DIR`")
        if self.latent_gmm.dim != self.config.latent_dim:
            return (f"the latent GMM has {self.latent_gmm.dim} dimensions, the model {self.config.latent_dim}; refit "
                    "it with `vaegan fit-gmm DIR`")
        return None

    @property
    def conditional(self) -> bool:
        """Whether the model is conditional on a class label (``config.num_classes`` > 0)."""
        return self.config.num_classes > 0

    def check_labels(self, labels, n: int) -> torch.Tensor | None:
        """``labels`` (a tensor or list of class indices, one per image) as a CPU long tensor of length ``n``; None
        for an unconditional model. A missing, extra, miscounted or out-of-range label is a one-line error that
        says what to pass."""
        classes = self.config.num_classes
        if not classes:
            if labels is not None:
                raise ConfigError(f"this {MODEL_LABELS[self.kind]} is unconditional: it takes no labels; drop "
                                  "labels= (or train a conditional model: ModelConfig(num_classes=N), "
                                  "`vaegan train --conditional`)")
            return None
        if labels is None:
            raise ConfigError(f"this {MODEL_LABELS[self.kind]} is conditional on {classes} classes: pass labels=, "
                              f"one class index from 0 to {classes - 1} per image (a list or a tensor)")
        try:
            values = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"labels must be class indices (integers), got {str(labels)[:40]}") from None
        if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
            raise ConfigError(f"labels must be integers from 0 to {classes - 1}, got {values.dtype} values")
        values = values.reshape(-1).long().cpu()
        if values.numel() != n:
            raise ConfigError(f"{values.numel()} label(s) for {n} image(s): pass one label per image")
        if values.numel() and (values.min() < 0 or values.max() >= classes):
            raise ConfigError(f"labels must lie from 0 to {classes - 1}, got values from {int(values.min())} to "
                              f"{int(values.max())}")
        return values

    def decode(self, z: torch.Tensor, labels=None, *, grad: bool = False) -> torch.Tensor:
        """Codes B x latent_dim (any device; and, for a conditional model, B labels) -> images B x C x H x W,
        float32 in [0, 1].

        By default under ``torch.inference_mode``, returned on the CPU. ``grad=True``: in the caller's autograd
        mode and returned on ``z``'s device, so a loss on the images back-propagates into ``z`` and the decoder.
        Decoding uses ``sampling_decoder``: the moving average of the weights when the model has one, which is not
        trained; set ``use_ema = False`` to back-propagate into the trained decoder."""
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ConfigError(f"z must be a tensor of shape B x {self.config.latent_dim}, got {got}")
        labels = self.check_labels(labels, z.shape[0])
        home = z.device if grad else torch.device("cpu")
        with _inference_unless(grad):
            chunks = []
            for start in range(0, z.shape[0], INFERENCE_BATCH):
                part = z[start:start + INFERENCE_BATCH].to(self.device, torch.float32)
                part_labels = None if labels is None else labels[start:start + INFERENCE_BATCH].to(self.device)
                chunks.append(torch.sigmoid(self.sampling_decoder(part, part_labels)).float().to(home))
            if not chunks:
                return torch.zeros(0, self.config.channels, self.config.image_size, self.config.image_size,
                                   device=home)
            return torch.cat(chunks)

    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               prior: str = "normal", labels=None) -> torch.Tensor:
        """n images n x C x H x W, float32 in [0, 1] on the CPU (under inference mode), decoded from codes of the
        prior ``prior`` (see ``prior``) scaled by ``temperature``; same ``generator`` seed, same images. A
        conditional model needs ``labels``, one class per image."""
        labels = self.check_labels(labels, n)  # before drawing: a wrong call costs nothing
        return self.decode(self.prior(prior).sample(n, generator, temperature), labels)

    def encode(self, images: torch.Tensor, labels=None, *, grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of images: see VAE.encode; a GAN has none."""
        raise ConfigError(
            f"a {self.kind.upper()} has no encoder, so it cannot encode or reconstruct images; use a VAE or VAE-GAN"
        )

    def reconstruct(self, images: torch.Tensor, labels=None, *, grad: bool = False) -> torch.Tensor:
        """Images B x C x H x W in [0, 1] (with their labels, for a conditional model) -> their reconstructions
        decode(mu), same shape, float32 in [0, 1]: on the CPU, or with ``grad=True`` on the images' device and
        differentiable (see ``encode`` and ``decode``)."""
        mu, _ = self.encode(images, labels, grad=grad)
        return self.decode(mu, labels, grad=grad)

    def check_images(self, images: torch.Tensor) -> None:
        """Refuse (with a clear message) anything that is not a float batch in [0, 1] of this model's shape."""
        shape = (self.config.channels, self.config.image_size, self.config.image_size)
        check_image_batch(images, shape, ConfigError)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Networks trained by separate optimizers, keyed like the losses of ``training_losses``."""
        raise NotImplementedError

    def training_losses(self, images: torch.Tensor, generator: torch.Generator | None = None, labels=None):
        """One training batch in [0, 1] (and its labels, for a conditional model) -> (losses per parameter
        group, logs of 0-d tensors)."""
        raise NotImplementedError


class _EncoderMixin:
    """encode() for the models that have an encoder."""

    has_encoder = True

    def encode(self, images: torch.Tensor, labels=None, *, grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Images B x C x H x W, float in [0, 1] on any device (and B labels, for a conditional model) -> the
        posterior q(z|x) as (mu, logvar), each B x latent_dim float32.

        By default under ``torch.inference_mode``, returned on the CPU. ``grad=True``: in the caller's autograd
        mode and returned on the images' device, so that a probe or a larger model can train on the codes (and,
        unless the encoder is frozen with ``model.encoder.requires_grad_(False)``, back-propagate into it).
        BatchNorm follows ``model.train()`` / ``model.eval()``."""
        self.check_images(images)
        labels = self.check_labels(labels, images.shape[0])
        home = images.device if grad else torch.device("cpu")
        mus, logvars = [], []
        with _inference_unless(grad):
            for start in range(0, images.shape[0], INFERENCE_BATCH):
                part = images[start:start + INFERENCE_BATCH].to(self.device, torch.float32)
                part_labels = None if labels is None else labels[start:start + INFERENCE_BATCH].to(self.device)
                mu, logvar = self.encoder(part, part_labels)
                mus.append(mu.float().to(home))
                logvars.append(logvar.float().to(home))
            if not mus:
                empty = torch.zeros(0, self.config.latent_dim, device=home)
                return empty, empty.clone()
            return torch.cat(mus), torch.cat(logvars)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (the moving average of the decoder's weights is not trained, so not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
