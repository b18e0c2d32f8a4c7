"""One writer per run folder, an evaluation of one snapshot, and a full disk during a save (issue 46)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import tiny_model_config, tiny_train_config
from vaegan_core.storage.checkpoint import load_model, read_config, snapshot
from vaegan_core.cli import main
from vaegan_core.errors import CheckpointError, ConfigError, WriteError
from vaegan_core.storage.files import atomic_write, clean_temporaries
from vaegan_core.storage.lock import LOCK_FILE, FolderLock
from vaegan_core.training.train import Trainer
from vaegan_core.storage.zoo import evaluated_fingerprint

from conftest import REPO  # noqa: E402
TINY_TRAIN = ["--model", "gan", "--dataset", "digits", "--width", "8", "--latent-dim", "8", "--batch-size", "16",
              "--device", "cpu", "--no-progress"]


def test_a_second_trainer_on_the_same_folder_is_refused_with_the_holders_pid(tmp_path):
    first = Trainer(tiny_model_config("gan"), tiny_train_config(), tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match=rf"being written by process {os.getpid()}.*another --out"):
        Trainer(tiny_model_config("gan"), tiny_train_config(), tmp_path / "run", progress=False)
    first.fit()  # fit gives the folder back at its end: a resume may take it
    Trainer.resume(tmp_path / "run", epochs=2, progress=False).fit()
    assert read_config(tmp_path / "run")["state"]["epoch"] == 2


def test_a_refused_new_run_leaves_nothing_behind(tmp_path):
    with pytest.raises(ConfigError, match="BatchNorm layers need at least 2 images"):
        Trainer(tiny_model_config("gan"), tiny_train_config(batch_size=1), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    assert main(["train", "--out", str(tmp_path / "cli"), "--epochs", "1"] + TINY_TRAIN[:-3] + ["--batch-size", "1",
                                                                                              "--no-progress"]) == 1
    assert not (tmp_path / "cli").exists()


def _hold_lock_then(folder: Path, action: str) -> subprocess.Popen:
    code = (f"import os, signal, sys, time; sys.path.insert(0, {str(REPO)!r}); from vaegan_core.storage.lock import FolderLock; "
            f"lock = FolderLock({str(folder)!r}).acquire(); print('held', flush=True); "
            + ("os.kill(os.getpid(), signal.SIGKILL)" if action == "crash" else "time.sleep(60)"))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_two_writers_a_live_holder_refuses_a_dead_ones_lock_is_taken_over(tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["train", "--out", str(folder), "--epochs", "1"] + TINY_TRAIN) == 0
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    capsys.readouterr()
    holder = _hold_lock_then(folder, "sleep")  # a run of the folder still training
    try:
        assert main(["train", "--out", str(folder), "--epochs", "1"] + TINY_TRAIN) == 1
        error = capsys.readouterr().err
        assert f"being written by process {holder.pid}" in error and error.count("\n") == 1
        assert main(["train", "--resume", "--out", str(folder), "--epochs", "2", "--no-progress"]) == 1
        assert f"process {holder.pid}" in capsys.readouterr().err
        assert {name: (folder / name).read_bytes() for name in before if name != LOCK_FILE} == \
            {name: data for name, data in before.items() if name != LOCK_FILE}  # nothing of the run was touched
    finally:
        holder.kill()
        holder.wait()
    # released with its process
    assert main(["train", "--resume", "--out", str(folder), "--epochs", "2", "--no-progress"]) == 0
    crashed = _hold_lock_then(tmp_path / "crashed", "crash")
    crashed.wait()
    assert crashed.returncode == -signal.SIGKILL
    with FolderLock(tmp_path / "crashed") as lock:
        assert lock.held and (tmp_path / "crashed" / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_eval_stores_the_fingerprint_of_the_weights_it_scored(tmp_path, monkeypatch):
    """A training run saves a new epoch while `vaegan eval` works: the stored fingerprint is the evaluated one's."""
    import vaegan_core.metrics.evaluate as evaluate_module

    folder = tmp_path / "run"
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=1), folder, progress=False).fit()
    scored = evaluated_fingerprint(folder)
    real_evaluate = evaluate_module.evaluate

    def evaluate_while_training(*args, **kwargs):
        result = real_evaluate(*args, **kwargs)
        Trainer.resume(folder, epochs=2, progress=False).fit()  # the next epoch lands mid-evaluation
        return result

    monkeypatch.setattr(evaluate_module, "evaluate", evaluate_while_training)
    assert main(["eval", str(folder), "--n", "40", "--force", "--no-progress", "--no-diagnostics"]) == 0
    stored = json.loads((folder / "metrics.json").read_text())["lenet-test"]
    assert stored["checkpoint_fingerprint"] == scored != evaluated_fingerprint(folder)


