"""Loggers (issue 53): train_model(..., loggers=[...]) sends each history line's numbers, a grid of fixed-code samples
per epoch and the tracked FID to TensorBoard (read back here from the event file) or to any object with the same
three methods; the loggers are closed however the run ends; a missing tensorboard package is one line."""

from __future__ import annotations

import io
import json
import sys

import numpy

import pytest
import torch
from PIL import Image
# the dev extra installs tensorboard (pip install -e ".[dev]"): without it this file fails, it does not skip
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import vaegan_core
from vaegan_core.errors import ConfigError
from vaegan_core.images import grid
from vaegan_core.loggers import LoggerError, LoggerHooks, TensorBoardLogger, fixed_samples
from vaegan_core.models import build_model

from conftest import tiny_model_config, tiny_train_config


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny runs: one torch thread (conftest)


def _digits(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = vaegan_core.load_dataset("digits", "train", dtype=torch.float32)
    return images[:n], labels[:n]


class Recorder:
    """A logger of its own: what it was sent, and how often it was closed."""

    def __init__(self, fail_on_close: bool = False):
        self.scalars, self.images, self.closed, self.fail_on_close = [], [], 0, fail_on_close

    def log_scalars(self, step, values):
        self.scalars.append((step, dict(values)))

    def log_images(self, step, name, images):
        self.images.append((step, name, images.clone()))

    def close(self):
        self.closed += 1
        if self.fail_on_close:
            raise OSError("disk full")


def test_tensorboard_gets_every_history_line_a_grid_per_epoch_and_the_tracked_fid(tmp_path):
    """The event file, read back with TensorBoard's own reader: one value per history line under train/NAME at the
    line's step (the numbers history.jsonl holds), an 8-per-row grid of 64 samples at each epoch's last step, and
    quality.jsonl's FID (track_fid, scored with the digits LeNet shipped in checkpoints/classifiers)."""
    log_dir = tmp_path / "tb"
    run = vaegan_core.train_model(tiny_model_config("vaegan"), tiny_train_config(epochs=2, track_fid=150),
                                  _digits(), out_dir=tmp_path / "run", loggers=[TensorBoardLogger(log_dir)],
                                  progress=False)
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0}).Reload()
    history = run.history
    assert [line["step"] for line in history] == [2, 4, 6, 8]
    names = [name for name in history[0] if name != "step"]
    assert {"loss_encoder", "loss_discriminator", "d_accuracy", "images_per_second", "epoch"} <= set(names)
    assert set(events.Tags()["scalars"]) == {f"train/{name}" for name in names} | {"quality/fid_domain_train"}
    for name in names:
        logged = events.Scalars(f"train/{name}")
        assert [event.step for event in logged] == [line["step"] for line in history], name
        assert [event.value for event in logged] == pytest.approx([line[name] for line in history], rel=1e-5)

    grids = events.Images("samples")
    assert [event.step for event in grids] == [4, 8]  # each epoch's last step
    assert all((event.width, event.height) == (8 * 30 + 2, 8 * 30 + 2) for event in grids)  # 8 x 8 cells of 28 + 2
    last = torch.from_numpy(numpy.array(Image.open(io.BytesIO(grids[-1].encoded_image_string)))).float() / 255
    drawn = grid(fixed_samples(run.model, 64, seed=0), nrow=8)[0]  # the last epoch's weights
    assert last.shape == (242, 242, 3) and torch.equal(last[..., 0], last[..., 2])  # gray, as RGB
    torch.testing.assert_close(last[..., 0], drawn, atol=1 / 255 + 1e-6, rtol=0)

    quality = [json.loads(line) for line in (run.out_dir / "quality.jsonl").read_text().splitlines()]
    fid = events.Scalars("quality/fid_domain_train")
    assert [(event.step, event.value) for event in fid] == \
        [(row["step"], pytest.approx(row["fid_domain_train"], rel=1e-5)) for row in quality]
    assert [row["epoch"] for row in quality] == [1, 2]


def test_a_logger_of_its_own_gets_the_same_codes_each_epoch_and_is_closed_once(tmp_path):
    """Any object with the three methods is a logger; its samples are model.sample of a generator seeded with the
    run's seed (the same codes every epoch), sent before the user's own hooks run."""
    recorder, seen = Recorder(), []

    def on_epoch(epoch, model):
        seen.append(len(recorder.images))
        expected = model.sample(64, generator=torch.Generator().manual_seed(7))
        torch.testing.assert_close(recorder.images[-1][2], expected)

    lines = []
    run = vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=2, seed=7), _digits(),
                                  out_dir=tmp_path / "run", loggers=[recorder], on_epoch=on_epoch,
                                  on_log=lines.append, progress=False)
    assert seen == [1, 2] and recorder.closed == 1 and not run.stopped
    assert [(step, name, images.shape) for step, name, images in recorder.images] == \
        [(4, "samples", (64, 1, 28, 28)), (8, "samples", (64, 1, 28, 28))]
    assert [step for step, _ in recorder.scalars] == [line["step"] for line in lines] == [2, 4, 6, 8]
    assert recorder.scalars[0][1]["train/loss"] == lines[0]["loss"] and "train/step" not in recorder.scalars[0][1]


