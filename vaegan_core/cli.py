"""`vaegan train | sample | info | eval | anomaly | fit-gmm | push | collapse | export-web | web | train-classifier |
reference-stats`: argument parsing only; the library does the work.

Every failure a user can cause (a wrong flag, a missing folder, a corrupt file, a diverged
run) ends in one line on stderr and a non-zero exit code, never a traceback.

Only torch-free modules are imported at the top; each command imports the torch-heavy ones it needs
when it runs, so that `vaegan --help` and a usage error answer at once (importing torch takes ~2 s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import warnings
from pathlib import Path

from . import __version__
from .config import (COLLAPSE_LOOPS, CORRUPTIONS, DATASETS, DEVICES, EXTRACTOR_FEATURES, EXTRACTORS, GMM_COMPONENTS,
                     IDX_DATASETS,
                     LIKELIHOODS, LR_SCHEDULES, MAX_BATCH, MAX_EPOCHS, MAX_IMPORTANCE_SAMPLES, MAX_LATENT_DIM, MAX_SEED,
                     MAX_WIDTH, MODEL_KINDS, PRECISIONS, PRIORS, SPLITS, ModelConfig, TrainConfig)
from .errors import CheckpointError, DatasetError, VaeganError
from .files import JSONFileError, read_json, write_text_atomic
from .paths import METRICS_FILE
from .zoo import DIAGNOSTICS_KEY, evaluated_fingerprint, metrics_key

# Settings stored in config.json: a resumed run keeps them, so changing them with --resume is an error (but for
# the few a continuation may change: see _train).
_SAVED_SETTINGS = ("conditional", "seed", "batch_size", "lr", "lr_discriminator", "lr_schedule", "adam_beta1", "latent_dim", "width", "beta",
                   "gamma", "equilibrium", "ema_decay", "prior_gan_weight", "feature_stage", "kl_warmup", "likelihood", "precision", "grad_clip", "limit", "log_every",
                   "track_fid", "keep_best", "image_size", "channels")
_KEEP_BEST_NEEDS_FID = "--keep-best needs --track-fid N: the tracked FID picks the best epoch (e.g. --track-fid 5000)"
MAX_SAMPLE_IMAGES = 10_000  # vaegan sample: one PNG grid (100 x 100 images)
MAX_EVAL_IMAGES = 100_000  # vaegan eval: ten times the usual 10,000
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage stays available with --help)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}{_did_you_mean(message)} (see {self.prog} --help)\n")


def _did_you_mean(message: str) -> str:
    """For argparse's "invalid choice: 'tran' (choose from 'train', ...)": "; did you mean 'train'?"."""
    import difflib
    import re

    match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not match:
        return ""
    choices = re.findall(r"'([^']*)'", match.group(2)) or [c.strip() for c in match.group(2).split(",")]
    close = difflib.get_close_matches(match.group(1), choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _threads(text: str) -> str | int:
    """An argparse type: "auto" or a number of threads (1 to 1,024)."""
    return "auto" if text == "auto" else _int_in(1, 1024)(text)


def _int_in(low: int, high: int):
    """An argparse type: an integer in [low, high], the bound said in the error (counts are bounded so that a
    typo cannot ask for a billion images)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            what = "a positive integer" if low == 1 else f"an integer from {low:,}"
            raise argparse.ArgumentTypeError(f"expected {what} up to {high:,}, got {value:,}")
        return value

    return parse


_positive_int = _int_in(1, 10**9)
_seed = _int_in(0, MAX_SEED)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _unit_interval(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaegan", description="Train, sample and inspect VAE, GAN and VAE-GAN checkpoints.")
    parser.add_argument("--version", action="version", version=f"vaegan {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model into a checkpoint folder")
    train.add_argument("--model", choices=MODEL_KINDS, help="model family (required unless --resume)")
    train.add_argument("--dataset", type=_dataset, metavar="{" + ",".join(DATASETS) + ",folder:PATH}",
                       help="training data (required unless --resume): a built-in dataset or a folder of images, "
                            "optionally one sub-folder per class")
    train.add_argument("--image-size", type=_int_in(8, 256), default=None,
                       help="image folders: side of the square images, centre-cropped and resized (default 32; "
                            "the built-in datasets are 28)")
    train.add_argument("--channels", type=int, choices=(1, 3), default=None,
                       help="image folders: 1 (grey) or 3 (RGB, the default); the built-in datasets are grey")
    train.add_argument("--epochs", type=_int_in(1, MAX_EPOCHS), required=True, help="total epochs (with --resume: the new total)")
    train.add_argument("--out", required=True, help="checkpoint folder to write")
    train.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    train.add_argument("--device", choices=DEVICES, default="auto", help="default auto: cuda, then mps, then cpu")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    train.add_argument("--reset-optimizer", action="store_true",
                       help="with --resume: continue from the weights alone, with a fresh optimizer (for a folder "
                            "without a usable trainer_state.pt, e.g. a shipped checkpoint)")
    train.add_argument("--batch-size", type=_int_in(1, MAX_BATCH), default=TrainConfig.batch_size)
    train.add_argument("--lr", type=_non_negative_float, default=0.0, help="Adam learning rate (0: model default)")
    train.add_argument("--lr-discriminator", type=_non_negative_float, default=0.0,
                       help="the discriminator's own learning rate (two time-scale update rule; 0: --lr)")
    train.add_argument("--adam-beta1", type=_unit_interval, default=TrainConfig.beta1,
                       help="Adam's beta1, the momentum of every optimizer (default 0.5, as in DCGAN; 0.9 is Adam's own)")
    train.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant",
                       help="constant, or cosine decay to 0 over the run's epochs (on --resume of a constant-rate "
                            "run: a decay stage, from the epoch resumed from to the new --epochs)")
    train.add_argument("--latent-dim", type=_int_in(1, MAX_LATENT_DIM), default=ModelConfig.latent_dim)
    train.add_argument("--width", type=_int_in(1, MAX_WIDTH), default=ModelConfig.width, help="channels of the first conv stage")
    train.add_argument("--beta", type=_non_negative_float, default=ModelConfig.beta, help="weight of the KL term")
    train.add_argument("--gamma", type=_non_negative_float, default=ModelConfig.gamma,
                       help="VAE-GAN: weight of the feature reconstruction in the decoder loss")
    train.add_argument("--equilibrium", action="store_true", help="VAE-GAN: Larsen et al.'s equilibrium trick")
    train.add_argument("--prior-gan-weight", type=_non_negative_float, default=ModelConfig.prior_gan_weight,
                       help="VAE-GAN: weight of the GAN terms on N(0, I) samples, for the discriminator and the "
                            "decoder (default 1, as in Larsen et al.; may change on --resume: a fine-tuning stage)")
    train.add_argument("--feature-stage", type=_int_in(0, 16), default=ModelConfig.feature_stage,
                       help="VAE-GAN: the discriminator's conv stage whose features the reconstruction is measured "
                            "in, 1 = the first after the image (0, the default: the last)")
    train.add_argument("--kl-warmup", type=_int_in(0, MAX_EPOCHS), default=TrainConfig.kl_warmup, metavar="EPOCHS",
                       help="raise the KL weight linearly from 0 to --beta over the first EPOCHS epochs (0: off)")
    train.add_argument("--conditional", action="store_true",
                       help="condition every network on the class label (conditional VAE / GAN / VAE-GAN)")
    train.add_argument("--ema-decay", type=_non_negative_float, default=ModelConfig.ema_decay,
                       help="sample from a moving average of the decoder's weights with this decay, e.g. 0.999 "
                            "(0: off; both weights are kept in the checkpoint; with --resume, a run with one may "
                            "change its decay, and --reset-optimizer may add one)")
    train.add_argument("--likelihood", choices=LIKELIHOODS, default=ModelConfig.likelihood,
                       help="VAE pixel likelihood")
    train.add_argument("--precision", choices=PRECISIONS, default="auto", help="auto: bf16 where the hardware is fast")
    train.add_argument("--grad-clip", type=_non_negative_float, default=0.0, help="max gradient norm (0: off)")
    train.add_argument("--limit", type=_int_in(0, 10**9), default=0, help="train on the first N images only (0: all)")
    train.add_argument("--log-every", type=_positive_int, default=TrainConfig.log_every, help="steps per history line")
    train.add_argument("--track-fid", type=_int_in(0, 100_000), default=0, metavar="N",
                       help="after each epoch, the domain FID of N samples against the train split, in quality.jsonl "
                            "(e.g. 5000; 0: off)")
    train.add_argument("--keep-best", action="store_true",
                       help="with --track-fid: also keep the epoch with the lowest tracked FID in OUT/best/ (a GAN's "
                            "quality moves from epoch to epoch; the folder itself always holds the last epoch)")
    train.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--compile", action="store_true",
                       help="torch.compile the networks for training (the first step compiles, about 20 s on a "
                            "CPU; on a 2-core CPU the compiled step was slower: benchmarks/README.md)")
    train.add_argument("--threads", type=_threads, default="auto",
                       help="CPU threads: a number, or auto (the default): the cores other work leaves free, checked "
                            "every epoch; OMP_NUM_THREADS, when set, wins")
    train.add_argument("--nproc", type=_int_in(1, 1024), default=1,
                       help="train on N processes (starts torchrun; one per GPU, or CPU processes with gloo); "
                            "--batch-size is per process, so the global batch is N x --batch-size")

    sample = commands.add_parser("sample", help="decode random codes into a PNG grid")
    sample.add_argument("checkpoint", metavar="DIR",
                        help="checkpoint folder, or Hub repo USER/NAME or hf://USER/NAME[@REVISION]")
    sample.add_argument("--n", type=_int_in(1, MAX_SAMPLE_IMAGES), default=64, help="number of images (default 64)")
    sample.add_argument("--out", required=True, help="image file to write, e.g. samples.png")
    sample.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    sample.add_argument("--temperature", type=_non_negative_float, default=1.0, help="scale of the prior codes")
    sample.add_argument("--prior", choices=PRIORS, default="normal",
                        help="codes from N(0, I) (default) or, for a VAE or VAE-GAN, from the GMM of its training "
                             "codes (see fit-gmm)")
    sample.add_argument("--labels", help="conditional models: one class index per image, e.g. 3,3,7 (sets the "
                                         "number of images)")
    sample.add_argument("--text", help="conditional models: a string of class digits, e.g. 2026, written as one "
                                       "image in one shared style")
    sample.add_argument("--style-from", metavar="IMAGE",
                        help="conditional models: take the style z from this image (its class read by the domain "
                             "classifier) for --text or --labels")
    sample.add_argument("--device", choices=DEVICES, default="cpu")

    info = commands.add_parser("info", help="print a JSON summary of a checkpoint")
    info.add_argument("checkpoint", metavar="DIR",
                      help="checkpoint folder, or Hub repo USER/NAME or hf://USER/NAME[@REVISION]")

    evaluate = commands.add_parser("eval", help="score a checkpoint (FID, KID, IS, precision/recall, ...)")
    evaluate.add_argument("checkpoint", metavar="DIR", help="checkpoint folder; DIR/metrics.json is updated")
    evaluate.add_argument("--n", type=_int_in(2, MAX_EVAL_IMAGES), default=10_000, help="generated images (default 10000)")
    evaluate.add_argument("--extractor", choices=EXTRACTORS, default=None,
                          help="lenet (default for the built-in datasets): the shipped domain classifier (seconds); "
                               "inception (default for image folders): TF-Inception (slow on CPU)")
    evaluate.add_argument("--split", choices=SPLITS, default="test", help="real images to compare with")
    evaluate.add_argument("--seed", type=_seed, default=0, help="seed of the generated images and subsets")
    evaluate.add_argument("--prior", choices=PRIORS, default="normal",
                          help="sample from N(0, I) (default) or from the GMM of the training codes (see fit-gmm); "
                               "stored in metrics.json under EXTRACTOR-SPLIT or EXTRACTOR-SPLIT-gmm")
    evaluate.add_argument("--batch-size", type=_int_in(1, 10_000), default=500)
    evaluate.add_argument("--device", choices=DEVICES, default="cpu")
    evaluate.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    evaluate.add_argument("--force", action="store_true", help="compute FID even when n <= feature dimension")
    evaluate.add_argument("--fid-only", action="store_true",
                          help="only the scores that need no features of real images (FID, IS, modes, reconstruction): "
                               "the FID then uses the shipped statistics of the real images, which halves an "
                               "Inception evaluation on a CPU where the real features are not cached yet")
    evaluate.add_argument("--no-diagnostics", action="store_true",
                          help="skip the diagnostics stored beside the scores (latent usage, anomaly AUCs, "
                               "memorisation; computed when missing or stale, about half a minute)")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")

    anomaly = commands.add_parser(
        "anomaly", help="how well each anomaly score tells another dataset (or corrupted images) from the model's own",
        description="Score the model's own test images (normal) and those of --against (anomalous) with every "
                    "anomaly score the model has (negative ELBO, pixel and feature reconstruction error, "
                    "discriminator logit) and print ROC AUC and average precision per score.")
    anomaly.add_argument("checkpoint", metavar="DIR", help="checkpoint folder, or Hub repo USER/NAME")
    anomaly.add_argument("--against", required=True, choices=DATASETS + CORRUPTIONS,
                         help="anomalous images: another dataset's test split, or a corruption of the model's own "
                              "test images")
    anomaly.add_argument("--n", type=_int_in(1, 70_000), default=2000, help="images per side (default 2000)")
    anomaly.add_argument("--k", type=_int_in(1, MAX_IMPORTANCE_SAMPLES), default=1,
                         help="importance samples of the VAE's likelihood bound (1: the ELBO)")
    anomaly.add_argument("--seed", type=_seed, default=0)
    anomaly.add_argument("--csv", help="also write every image's scores to this CSV file")
    anomaly.add_argument("--device", choices=DEVICES, default="cpu")
    anomaly.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")

    gmm = commands.add_parser(
        "fit-gmm", help="fit a Gaussian mixture to the training codes of a VAE or VAE-GAN (a second prior)",
        description="Encode the train split, fit a full-covariance Gaussian mixture to the codes and store it as "
                    "DIR/latent_gmm.safetensors; then sample, eval and the apps can draw codes from it "
                    "(--prior gmm) instead of N(0, I).")
    gmm.add_argument("checkpoint", metavar="DIR", help="checkpoint folder of a VAE or VAE-GAN")
    gmm.add_argument("--components", type=_int_in(1, 1000), default=GMM_COMPONENTS,
                     help=f"mixture components (default {GMM_COMPONENTS})")
    gmm.add_argument("--seed", type=_seed, default=0, help="seed of the mixture's initialisation (default 0)")
    gmm.add_argument("--device", choices=DEVICES, default="cpu")
    gmm.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    gmm.add_argument("--no-progress", action="store_true", help="no progress bar")

    push = commands.add_parser("push", help="upload a checkpoint folder to a Hugging Face Hub model repo")
    push.add_argument("checkpoint", metavar="DIR", help="checkpoint folder (config.json, model.safetensors, ...)")
    push.add_argument("--repo", required=True, metavar="USER/NAME", help="model repo, created if it does not exist")
    push.add_argument("--revision", metavar="BRANCH", help="branch to commit to, created from main if needed "
                                                            "(default main)")
    push.add_argument("--private", action="store_true", help="create the repo private (no effect if it exists)")
    push.add_argument("--token", help="Hub write token (default: $HF_TOKEN or the one saved by `hf auth login`)")
    push.add_argument("--message", help="commit message")

    collapse = commands.add_parser("collapse", help="model collapse: train each generation on the last one's samples")
    collapse.add_argument("--model", choices=MODEL_KINDS, default="vaegan")
    collapse.add_argument("--dataset", choices=DATASETS, default="mnist")
    collapse.add_argument("--generations", type=_int_in(1, 100), default=5, help="generations after generation 0")
    collapse.add_argument("--per-generation", type=_int_in(1, 70_000), default=5000, help="training images per generation")
    collapse.add_argument("--loop", choices=COLLAPSE_LOOPS, default="synthetic",
                          help="what generation k trains on besides samples of generation k-1")
    collapse.add_argument("--real-fraction", type=_non_negative_float, default=0.0,
                          help="share of real images in generations >= 1 (fixed-real / fresh-real)")
    collapse.add_argument("--accumulate", action="store_true", help="keep every earlier generation's data too")
    collapse.add_argument("--epochs", type=_int_in(1, 1000), default=8, help="epochs per generation")
    collapse.add_argument("--width", type=_int_in(1, MAX_WIDTH), default=32,
                          help="network width (16 is faster, but the VAE-GAN does not learn at 16)")
    collapse.add_argument("--eval-n", type=_int_in(2, MAX_EVAL_IMAGES), default=2000, help="samples measured per generation")
    collapse.add_argument("--seed", type=_seed, default=0)
    collapse.add_argument("--start-from", metavar="DIR", default="",
                          help="a trained checkpoint as generation 0 (its width and latent size); each later "
                               "generation fine-tunes the one before (cheap, and it starts from a good model)")
    collapse.add_argument("--device", choices=DEVICES, default="auto")
    collapse.add_argument("--out", required=True, help="study folder (results.json, grids/); rerun to resume")
    collapse.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    collapse.add_argument("--no-progress", action="store_true", help="no progress bar")

    classifier = commands.add_parser("train-classifier", help="train the domain classifier used by `vaegan eval`")
    classifier.add_argument("--dataset", choices=DATASETS, required=True)
    classifier.add_argument("--out", required=True, help="folder to write, e.g. checkpoints/classifiers/mnist")
    classifier.add_argument("--epochs", type=_int_in(1, 1000), default=10)
    classifier.add_argument("--seed", type=_seed, default=0)
    classifier.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    classifier.add_argument("--no-progress", action="store_true", help="no progress bar")

    reference = commands.add_parser(
        "reference-stats", help="compute the .npz statistics of a real dataset split",
        description="Features of every image of the split -> mean and covariance (.npz). The features are "
                    "saved 1,000 images at a time, so an interrupted run continues where it stopped.")
    reference.add_argument("--dataset", choices=IDX_DATASETS, required=True)
    reference.add_argument("--split", choices=SPLITS, default="test")
    reference.add_argument("--extractor", choices=EXTRACTORS, default="lenet")
    reference.add_argument("--out", help="folder (default: checkpoints/reference_stats)")
    reference.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    reference.add_argument("--no-progress", action="store_true", help="no progress bar")

    export_web = commands.add_parser(
        "export-web", help="export models for the in-browser explorer (ONNX decoders and encoders, test images)",
        description="Write a static folder the browser explorer runs from: each model's decoder (and encoder) as "
                    "ONNX, checked against torch, its GMM prior, codes of the first test images, the scores of "
                    "metrics.json, and the explorer's HTML/JS with ONNX Runtime Web (`npm ci --prefix web` first).")
    export_web.add_argument("checkpoints", nargs="*", metavar="CHECKPOINT",
                            help="checkpoint folders (default: the shipped mnist and fashion-mnist models)")
    export_web.add_argument("--out", required=True, help="folder to write (new, empty, or an earlier export)")
    export_web.add_argument("--images", type=_int_in(1, 10_000), default=300,
                            help="test images (and their codes) per dataset (default 300)")
    export_web.add_argument("--quiet", action="store_true", help="no progress lines")

    web = commands.add_parser("web", help="serve an exported explorer folder on a local web server",
                              description="Serve the folder `vaegan export-web` wrote (Ctrl-C stops); "
                                          "`python -m http.server` in the folder works too.")
    web.add_argument("folder", metavar="DIR", help="the folder of `vaegan export-web --out DIR`")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=_int_in(0, 65535), default=8000, help="port (default 8000; 0: any free port)")
    return parser


@contextlib.contextmanager
def _percent_bar(disabled: bool, remaining: bool = False):
    """A 0-100 % tqdm bar, yielding the ``progress(fraction, message)`` callback the library takes."""
    from tqdm.auto import tqdm

    bar_format = "{l_bar}{bar}| {elapsed}<{remaining}" if remaining else "{l_bar}{bar}| {elapsed}"
    with tqdm(total=100, disable=disabled, unit="%", bar_format=bar_format) as bar:
        def progress(fraction: float, message: str) -> None:
            bar.set_description(message[:60])
            bar.update(round(100 * fraction) - bar.n)

        yield progress


def _collapse(args: argparse.Namespace) -> dict:
    from .experiments.collapse_images import ImageCollapseConfig, run

    config = ImageCollapseConfig(
        model=args.model, dataset=args.dataset, generations=args.generations, per_generation=args.per_generation,
        loop=args.loop, real_fraction=args.real_fraction, accumulate=args.accumulate, epochs=args.epochs,
        width=args.width, eval_n=args.eval_n, seed=args.seed, device=args.device, start_from=args.start_from)
    with _percent_bar(args.no_progress) as progress:
        try:
            results = run(config, args.out, data_root=args.data_dir, progress=progress)
        except KeyboardInterrupt:
            raise _Interrupted(f"interrupted; finished generations are in {args.out}/results.json: "
                               "rerun the same command to resume") from None
    return {"out": args.out, "generations": [
        {key: row[key] for key in ("generation", "fid", "precision", "recall", "classes_covered")}
        for row in results["generations"]]}


def _reference_stats(args: argparse.Namespace) -> dict:
    from .metrics.reference import compute_reference_stats

    with _percent_bar(args.no_progress, remaining=True) as progress:
        try:
            path = compute_reference_stats(args.dataset, args.split, args.extractor, args.data_dir, args.out,
                                           progress)
        except KeyboardInterrupt:
            raise _Interrupted(_FEATURES_KEPT) from None
    return {"out": str(path)}


_FEATURES_KEPT = ("interrupted; the features of the real images computed so far are saved: rerun the same "
                  "command to continue from there")


def _dataset(value: str) -> str:
    """A built-in dataset name, or folder:PATH made absolute (config.json stores it, so runs resume anywhere)."""
    from .folders import canonical, is_folder

    if is_folder(value):
        try:
            return canonical(value)
        except DatasetError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if value not in DATASETS:
        raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(DATASETS)} or folder:PATH)")
    return value


def _flag(option: str) -> str:
    """The command-line flag of the `vaegan train` option ``option`` (prior_gan_weight -> --prior-gan-weight)."""
    return "--" + option.replace("_", "-")


def _typed_options(argv: list[str]) -> set[str]:
    """The options ``argv`` names itself, in any spelling argparse accepts (``--kl-warm 0`` for ``--kl-warmup 0``,
    ``--out=DIR``): the same command line parsed again with every default suppressed, so that only what was typed
    lands in the namespace."""
    parser = build_parser()
    parsers = [parser] + [sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                          for sub in action.choices.values()]
    for each in parsers:
        for action in each._actions:
            action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _stored_setting(saved: dict, option: str):
    """The value a run's config.json holds for the `vaegan train` option ``option`` (None where it holds none)."""
    if option == "conditional":
        return saved["model_config"].num_classes > 0
    name = {"adam_beta1": "beta1"}.get(option, option)
    for config in (saved["train_config"], saved["model_config"]):
        if config is not None and hasattr(config, name):
            return getattr(config, name)
    return None


def _resume_changes(args: argparse.Namespace, saved: dict) -> set[str]:
    """The saved settings a `vaegan train --resume` command changes; a _UsageError for one a resume may not change."""
    # a flag that repeats the run's own value is no change (e.g. the command that started the run, with --resume);
    # one typed with its default value is (e.g. --prior-gan-weight 1 on a run at 3)
    typed = _typed_options(args.argv)
    changed = {option for option in _SAVED_SETTINGS
               if option in typed and getattr(args, option) != _stored_setting(saved, option)}
    # what a resumed run may change: the per-epoch scoring and the VAE-GAN's prior-sample GAN weight (a
    # fine-tuning stage, with the run's own optimizer state or without); a cosine decay of the rates from here to
    # the new last epoch; the decay of the run's moving average; and, continuing from the weights alone, a moving
    # average of the decoder added
    averaged = (_stored_setting(saved, "ema_decay") or 0) > 0 and args.ema_decay > 0
    allowed = {"track_fid", "keep_best", "prior_gan_weight", "lr_schedule"} | \
        ({"ema_decay"} if args.reset_optimizer or averaged else set())
    for option in sorted(changed - allowed):
        flag = _flag(option)
        raise _UsageError(f"{flag} cannot change when resuming: the run keeps the settings in "
                          f"{args.out}/config.json; drop {flag} or start a new run"
                          + (f" ({flag} may add a moving average with --reset-optimizer)" if option == "ema_decay"
                             and args.ema_decay > 0 else ""))
    return changed


def _train(args: argparse.Namespace) -> dict:
    if args.nproc > 1:
        return _train_on_processes(args)
    from .train import Trainer

    progress = not args.no_progress
    if args.resume:
        from .checkpoint import read_config

        saved = read_config(args.out)
        for flag, value, stored in (("--model", args.model, saved["model_config"].kind),
                                    ("--dataset", args.dataset, saved["train_config"] and saved["train_config"].dataset)):
            if value is not None and value != stored:
                raise _UsageError(f"{flag} {value} does not match the run in {args.out} ({stored}); drop the flag or change --out")
        if args.keep_best and not (args.track_fid or saved["train_config"].track_fid):
            raise _UsageError(_KEEP_BEST_NEEDS_FID)
        changed = _resume_changes(args, saved)
        device = args.device if args.device != "auto" else None
        trainer = Trainer.resume(args.out, epochs=args.epochs, device=device, reset_optimizer=args.reset_optimizer,
                                 ema_decay=args.ema_decay if "ema_decay" in changed else None,
                                 prior_gan_weight=args.prior_gan_weight if "prior_gan_weight" in changed else None,
                                 lr_schedule=args.lr_schedule if "lr_schedule" in changed else None,
                                 track_fid=args.track_fid if "track_fid" in changed else None,
                                 keep_best=True if "keep_best" in changed else None,
                                 data_root=args.data_dir, progress=progress, threads=args.threads,
                                 compile=args.compile)
    else:
        if args.model is None or args.dataset is None:
            raise _UsageError("--model and --dataset are required for a new run (or pass --resume)")
        if args.reset_optimizer:
            raise _UsageError("--reset-optimizer only goes with --resume")
        if args.keep_best and not args.track_fid:
            raise _UsageError(_KEEP_BEST_NEEDS_FID)
        from .data import CLASS_NAMES
        from .folders import folder_classes, is_folder

        folder = is_folder(args.dataset)
        if not folder and (args.image_size not in (None, 28) or args.channels not in (None, 1)):
            raise _UsageError(f"{args.dataset} images are 28x28 grey: --image-size and --channels are for image "
                              "folders (--dataset folder:PATH)")
        classes = folder_classes(args.dataset) if folder else CLASS_NAMES[args.dataset]
        if args.conditional and len(classes) < 2:
            raise _UsageError(f"--conditional needs labels: {args.dataset} has no class sub-folders (put the images "
                              "of each class into a sub-folder of its own)")
        model_config = ModelConfig(kind=args.model, latent_dim=args.latent_dim, width=args.width, beta=args.beta,
                                   gamma=args.gamma, equilibrium=args.equilibrium, ema_decay=args.ema_decay,
                                   prior_gan_weight=args.prior_gan_weight, feature_stage=args.feature_stage,
                                   likelihood=args.likelihood, num_classes=len(classes) if args.conditional else 0,
                                   image_size=(args.image_size or 32) if folder else 28,
                                   channels=(args.channels or 3) if folder else 1)
        train_config = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                   lr_discriminator=args.lr_discriminator, lr_schedule=args.lr_schedule,
                                   kl_warmup=args.kl_warmup,
                                   beta1=args.adam_beta1, seed=args.seed, device=args.device, precision=args.precision,
                                   grad_clip=args.grad_clip, limit=args.limit, log_every=args.log_every,
                                   track_fid=args.track_fid, keep_best=args.keep_best)
        trainer = Trainer(model_config, train_config, args.out, data_root=args.data_dir, progress=progress,
                          threads=args.threads, compile=args.compile)
    if trainer.epoch >= trainer.config.epochs:
        print(f"vaegan: {args.out} is already trained for {trainer.epoch} epochs; raise --epochs to train more",
              file=sys.stderr)
    try:
        return trainer.fit()
    except KeyboardInterrupt:
        raise _Interrupted(f"interrupted; the last checkpoint (epoch {trainer.epoch}) is in {args.out}: "
                           f"continue with `vaegan train --out {args.out} --epochs {trainer.config.epochs} --resume`")


