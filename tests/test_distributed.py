"""Training on several CPU processes (torchrun, gloo): the same run as one process with the global batch."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaegan_core.storage.checkpoint import load_model
from vaegan_core.cli import main
from vaegan_core.training.train import Trainer

from conftest import tiny_model_config, tiny_train_config

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow  # each run starts two Python processes with torch


def torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(HERE / "distributed_run.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def history(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]


def test_two_processes_equal_one_process_with_the_global_batch(tmp_path):
    """A GAN without batch norm: the 2-process run (8 images each) is the 1-process run (16 images) up to the
    order of floating-point sums: every logged number within 1e-4, every weight within 5e-4 (Adam normalises each
    step, so a weight whose gradient is about 0 moves by up to the rate, 2e-4, either way on rounding alone: with
    OMP_NUM_THREADS=1, where the one-process run takes another rounding path, one weight ended 3.8e-4 apart and the
    mean gap was 1.4e-5), and the weights on the whole within 5e-5 (a tenth of the rate)."""
    done = torchrun(2, str(tmp_path / "two"), "gan", "8", "2", "--decoder-norm", "none")
    assert done.returncode == 0, done.stderr[-2000:]
    Trainer(tiny_model_config("gan", decoder_norm="none"), tiny_train_config(epochs=2, batch_size=16, limit=128),
            tmp_path / "one", progress=False).fit()
    one, two = history(tmp_path / "one"), history(tmp_path / "two")
    assert [row["step"] for row in one] == [row["step"] for row in two] and len(one) == 8  # 8 steps per epoch
    for a, b in zip(one, two):
        for key in ("loss_discriminator", "loss_generator", "d_real", "d_fake", "d_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (a["step"], key)
    w1, w2 = load_model(tmp_path / "one").state_dict(), load_model(tmp_path / "two").state_dict()
    assert w1.keys() == w2.keys() and not any(k.startswith("module.") or ".module." in k for k in w2)
    gaps = torch.cat([(w1[k].float() - w2[k].float()).abs().flatten() for k in w1])
    assert gaps.max().item() < 5e-4 and gaps.mean().item() < 5e-5, (gaps.max().item(), gaps.mean().item())
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_nproc_with_batch_norm_tracks_one_process_and_resumes_on_one(tmp_path, capsys):
    """With batch norm each process normalises over its own 16 images (SyncBatchNorm runs on GPUs only), so the
    runs differ slightly: logged losses within 5 %, weights within 5 % (relative L2), far less than training
    moved them. Only process 0 writes; a 2-process checkpoint resumes on one process."""
    common = ["--model", "vaegan", "--dataset", "digits", "--epochs", "2", "--width", "8", "--latent-dim", "8",
              "--precision", "fp32", "--no-progress", "--limit", "256"]
    assert main(["train", *common, "--batch-size", "32", "--out", str(tmp_path / "one")]) == 0
    start = {k: v.clone() for k, v in load_model(tmp_path / "one").state_dict().items()}
    capsys.readouterr()
    code = main(["train", *common, "--batch-size", "16", "--nproc", "2", "--out", str(tmp_path / "two")])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["processes"] == 2 and summary["epoch"] == 2 and summary["step"] == 16
    one, two = history(tmp_path / "one"), history(tmp_path / "two")
    assert [row["step"] for row in one] == [row["step"] for row in two]  # one history line per window, not two
    for a, b in zip(one, two):
        for key in ("loss_discriminator", "loss_encoder", "recon_mse"):
            assert a[key] == pytest.approx(b[key], rel=0.05), (a["step"], key)
    w1, w2 = load_model(tmp_path / "one").state_dict(), load_model(tmp_path / "two").state_dict()
    floats = [k for k in w1 if w1[k].is_floating_point()]
    norm = lambda tensors: math.sqrt(sum(float((t.float() ** 2).sum()) for t in tensors))  # noqa: E731
    assert norm(w1[k] - w2[k] for k in floats) < 0.05 * norm(w1[k] for k in floats)
    assert len(list((tmp_path / "two" / "samples").iterdir())) == 2

    assert main(["train", "--resume", "--out", str(tmp_path / "two"), "--epochs", "3", "--no-progress"]) == 0
    state = json.loads((tmp_path / "two" / "config.json").read_text())["state"]
    # --batch-size is per process: one process with the saved 16 takes 16 steps an epoch where two took 8
    assert state["epoch"] == 3 and state["step"] == 16 + 16
    assert start.keys() == load_model(tmp_path / "two").state_dict().keys()


def test_a_nan_on_one_process_stops_every_process_and_keeps_the_last_checkpoint(tmp_path):
    done = torchrun(2, str(tmp_path / "run"), "vae", "8", "3", "--nan-on-rank", "1", "--nan-at-step", "10")
    assert done.returncode != 0
    assert "process 0: training stopped at step 11 (epoch 2)" in done.stderr
    assert "process 1: training stopped at step 11 (epoch 2)" in done.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["state"]["epoch"] == 1  # epoch 1 (8 steps) was saved; epoch 2 never was


def test_nproc_usage_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--nproc", "2",
                 "--out", str(tmp_path / "x")]) == 2
    assert "leave --nproc out" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(Exception, match="equilibrium"):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", "0")
        Trainer(tiny_model_config("vaegan", equilibrium=True), tiny_train_config(), tmp_path / "y", progress=False)
    assert torch.distributed.is_available()
