"""scripts/retrain.py (issue 52, "retraining reproduces what ships"): the commands it gives for each shipped checkpoint,
read by `vaegan train`'s own parser and resume rules, end on the checkpoint's config.json (model and training
settings, the recorded stages at their epochs), and a real run of the commands on a tiny two-stage folder records
the same stages and settings as the folder it retrains."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shlex
import sys
import types

import pytest

from conftest import REPO
from vaegan_core.api import default_lr
from vaegan_core.cli import build_parser
from vaegan_core.cli import train as cli_train
from vaegan_core.storage import checkpoint as ckpt
from vaegan_core.training.resume import record_stages, resume_settings

spec = importlib.util.spec_from_file_location("retrain", REPO / "scripts" / "retrain.py")
retrain = importlib.util.module_from_spec(spec)
sys.modules["retrain"] = retrain  # its dataclass looks its module up
spec.loader.exec_module(retrain)

SHIPPED = retrain.shipped_checkpoints()
IGNORED_TRAIN = {"device"}  # where a retrain runs is the user's choice (--device)


def replay(commands: list[list[str]], monkeypatch) -> tuple:
    """The (model config, training config, stages) the `vaegan train` commands leave in config.json, worked out by the
    command line's own functions (`_new_settings`, `_resume_settings`, `resume_settings`, `record_stages`) without
    training; also each command's --epochs."""
    parser = build_parser()
    saved, epochs = None, []
    monkeypatch.setattr(ckpt, "read_config", lambda out: saved)
    for command in commands:
        assert command[:2] == ["vaegan", "train"], command
        args = parser.parse_args(command[1:])
        args.argv = command[1:]
        cli_train._given_settings(args)  # the defaults of the settings not given, as `vaegan train` fills them
        if not args.resume:
            assert saved is None, "one new run, first"
            model, train, _ = cli_train._new_settings(args)
            stages = []
        else:
            _, _, resumed = cli_train._resume_settings(args)
            model, train, changed = resume_settings(saved, args.out, **resumed)
            trainer = types.SimpleNamespace(config=train, epoch=saved["state"]["epoch"], stages=None)
            record_stages(trainer, saved, resumed["reset_optimizer"], resumed["lr_schedule"], changed)
            train, stages = trainer.config, trainer.stages
        epochs.append(args.epochs)
        saved = {"model_config": model, "train_config": train, "state": {"epoch": args.epochs, "stages": stages}}
    return saved["model_config"], saved["train_config"], saved["state"]["stages"], epochs


def train_settings(train, kind: str) -> dict:
    settings = {name: value for name, value in dataclasses.asdict(train).items() if name not in IGNORED_TRAIN}
    settings["lr"] = settings["lr"] or default_lr(kind)  # 0 is "the model's default" (a file written before)
    return settings


@pytest.mark.parametrize("folder", SHIPPED, ids=[str(f.relative_to(REPO / "checkpoints")) for f in SHIPPED])
def test_the_commands_of_a_shipped_checkpoint_end_on_its_config(folder, tmp_path, monkeypatch):
    config = ckpt.read_config(folder)
    commands = retrain.commands_for(folder, tmp_path)
    trains = [command for command in commands if command[1] == "train"]
    model, train, stages, epochs = replay(trains, monkeypatch)
    assert dataclasses.asdict(model) == dataclasses.asdict(config["model_config"]), f"{folder}: model settings differ"
    assert train_settings(train, model.kind) == train_settings(config["train_config"], model.kind), \
        f"{folder}: training settings differ"
    assert epochs == sorted(set(epochs)) and epochs[-1] == config["train_config"].epochs
    # config.json records the continuations run after the CLI learnt to: the last ones of the retrain's, as they were
    recorded = (config.get("state") or {}).get("stages") or []
    assert stages[len(stages) - len(recorded):] == recorded, f"{folder}: stages {stages} do not end on {recorded}"
    for stage in recorded:  # each recorded continuation starts where a command of the retrain ends
        assert stage["from_epoch"] in epochs
    # the GMM and the scores the shipped folder has, for the epoch the retrain keeps
    chosen = "best" if (config.get("state") or {}).get("chosen_by") else None
    finish = commands[len(trains):]
    assert all(command[2].endswith(f"/{chosen}") == bool(chosen) for command in finish)
    assert any(command[1] == "fit-gmm" for command in finish) == (folder / "latent_gmm.safetensors").is_file()
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    scored = [key for key, value in metrics.items() if isinstance(value, dict) and "extractor" in value]
    assert sum(command[1] == "eval" for command in finish) == len(scored)


def test_every_shipped_checkpoint_has_commands():
    assert len(SHIPPED) == 10
    assert sum("conditional" in folder.parts for folder in SHIPPED) == 4


def test_the_dry_run_prints_the_commands_and_refuses_the_shipped_folder(tmp_path, capsys):
    folder = REPO / "checkpoints" / "mnist" / "vaegan"
    assert retrain.main([str(folder), "--out", str(tmp_path), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert lines[0].startswith("vaegan train --model vaegan --dataset mnist ")
    assert f"--out {tmp_path}/mnist/vaegan" in lines[0] and not (tmp_path / "mnist").exists()
    assert all(shlex.split(line)[0] == "vaegan" for line in lines)
    assert retrain.main([str(folder), "--out", str(folder.parent.parent), "--dry-run"]) == 1
    assert "would write over the shipped" in capsys.readouterr().err


def test_a_tiny_two_stage_run_is_retrained_with_the_same_stages(tmp_path):
    """A 'shipped' folder of two stages (a new run, then a decay stage with a fresh optimizer), retrained by the
    script's commands: the same settings, the same stages, the same weights (seeded, on the same machine)."""
    from vaegan_core.cli import main

    shipped = tmp_path / "shipped" / "vae"
    common = ["--no-progress", "--device", "cpu", "--threads", "1"]
    assert main(["train", "--model", "vae", "--dataset", "digits", "--width", "8", "--latent-dim", "4", "--limit",
                 "128", "--epochs", "1", "--out", str(shipped), *common]) == 0
    assert main(["train", "--resume", "--reset-optimizer", "--lr-schedule", "cosine", "--epochs", "2", "--out",
                 str(shipped), *common]) == 0
    assert retrain.main([str(shipped), "--out", str(tmp_path / "again"), "--device", "cpu"]) == 0
    again, original = (json.loads((folder / "config.json").read_text()) for folder in (tmp_path / "again" / "vae",
                                                                                      shipped))
    assert again["state"]["stages"] == original["state"]["stages"] == [
        {"from_epoch": 1, "optimizer": "fresh", "changed": {"lr_schedule": "cosine"}}]
    assert again["model"] == original["model"] and again["train"] == original["train"]
    assert again["state"]["step"] == original["state"]["step"]
