"""Config files of `vaegan train --config FILE` (issue 53): a run's settings as TOML, read, written and shipped.

The format: one ``[train]`` table whose keys are the `vaegan train` options with underscores for the hyphens
(``batch_size = 64`` is ``--batch-size 64``), all but ``out``, ``resume``, ``reset_optimizer`` and ``config``, which
belong to the command line. A switch (``equilibrium``, ``conditional``, ``keep_best``, ...) is ``true`` or
``false``: ``--equilibrium`` or ``--no-equilibrium`` (a saved setting's false is a value given: a resume compares it
with the run's); every other value is a number or a string, and goes through the check of its flag as the text of
that flag would (so ``width = 64`` and ``width = "64"`` are the same, ``width = 64.5`` is refused as ``--width
64.5`` is). The file stands for its flags, placed before the command line's: a flag given on the command line wins.

Torch-free: `vaegan train --help` and a wrong file answer at once. ``vaegan_core.cli.train`` does the parsing with
the `vaegan train` parser (to_argv gives it the file's flags); this module reads, checks the shape of, and writes
the files: ``checkpoint_toml`` for `vaegan info DIR --config FILE`, ``recipe_toml`` for the shipped recipes in
``configs/`` (``python -m vaegan_core.training.config_file configs`` rewrites them).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any, Collection

from ..config import DATASET_LABELS, IDX_DATASETS, MODEL_KINDS, MODEL_LABELS
from ..errors import ConfigError

TABLE = "train"  # the one table of a config file
MAX_BYTES = 64 * 1024  # a config file is a few hundred bytes; anything bigger is not one
COMMAND_LINE_ONLY = ("out", "resume", "reset_optimizer", "config")  # where a run goes and how: not in a file
RECIPE_SEED, RECIPE_TRACK_FID = 0, 5000  # scripts/train_all.sh's --seed and --track-fid (a test keeps them equal)
_RUN_FIELDS = ("kind", "dataset", "epochs", "device", "num_classes", "lr_decay_from")  # set otherwise than by option


def _toml():
    """tomllib (Python 3.11+), or the tomli package it came from on Python 3.10."""
    try:
        import tomllib
    except ModuleNotFoundError:
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError("reading a TOML config file needs Python 3.11 or the tomli package "
                              "(pip install tomli)") from None
    return tomllib


def read(path: str | os.PathLike) -> dict[str, Any]:
    """The ``[train]`` table of the config file ``path``; a ConfigError of one line naming the file otherwise."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a folder, a pipe, a device: nothing to read whole
            raise ConfigError(f"config file {path} is not a file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # bounded: a wrong path must not read gigabytes
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path} is over {MAX_BYTES // 1024} KiB: not a config file (TOML, a [train] table)")
    tomllib = _toml()
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text: a config file is TOML, a [train] table") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {' '.join(str(error).split())}") from None
    others = sorted(set(document) - {TABLE})
    if others:
        raise ConfigError(f"{path}: {others[0]!r} outside the [{TABLE}] table: a config file holds one table, "
                          f"[{TABLE}], of `vaegan train` settings")
    if not isinstance(document.get(TABLE, {}), dict):
        raise ConfigError(f"{path}: {TABLE} must be a table ([{TABLE}] and the settings below it)")
    if TABLE not in document:
        raise ConfigError(f"{path} has no [{TABLE}] table: a config file holds the `vaegan train` settings in one")
    return document[TABLE]


def to_argv(settings: dict[str, Any], defaults: dict[str, Any], path: str | os.PathLike,
            negatable: Collection[str] = ()) -> list[str]:
    """The `vaegan train` flags that ``settings`` (a file's [train] table) stand for.

    ``defaults``: the parser's options (the destinations of a parse) and their defaults; a boolean default marks a
    switch. ``negatable``: the switches with a --no- form (the saved settings: ``equilibrium = false`` is
    ``--no-equilibrium``, a value given, which a --resume compares); another switch set to false is left out, its
    default. Unknown keys and values of a wrong kind are a ConfigError naming the key; each value's own check is
    its flag's, when the flags are parsed."""
    argv = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if key in COMMAND_LINE_ONLY:
            raise ConfigError(f"{path}: {key} is not a config-file setting: give {flag} on the command line")
        if key not in defaults:
            close = difflib.get_close_matches(key, [k for k in defaults if k not in COMMAND_LINE_ONLY], n=1)
            raise ConfigError(f"{path}: unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else
                                                                    " (see vaegan train --help)"))
        switch = isinstance(defaults[key], bool)
        if switch != isinstance(value, bool):
            raise ConfigError(f"{path}: {key} must be true or false, got {_toml_value(value, key)}" if switch else
                              f"{path}: {key} takes a value (e.g. {key} = ...), not {_toml_value(value, key)}")
        if switch:
            argv += [flag] if value else ["--no-" + flag[2:]] if key in negatable else []
        elif isinstance(value, (int, float, str)):
            argv.append(f"{flag}={value!r}" if isinstance(value, float) else f"{flag}={value}")
        else:
            raise ConfigError(f"{path}: {key} must be a number or a string, got a {type(value).__name__}")
    return argv


