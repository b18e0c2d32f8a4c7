"""Frozen, typed configuration of a model and of its training run, round-tripped through JSON.

Both dataclasses are written to ``config.json`` beside the weights, so a checkpoint
folder always says how it was built and trained.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

# Every list of names is defined here, once; the CLI's choices, the apps' pickers and the checks import it.
MODEL_KINDS = ("gan", "vae", "vaegan")  # the order the apps show them in
MODEL_LABELS = {"gan": "GAN", "vae": "VAE", "vaegan": "VAE-GAN"}
ENCODER_KINDS = ("vae", "vaegan")  # the kinds with an encoder: they reconstruct, and have codes to fit a GMM to
DATASETS = ("mnist", "fashion-mnist", "digits")
IDX_DATASETS = ("mnist", "fashion-mnist")  # 60,000 + 10,000 IDX images: shipped checkpoints, statistics, the apps
DATASET_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "digits (scikit-learn)"}
SPLITS = ("train", "test")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRIORS = ("normal", "gmm")  # where sample() draws codes from: N(0, I), or the GMM of vaegan_core.models.prior
PRIOR_LABELS = {"normal": "N(0, I)", "gmm": "GMM of the training codes"}
GMM_COMPONENTS = 100  # default size of the GMM prior; chosen by benchmarks/gmm_components.py
EXTRACTORS = ("lenet", "inception")  # feature networks of the metrics: the domain classifier, TF-Inception
EXTRACTOR_LABELS = {"lenet": "domain (LeNet)", "inception": "Inception"}
EXTRACTOR_FEATURES = {"lenet": 128, "inception": 2048}  # feature dimensions: FID needs more images than these
PRECISIONS = ("auto", "bf16", "fp32")
LIKELIHOODS = ("bernoulli", "gaussian", "calibrated")
LR_SCHEDULES = ("constant", "cosine")
NORMS = ("none", "batch", "spectral")
# Bounds of the sizes a config may ask for: far above anything trained here (width 64, latent 32, 28 x 28),
# far below what would take minutes and gigabytes to build before any other check could fail.
MAX_IMAGE_SIZE, MAX_LATENT_DIM, MAX_WIDTH = 256, 1024, 256
MAX_EPOCHS, MAX_BATCH = 100_000, 65_536
MAX_SEED = 2**31 - 1  # seeds go into torch generators with offsets added; the apps take the same range
MAX_CLASSES = 1000  # classes of a conditional model
MAX_NETWORK_WEIGHTS = 50_000_000  # per network (200 MB in fp32); the shipped ones have about 0.7 million
COLLAPSE_LOOPS = ("synthetic", "fixed-real", "fresh-real")  # what a collapse generation trains on besides samples
# vaegan_core.analysis.anomaly; higher = stranger. bernoulli_elbo: a VAE's negative ELBO with its decoder's pixel
# means read as Bernoulli probabilities (for a VAE trained with another likelihood): the bound the likelihood paradox
# of Nalisnick et al. 2019 was found with
ANOMALY_SCORES = ("elbo", "bernoulli_elbo", "pixel_error", "feature_error", "discriminator")
ANOMALY_SCORE_LABELS = {"elbo": "negative ELBO (nats)", "bernoulli_elbo": "negative ELBO, Bernoulli pixels (nats)",
                        "pixel_error": "reconstruction error, pixels",
                        "feature_error": "reconstruction error, D features", "discriminator": "minus D's logit"}
CORRUPTIONS = ("noise", "rotation", "inversion")  # corrupted test images as anomalies
OTHER_DATASET = {"mnist": "fashion-mnist", "fashion-mnist": "mnist"}  # the standard out-of-distribution pairs
MAX_IMPORTANCE_SAMPLES = 1000  # k of the importance-weighted likelihood bound


def stage_sizes(image_size: int) -> list[int]:
    """Spatial sizes from the image down to 4, e.g. 28 -> [28, 14, 7, 4]: the strided conv stages of the networks
    (``vaegan_core.models.nets``), one fewer than the sizes."""
    sizes = [image_size]
    while sizes[-1] > 4:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and loss settings of one model; the three kinds share the networks."""

    kind: str = "vaegan"  # vae | gan | vaegan
    image_size: int = 28  # height = width of the images, >= 8 (28 for MNIST, 32 for CIFAR-like data)
    channels: int = 1  # 1 for grayscale, 3 for RGB
    latent_dim: int = 32  # size of z
    width: int = 64  # channels of the first conv stage; each later stage doubles it
    discriminator_norm: str = "spectral"  # spectral (Miyato et al. 2018) | batch | none: normalisation in D
    decoder_norm: str = "batch"  # batch | none: normalisation in the decoder (= generator)
    num_classes: int = 0  # 0 = unconditional; > 0: conditional on a class label y in [0, num_classes)
    # VAE pixel likelihood: bernoulli (BCE), gaussian (MSE / 2 sigma^2, sigma fixed) or calibrated (a Gaussian whose
    # one sigma is the batch's optimum, sigma^2 = MSE: Rybkin et al. 2021's sigma-VAE; a learnt variance)
    likelihood: str = "bernoulli"
    gaussian_sigma: float = 0.1  # pixel standard deviation of the gaussian likelihood
    beta: float = 1.0  # weight of the KL term (beta-VAE); also used by VAE-GAN's prior term
    gamma: float = 0.05  # VAE-GAN: weight of the feature-wise reconstruction in the decoder loss
    equilibrium: bool = False  # VAE-GAN: Larsen et al.'s equilibrium trick (skip D or decoder-GAN updates)
    equilibrium_target: float = 0.68  # mean discriminator BCE around which both players train
    equilibrium_margin: float = 0.35  # half width of the band where both players train
    ema_decay: float = 0.0  # decay of a moving average of the decoder's weights used for sampling (Yazici et al. 2019); 0 = off
    prior_gan_weight: float = 1.0  # VAE-GAN: weight of the GAN terms on prior samples, for D and the decoder (Larsen: 1)
    feature_stage: int = 0  # VAE-GAN: D's conv stage whose output is Dis_l, 1 = the first after the image; 0 = the last

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, MODEL_KINDS)
        _check_choice("likelihood", self.likelihood, LIKELIHOODS)
        _check_choice("discriminator_norm", self.discriminator_norm, NORMS)
        _check_choice("decoder_norm", self.decoder_norm, ("batch", "none"))
        for name, low, high in (("image_size", 8, MAX_IMAGE_SIZE), ("latent_dim", 1, MAX_LATENT_DIM),
                                ("width", 1, MAX_WIDTH)):
            _check_int(name, getattr(self, name), low, high)
        _check_int("num_classes", self.num_classes, 0, MAX_CLASSES)
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels!r}")
        for name in ("gaussian_sigma", "gamma", "beta", "equilibrium_margin"):
            _check_number(name, getattr(self, name), low=0.0, strict=name in ("gaussian_sigma", "gamma"))
        _check_number("equilibrium_target", self.equilibrium_target, low=-math.inf)
        _check_number("ema_decay", self.ema_decay, low=0.0)
        _check_number("prior_gan_weight", self.prior_gan_weight, low=0.0)
        _check_int("feature_stage", self.feature_stage, 0, len(stage_sizes(self.image_size)) - 1)
        if not self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not isinstance(self.equilibrium, bool):
            raise ConfigError(f"equilibrium must be true or false, got {self.equilibrium!r}")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained: data, schedule, optimizer, device and logging cadence."""

    dataset: str = "mnist"  # mnist | fashion-mnist | digits | folder:PATH (vaegan_core.training.folders)
    epochs: int = 10  # total number of passes over the training split
    batch_size: int = 64  # images per optimizer step (the last incomplete batch is dropped)
    lr: float = 0.0  # Adam learning rate; 0 = the model's default (VAE 1e-3, GAN / VAE-GAN 2e-4)
    lr_discriminator: float = 0.0  # the discriminator's own rate (two time-scale rule, Heusel et al. 2017); 0 = lr
    lr_schedule: str = "constant"  # constant | cosine: lr * (1 + cos(pi t / T)) / 2 over the run's T steps
    lr_decay_from: int = 0  # with cosine: the epoch the decay starts at (constant before it); a resumed run switched
    #                         to cosine starts its decay at the epoch it resumed from
    kl_warmup: int = 0  # epochs over which the KL weight rises linearly from 0 to beta (Bowman et al. 2016); 0 = off
    beta1: float = 0.5  # Adam beta1 (0.5 as in DCGAN)
    beta2: float = 0.999  # Adam beta2
    grad_clip: float = 0.0  # max gradient norm per network; 0 = no clipping
    seed: int = 0  # seeds initialisation, batch order, noise and the fixed sample batch
    device: str = "auto"  # auto (cuda, then mps, then cpu) | cpu | cuda | mps
    precision: str = "auto"  # auto (bf16 where the hardware does it fast) | bf16 | fp32
    channels_last: bool = True  # NHWC memory layout (faster convolutions on CPU and GPU)
    limit: int = 0  # use only the first N training images; 0 = all of them
    log_every: int = 20  # steps between two history.jsonl lines (each line averages its window)
    sample_grid: int = 64  # images in the per-epoch sample grid
    track_fid: int = 0  # after each epoch, the domain FID of this many samples against the train split; 0 = off
    keep_best: bool = False  # with track_fid: also keep the epoch with the lowest tracked FID in best/

    def __post_init__(self) -> None:
        if not (isinstance(self.dataset, str) and self.dataset.startswith("folder:") and len(self.dataset) > 7):
            _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("device", self.device, DEVICES)
        _check_choice("precision", self.precision, PRECISIONS)
        for name, high in (("epochs", MAX_EPOCHS), ("batch_size", MAX_BATCH), ("log_every", 10**9),
                           ("sample_grid", 1024)):
            _check_int(name, getattr(self, name), 1, high)
        _check_int("limit", self.limit, 0, 10**9)
        _check_int("kl_warmup", self.kl_warmup, 0, MAX_EPOCHS)
        _check_int("lr_decay_from", self.lr_decay_from, 0, MAX_EPOCHS)
        _check_int("track_fid", self.track_fid, 0, 100_000)
        if self.track_fid == 1:
            raise ConfigError("track_fid needs at least 2 samples (0: off)")
        if not isinstance(self.keep_best, bool):
            raise ConfigError(f"keep_best must be true or false, got {self.keep_best!r}")
        if self.keep_best and not self.track_fid:
            raise ConfigError("keep_best needs track_fid (the FID that picks the best epoch), e.g. track_fid=5000")
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        for name in ("lr", "lr_discriminator", "grad_clip"):
            _check_number(name, getattr(self, name), low=0.0)
        for name in ("beta1", "beta2"):
            _check_number(name, getattr(self, name), low=0.0)
            if not getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not isinstance(self.channels_last, bool):
            raise ConfigError(f"channels_last must be true or false, got {self.channels_last!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    """An integer (not a bool, not 32.5) in [low, high]: sizes out of bounds would cost minutes and gigabytes
    before anything else could fail."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high:,}, got {value:,}")


def _check_number(name: str, value: Any, low: float, strict: bool = False) -> None:
    """A finite number >= low (> low when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if value < low or (strict and value == low):
        raise ConfigError(f"{name} must be {'>' if strict else '>='} {low:g}, got {value}")


def to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type, values: dict[str, Any]):
    """Build ``cls`` from a dict, refusing unknown keys (a typo must not be ignored silently)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(values).__name__}")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"bad {cls.__name__}: {error}") from None