def test_images_go_at_each_epochs_last_step_when_log_every_is_longer_than_an_epoch(tmp_path):
    """log_every 100 on 4 steps per epoch: the epoch's end still writes a history line, so scalars and the sample
    grid are logged at the epoch's last step (4, 8), not at 0 or at a later epoch's; a run continued with
    resume_model logs from where it left off (step 12), with the run's own seed's codes."""
    from vaegan_core.api import resume_model

    recorder, data = Recorder(), _digits()
    run = vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=2, log_every=100, seed=5), data,
                                  out_dir=tmp_path / "run", loggers=[recorder], progress=False)
    assert [line["step"] for line in run.history] == [4, 8]
    assert [step for step, _, _ in recorder.images] == [4, 8]
    assert [step for step, _ in recorder.scalars] == [4, 8]
    again = Recorder()
    resumed = resume_model(run.out_dir, 3, data, loggers=[again], progress=False)
    assert [step for step, _, _ in again.images] == [12] and [step for step, _ in again.scalars] == [12]
    assert again.closed == 1
    torch.testing.assert_close(again.images[0][2], fixed_samples(resumed.model, 64, seed=5))


def test_loggers_are_closed_when_a_hook_stops_the_run_or_it_fails(tmp_path):
    def stop(epoch, model):
        raise vaegan_core.StopTraining

    def fail(record):
        raise RuntimeError("hook broke")

    stopped = Recorder()
    run = vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=3), _digits(),
                                  out_dir=tmp_path / "a", loggers=[stopped], on_epoch=stop, progress=False)
    assert run.stopped and stopped.closed == 1 and len(stopped.images) == 1

    failed = Recorder()
    with pytest.raises(RuntimeError, match="hook broke"):
        vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), _digits(), out_dir=tmp_path / "b",
                                loggers=[failed], on_log=fail, progress=False)
    assert failed.closed == 1

    refused, also_failing = Recorder(), Recorder(fail_on_close=True)  # an error before any step; a close that fails
    with pytest.raises(ConfigError, match="train_config.batch_size"):  # ... does not hide the run's own error
        vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(batch_size=128), _digits(),
                                out_dir=tmp_path / "c", loggers=[also_failing, refused], progress=False)
    assert refused.closed == also_failing.closed == 1 and not refused.scalars

    closing = Recorder(fail_on_close=True)  # a run that went well: the logger's own error is raised
    with pytest.raises(OSError, match="disk full"):
        vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), _digits(), out_dir=tmp_path / "d",
                                loggers=[closing], progress=False)


def test_a_missing_tensorboard_package_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now fails as when not installed
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    with pytest.raises(LoggerError, match=r'needs the tensorboard package.*pip install "vaegan\[tensorboard\]"') \
            as caught:
        TensorBoardLogger(tmp_path / "tb")
    assert "\n" not in str(caught.value) and not (tmp_path / "tb").exists()


def test_what_is_not_a_logger_is_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match="log_scalars, log_images and close.*got str"):
        vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), _digits(), out_dir=tmp_path / "run",
                                loggers=["runs/tb"], progress=False)
    with pytest.raises(ConfigError, match=r"instances, got the class TensorBoardLogger"):
        vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), _digits(), out_dir=tmp_path / "run",
                                loggers=[TensorBoardLogger], progress=False)
    assert not (tmp_path / "run").exists()


def test_the_hooks_send_a_quality_row_and_a_conditional_models_samples():
    """The FID curve from quality rows as the run writes them (epoch, step, fid_domain_train), driven directly; a
    conditional model's samples walk through its classes."""
    recorder = Recorder()
    hooks = LoggerHooks([recorder])
    hooks.log_quality({"epoch": 1, "step": 50, "train_seconds": 3.0, "fid_domain_train": 41.5, "n": 500})
    hooks.log_quality({"epoch": 2, "step": 100, "train_seconds": 6.0, "fid_domain_train": 30.25, "n": 500})
    assert recorder.scalars == [(50, {"quality/fid_domain_train": 41.5}), (100, {"quality/fid_domain_train": 30.25})]
    model = build_model(tiny_model_config("vae", num_classes=10)).eval()
    samples = fixed_samples(model, 16, seed=3)
    labels = torch.arange(16) % 10
    torch.testing.assert_close(samples, model.sample(16, generator=torch.Generator().manual_seed(3), labels=labels))