def _train_on_processes(args: argparse.Namespace) -> dict:
    """``--nproc N``: the same command under ``torchrun --standalone --nproc_per_node N`` (one machine)."""
    from .checkpoint import read_config
    from .distributed import launch

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise _UsageError("--nproc starts torchrun; under torchrun (WORLD_SIZE is set) leave --nproc out")
    argv, skip = [], False
    for item in args.argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            argv.append(item)
    code = launch(args.nproc, argv)
    if code != 0:
        raise VaeganError(f"training on {args.nproc} processes stopped (exit code {code}); the messages above say why")
    state = read_config(args.out).get("state") or {}
    return {"out_dir": args.out, "processes": args.nproc, **{k: state.get(k) for k in
            ("epoch", "step", "train_seconds", "images_per_second", "device", "precision")}}


def _sample(args: argparse.Namespace) -> dict:
    import torch

    from .checkpoint import load_model
    from .images import save_grid
    from .train import resolve_device

    out = Path(args.out)
    if out.suffix.lower() not in _IMAGE_SUFFIXES:
        raise _UsageError(f"--out {args.out} must end in one of {', '.join(sorted(_IMAGE_SUFFIXES))}")
    if not out.parent.is_dir():
        raise _UsageError(f"the folder of --out {args.out} does not exist; create it first")
    if args.text is not None and args.labels is not None:
        raise _UsageError("give --text or --labels, not both")
    if args.style_from and args.text is None and args.labels is None:
        raise _UsageError("--style-from goes with --text or --labels (the classes to draw in that style)")
    model = load_model(args.checkpoint, device=resolve_device(args.device))
    if args.text is not None or args.labels is not None or args.style_from:
        return _sample_conditional(args, model, out)
    # a conditional model without --labels: the classes in turn (a grid of 8 per row walks through them)
    labels = torch.arange(args.n) % model.config.num_classes if model.config.num_classes else None
    images = model.sample(args.n, generator=torch.Generator().manual_seed(args.seed), temperature=args.temperature,
                          prior=args.prior, labels=labels)
    save_grid(images, out)
    return {"out": str(out), "n": args.n, "seed": args.seed, "temperature": args.temperature, "prior": args.prior}


