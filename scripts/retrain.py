"""Retrain a shipped checkpoint from scratch with the stages it was trained in: the `vaegan train` commands (a new
run, then each `--resume` stage with the settings it changed), then `vaegan fit-gmm` and `vaegan eval` where the
shipped folder has a GMM and scores, into a folder of your choice (never the shipped one).

    python scripts/retrain.py checkpoints/mnist/vaegan --out runs --dry-run    # print the commands
    python scripts/retrain.py --all --out runs --device cuda                   # every shipped checkpoint, run them

Where the stages come from, in this order:

- the checkpoint's ``notes.md`` "Stages" table (``| epochs | start | SETTING ... |``): one row per stage, the epochs
  it trains, how it starts (``new run``; ``fresh optimizer``: ``--resume --reset-optimizer``, from the weights alone;
  ``kept optimizer``: ``--resume``, from the run's own trainer state) and the value of each setting named in the
  header during that stage; the last row's values are config.json's. The shipped checkpoints need it: their first
  stages were run before ``config.json`` recorded stages;
- otherwise config.json's ``state.stages`` (``vaegan_core.training.resume.record_stages``): each continuation's
  first epoch, optimizer and changed settings; the first stage's value of a changed setting must be knowable
  (a constant rate before a cosine one; no moving average before one added with a fresh optimizer);
- no table and no stages: one run of config.json's epochs.

Every other setting is config.json's, on every stage. A stage ends at the epoch the next one started from, so a
stage the shipped run took further and then continued from its best tracked epoch stops at that epoch (the same
weights on a constant rate). The last stage's best tracked epoch (``--keep-best``, what shipped when config.json's
``state.chosen_by`` says so) is a folder of its own, RUN/best, which the GMM and the scores are computed for; a
retrain on other hardware picks its own best epoch, so its scores are a reproduction, not the same numbers.

``--out DIR``: the run of one checkpoint goes to DIR/<its path under checkpoints/> (DIR/mnist/vaegan).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.config import ModelConfig, TrainConfig  # noqa: E402
from vaegan_core.errors import VaeganError  # noqa: E402
from vaegan_core.storage import paths  # noqa: E402
from vaegan_core.storage.checkpoint import read_config  # noqa: E402

CHECKPOINTS = REPO / "checkpoints"
STARTS = {"new run": "new", "fresh optimizer": "fresh", "kept optimizer": "kept"}
# the settings a stage may change (vaegan_core.training.resume.resume_settings), as the table's header names them
STAGE_SETTINGS = ("ema_decay", "prior_gan_weight", "track_fid", "keep_best", "lr_schedule")
# config.json's settings that `vaegan train` sets, by flag; the ones not here must keep their defaults
MODEL_FLAGS = {"latent_dim": "--latent-dim", "width": "--width", "beta": "--beta", "gamma": "--gamma",
               "ema_decay": "--ema-decay", "prior_gan_weight": "--prior-gan-weight",
               "feature_stage": "--feature-stage", "likelihood": "--likelihood"}
TRAIN_FLAGS = {"batch_size": "--batch-size", "lr_discriminator": "--lr-discriminator", "lr_schedule": "--lr-schedule",
               "kl_warmup": "--kl-warmup", "beta1": "--adam-beta1", "grad_clip": "--grad-clip", "limit": "--limit",
               "log_every": "--log-every", "track_fid": "--track-fid", "precision": "--precision"}
UNSET = {"model": ("discriminator_norm", "decoder_norm", "gaussian_sigma", "equilibrium_target", "equilibrium_margin"),
         "train": ("beta2", "channels_last", "sample_grid")}


class RetrainError(VaeganError):
    """A checkpoint whose stages cannot be turned into commands (said in one sentence)."""


@dataclasses.dataclass(frozen=True)
class Stage:
    to_epoch: int  # the stage trains up to this epoch (the run's --epochs for it)
    start: str  # new | fresh (--resume --reset-optimizer) | kept (--resume)
    settings: dict  # the STAGE_SETTINGS in force during it


def shipped_checkpoints(root: Path = CHECKPOINTS) -> list[Path]:
    """The shipped checkpoint folders: <dataset>/<kind> and <dataset>/conditional/<kind>."""
    found = []
    for config in sorted(root.glob("*/*/config.json")) + sorted(root.glob("*/conditional/*/config.json")):
        folder = config.parent
        if (folder / paths.WEIGHTS_FILE).is_file() and folder.parts[-2] not in ("classifiers", "collapse"):
            found.append(folder)
    return found


def _value(name: str, text: str):
    """A table cell as the setting's type."""
    text = text.strip().strip("`")
    if name == "keep_best":
        if text not in ("true", "false"):
            raise RetrainError(f"keep_best is true or false, not {text!r}")
        return text == "true"
    if name == "lr_schedule":
        return text
    try:
        return int(text) if name == "track_fid" else float(text)
    except ValueError:
        raise RetrainError(f"{name} {text!r} is not a number") from None


