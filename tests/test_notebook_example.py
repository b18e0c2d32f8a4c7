"""docs/api.md's "A notebook-style example" runs as it stands (issue 53: train from tensors with TensorBoard, evaluate,
probe the codes with gradients, export), so the docs cannot rot; its sketch of other trackers' loggers has the
methods train_model calls."""

from __future__ import annotations

import re
import sys
import types

import pytest
import torch

from vaegan_core.loggers import Logger, LoggerHooks
from vaegan_core.models import build_model
from vaegan_core.storage.checkpoint import load_model

from conftest import REPO as ROOT
from conftest import tiny_model_config

HEADING = "## A notebook-style example"


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny runs: one torch thread (conftest)


def _section(heading: str) -> str:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert text.count(heading + "\n") == 1, f"docs/api.md must have one section {heading!r}"
    return text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]


def _blocks(text: str, indent: str = "") -> list[str]:
    """The ```python blocks of ``text`` (indented by ``indent`` inside a list item), dedented."""
    pattern = rf"^{indent}```python\n(.*?)^{indent}```"
    return [re.sub(rf"^{indent}", "", block, flags=re.M) for block in re.findall(pattern, text, re.S | re.M)]


def test_the_notebook_style_example_in_docs_runs(tmp_path, monkeypatch, capsys):
    """The block in a fresh folder: a TensorBoard event file with the run's curves, a score, a probe whose loss falls
    and that reads the digit from the codes far above chance, and a decoder ONNX file that matches torch."""
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(_blocks(_section(HEADING))[0], "docs/api.md", "exec"), names)
    printed = capsys.readouterr().out

    run = names["run"]
    assert run.out_dir.resolve() == (tmp_path / "runs" / "digits-vae").resolve() and run.summary["epoch"] == 2
    events = list((tmp_path / "runs" / "tensorboard" / "digits-vae").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = EventAccumulator(str(events[0]), size_guidance={"scalars": 0, "images": 0}).Reload()
    assert len(logged.Scalars("train/loss")) == len(run.history) and len(logged.Images("samples")) == 2
    assert len(logged.Scalars("quality/fid_domain_train")) == 2  # track_fid: one score per epoch

    scores = names["scores"]
    assert scores["fid"] > 0 and 0 < scores["reconstruction_mse"] < 0.25 and "FID (n=200)" in printed
    losses = names["losses"]
    assert len(losses) == 50 and sum(losses[-10:]) / 10 < 0.8 * losses[0]
    assert names["accuracy"] > 0.5  # chance is 10 %
    saved = load_model(run.out_dir).state_dict()  # the VAE stayed frozen: its weights are the last epoch's
    assert all(torch.equal(value, saved[name]) for name, value in run.model.state_dict().items())
    assert (tmp_path / "runs" / "digits-vae" / "decoder.onnx").is_file()
    assert names["parity"]["max_abs_diff"] <= names["parity"]["tolerance"]
    assert "onnxruntime matches torch" in printed


def test_the_sketched_loggers_of_other_tools_have_the_methods_train_model_calls(monkeypatch):
    """docs/api.md's W&B and MLflow sketches, run against stand-ins of those libraries (neither is installed for
    this): each class is a Logger, and LoggerHooks' calls reach the libraries' functions as the sketch says."""
    calls = []
    wandb = types.ModuleType("wandb")
    wandb.Image = lambda image: ("image", image.size)
    wandb.init = lambda **init: types.SimpleNamespace(log=lambda values, step: calls.append(("wandb", step, values)),
                                                      finish=lambda: calls.append(("wandb", "finish")))
    mlflow = types.ModuleType("mlflow")
    mlflow.start_run = lambda run_name=None: calls.append(("mlflow", "start", run_name))
    mlflow.log_metrics = lambda values, step: calls.append(("mlflow", step, values))
    mlflow.log_image = lambda image, key, step: calls.append(("mlflow", step, key, image.size))
    mlflow.end_run = lambda: calls.append(("mlflow", "end"))
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)

    training = _section("## Training")
    sketch = next(block for block in _blocks(training, indent="  ") if "class WandbLogger" in block)
    definitions = sketch.rsplit("\nvaegan_core.train_model(", 1)[0]  # the classes, not the run (it needs data)
    names: dict = {}
    exec(compile(definitions, "docs/api.md", "exec"), names)
    loggers = [names["WandbLogger"](project="p"), names["MlflowLogger"](run_name="r")]
    assert all(isinstance(logger, Logger) for logger in loggers)

    hooks = LoggerHooks(loggers)
    hooks.on_log({"step": 3, "epoch": 0.5, "loss": 2.0})
    hooks.on_epoch(1, build_model(tiny_model_config("vae")).eval())
    hooks.close()
    values = {"train/epoch": 0.5, "train/loss": 2.0}
    assert calls == [("mlflow", "start", "r"), ("wandb", 3, values), ("mlflow", 3, values),
                     ("wandb", 3, {"samples": ("image", (242, 242))}), ("mlflow", 3, "samples", (242, 242)),
                     ("wandb", "finish"), ("mlflow", "end")]