def test_a_snapshot_is_of_one_save(tmp_path, monkeypatch):
    """A save that lands between copying the config and the weights: the snapshot is taken again."""
    import vaegan_core.storage.checkpoint as checkpoint_module

    folder = tmp_path / "run"
    trainer = Trainer(tiny_model_config("gan"), tiny_train_config(epochs=1), folder, progress=False)
    trainer.fit()
    real_copy, calls = checkpoint_module.copy_bounded, []

    def copy_then_save(source, target, limit):
        real_copy(source, target, limit)
        calls.append(Path(source).name)
        if calls == ["config.json"]:  # the first attempt: epoch 2's save lands before the weights are copied
            Trainer.resume(folder, epochs=2, progress=False).fit()

    monkeypatch.setattr(checkpoint_module, "copy_bounded", copy_then_save)
    with snapshot(folder) as frozen:
        assert read_config(frozen)["state"]["epoch"] == 2
        assert evaluated_fingerprint(frozen) == evaluated_fingerprint(folder)
        load_model(frozen)
    assert calls.count("config.json") == 2
    assert not frozen.exists()


@pytest.mark.parametrize("error", [RuntimeError("PytorchStreamWriter failed writing file data/3: file write failed"),
                                   OSError(errno.ENOSPC, "No space left on device")])
def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_last_epoch(tmp_path, monkeypatch, capsys, error):
    import vaegan_core.storage.checkpoint as checkpoint_module

    folder = tmp_path / "run"
    assert main(["train", "--out", str(folder), "--epochs", "1"] + TINY_TRAIN) == 0
    capsys.readouterr()
    before = (folder / "model.safetensors").read_bytes()

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(checkpoint_module.torch, "save", full)
    monkeypatch.setattr("safetensors.torch.save_file", full)  # CheckpointFolder.write_weights imports it when called
    monkeypatch.setattr("vaegan_core.storage.files.shutil.disk_usage", lambda path: type("usage", (), {"free": 0})())
    assert main(["train", "--resume", "--out", str(folder), "--epochs", "2", "--no-progress"]) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "could not write" in message and "the disk is full" in message, message
    assert "trainer_state.pt" in message
    assert (folder / "model.safetensors").read_bytes() == before
    assert read_config(folder)["state"]["epoch"] == 1 and load_model(folder) is not None
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "model.safetensors"
    leftover = tmp_path / f".model.safetensors.tmp{dead.pid}"
    leftover.write_bytes(b"half a file")
    alive = tmp_path / f".model.safetensors.tmp{os.getppid()}"  # a writer still running: left alone
    alive.write_bytes(b"being written")
    atomic_write(target, lambda temporary: Path(temporary).write_bytes(b"whole"))
    assert target.read_bytes() == b"whole" and not leftover.exists() and alive.exists()
    assert clean_temporaries(target) == []


def test_a_writer_that_fails_otherwise_names_the_file(tmp_path):
    def broken(temporary):
        Path(temporary).write_bytes(b"x")
        raise RuntimeError("enforce fail at inline_container.cc:672")

    with pytest.raises(WriteError, match=r"could not write .*weights\.bin: enforce fail"):
        atomic_write(tmp_path / "weights.bin", broken)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError):  # a bug is not dressed up as a disk error
        atomic_write(tmp_path / "weights.bin", lambda temporary: len(None))


def test_a_leftover_world_size_is_one_line_not_a_traceback_or_a_hang(tmp_path, capsys, monkeypatch):
    import socket

    for name in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["train", "--out", str(tmp_path / "a"), "--epochs", "1"] + TINY_TRAIN) == 1
    error = capsys.readouterr().err
    assert "MASTER_ADDR is not set" in error and "unset WORLD_SIZE" in error and error.count("\n") == 1
    assert not (tmp_path / "a").exists()
    with socket.socket() as probe:  # a free port: nobody else joins there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    monkeypatch.setenv("VAEGAN_JOIN_TIMEOUT", "1")
    started = time.perf_counter()
    assert main(["train", "--out", str(tmp_path / "b"), "--epochs", "1"] + TINY_TRAIN) == 1
    error = capsys.readouterr().err
    assert "did not meet at 127.0.0.1" in error and error.count("\n") == 1, error
    assert time.perf_counter() - started < 30


def test_a_refused_resume_gives_the_folder_back_at_once(tmp_path):
    """A resume whose trainer state is refused (in a notebook, the process goes on) leaves the folder free."""
    folder = tmp_path / "run"
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=1), folder, progress=False).fit()
    (folder / "trainer_state.pt").write_bytes(b"not a trainer state")
    with pytest.raises(CheckpointError, match="trainer state"):
        Trainer.resume(folder, epochs=2, progress=False)
    with FolderLock(folder) as lock:  # nothing holds it any more
        assert lock.held
    Trainer.resume(folder, epochs=2, progress=False, reset_optimizer=True).fit()
    assert read_config(folder)["state"]["epoch"] == 2


def test_port_and_timeout_that_are_not_numbers_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    for port, timeout in (("70000", "5"), ("29500", "inf"), ("abc", "5")):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
        monkeypatch.setenv("MASTER_PORT", port)
        monkeypatch.setenv("VAEGAN_JOIN_TIMEOUT", timeout)
        assert main(["train", "--out", str(tmp_path / port), "--epochs", "1"] + TINY_TRAIN) == 1
        error = capsys.readouterr().err
        assert "MASTER_PORT must be a port" in error and error.count("\n") == 1, error