def stages_from_notes(folder: Path) -> list[Stage] | None:
    """The Stages table of ``folder/notes.md`` (see the module docstring), or None when it has none."""
    notes = folder / paths.NOTES_FILE
    if not notes.is_file():
        return None
    lines = notes.read_text(encoding="utf-8").splitlines()
    header = next((i for i, line in enumerate(lines) if re.match(r"\|\s*epochs\s*\|\s*start\s*\|", line)), None)
    if header is None:
        return None
    names = [cell.strip() for cell in lines[header].strip().strip("|").split("|")][2:]
    unknown = sorted(set(names) - set(STAGE_SETTINGS))
    if unknown:
        raise RetrainError(f"{notes}: the Stages table names {unknown[0]!r}, which a stage cannot change "
                           f"(one of {', '.join(STAGE_SETTINGS)})")
    stages, last = [], 0
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        epochs = re.fullmatch(r"(\d+)-(\d+)", cells[0])
        if not epochs or int(epochs[1]) != last + 1 or int(epochs[2]) < int(epochs[1]) or len(cells) != len(names) + 2:
            raise RetrainError(f"{notes}: Stages row {line.strip()!r} is not 'first-last epoch' right after "
                               f"epoch {last}, a start and {len(names)} values")
        if cells[1] not in STARTS or (cells[1] == "new run") != (not stages):
            raise RetrainError(f"{notes}: a stage starts as {' or '.join(map(repr, STARTS))} (only the first is "
                               f"a new run), not {cells[1]!r}")
        last = int(epochs[2])
        stages.append(Stage(last, STARTS[cells[1]], {name: _value(name, cell) for name, cell in zip(names, cells[2:])}))
    return stages


def stages_from_config(folder: Path, config: dict) -> list[Stage]:
    """The stages config.json's ``state.stages`` records (see the module docstring)."""
    train, model = config["train_config"], config["model_config"]
    recorded = [stage for stage in (config.get("state") or {}).get("stages") or [] if isinstance(stage, dict)]
    final = {name: getattr(model if hasattr(model, name) else train, name) for name in STAGE_SETTINGS}
    # each stage's settings, from the last backwards: a change recorded at a stage was not in force before it
    settings, stages = [dict(final)], []
    for index in range(len(recorded) - 1, -1, -1):
        before = dict(settings[0])
        for name, value in (recorded[index].get("changed") or {}).items():
            if name == "lr_schedule":
                before[name] = "constant"
            elif name == "ema_decay" and recorded[index].get("optimizer") == "fresh" and not any(
                    "ema_decay" in (stage.get("changed") or {}) for stage in recorded[:index]):
                before[name] = 0.0  # a moving average added to a run without one (--reset-optimizer)
            else:
                raise RetrainError(f"{folder / paths.CONFIG_FILE} records {name} changed to {value} at epoch "
                                   f"{recorded[index].get('from_epoch')} but not its value before; add a Stages "
                                   f"table to {folder / paths.NOTES_FILE} (see scripts/retrain.py)")
        settings.insert(0, before)
    ends = [int(stage["from_epoch"]) for stage in recorded] + [train.epochs]
    for index, (end, values) in enumerate(zip(ends, settings)):
        start = "new" if index == 0 else recorded[index - 1].get("optimizer", "kept")
        stages.append(Stage(end, start, values))
    return stages