def _sample_conditional(args: argparse.Namespace, model, out: Path) -> dict:
    """``vaegan sample --labels / --text / --style-from``: classes chosen by the user, one style or seeded ones."""
    import torch

    from . import conditional
    from .checkpoint import read_config
    from .images import save_grid
    from .uploads import read_upload

    classes = model.config.num_classes
    if not classes:
        raise _UsageError(f"{args.checkpoint} is an unconditional model: --labels, --text and --style-from need a "
                          "conditional one (vaegan train --conditional ...)")
    glyphs = (conditional.parse_text(args.text, classes) if args.text is not None
              else conditional.parse_labels(args.labels, classes))
    train_config = read_config(model.checkpoint_dir)["train_config"]
    dataset = train_config.dataset if train_config else None
    style, read_as = None, None
    if args.style_from:
        path = Path(args.style_from)
        if not path.is_file():
            raise _UsageError(f"--style-from {args.style_from} is not a file")
        image, _ = read_upload(path.read_bytes(), style="fashion" if dataset == "fashion-mnist" else "mnist")
        style, read_as = conditional.style_code(model, image, dataset=dataset, seed=args.seed)
    if args.text is not None:
        picture = conditional.write(model, glyphs, style, seed=args.seed)
        save_grid(picture.unsqueeze(0), out, nrow=1)
    else:
        generator = torch.Generator().manual_seed(args.seed)
        codes = (style.expand(len(glyphs), -1) if style is not None
                 else model.prior("normal").sample(len(glyphs), generator, args.temperature))
        save_grid(model.decode(codes.contiguous(), glyphs), out)
    names = conditional.class_names(dataset, classes, getattr(model, "class_names", None))
    result = {"out": str(out), "classes": [names[glyph] for glyph in glyphs], "seed": args.seed}
    if read_as is not None:
        result["style_from"] = {"image": args.style_from, "read_as": names[read_as]}
    return result


