"""One path for the command line and the Python API (issue 53): `vaegan train` (new runs and --resume, one process)
goes through vaegan_core.api.run_trainer, as train_model and resume_model do; config.json records the learning rate
used; resume_model continues a run from tensors; Ctrl-C and a resume with nothing to train are said in each caller's
words; train_model picks its threads as `vaegan train` does."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import vaegan_core
from vaegan_core import api
from vaegan_core.cli import main
from vaegan_core.errors import ConfigError
from vaegan_core.storage.checkpoint import read_config
from vaegan_core.training import train as train_module

from conftest import tiny_model_config, tiny_train_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny runs: one torch thread (conftest)

TINY = ["--dataset", "digits", "--width", "8", "--latent-dim", "8", "--limit", "64", "--batch-size", "16",
        "--device", "cpu", "--precision", "fp32", "--no-progress", "--threads", "1"]


def _digits(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = vaegan_core.load_dataset("digits", "train", dtype=torch.float32)
    return images[-n:], labels[-n:]  # the split's last images: not what `limit` would take from the dataset


def _one_line(capsys, argv: list[str], code: int) -> str:
    returned = main(argv)
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if not line.startswith("epoch ")]  # --no-progress's epoch lines
    assert returned == code and len(lines) == 1 and "Traceback" not in error, error
    return lines[0]


def test_vaegan_train_goes_through_the_python_entry(tmp_path, monkeypatch, capsys):
    """A new run and its --resume both call run_trainer, in the command line's words (python=False), and the JSON
    printed is the run's summary."""
    calls = []
    through = api.run_trainer

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return through(*args, **kwargs)

    monkeypatch.setattr(api, "run_trainer", recorded)
    out = tmp_path / "run"
    assert main(["train", "--model", "vae", "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == 1
    assert main(["train", "--resume", "--epochs", "2", "--out", str(out), "--no-progress", "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == 2
    assert [(call["python"], call["resume"] is None, call["progress"], call["threads"]) for call in calls] == \
        [(False, True, "epochs", 1), (False, False, "epochs", 1)]
    assert calls[1]["resume"]["epochs"] == 2


def test_config_json_records_the_rate_used(tmp_path, capsys):
    """lr 0 ("the model's default") is stored as the rate the run trained at, from the command line and from
    Python; `vaegan info` says it; --lr 0 on its --resume is no change."""
    out = tmp_path / "gan"
    assert main(["train", "--model", "gan", "--epochs", "1", "--out", str(out), *TINY]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["lr"] == 2e-4
    run = vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), out_dir=tmp_path / "vae",
                                  progress=False)
    assert read_config(run.out_dir)["train_config"].lr == 1e-3
    assert run.model.default_lr == 1e-3
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    train = json.loads(capsys.readouterr().out)["train"]
    assert train["lr"] == 2e-4 and train["lr_discriminator"] == "0.0002 (same as lr)"
    for flags in ([], ["--lr", "0"], ["--lr", "2e-4"], ["--lr-discriminator", "2e-4"]):
        epochs = json.loads((out / "config.json").read_text())["state"]["epoch"] + 1
        assert main(["train", "--resume", "--epochs", str(epochs), "--out", str(out), "--no-progress", "--threads",
                     "1", *flags]) == 0, flags
    capsys.readouterr()
    assert "--lr cannot change when resuming" in _one_line(capsys, ["train", "--resume", "--epochs", "9", "--out",
                                                                   str(out), "--lr", "1e-3"], 2)


def test_a_checkpoint_that_stored_lr_0_resumes_as_it_did(tmp_path, capsys):
    """A folder written before the rate was recorded (lr 0.0 in config.json) resumes with no "changed setting",
    with or without the rate typed, keeps its 0, and `vaegan info` shows the rate."""
    out = tmp_path / "old"
    train_module.Trainer(tiny_model_config("gan"), tiny_train_config(), out, progress=False).fit()
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["lr"] == 2e-4  # every new run, even a bare Trainer's, stores the rate it trains at
    config["train"]["lr"] = 0.0  # as the files written before did
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for epochs, flags in ((2, []), (3, ["--lr", "0"]), (4, ["--lr", "2e-4"])):
        assert main(["train", "--resume", "--epochs", str(epochs), "--out", str(out), "--no-progress", "--threads",
                     "1", *flags]) == 0, flags
    assert json.loads((out / "config.json").read_text())["train"]["lr"] == 0.0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["lr"] == "0.0002 (default)"
    assert "--lr cannot change" in _one_line(capsys, ["train", "--resume", "--epochs", "9", "--out", str(out),
                                                      "--lr", "1e-3"], 2)


def test_resume_model_continues_a_run_from_tensors_as_if_uninterrupted(tmp_path):
    """train_model for 1 epoch, then resume_model to 2 on the same tensors: the weights of a 2-epoch run (and not of
    one on the dataset's split, which the config names)."""
    data = _digits()
    whole = vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=2), data,
                                    out_dir=tmp_path / "whole", progress=False, threads=1)
    vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=1), data, out_dir=tmp_path / "half",
                            progress=False, threads=1)
    epochs = []
    resumed = api.resume_model(tmp_path / "half", 2, data, progress=False, threads=1,
                               on_epoch=lambda epoch, model: epochs.append(epoch))
    assert epochs == [2] and resumed.summary["epoch"] == 2 and not resumed.stopped
    assert [line["step"] for line in resumed.history] == [line["step"] for line in whole.history]
    expected, found = (load_file(folder / "model.safetensors") for folder in (whole.out_dir, resumed.out_dir))
    assert all(torch.equal(expected[name], found[name]) for name in expected)