def stages_of(folder: Path, config: dict | None = None) -> list[Stage]:
    """The stages ``folder`` was trained in: its notes' table, else config.json's record (the last must end on
    config.json's epochs with config.json's settings)."""
    config = config or read_config(folder)
    stages = stages_from_notes(folder) or stages_from_config(folder, config)
    train, model = config["train_config"], config["model_config"]
    last = stages[-1]
    if last.to_epoch != train.epochs:
        raise RetrainError(f"{folder}: the last stage ends at epoch {last.to_epoch}, config.json's run at "
                           f"{train.epochs}")
    for name, value in last.settings.items():
        final = getattr(model if hasattr(model, name) else train, name)
        if value != final:
            raise RetrainError(f"{folder}: the last stage has {name} {value}, config.json {final}")
    return stages


def _number(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _stage_flags(name: str, value) -> list[str]:
    if name == "keep_best":
        return ["--keep-best" if value else "--no-keep-best"]
    return [f"--{name.replace('_', '-')}", _number(value)]


def train_commands(folder: Path, run: Path, device: str = "auto") -> list[list[str]]:
    """The `vaegan train` commands that retrain ``folder`` into ``run``, stage by stage."""
    config = read_config(folder)
    model, train = config["model_config"], config["train_config"]
    if train is None:
        raise RetrainError(f"{folder / paths.CONFIG_FILE} has no training config: nothing says how it was trained")
    for part, names in UNSET.items():
        for name in names:
            field = {f.name: f for f in dataclasses.fields(ModelConfig if part == "model" else TrainConfig)}[name]
            value = getattr(model if part == "model" else train, name)
            if value != field.default:
                raise RetrainError(f"{folder}: config.json's {name} is {value}, which `vaegan train` has no flag for "
                                   f"(it trains with {field.default})")
    stages = stages_of(folder, config)
    first = stages[0]
    model_first = dataclasses.replace(model, **{k: v for k, v in first.settings.items() if hasattr(model, k)})
    train_first = dataclasses.replace(train, **{k: v for k, v in first.settings.items() if hasattr(train, k)})
    command = ["vaegan", "train", "--model", model.kind, "--dataset", train.dataset]
    command += ["--conditional"] if model.num_classes else []
    for source, flags in ((model_first, MODEL_FLAGS), (train_first, TRAIN_FLAGS)):
        defaults = {f.name: f.default for f in dataclasses.fields(source)}
        for name, flag in flags.items():
            if getattr(source, name) != defaults[name]:
                command += [flag, _number(getattr(source, name))]
    if model.equilibrium:
        command.append("--equilibrium")
    if train.lr:
        command += ["--lr", _number(train.lr)]
    if train_first.keep_best:
        command.append("--keep-best")
    if train_first.lr_schedule == "cosine" and train.lr_decay_from:
        raise RetrainError(f"{folder}: a cosine rate from epoch {train.lr_decay_from} needs a constant first stage")
    command += ["--epochs", str(first.to_epoch), "--seed", str(train.seed), "--device", device, "--out", str(run),
                "--no-progress"]
    commands = [command]
    for before, stage in zip(stages, stages[1:]):
        command = ["vaegan", "train", "--resume", "--out", str(run), "--epochs", str(stage.to_epoch)]
        command += ["--reset-optimizer"] if stage.start == "fresh" else []
        for name in STAGE_SETTINGS:
            if name in stage.settings and stage.settings[name] != before.settings.get(name, stage.settings[name]):
                command += _stage_flags(name, stage.settings[name])
        commands.append(command + ["--device", device, "--no-progress"])
    return commands


def finish_commands(folder: Path, run: Path, device: str = "auto", eval_n: int | None = None) -> list[list[str]]:
    """`vaegan fit-gmm` and `vaegan eval` as the shipped folder has them, for the retrained checkpoint: RUN/best when
    the shipped epoch was the best tracked one, RUN otherwise."""
    import json

    config = read_config(folder)
    chosen = run / paths.BEST_DIR if (config.get("state") or {}).get("chosen_by") else run
    commands = []
    gmm = folder / paths.LATENT_GMM_FILE
    if gmm.is_file():
        from safetensors import safe_open

        with safe_open(str(gmm), "pt") as handle:  # the fit's own record: components and seed
            info = json.loads((handle.metadata() or {}).get("info", "{}"))
            components = info.get("components") or handle.get_slice("weights").get_shape()[0]
        commands.append(["vaegan", "fit-gmm", str(chosen), "--components", str(components), "--seed",
                         str(info.get("seed", 0)), "--device", device, "--no-progress"])
    metrics_file = folder / paths.METRICS_FILE
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    for key, result in metrics.items():
        if not isinstance(result, dict) or "extractor" not in result:
            continue
        extractor = "inception" if result["extractor"].startswith("inception") else "lenet"
        command = ["vaegan", "eval", str(chosen), "--n", str(eval_n or result.get("n", 10000)), "--extractor",
                   extractor, "--split", result.get("split", "test"), "--seed", str(result.get("seed", 0)),
                   "--prior", result.get("prior", "normal"), "--device", device, "--no-progress"]
        if extractor == "inception" and "kid" not in (result.get("metrics") or {}):
            command.append("--fid-only")
        commands.append(command)
    return commands


def run_folder(folder: Path, out: Path) -> Path:
    """Where ``folder``'s retrain goes under ``out``: its path under checkpoints/ (else its name)."""
    try:
        relative = folder.resolve().relative_to(CHECKPOINTS.resolve())
    except ValueError:
        relative = Path(folder.name)
    run = out / relative
    shipped = folder.resolve()
    if run.resolve() == shipped or shipped in run.resolve().parents or run.resolve() in shipped.parents:
        raise RetrainError(f"--out {out} would write over the shipped {folder}; pick a folder outside it")
    return run


def commands_for(folder: Path, out: Path, device: str = "auto", eval_n: int | None = None,
                 evaluate: bool = True) -> list[list[str]]:
    run = run_folder(folder, out)
    return train_commands(folder, run, device) + (finish_commands(folder, run, device, eval_n) if evaluate else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", type=Path, help="shipped checkpoint folders (or --all)")
    parser.add_argument("--all", action="store_true", help="every shipped checkpoint under checkpoints/")
    parser.add_argument("--out", type=Path, required=True, help="folder the runs go to (DIR/<dataset>/<kind>)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--eval-n", type=int, default=None, help="samples per `vaegan eval` (default: the shipped n)")
    parser.add_argument("--no-eval", action="store_true", help="train only: no fit-gmm, no eval")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    folders = shipped_checkpoints() if args.all else list(args.checkpoints)
    if not folders:
        parser.error("name a checkpoint folder, or pass --all")
    try:
        plans = [(folder, commands_for(folder, args.out, args.device, args.eval_n, not args.no_eval))
                 for folder in folders]
        if not args.dry_run:
            for folder, _ in plans:
                run = run_folder(folder, args.out)
                if (run / paths.CONFIG_FILE).exists():
                    raise RetrainError(f"{run} holds a run already; pick another --out (or delete it)")
    except VaeganError as error:
        print(f"retrain: error: {error}", file=sys.stderr)
        return 1
    for folder, commands in plans:
        print(f"# {folder}: {len(commands)} commands")
        for command in commands:
            print(shlex.join(command), flush=True)
            if not args.dry_run:
                done = subprocess.run([sys.executable, "-m", "vaegan_core.cli", *command[1:]])
                if done.returncode:
                    print(f"retrain: error: `{shlex.join(command)}` failed (exit {done.returncode})", file=sys.stderr)
                    return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
