"""`vaegan train | sample | info | eval | anomaly | fit-gmm | push | collapse | export | export-web | web | data |
train-classifier | reference-stats`: argument parsing only; the library does the work.

Every failure a user can cause (a wrong flag, a missing folder, a corrupt file, a diverged
run) ends in one line on stderr and a non-zero exit code, never a traceback.

Only torch-free modules are imported at the top; each command imports the torch-heavy ones it needs
when it runs, so that `vaegan --help` and a usage error answer at once (importing torch takes ~2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .. import __version__
from ..errors import VaeganError
from . import data, experiments, export, measure, models, train
from .common import _Interrupted, _Parser, _UsageError

GROUPS = (train, models, measure, experiments, data, export)  # one module per command group


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaegan", description="Train, sample and inspect VAE, GAN and VAE-GAN checkpoints.")
    parser.add_argument("--version", action="version", version=f"vaegan {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    rank = int(os.environ.get("RANK", "0")) if os.environ.get("RANK", "0").isdigit() else 0
    who = f"vaegan {args.command}" + (f" [process {rank}]" if rank else "")
    handlers = {command: handler for group in GROUPS for command, handler in group.HANDLERS.items()}

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