def _info(args: argparse.Namespace) -> dict:
    from .checkpoint import info

    return info(args.checkpoint)


def _eval(args: argparse.Namespace) -> dict:
    from .card import refresh_model_card
    from .checkpoint import load_model, read_config, resolve_checkpoint, snapshot
    from .metrics.evaluate import WITHOUT_REAL_FEATURES, evaluate
    from .train import resolve_device

    device = resolve_device(args.device)
    # the weights scored and the fingerprint stored are of one snapshot, whatever a training run saves meanwhile
    with snapshot(args.checkpoint) as frozen:
        model = load_model(frozen, device=device)
        config = read_config(frozen)
        fingerprints = {prior: evaluated_fingerprint(frozen, prior) for prior in ("normal", "gmm")}
    model.checkpoint_dir = str(resolve_checkpoint(args.checkpoint))
    model.snapshot_fingerprints = fingerprints
    dataset = config["train_config"].dataset if config["train_config"] else None
    if dataset is None:
        raise _UsageError(f"{args.checkpoint}/config.json does not say which dataset the model was trained on")
    if args.extractor is None:
        from .folders import is_folder

        args.extractor = "inception" if is_folder(dataset) else "lenet"
    features = EXTRACTOR_FEATURES[args.extractor]
    if args.n <= features and not args.force:  # before the progress bar and any work
        raise _UsageError(f"FID needs more generated images than the {features} features of {args.extractor}: "
                          f"--n {args.n}; pass --n {features + 1} or more (10,000 is customary), or --force")
    path = Path(model.checkpoint_dir) / METRICS_FILE
    stored = _stored_metrics(path)  # checked before the work, which can take twenty minutes
    with _percent_bar(args.no_progress) as progress:
        try:
            kwargs = {"metrics": WITHOUT_REAL_FEATURES} if args.fid_only else {}
            result = evaluate(model, dataset, n=args.n, extractor=args.extractor, split=args.split, seed=args.seed,
                              batch_size=args.batch_size, data_root=args.data_dir, progress=progress,
                              force=args.force, device=device, prior=args.prior, **kwargs)
        except KeyboardInterrupt:
            raise _Interrupted(f"{_FEATURES_KEPT}; {METRICS_FILE} is unchanged") from None
    result["checkpoint_fingerprint"] = fingerprints[args.prior]
    # the scores are safe before the diagnostics
    stored = _store_results(path, {metrics_key(args.extractor, args.split, args.prior): result}, stored)
    if not args.no_diagnostics:
        diagnostics = _diagnostics_to_store(args, model, dataset, stored)
        if diagnostics is not None:
            _store_results(path, {DIAGNOSTICS_KEY: diagnostics}, stored)
    refresh_model_card(model.checkpoint_dir)  # the card's results table comes from metrics.json
    return result


