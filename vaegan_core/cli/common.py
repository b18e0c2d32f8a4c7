"""What the command groups share: one-line argparse errors, argument types, the progress bar and the errors
that main() turns into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import math

from ..config import DATASETS, DEVICES, MAX_SEED
from ..errors import DatasetError

MAX_EVAL_IMAGES = 100_000  # vaegan eval: ten times the usual 10,000

MAX_SAMPLE_IMAGES = 10_000  # vaegan sample: one PNG grid (100 x 100 images)

_FEATURES_KEPT = ("interrupted; the features of the real images computed so far are saved: rerun the same "
                  "command to continue from there")


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


def _dataset(value: str) -> str:
    """A built-in dataset name, or folder:PATH made absolute (config.json stores it, so runs resume anywhere)."""
    from ..training.folders import canonical, is_folder

    if is_folder(value):
        try:
            return canonical(value)
        except DatasetError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if value not in DATASETS:
        raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(DATASETS)} or folder:PATH)")
    return value


class _UsageError(Exception):
    """A flag combination argparse cannot check by itself."""


class _Interrupted(Exception):
    pass


def shared(data_dir: bool = False, no_progress: bool = False, device: str | None = None) -> list:
    """Parent parsers of the options several commands share, declared once: ``--data-dir``, ``--no-progress`` and
    ``--device`` (with the command's default: ``auto`` where it trains, ``cpu`` where it only reads a model)."""
    parent = argparse.ArgumentParser(add_help=False)
    if device is not None:
        parent.add_argument("--device", choices=DEVICES, default=device,
                            help="cuda, mps or cpu" + (" (default auto: cuda, then mps, then cpu)" if device == "auto"
                                                       else f" (default {device})"))
    if data_dir:
        parent.add_argument("--data-dir", help="folder holding mnist/ or fashion-mnist/ (default: $VAEGAN_DATA_DIR)")
    if no_progress:
        parent.add_argument("--no-progress", action="store_true", help="no progress bar")
    return [parent]