def name_key(message: str, path: str | os.PathLike) -> str:
    """An argparse error about one of a file's flags ("argument --width: expected ..."), said of the file's key."""
    import re

    match = re.match(r"argument --([\w-]+)(?:/\S+)?: (.*)", message, re.DOTALL)
    return f"{path}: {match.group(1).replace('-', '_')}: {match.group(2)}" if match else f"{path}: {message}"


def _toml_value(value: Any, key: str = "value") -> str:
    """``value`` as TOML: a string (basic, escaped), an integer, a float, a boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # Python's shortest round-trip spelling is TOML's too (1e-05, 0.999, inf)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"{key} {value!r} cannot be written as UTF-8 text") from None
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")  # JSON's escapes are TOML's
    if isinstance(value, (list, dict)):
        return f"a {'table' if isinstance(value, dict) else 'list'}"
    return repr(value)


def to_toml(settings: dict[str, Any], comments: list[str] = ()) -> str:
    """A config file: ``comments`` (each one wrapped into ``#`` lines, but for an indented one: a command, kept on
    its line), then ``settings`` as the [train] table."""
    lines = []
    for comment in comments:
        lines += ([f"# {comment}"] if comment.startswith(" ") else
                  textwrap.wrap(comment, 118, initial_indent="# ", subsequent_indent="#   "))
    lines += ["", f"[{TABLE}]"] if lines else [f"[{TABLE}]"]
    lines += [f"{key} = {_toml_value(value, key)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def stored_setting(saved: dict, option: str):
    """The value a run's config.json (as ``read_config`` gives it) holds for the `vaegan train` option ``option``
    (None where it holds none)."""
    if option == "conditional":
        return saved["model_config"].num_classes > 0
    name = {"adam_beta1": "beta1"}.get(option, option)
    for config in (saved["train_config"], saved["model_config"]):
        if config is not None and hasattr(config, name):
            return getattr(config, name)
    return None


def checkpoint_settings(saved: dict, options: tuple[str, ...]) -> dict[str, Any]:
    """The `vaegan train` settings of the run in ``saved`` (``read_config``'s dict): the model, the dataset, the
    epochs its weights reached, the device it was given and each of ``options`` (the settings config.json keeps).
    The image size and channels only for an image folder (the built-in datasets have theirs)."""
    train = saved["train_config"]
    settings: dict[str, Any] = {"model": saved["model_config"].kind}
    if train is not None:
        reached = (saved.get("state") or {}).get("epoch")
        settings.update(dataset=train.dataset, epochs=reached if isinstance(reached, int) and reached > 0
                        else train.epochs, device=train.device)
    folder = train is not None and train.dataset.startswith("folder:")
    for option in options:
        value = stored_setting(saved, option)
        if value is not None and (folder or option not in ("image_size", "channels")):
            settings[option] = value
    return settings


def _unset_fields(saved: dict, options: tuple[str, ...]) -> list[str]:
    """``name = value`` of the config.json fields off their defaults that no `vaegan train` option sets."""
    by_option = {{"adam_beta1": "beta1"}.get(option, option) for option in options} | set(_RUN_FIELDS)
    found = []
    for config in (saved["model_config"], saved["train_config"]):
        for field in dataclasses.fields(config) if config is not None else ():
            value = getattr(config, field.name)
            if field.name not in by_option and value != field.default:
                found.append(f"{field.name} = {_toml_value(value, field.name)}")
    return found


def checkpoint_toml(saved: dict, options: tuple[str, ...], source: str = "") -> str:
    """`vaegan info DIR --config FILE`: the run in ``saved`` as a config file, with comments for what it cannot
    say (continuation stages, fields no option sets, weights of an epoch before the last one set)."""
    settings = checkpoint_settings(saved, options)
    state, train = saved.get("state") or {}, saved["train_config"]
    comments = [f"The `vaegan train` settings of {source or 'a checkpoint'} (vaegan info --config): "
                "`vaegan train --config THIS.toml --out NEW` trains the run again from scratch; a flag given on the "
                "command line wins over the file."]
    if train is None:
        comments.append("Its config.json holds no training settings: give dataset and epochs.")
    elif settings["epochs"] != train.epochs:
        comments.append(f"Its config.json sets {train.epochs} epochs; the weights are those of epoch "
                        f"{settings['epochs']}" + (f" ({state['chosen_by']})" if state.get("chosen_by") else "")
                        + ", the epochs below.")
    stages = [stage for stage in state.get("stages") or [] if isinstance(stage, dict)]
    if stages:
        said = "; ".join(f"from epoch {stage.get('from_epoch')} ({stage.get('optimizer')} optimizer): " + ", ".join(
            f"{key} = {_toml_value(value, key)}" for key, value in (stage.get("changed") or {}).items())
            for stage in stages)
        comments.append(f"It was continued in stages (`vaegan train --resume`): {said}. The settings below are its "
                        "last stage's, which a run from this file uses from its first epoch.")
    unset = _unset_fields(saved, options)
    if unset:
        comments.append(f"Its config.json also sets {', '.join(unset)}, which no `vaegan train` option sets: a run "
                        "from this file has the defaults.")
    return to_toml(settings, comments)


def _typed(text: str) -> Any:
    """A flag's text as the TOML value a file spells it with: an integer, a number, else the string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def recipe_settings(kind: str, dataset: str) -> dict[str, Any]:
    """The settings of the shipped checkpoint's recipe (``vaegan_core.storage.zoo``), as scripts/train_all.sh
    trains it on a CPU: its epochs at a constant rate (the decay stage is a resume: see ``recipe_toml``)."""
    from ..storage.zoo import DEFAULT_EPOCHS, recipe

    settings: dict[str, Any] = {"model": kind, "dataset": dataset, "epochs": DEFAULT_EPOCHS[kind],
                                "seed": RECIPE_SEED}
    flags = recipe(kind, dataset)
    for index, flag in enumerate(flags):
        if flag.startswith("--"):
            value = flags[index + 1] if index + 1 < len(flags) and not flags[index + 1].startswith("--") else True
            settings[flag[2:].replace("-", "_")] = value if value is True else _typed(value)
    settings["track_fid"] = RECIPE_TRACK_FID
    return settings


def recipe_name(kind: str, dataset: str) -> str:
    return f"{dataset}-{kind}.toml"


def recipe_toml(kind: str, dataset: str) -> str:
    """configs/DATASET-KIND.toml: the recipe of a shipped checkpoint, with its decay stage and GPU lengths said."""
    from ..storage.zoo import DECAY_EPOCHS, DEFAULT_EPOCHS, GPU_DECAY_EPOCHS, GPU_EPOCHS

    out, epochs = f"runs/{dataset}-{kind}", DEFAULT_EPOCHS[kind]
    comments = [f"The recipe of the shipped {DATASET_LABELS[dataset]} {MODEL_LABELS[kind]} "
                "(vaegan_core.storage.zoo), as scripts/train_all.sh trains it on a CPU:",
                f"  vaegan train --config configs/{recipe_name(kind, dataset)} --out {out}",
                "then its decay stage, the rates falling along a cosine to 0:",
                f"  vaegan train --resume --out {out} --epochs {epochs + DECAY_EPOCHS[kind]} --lr-schedule cosine",
                f"On a GPU (DEVICE=cuda): --epochs {GPU_EPOCHS[kind]}, then the decay stage to "
                f"{GPU_EPOCHS[kind] + GPU_DECAY_EPOCHS[kind]} epochs.",
                "Written by `python -m vaegan_core.training.config_file configs` from the recipe; "
                "tests/test_config_files.py checks that it still is the recipe."]
    return to_toml(recipe_settings(kind, dataset), comments)


def write_recipes(folder: str | os.PathLike) -> list[Path]:
    """Write the recipe file of each shipped (dataset, kind) into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in IDX_DATASETS:
        for kind in MODEL_KINDS:
            path = folder / recipe_name(kind, dataset)
            path.write_text(recipe_toml(kind, dataset), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":  # python -m vaegan_core.training.config_file configs
    for written_path in write_recipes(sys.argv[1] if len(sys.argv) > 1 else "configs"):
        print(written_path)