def _store_results(path: Path, entries: dict, earlier: dict) -> dict:
    """Put ``entries`` into ``metrics.json``, read afresh just before: another `vaegan eval` of the same folder (the
    other prior or extractor, run at the same time) may have stored its scores while this one worked. Where the file
    can no longer be read, ``earlier`` (its content when this evaluation began) takes its place: the new scores are
    kept either way."""
    try:
        stored = _stored_metrics(path)
    except CheckpointError:
        stored = dict(earlier)
    stored.update(entries)
    write_text_atomic(path, json.dumps(stored, indent=2) + "\n")
    return stored


def _diagnostics_to_store(args: argparse.Namespace, model, dataset: str, stored: dict) -> dict | None:
    """``vaegan_core.diagnostics`` of these weights, or None where ``stored`` holds them already."""
    from .diagnostics import run_diagnostics

    fingerprint = model.snapshot_fingerprints["normal"]
    current = stored.get(DIAGNOSTICS_KEY)
    if isinstance(current, dict) and current.get("checkpoint_fingerprint") == fingerprint:
        return None
    with _percent_bar(args.no_progress) as progress:
        try:
            diagnostics = run_diagnostics(model, dataset, data_root=args.data_dir, seed=args.seed, progress=progress)
        except KeyboardInterrupt:
            raise _Interrupted(f"interrupted; the scores are in {METRICS_FILE}, the diagnostics are not") from None
    return {**diagnostics, "checkpoint_fingerprint": fingerprint}