def test_resume_model_and_the_command_line_say_nothing_to_train_in_their_own_words(tmp_path, capsys):
    vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), out_dir=tmp_path / "run", progress=False)
    with pytest.raises(api.NothingToTrain, match=r"at epoch 1 already, so epochs=1 or fewer .*epochs=2") as caught:
        api.resume_model(tmp_path / "run", 1, progress=False)
    assert isinstance(caught.value, ConfigError) and caught.value.epoch == 1 and "--" not in str(caught.value)
    line = _one_line(capsys, ["train", "--resume", "--epochs", "1", "--out", str(tmp_path / "run")], 2)
    assert "at epoch 1 already, so --epochs 1 or fewer trains nothing" in line and "--epochs 2" in line
    with pytest.raises(ConfigError, match="lr_schedule|cosine"):  # resume_settings' own check, before any data
        api.resume_model(tmp_path / "run", 2, lr_schedule="step", progress=False)


def test_resume_model_refuses_before_it_touches_the_folder_and_advises_calls_not_commands(tmp_path):
    """Nothing to train and keep_best without track_fid are refused before the data is read or the logs rewritten
    (as `vaegan train --resume` does); the advice a Python caller gets names the call, not the command."""
    run = tmp_path / "run"
    vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), out_dir=run, progress=False)
    history = (run / "history.jsonl").read_bytes()
    (run / "history.jsonl").write_bytes(history + b'{"step": 999, "epoch": 9.0}\n')  # a line past the checkpoint
    with pytest.raises(api.NothingToTrain):
        api.resume_model(run, 1, progress=False)
    with pytest.raises(ConfigError, match="keep_best=True needs track_fid"):
        api.resume_model(run, 2, keep_best=True, progress=False)
    assert (run / "history.jsonl").read_bytes().endswith(b'{"step": 999, "epoch": 9.0}\n')  # untouched
    with pytest.raises(vaegan_core.CheckpointError, match=r"train_model\(\.\.\., out_dir=") as caught:
        api.resume_model(tmp_path / "nowhere", 2, progress=False)
    assert "vaegan train" not in str(caught.value)
    (run / "trainer_state.pt").unlink()  # resuming exactly needs it: the advice is the call that starts afresh
    with pytest.raises(vaegan_core.CheckpointError, match=r"resume_model\('.*', epochs, reset_optimizer=True\)"):
        api.resume_model(run, 2, progress=False)


def test_ctrl_c_names_the_kept_epoch_and_how_to_continue(tmp_path, monkeypatch, capsys):
    """A KeyboardInterrupt in the second epoch: from Python a TrainingInterrupted (still a KeyboardInterrupt) naming
    resume_model; from the command line exit code 130 and the `vaegan train --resume` command."""
    def stop_in_epoch_2(step, logs):
        if step == 6:  # 4 steps per epoch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=3), out_dir=tmp_path / "py",
                                on_step=stop_in_epoch_2, progress=False)
    assert isinstance(caught.value, api.TrainingInterrupted) and caught.value.epoch == 1
    assert "(epoch 1)" in str(caught.value) and "resume_model(" in str(caught.value) and "epochs=3" in str(caught.value)
    assert read_config(tmp_path / "py")["state"]["epoch"] == 1

    steps = []
    original = train_module.Trainer.train_step

    def interrupted_step(self, *args):
        steps.append(1)
        if len(steps) == 6:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(train_module.Trainer, "train_step", interrupted_step)
    out = tmp_path / "cli"
    line = _one_line(capsys, ["train", "--model", "vae", "--epochs", "3", "--out", str(out), *TINY], 130)
    assert f"the last checkpoint (epoch 1) is in {out}" in line
    assert f"`vaegan train --out {out} --epochs 3 --resume`" in line


def test_train_model_chooses_its_threads_as_vaegan_train_does(tmp_path, monkeypatch):
    """By default "auto" (train.cpu_threads asked each epoch, as for `vaegan train`), torch's setting restored after
    the run; threads=None leaves torch's threads alone; a wrong value is refused before anything runs."""
    asked, seen = [], []

    def cpu_threads(requested, ours=0):
        asked.append(requested)
        return 1

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(train_module, "cpu_threads", cpu_threads)
    torch.set_num_threads(2)
    vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=2), out_dir=tmp_path / "auto",
                            on_step=lambda step, logs: seen.append(torch.get_num_threads()), progress=False)
    assert asked == ["auto", "auto"] and set(seen) == {1} and torch.get_num_threads() == 2
    asked.clear()
    vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), out_dir=tmp_path / "none", threads=None,
                            progress=False)
    assert asked == [] and torch.get_num_threads() == 2
    for options, pattern in (({"threads": 0}, "threads must be"), ({"threads": "all"}, "threads must be"),
                             ({"progress": "yes"}, "progress must be")):
        with pytest.raises(ConfigError, match=pattern):
            vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(), out_dir=tmp_path / "bad",
                                    **options)
    assert not (tmp_path / "bad").exists()
