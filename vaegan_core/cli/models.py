"""`vaegan sample`, `vaegan info` and `vaegan push`: what a checkpoint draws, holds and where it goes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import PRIORS
from .common import shared, MAX_SAMPLE_IMAGES, _UsageError, _int_in, _non_negative_float, _seed


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}


def add_parsers(commands) -> dict:
    """The sub-commands of this group; returns {command: handler}."""
    sample = commands.add_parser("sample", parents=shared(device="cpu"), help="decode random codes into a PNG grid")
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

    info = commands.add_parser("info", help="print a JSON summary of a checkpoint")
    info.add_argument("checkpoint", metavar="DIR",
                      help="checkpoint folder, or Hub repo USER/NAME or hf://USER/NAME[@REVISION]")
    info.add_argument("--config", metavar="FILE.toml",
                      help="also write the run's settings to FILE.toml, the file `vaegan train --config` reads: "
                           "`vaegan train --config FILE.toml --out NEW` trains the run again")

    push = commands.add_parser("push", help="upload a checkpoint folder to a Hugging Face Hub model repo")
    push.add_argument("checkpoint", metavar="DIR", help="checkpoint folder (config.json, model.safetensors, ...)")
    push.add_argument("--repo", required=True, metavar="USER/NAME", help="model repo, created if it does not exist")
    push.add_argument("--revision", metavar="BRANCH", help="branch to commit to, created from main if needed "
                                                            "(default main)")
    push.add_argument("--private", action="store_true", help="create the repo private (no effect if it exists)")
    push.add_argument("--token", help="Hub write token (default: $HF_TOKEN or the one saved by `hf auth login`)")
    push.add_argument("--message", help="commit message")

    return HANDLERS


def _sample(args: argparse.Namespace) -> dict:
    import torch

    from ..storage.checkpoint import load_model
    from ..training.train import resolve_device

    out = Path(args.out)
    if out.is_dir():
        raise _UsageError(f"--out {args.out} is a folder; give the image file to write, e.g. {out / 'samples.png'}")
    if out.suffix.lower() not in _IMAGE_SUFFIXES:
        raise _UsageError(f"--out {args.out} must end in one of {', '.join(sorted(_IMAGE_SUFFIXES))}")
    blocker = next((folder for folder in reversed(out.parents) if folder.exists() and not folder.is_dir()), None)
    if blocker is not None:
        raise _UsageError(f"--out {args.out} cannot be written: {blocker} is a file, not a folder")
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
    _save_grid(images, out)
    return {"out": str(out), "n": args.n, "seed": args.seed, "temperature": args.temperature, "prior": args.prior}


def _sample_conditional(args: argparse.Namespace, model, out: Path) -> dict:
    """``vaegan sample --labels / --text / --style-from``: classes chosen by the user, one style or seeded ones."""
    import torch

    from ..models import conditional
    from ..storage.checkpoint import read_config
    from ..uploads import read_upload

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
        _save_grid(picture.unsqueeze(0), out, nrow=1)
    else:  # --labels: one image each, no gaps
        generator = torch.Generator().manual_seed(args.seed)
        codes = (style.expand(len(glyphs), -1) if style is not None
                 else model.prior("normal").sample(len(glyphs), generator, args.temperature))
        _save_grid(model.decode(codes.contiguous(), glyphs), out)
    names = conditional.class_names(dataset, classes, getattr(model, "class_names", None))
    result = {"out": str(out), "classes": conditional.glyph_names(glyphs, names), "seed": args.seed}
    if read_as is not None:
        result["style_from"] = {"image": args.style_from, "read_as": names[read_as]}
    return result


def _save_grid(images, out: Path, **options) -> None:
    """The grid into ``out``, its folders created first, as `vaegan train` creates its --out."""
    from ..images import save_grid

    out.parent.mkdir(parents=True, exist_ok=True)
    save_grid(images, out, **options)


def _info(args: argparse.Namespace) -> dict:
    from ..storage.checkpoint import info, read_config

    if args.config is not None:  # checked before the weights are loaded
        out = Path(args.config)
        if out.suffix.lower() != ".toml":  # nor config.json overwritten by a slip
            raise _UsageError(f"--config {args.config} must end in .toml (the settings are written as TOML)")
        if not out.parent.is_dir():
            raise _UsageError(f"the folder of --config {args.config} does not exist; create it first")
    summary = info(args.checkpoint)
    if args.config is not None:
        from ..training.config_file import checkpoint_toml
        from .train import _SAVED_SETTINGS

        text = checkpoint_toml(read_config(summary["path"]), _SAVED_SETTINGS, source=args.checkpoint)
        out.write_text(text, encoding="utf-8")
        summary["config_file"] = str(out)
    return summary


def _push(args: argparse.Namespace) -> dict:
    from ..storage.checkpoint import load_model, read_config
    from ..storage.hub import push_to_hub

    # Never publish a broken model: a folder that is not a checkpoint, or whose weights are truncated or do
    # not match config.json, fails here with the reason, before anything is sent.
    read_config(args.checkpoint)
    load_model(args.checkpoint)
    return push_to_hub(args.checkpoint, args.repo, revision=args.revision, private=args.private, token=args.token,
                       commit_message=args.message)


HANDLERS = {"sample": _sample, "info": _info, "push": _push}