def _anomaly(args: argparse.Namespace) -> dict:
    import torch

    from .anomaly import anomaly_scores, detection, detection_sets
    from .config import OTHER_DATASET
    from .errors import DatasetError
    from .checkpoint import load_model, read_config
    from .data import load_dataset
    from .train import resolve_device

    if args.csv and not Path(args.csv).parent.is_dir():
        raise _UsageError(f"the folder of --csv {args.csv} does not exist; create it first")
    model = load_model(args.checkpoint, device=resolve_device(args.device))
    config = read_config(model.checkpoint_dir)
    dataset = config["train_config"].dataset if config["train_config"] else None
    if dataset is None:
        raise _UsageError(f"{args.checkpoint}/config.json does not say which dataset the model was trained on")
    if args.against == dataset:
        raise _UsageError(f"--against {dataset} is the model's own data; pick another dataset or a corruption "
                          f"({', '.join(CORRUPTIONS)})")
    if args.against not in CORRUPTIONS and (model.config.image_size, model.config.channels) != (28, 1):
        raise _UsageError(f"--against {args.against} holds 28x28 grey images; this model draws "
                          f"{model.config.image_size}x{model.config.image_size}x{model.config.channels}: use a "
                          f"corruption ({', '.join(CORRUPTIONS)})")
    if args.against in CORRUPTIONS or args.against == OTHER_DATASET.get(dataset):
        # the images of `vaegan eval`'s diagnostics and the Anomalies page (the first --n of the same seeded pick)
        normal_images, sets, skipped = detection_sets(dataset, args.n, args.seed, args.data_dir,
                                                      model.config.image_size, model.config.channels)
        if args.against in skipped:
            raise DatasetError(skipped[args.against])
        anomalous_images = sets[args.against]
    else:  # a third dataset: picked the same way, after the model's own test images
        generator = torch.Generator().manual_seed(args.seed)
        test, _ = load_dataset(dataset, "test", args.data_dir)
        normal_images = test[torch.randperm(test.shape[0], generator=generator)[:args.n]]
        other, _ = load_dataset(args.against, "test", args.data_dir)
        anomalous_images = other[torch.randperm(other.shape[0], generator=generator)[:args.n]]
    normal = anomaly_scores(model, normal_images, k=args.k, seed=args.seed)
    anomalous = anomaly_scores(model, anomalous_images, k=args.k, seed=args.seed)
    results = {}
    for score in normal:
        found = detection(normal[score], anomalous[score])
        results[score] = {key: value for key, value in found.items() if not key.startswith("roc_")}
    if args.csv:
        rows = ["set,index," + ",".join(normal)]
        for side, scores in (("normal", normal), ("anomalous", anomalous)):
            for index in range(len(next(iter(scores.values())))):
                rows.append(f"{side},{index}," + ",".join(f"{scores[name][index]:.6g}" for name in scores))
        write_text_atomic(args.csv, "\n".join(rows) + "\n")
    return {"normal": f"{dataset} test", "anomalous": args.against, "n": int(normal_images.shape[0]), "k": args.k,
            "scores": results, **({"csv": args.csv} if args.csv else {})}


