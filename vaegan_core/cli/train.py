"""`vaegan train`: a new run, a resumed one (what a resume may change), or one on several processes."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..config import (DATASETS, LIKELIHOODS, LR_SCHEDULES, MAX_BATCH, MAX_EPOCHS, MAX_LATENT_DIM, MAX_WIDTH,
                      MODEL_KINDS, PRECISIONS, ModelConfig, TrainConfig)
from ..errors import ConfigError, VaeganError
from ..training import config_file
from ..training.config_file import stored_setting as _stored_setting
from .common import (shared, _Interrupted, _Parser, _UsageError, _dataset, _int_in, _non_negative_float, _positive_int, _seed,
                     _threads, _unit_interval)


# Settings stored in config.json: a resumed run keeps them, so changing them with --resume is an error (but for
# the few a continuation may change: see _train).
_SAVED_SETTINGS = ("conditional", "seed", "batch_size", "lr", "lr_discriminator", "lr_schedule", "adam_beta1", "latent_dim", "width", "beta",
                   "gamma", "equilibrium", "ema_decay", "prior_gan_weight", "feature_stage", "kl_warmup", "likelihood", "precision", "grad_clip", "limit", "log_every",
                   "track_fid", "keep_best", "image_size", "channels")
_SWITCHES = ("conditional", "equilibrium", "keep_best")  # the saved settings that are on or off (_Switch)
_KEEP_BEST_NEEDS_FID = "--keep-best needs --track-fid N: the tracked FID picks the best epoch (e.g. --track-fid 5000)"


FOLDER_IMAGE_SIZE, FOLDER_CHANNELS = 32, 3  # an image folder's images unless --image-size / --channels say


def _default(value, note: str = "") -> str:
    """``(default 64)``, ``(default 0: off)``: a default in a help text, from the value the option takes."""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"(default {shown}{': ' + note if note else ''})"


def add_parsers(commands) -> dict:
    """The sub-commands of this group; returns {command: handler}."""
    train = commands.add_parser("train", parents=shared(data_dir=True, no_progress=True, device="auto"),
                                help="train a model into a checkpoint folder")
    train.add_argument("--model", choices=MODEL_KINDS, help="model family (required unless --resume)")
    train.add_argument("--dataset", type=_dataset, metavar="{" + ",".join(DATASETS) + ",folder:PATH}",
                       help="training data (required unless --resume): a built-in dataset or a folder of images, "
                            "optionally one sub-folder per class")
    train.add_argument("--image-size", type=_int_in(8, 256), default=None,
                       help=f"image folders: side of the square images, centre-cropped and resized "
                            f"{_default(FOLDER_IMAGE_SIZE)}; the built-in datasets are 28")
    train.add_argument("--channels", type=int, choices=(1, 3), default=None,
                       help=f"image folders: 1 (grey) or 3 (RGB) {_default(FOLDER_CHANNELS)}; the built-in datasets "
                            "are grey")
    train.add_argument("--epochs", type=_int_in(1, MAX_EPOCHS), required=True, help="total epochs (with --resume: the new total)")
    train.add_argument("--out", required=True, help="checkpoint folder to write")
    train.add_argument("--seed", type=_seed, default=TrainConfig.seed, help=f"random seed {_default(TrainConfig.seed)}")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    train.add_argument("--reset-optimizer", action="store_true",
                       help="with --resume: continue from the weights alone, with a fresh optimizer (for a folder "
                            "without a usable trainer_state.pt, e.g. a shipped checkpoint)")
    train.add_argument("--batch-size", type=_int_in(1, MAX_BATCH), default=TrainConfig.batch_size,
                       help=f"images per optimizer step, per process with --nproc {_default(TrainConfig.batch_size)}")
    train.add_argument("--lr", type=_non_negative_float, default=TrainConfig.lr,
                       help=f"Adam learning rate {_default(TrainConfig.lr, 'the model default')}")
    train.add_argument("--lr-discriminator", type=_non_negative_float, default=TrainConfig.lr_discriminator,
                       help="the discriminator's own learning rate, two time-scale update rule "
                            f"{_default(TrainConfig.lr_discriminator, '--lr')}")
    train.add_argument("--adam-beta1", type=_unit_interval, default=TrainConfig.beta1,
                       help=f"Adam's beta1, the momentum of every optimizer {_default(TrainConfig.beta1, 'as in DCGAN')}; "
                            "0.9 is Adam's own")
    train.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=TrainConfig.lr_schedule,
                       help=f"constant, or cosine decay to 0 over the run's epochs {_default(TrainConfig.lr_schedule)}; "
                            "on --resume of a constant-rate run: a decay stage, from the epoch resumed from to the "
                            "new --epochs")
    _add_model_options(train)
    train.add_argument("--precision", choices=PRECISIONS, default=TrainConfig.precision,
                       help=f"arithmetic of the training step {_default(TrainConfig.precision, 'bf16 where the hardware is fast')}")
    train.add_argument("--grad-clip", type=_non_negative_float, default=TrainConfig.grad_clip,
                       help=f"max gradient norm {_default(TrainConfig.grad_clip, 'off')}")
    train.add_argument("--limit", type=_int_in(0, 10**9), default=TrainConfig.limit,
                       help=f"train on the first N images only {_default(TrainConfig.limit, 'all')}")
    train.add_argument("--log-every", type=_positive_int, default=TrainConfig.log_every,
                       help=f"steps per history line {_default(TrainConfig.log_every)}")
    train.add_argument("--track-fid", type=_int_in(0, 100_000), default=TrainConfig.track_fid, metavar="N",
                       help="after each epoch, the domain FID of N samples against the train split, in quality.jsonl, "
                            f"e.g. 5000 {_default(TrainConfig.track_fid, 'off')}")
    train.add_argument("--keep-best", action=_Switch,
                       help="with --track-fid: also keep the epoch with the lowest tracked FID in OUT/best/ (a GAN's "
                            "quality moves from epoch to epoch; the folder itself always holds the last epoch); "
                            "--no-keep-best on --resume stops it")
    train.add_argument("--compile", action="store_true",
                       help="torch.compile the networks for training (the first step compiles, about 20 s on a "
                            "CPU; on a 2-core CPU the compiled step was slower: benchmarks/README.md)")
    train.add_argument("--threads", type=_threads, default="auto",
                       help="CPU threads: a number, or auto, the cores other work leaves free, checked every epoch "
                            f"{_default('auto')}; OMP_NUM_THREADS, when set, wins")
    train.add_argument("--nproc", type=_int_in(1, 1024), default=1,
                       help="train on N processes (starts torchrun; one per GPU, or CPU processes with gloo); "
                            f"--batch-size is per process, so the global batch is N x --batch-size {_default(1)}")
    _finish(train)
    return HANDLERS


class _Switch(argparse.Action):
    """A saved setting that is on or off: --NAME turns it on, --NAME's --no- form off (what a config file's
    ``NAME = false`` stands for); either counts as given on --resume (_given_settings)."""

    def __init__(self, option_strings, dest, default=False, help=None):
        negated = ["--no-" + option[2:] for option in option_strings if option.startswith("--")]
        super().__init__([*option_strings, *negated], dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, not (option_string or "").startswith("--no-"))

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


def _add_model_options(train: argparse.ArgumentParser) -> None:
    """The options of the model (ModelConfig's fields), each help with the field's default."""
    train.add_argument("--latent-dim", type=_int_in(1, MAX_LATENT_DIM), default=ModelConfig.latent_dim,
                       help=f"size of the code z {_default(ModelConfig.latent_dim)}")
    train.add_argument("--width", type=_int_in(1, MAX_WIDTH), default=ModelConfig.width,
                       help=f"channels of the first conv stage; each later stage doubles it {_default(ModelConfig.width)}")
    train.add_argument("--beta", type=_non_negative_float, default=ModelConfig.beta,
                       help=f"weight of the KL term {_default(ModelConfig.beta)}")
    train.add_argument("--gamma", type=_non_negative_float, default=ModelConfig.gamma,
                       help=f"VAE-GAN: weight of the feature reconstruction in the decoder loss {_default(ModelConfig.gamma)}")
    train.add_argument("--equilibrium", action=_Switch,
                       help="VAE-GAN: Larsen et al.'s equilibrium trick (one process only: not with --nproc)")
    train.add_argument("--prior-gan-weight", type=_non_negative_float, default=ModelConfig.prior_gan_weight,
                       help="VAE-GAN: weight of the GAN terms on N(0, I) samples, for the discriminator and the "
                            f"decoder {_default(ModelConfig.prior_gan_weight, 'as in Larsen et al.')}; may change on "
                            "--resume: a fine-tuning stage")
    train.add_argument("--feature-stage", type=_int_in(0, 16), default=ModelConfig.feature_stage,
                       help="VAE-GAN: the discriminator's conv stage whose features the reconstruction is measured "
                            f"in, 1 = the first after the image {_default(ModelConfig.feature_stage, 'the last')}")
    train.add_argument("--kl-warmup", type=_int_in(0, MAX_EPOCHS), default=TrainConfig.kl_warmup, metavar="EPOCHS",
                       help="raise the KL weight linearly from 0 to --beta over the first EPOCHS epochs "
                            f"{_default(TrainConfig.kl_warmup, 'off')}")
    train.add_argument("--conditional", action=_Switch,
                       help="condition every network on the class label (conditional VAE / GAN / VAE-GAN)")
    train.add_argument("--ema-decay", type=_non_negative_float, default=ModelConfig.ema_decay,
                       help="sample from a moving average of the decoder's weights with this decay, e.g. 0.999 "
                            f"{_default(ModelConfig.ema_decay, 'off')}; both weights are kept in the checkpoint; "
                            "with --resume, a run with one may change its decay, and --reset-optimizer may add one")
    train.add_argument("--likelihood", choices=LIKELIHOODS, default=ModelConfig.likelihood,
                       help=f"VAE pixel likelihood {_default(ModelConfig.likelihood)}")


def _finish(train: argparse.ArgumentParser) -> None:
    """--config FILE, and the saved settings' defaults of None (read by _given_settings)."""
    train.add_argument("--config", metavar="FILE.toml",
                       help="the settings of a TOML file (a [train] table of these options, with underscores: "
                            "docs/training.md); the flags given here win over the file's")
    train.__class__ = _TrainParser  # the group's parser class, reading --config before it parses (see _TrainParser)
    # A resume compares only the settings the command line gives itself (a value typed equal to the default counts, e.g.
    # --prior-gan-weight 1 on a run at 3): so they parse to None when not given, and their defaults are filled in
    # afterwards (_given_settings), from the values declared above.
    _DEFAULTS.update({option: train.get_default(option) for option in _SAVED_SETTINGS})
    train.set_defaults(**dict.fromkeys(_SAVED_SETTINGS))


_DEFAULTS: dict = {}  # the saved settings' defaults, as declared in add_parsers
_PLACEHOLDERS = ("--epochs", "1", "--out", "-")  # the required options, for a parse of a file's flags alone


class _TrainParser(_Parser):
    """The `vaegan train` parser: ``--config FILE`` stands for the file's flags, placed before the command line's (so
    a flag typed wins, and a file's value counts as given, as typed: _given_settings); every value of the file goes
    through its flag's own check first, an error naming the file and the key."""

    config_source = None  # the file whose flags are being checked: error() names it and the key

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        path, rest = self._config_option(args)
        if path is None or "-h" in rest or "--help" in rest:
            return super().parse_known_args(args, namespace)
        expanded = [*self._file_argv(path), *rest]
        parsed, extras = super().parse_known_args(expanded, namespace)
        parsed.config, parsed.config_argv = path, expanded  # config_argv: what --nproc hands its processes
        return parsed, extras

    def _config_option(self, args: list[str]) -> tuple[str | None, list[str]]:
        """(the FILE of --config FILE, in any spelling argparse accepts, or None; the other arguments)."""
        found, rest, index = [], [], 0
        while index < len(args):
            item = args[index]
            name, equals, value = item.partition("=")
            if item == "--":
                rest += args[index:]
                break
            if len(name) >= len("--conf") and "--config".startswith(name) and (equals or index + 1 < len(args)):
                found.append(value if equals else args[index + 1])
                index += 1 if equals else 2
                continue
            rest.append(item)
            index += 1
        if len(found) > 1:
            self.error("give --config once (put the settings of both files into one)")
        return (found[0] if found else None), rest

    def _file_argv(self, path: str) -> list[str]:
        """The flags of the config file ``path``, each value checked as its flag's (an error naming the key)."""
        defaults = vars(super().parse_known_args(list(_PLACEHOLDERS))[0])
        defaults.update((option, _DEFAULTS[option]) for option in _SAVED_SETTINGS)  # their declared defaults
        try:
            argv = config_file.to_argv(config_file.read(path), defaults, path, negatable=_SWITCHES)
        except ConfigError as error:
            self.error(str(error))
        self.config_source = path
        try:
            super().parse_known_args([*_PLACEHOLDERS, *argv])  # the file's values alone: an error is the file's
        finally:
            self.config_source = None
        return argv

    def error(self, message: str) -> None:  # type: ignore[override]
        super().error(config_file.name_key(message, self.config_source) if self.config_source else message)


def _given_settings(args: argparse.Namespace) -> set[str]:
    """The saved settings ``args`` was given (not None: see add_parsers), then the others set to their defaults."""
    if hasattr(args, "given"):  # filled already
        return args.given
    given = {option for option in _SAVED_SETTINGS if getattr(args, option) is not None}
    for option in set(_SAVED_SETTINGS) - given:
        setattr(args, option, _DEFAULTS[option])
    args.given = given
    return given


def _flag(option: str, value=None) -> str:
    """The command-line flag of the `vaegan train` option ``option`` (prior_gan_weight -> --prior-gan-weight); a
    switch set to false (``value`` False: --no-equilibrium, a config file's ``equilibrium = false``) its --no- form."""
    return ("--no-" if value is False else "--") + option.replace("_", "-")


def _resume_changes(args: argparse.Namespace, saved: dict) -> set[str]:
    """The saved settings a `vaegan train --resume` command changes; a _UsageError for one a resume may not change
    (first --model and --dataset, the run's own)."""
    # a flag that repeats the run's own value is no change (e.g. the command that started the run, with --resume);
    # one typed with its default value is (e.g. --prior-gan-weight 1 on a run at 3)
    given = _given_settings(args)
    changed = {option for option in _SAVED_SETTINGS if option in given and _differs(args, option, saved)}
    # what a resumed run may change: the per-epoch scoring and the VAE-GAN's prior-sample GAN weight (a
    # fine-tuning stage, with the run's own optimizer state or without); a cosine decay of the rates from here to
    # the new last epoch; the decay of the run's moving average; and, continuing from the weights alone, a moving
    # average of the decoder added
    averaged = (_stored_setting(saved, "ema_decay") or 0) > 0 and args.ema_decay > 0
    allowed = {"track_fid", "keep_best", "prior_gan_weight", "lr_schedule"} | \
        ({"ema_decay"} if args.reset_optimizer or averaged else set())
    runs = {"model": saved["model_config"].kind, "dataset": saved["train_config"] and saved["train_config"].dataset}
    refused = [option for option in runs if getattr(args, option) not in (None, runs[option])]
    refused += sorted(changed - allowed)
    if refused:
        option = refused[0]
        value = getattr(args, option)
        flag = _flag(option, value)
        if option in runs:  # what the run is: a change would be another run
            raise _UsageError(f"{flag} {value} does not match the run in {args.out} ({runs[option]}); drop the flag "
                              "or change --out")
        raise _UsageError(f"{flag} cannot change when resuming: the run keeps the settings in "
                          f"{args.out}/config.json; drop {flag} or start a new run"
                          + (f" ({flag} may add a moving average with --reset-optimizer)" if option == "ema_decay"
                             and args.ema_decay > 0 else ""))
    return changed


def _differs(args: argparse.Namespace, option: str, saved: dict) -> bool:
    """Whether the command line's value of the saved setting ``option`` differs from the run's (``saved``: config.json
    as read_config gives it). A learning rate of 0 compares as the rate it stands for, the model's default (the
    discriminator's: the run's lr), so that the rate config.json records and a 0, typed or kept by a run written
    before the rate was recorded, are the same."""
    typed, stored = getattr(args, option), _stored_setting(saved, option)
    if option in ("lr", "lr_discriminator"):
        from ..api import default_lr

        model_default = default_lr(saved["model_config"].kind)
        zero = model_default if option == "lr" else _stored_setting(saved, "lr") or model_default
        typed, stored = typed or zero, stored or zero
    return typed != stored


def _train(args: argparse.Namespace) -> dict:
    _given_settings(args)
    if args.nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise _UsageError("--nproc starts torchrun; under torchrun (WORLD_SIZE is set) leave --nproc out")
    # every check that needs no data, before anything is built (and, with --nproc, before torchrun starts)
    model_config, train_config, resumed = _resume_settings(args) if args.resume else _new_settings(args)
    if args.nproc > 1:
        from ..training.train import check_settings, refuse_a_trained_folder, resolve_device

        check_settings(model_config, train_config, world=args.nproc)
        resolve_device(train_config.device)
        if not args.resume:
            refuse_a_trained_folder(args.out)
        return _train_on_processes(args)
    from ..api import NothingToTrain, TrainingInterrupted, run_trainer

    # the Python API's path (vaegan_core.api: train_model, resume_model), its errors in the command line's words
    try:
        return run_trainer(Path(args.out), model_config, train_config, resume=resumed, data_root=args.data_dir,
                           progress="epochs" if args.no_progress else True, threads=args.threads,
                           compile=args.compile, python=False).summary
    except NothingToTrain as error:  # the weights' own epoch (--reset-optimizer) said otherwise
        raise _nothing_to_train(args.out, error.epoch) from None
    except TrainingInterrupted as interrupt:
        raise _Interrupted(f"interrupted; the last checkpoint (epoch {interrupt.epoch}) is in {args.out}: "
                           f"continue with `vaegan train --out {args.out} --epochs {args.epochs} --resume`") from None


def _nothing_to_train(out: str, epoch: int) -> _UsageError:
    """A --resume whose --epochs the run has reached already."""
    return _UsageError(f"{out} is at epoch {epoch} already, so --epochs {epoch} or fewer trains nothing; pass "
                       f"--epochs above {epoch} (the new total, e.g. --epochs {epoch + 1})")


def _resume_settings(args: argparse.Namespace) -> tuple:
    """``vaegan train --resume``: (model config, training config, Trainer.resume's keywords) of the continuation,
    every change checked (a _UsageError, or resume_settings' ConfigError) before anything is built."""
    from ..storage.checkpoint import read_config
    from ..training.resume import resume_settings

    saved = read_config(args.out)
    changed = _resume_changes(args, saved)
    if args.keep_best and not (args.track_fid or (saved["train_config"] and saved["train_config"].track_fid)):
        raise _UsageError(_KEEP_BEST_NEEDS_FID)
    from ..api import start_epoch

    epoch = start_epoch(args.out, saved, args.reset_optimizer)  # --reset-optimizer: the weights' own epoch
    if epoch is not None and epoch >= args.epochs:  # nothing to train: said before the folder is touched
        raise _nothing_to_train(args.out, epoch)
    resumed = dict(epochs=args.epochs, device=args.device if args.device != "auto" else None,
                   reset_optimizer=args.reset_optimizer,
                   ema_decay=args.ema_decay if "ema_decay" in changed else None,
                   prior_gan_weight=args.prior_gan_weight if "prior_gan_weight" in changed else None,
                   lr_schedule=args.lr_schedule if "lr_schedule" in changed else None,
                   track_fid=args.track_fid if "track_fid" in changed else None,
                   keep_best=args.keep_best if "keep_best" in changed else None)
    model_config, train_config, _ = resume_settings(saved, args.out, **resumed)
    return model_config, train_config, resumed


def _new_settings(args: argparse.Namespace) -> tuple:
    """A new run: (model config, training config, None), the flags checked together."""
    if args.model is None or args.dataset is None:
        raise _UsageError("--model and --dataset are required for a new run (or pass --resume)")
    if args.reset_optimizer:
        raise _UsageError("--reset-optimizer only goes with --resume")
    if args.keep_best and not args.track_fid:
        raise _UsageError(_KEEP_BEST_NEEDS_FID)
    from ..training.data import CLASS_NAMES
    from ..training.folders import folder_classes, is_folder

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
                               image_size=(args.image_size or FOLDER_IMAGE_SIZE) if folder else 28,
                               channels=(args.channels or FOLDER_CHANNELS) if folder else 1)
    train_config = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               lr_discriminator=args.lr_discriminator, lr_schedule=args.lr_schedule,
                               kl_warmup=args.kl_warmup,
                               beta1=args.adam_beta1, seed=args.seed, device=args.device, precision=args.precision,
                               grad_clip=args.grad_clip, limit=args.limit, log_every=args.log_every,
                               track_fid=args.track_fid, keep_best=args.keep_best)
    return model_config, train_config, None


def _train_on_processes(args: argparse.Namespace) -> dict:
    """``--nproc N``: the same command under ``torchrun --standalone --nproc_per_node N`` (one machine)."""
    from ..storage.checkpoint import read_config
    from ..training.distributed import launch

    argv, skip = [], False
    # a --config file's flags travel as flags (its --nproc dropped like a typed one)
    for item in (["train", *args.config_argv] if getattr(args, "config_argv", None) else args.argv):
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


HANDLERS = {"train": _train}