def _stored_metrics(path: Path) -> dict:
    """The results already in ``metrics.json`` (a JSON object of results by key), or {} when there is none."""
    if not path.is_file():
        return {}
    try:
        stored = read_json(path, dict)
    except JSONFileError as error:
        raise CheckpointError(f"{path} is not the results `vaegan eval` writes ({error}); move it away and run "
                              "again") from None
    malformed = sorted(str(key) for key, result in stored.items() if not isinstance(result, dict))
    if malformed:
        raise CheckpointError(f"{path}: the entries {', '.join(malformed)[:80]} are not results; move the file away "
                              "and run again")
    return stored


def _fit_gmm(args: argparse.Namespace) -> dict:
    from .card import refresh_model_card
    from .checkpoint import load_model, read_config
    from .data import load_dataset
    from .prior import fit_latent_gmm, save_gmm_grid
    from .train import resolve_device

    if not Path(args.checkpoint).is_dir():
        raise _UsageError(f"{args.checkpoint} is not a checkpoint folder here; fit-gmm writes into the folder")
    model = load_model(args.checkpoint, device=resolve_device(args.device))
    config = read_config(args.checkpoint)
    dataset = config["train_config"].dataset if config["train_config"] else None
    if dataset is None:
        raise _UsageError(f"{args.checkpoint}/config.json does not say which dataset the model was trained on")
    images, _ = load_dataset(dataset, "train", args.data_dir, image_size=model.config.image_size,
                             channels=model.config.channels)  # the model's shape: what a folder dataset needs
    with _percent_bar(args.no_progress) as progress:
        mixture = fit_latent_gmm(model, images, components=args.components, seed=args.seed, progress=progress)
    mixture.metadata.update(dataset=dataset, split="train")
    path = mixture.save(args.checkpoint)
    save_gmm_grid(model, args.checkpoint, mixture, args.seed)  # the Overview's picture of this prior
    refresh_model_card(args.checkpoint)
    return {"out": str(path), **mixture.metadata}


def _push(args: argparse.Namespace) -> dict:
    from .checkpoint import load_model, read_config
    from .hub import push_to_hub

    # Never publish a broken model: a folder that is not a checkpoint, or whose weights are truncated or do
    # not match config.json, fails here with the reason, before anything is sent.
    read_config(args.checkpoint)
    load_model(args.checkpoint)
    return push_to_hub(args.checkpoint, args.repo, revision=args.revision, private=args.private, token=args.token,
                       commit_message=args.message)


def _train_classifier(args: argparse.Namespace) -> dict:
    from .metrics.classifier import train_classifier

    return train_classifier(args.dataset, args.out, epochs=args.epochs, seed=args.seed, data_root=args.data_dir,
                            progress=not args.no_progress)


def _export_web(args: argparse.Namespace) -> dict:
    from .web_export import export_web

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    return export_web(args.out, args.checkpoints, n_images=args.images, progress=progress)


def _web(args: argparse.Namespace) -> dict:
    from .web_export import make_server

    try:
        server = make_server(args.folder, args.host, args.port)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise _UsageError(f"cannot listen on {args.host}:{args.port} ({error.strerror or error}); pass another "
                          "--port (0: any free port) or --host") from None
    host, port = server.server_address[:2]
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/"
    print(f"vaegan web: serving {args.folder} at {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return {"served": args.folder, "url": url}


class _UsageError(Exception):
    """A flag combination argparse cannot check by itself."""


class _Interrupted(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    rank = int(os.environ.get("RANK", "0")) if os.environ.get("RANK", "0").isdigit() else 0
    who = f"vaegan {args.command}" + (f" [process {rank}]" if rank else "")
    handlers = {"train": _train, "sample": _sample, "info": _info, "eval": _eval, "push": _push, "collapse": _collapse,
                "train-classifier": _train_classifier, "reference-stats": _reference_stats,
                "fit-gmm": _fit_gmm, "anomaly": _anomaly, "export-web": _export_web, "web": _web}

    formatter = warnings.formatwarning  # warnings are one line for the user, like errors: no source path
    warnings.formatwarning = lambda message, *rest, **named: f"{who}: warning: {message}\n"
    try:
        result = handlers[args.command](args)
    # OSError: disk full, permission denied, ...: its message names the file, so stop cleanly on it too
    except (_UsageError, VaeganError, _Interrupted, OSError) as error:
        print(f"{who}: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, _UsageError) else 130 if isinstance(error, _Interrupted) else 1
    except KeyboardInterrupt:  # Ctrl-C outside the steps that say what they kept (decoding a folder, loading)
        print(f"{who}: interrupted before any result was written", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = formatter
    if rank or os.environ.get("VAEGAN_LAUNCHED_BY_NPROC"):  # under torchrun, process 0 (or the launcher) speaks
        return 0
    try:
        print(json.dumps(result, indent=2))
    except BrokenPipeError:  # `vaegan info DIR | head`: the reader left; the work is done
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
