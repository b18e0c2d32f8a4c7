"""The `vaegan` command end to end, as a user types it (in a subprocess, through the console script)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vaegan_core.cli import main


def run(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "vaegan_core.cli", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"vaegan {' '.join(args)} failed: {result.stderr}")
    return result


def test_train_sample_info_on_digits(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--model", "vaegan", "--dataset", "digits", "--epochs", "1", "--out", str(out),
                 "--width", "8", "--latent-dim", "8", "--limit", "256", "--batch-size", "32", "--no-progress",
                 "--device", "cpu")
    assert json.loads(result.stdout)["epoch"] == 1
    png = tmp_path / "grid.png"
    run("sample", str(out), "--n", "9", "--out", str(png), "--seed", "3")
    image = Image.open(png)
    assert image.mode == "L" and image.size == (3 * 28 + 4 * 2, 3 * 28 + 4 * 2)
    summary = json.loads(run("info", str(out)).stdout)
    assert summary["class"] == "VAEGAN" and summary["state"]["epoch"] == 1 and summary["train"]["dataset"] == "digits"

    # --resume continues to a new total and keeps the config
    result = run("train", "--out", str(out), "--epochs", "2", "--resume", "--no-progress")
    assert json.loads(result.stdout)["epoch"] == 2
    # the same seed gives the same picture
    again = tmp_path / "again.png"
    run("sample", str(out), "--n", "9", "--out", str(again), "--seed", "3")
    first = tmp_path / "first.png"
    run("sample", str(out), "--n", "9", "--out", str(first), "--seed", "3")
    assert again.read_bytes() == first.read_bytes()


def one_line_error(result, pattern, code=None):
    assert result.returncode != 0 if code is None else result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert pattern in lines[0], lines[0]


@pytest.mark.parametrize("args, pattern", [
    (["train", "--model", "bogus", "--dataset", "digits", "--epochs", "1", "--out", "x"], "invalid choice: 'bogus'"),
    (["train", "--model", "vae", "--dataset", "digits", "--epochs", "0", "--out", "x"], "expected a positive integer"),
    (["train", "--dataset", "digits", "--epochs", "1", "--out", "x"], "--model and --dataset are required"),
    (["train", "--model", "vae", "--dataset", "digits", "--epochs", "1"], "required: --out"),
    (["sample", "/no/such/folder", "--out", "x.png"], "does not exist"),
    (["info", "/no/such/folder"], "does not exist"),
    (["eval", "/no/such/folder", "--n", "10"], "does not exist"),
    (["eval", "x", "--extractor", "clip"], "invalid choice: 'clip'"),
    (["train-classifier", "--dataset", "cifar", "--out", "x"], "invalid choice: 'cifar'"),
    (["frobnicate"], "invalid choice"),
    # counts are bounded (the bound is in the message) and numbers finite, before any work
    (["sample", "x", "--n", "1000000000", "--out", "x.png"], "expected a positive integer up to 10,000"),
    (["eval", "x", "--n", "1000000000"], "up to 100,000"),
    (["sample", "x", "--temperature", "inf", "--out", "x.png"], "expected a finite number >= 0, got inf"),
    (["sample", "x", "--temperature", "nan", "--out", "x.png"], "expected a finite number"),
    (["sample", "x", "--seed", "99999999999999999999", "--out", "x.png"], "up to 2,147,483,647"),
    (["train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--out", "x", "--width", "100000"],
     "up to 256"),
    (["train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--out", "x", "--reset-optimizer"],
     "--reset-optimizer only goes with --resume"),
    (["fit-gmm", "x", "--components", "5000"], "up to 1,000"),
    (["train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--out", "x", "--adam-beta1", "1"],
     "expected a number in [0, 1), got 1"),
    (["train", "--model", "vaegan", "--dataset", "digits", "--epochs", "1", "--out", "x", "--feature-stage", "4"],
     "feature_stage must be between 0 and 3"),
])
def test_bad_input_is_one_line(args, pattern, tmp_path):
    one_line_error(run(*args, check=False), pattern)


def test_sample_refuses_bad_output(tmp_path):
    out = tmp_path / "run"
    run("train", "--model", "gan", "--dataset", "digits", "--epochs", "1", "--out", str(out), "--width", "8",
        "--latent-dim", "8", "--limit", "64", "--batch-size", "32", "--no-progress", "--device", "cpu")
    one_line_error(run("sample", str(out), "--out", str(tmp_path / "x.txt"), check=False), "must end in one of")
    one_line_error(run("sample", str(out), "--out", str(tmp_path), check=False), "is a folder")
    # an existing checkpoint is never overwritten by a new run
    again = run("train", "--model", "gan", "--dataset", "digits", "--epochs", "1", "--out", str(out), check=False)
    one_line_error(again, "already holds a checkpoint")
    # --resume with another model than the run's is refused
    wrong = run("train", "--model", "vae", "--out", str(out), "--epochs", "2", "--resume", check=False)
    one_line_error(wrong, "--model vae does not match")
    # a saved setting cannot silently change (or be silently ignored) on --resume
    changed = run("train", "--out", str(out), "--epochs", "2", "--resume", "--lr", "0.1", check=False)
    one_line_error(changed, "--lr cannot change when resuming")
    changed = run("train", "--out", str(out), "--epochs", "2", "--resume", "--adam-beta1", "0.9", check=False)
    one_line_error(changed, "--adam-beta1 cannot change when resuming")
    # the run's own values repeated (the command that started it, with --resume) are no change
    same = run("train", "--out", str(out), "--epochs", "2", "--resume", "--width", "8", "--latent-dim", "8",
               "--limit", "64", "--batch-size", "32", "--no-progress", "--device", "cpu")
    assert json.loads((out / "config.json").read_text())["state"]["epoch"] == 2, same.stderr


def test_adam_beta1_reaches_every_optimizer_and_the_config(tmp_path):
    import json

    out = tmp_path / "run"
    run("train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--out", str(out), "--width", "8",
        "--latent-dim", "8", "--limit", "64", "--batch-size", "32", "--no-progress", "--device", "cpu",
        "--adam-beta1", "0.9")
    assert json.loads((out / "config.json").read_text())["train"]["beta1"] == 0.9
    from vaegan_core.training.train import Trainer

    trainer = Trainer.resume(out, epochs=2)
    assert {group["betas"][0] for optimizer in trainer.optimizers.values() for group in optimizer.param_groups} == {0.9}


def test_corrupt_checkpoint_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{")
    one_line_error(run("info", str(tmp_path), check=False), "config.json is not valid JSON", code=1)


def test_missing_dataset_is_one_line(tmp_path):
    result = run("train", "--model", "vae", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--data-dir", str(tmp_path), check=False)
    one_line_error(result, "mnist train split not found")


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("train", "sample", "info", "eval", "train-classifier"):
        assert command in text


def test_a_mistyped_command_or_choice_gets_a_suggestion(capsys):
    from vaegan_core.cli import main

    for argv, suggestion in ((["tran"], "did you mean 'train'?"),
                             (["train", "--model", "vaegn", "--epochs", "1", "--out", "x"], "did you mean 'vaegan'?")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        error = capsys.readouterr().err
        assert stop.value.code == 2 and suggestion in error and error.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["xyz"])
    assert "did you mean" not in capsys.readouterr().err


def test_info_shows_the_default_learning_rate_as_a_rate(tmp_path, capsys):
    from vaegan_core.cli import main
    from vaegan_core.training.train import Trainer

    from conftest import tiny_model_config, tiny_train_config

    Trainer(tiny_model_config("gan"), tiny_train_config(), tmp_path, progress=False).fit()
    assert main(["info", str(tmp_path)]) == 0
    train = json.loads(capsys.readouterr().out)["train"]
    # a new run stores the rate it trains at; a file that stored 0 ("the default") shows the rate too
    # (tests/test_api_cli_path.py::test_a_checkpoint_that_stored_lr_0_resumes_as_it_did)
    assert train["lr"] == 2e-4 and train["lr_discriminator"] == "0.0002 (same as lr)"


def test_the_hybrid_recipe_levers_reach_the_config_and_resume_with_it(tmp_path):
    """--prior-gan-weight, --feature-stage and --kl-warmup are stored in config.json, kept by a resumed run and
    refused when changed on --resume, but for --prior-gan-weight: a fine-tuning stage, with the run's own optimizer
    state or a fresh one, each recorded in the state's "stages"."""
    out = tmp_path / "run"
    flags = ["--prior-gan-weight", "3", "--feature-stage", "2", "--kl-warmup", "1"]
    run("train", "--model", "vaegan", "--dataset", "digits", "--epochs", "1", "--out", str(out), "--width", "8",
        "--latent-dim", "8", "--limit", "64", "--batch-size", "32", "--no-progress", "--device", "cpu", *flags)
    config = json.loads((out / "config.json").read_text())
    assert (config["model"]["prior_gan_weight"], config["model"]["feature_stage"], config["train"]["kl_warmup"]) \
        == (3.0, 2, 1)
    run("train", "--out", str(out), "--epochs", "2", "--resume", "--no-progress", *flags)
    assert json.loads((out / "config.json").read_text())["model"]["feature_stage"] == 2
    one_line_error(run("train", "--out", str(out), "--epochs", "3", "--resume", "--kl-warmup", "2", check=False),
                   "--kl-warmup cannot change when resuming")
    one_line_error(run("train", "--out", str(out), "--epochs", "3", "--resume", "--kl-warmup", "0", check=False),
                   "--kl-warmup cannot change when resuming")  # the default's value, typed, is a change too
    one_line_error(run("train", "--out", str(out), "--epochs", "3", "--resume", "--kl-warm=0", check=False),
                   "--kl-warmup cannot change when resuming")  # in any spelling argparse accepts
    assert "stages" not in json.loads((out / "config.json").read_text())["state"]  # a plain resume is no stage
    # the prior samples' GAN weight may change on a resume that keeps the optimizer state (a fine-tuning stage) ...
    run("train", "--out", str(out), "--epochs", "3", "--resume", "--prior-gan-weight", "2", "--no-progress")
    config = json.loads((out / "config.json").read_text())
    assert (config["model"]["prior_gan_weight"], config["state"]["epoch"]) == (2.0, 3)
    assert config["state"]["stages"] == [{"from_epoch": 2, "optimizer": "kept", "changed": {"prior_gan_weight": 2.0}}]
    # ... or from the weights alone; the record grows, and a moving average may only be added there
    one_line_error(run("train", "--out", str(out), "--epochs", "4", "--resume", "--ema-decay", "0.99", check=False),
                   "--ema-decay may add a moving average with --reset-optimizer")
    run("train", "--out", str(out), "--epochs", "4", "--resume", "--reset-optimizer", "--prior-gan-weight", "1",
        "--no-progress")
    config = json.loads((out / "config.json").read_text())
    assert (config["model"]["prior_gan_weight"], config["state"]["epoch"]) == (1.0, 4)
    assert config["state"]["stages"][1:] == [{"from_epoch": 3, "optimizer": "fresh",
                                              "changed": {"prior_gan_weight": 1.0}}]
    assert ("- continued: from epoch 2 with a kept optimizer (prior_gan_weight 2.0); from epoch 3 with a fresh "
            "optimizer (prior_gan_weight 1.0)") in (out / "README.md").read_text()  # the model card says it too


def test_a_resumed_constant_rate_run_can_add_a_cosine_decay_stage(tmp_path):
    """--lr-schedule cosine on --resume of a constant-rate run: the rates keep their values up to the epoch resumed
    from and fall along a cosine to 0 at the new last epoch, with the run's own optimizer state; config.json and its
    stages record it. A cosine run cannot go back to a constant rate (one line, nothing written)."""
    import math

    from vaegan_core.training.train import Trainer

    out = tmp_path / "run"
    run("train", "--model", "gan", "--dataset", "digits", "--epochs", "2", "--out", str(out), "--width", "8",
        "--latent-dim", "8", "--limit", "64", "--batch-size", "32", "--no-progress", "--device", "cpu")
    run("train", "--out", str(out), "--epochs", "4", "--resume", "--lr-schedule", "cosine", "--no-progress")
    config = json.loads((out / "config.json").read_text())
    assert (config["train"]["lr_schedule"], config["train"]["lr_decay_from"], config["state"]["epoch"]) == ("cosine", 2, 4)
    assert config["state"]["stages"] == [{"from_epoch": 2, "optimizer": "kept", "changed": {"lr_schedule": "cosine"}}]
    trainer = Trainer.resume(out, epochs=4, progress=False)
    steps = trainer.steps_per_epoch
    assert [trainer.learning_rate_factor(epoch * steps) for epoch in (0, 1, 2)] == [1.0, 1.0, 1.0]
    assert math.isclose(trainer.learning_rate_factor(3 * steps), 0.5) and trainer.learning_rate_factor(4 * steps) == 0.0
    for name, optimizer in trainer.optimizers.items():  # the rates the last step ran at, kept in the trainer state
        assert math.isclose(optimizer.param_groups[0]["lr"], trainer.base_lr[name] * trainer.learning_rate_factor(4 * steps - 1))
    assert trainer.learning_rate_factor(4 * steps - 1) < 0.5
    before = (out / "config.json").read_text()
    one_line_error(run("train", "--out", str(out), "--epochs", "5", "--resume", "--lr-schedule", "constant", check=False),
                   "cannot switch to constant")
    assert (out / "config.json").read_text() == before


def test_a_model_trained_on_a_folder_runs_anomaly_and_fit_gmm_without_flags_it_lacks(tmp_path, capsys):
    """anomaly and fit-gmm take the image size and channels from the model (they have no flags for them), and
    --track-fid / --keep-best on a folder are refused before any work, not turned off after an epoch."""
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for index in range(24):
            Image.fromarray(np.random.default_rng(index).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                tmp_path / "photos" / name / f"{index}.png")
    data = f"folder:{tmp_path / 'photos'}"
    common = ["--model", "vae", "--dataset", data, "--image-size", "16", "--channels", "3", "--width", "8",
              "--batch-size", "8", "--epochs", "1", "--device", "cpu", "--no-progress"]
    assert main(["train", "--out", str(tmp_path / "kept"), "--track-fid", "100", "--keep-best"] + common) == 1
    assert "leave them out for an image folder" in capsys.readouterr().err
    assert not (tmp_path / "kept").exists()
    run = tmp_path / "run"
    assert main(["train", "--out", str(run)] + common) == 0
    capsys.readouterr()
    assert main(["anomaly", str(run), "--against", "noise", "--n", "10"]) == 0
    assert "auc" in capsys.readouterr().out
    assert main(["anomaly", str(run), "--against", "mnist", "--n", "10"]) == 2
    assert "use a corruption" in capsys.readouterr().err
    assert main(["fit-gmm", str(run), "--components", "2", "--no-progress"]) == 0
    assert (run / "latent_gmm.safetensors").is_file()


def test_ctrl_c_while_a_folder_is_decoded_is_one_line(tmp_path, capsys, monkeypatch):
    from PIL import Image

    from vaegan_core.training import folder_cache

    (tmp_path / "photos").mkdir()
    for index in range(12):
        Image.new("RGB", (20, 20), (index * 20, 0, 0)).save(tmp_path / "photos" / f"{index}.png")
    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(folder_cache, "decode", interrupted)
    code = main(["train", "--model", "vae", "--dataset", f"folder:{tmp_path / 'photos'}", "--image-size", "16",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 130 and "interrupted" in error and error.count("\n") == 1 and "Traceback" not in error
    assert not (tmp_path / "run").exists()


def test_a_folder_models_class_names_are_stored_as_trained(tmp_path, capsys, monkeypatch):
    """The labels of a conditional model trained on a folder keep their names when the folder changes later (a
    class added before the others, an empty class removed): the names are in the checkpoint."""
    from PIL import Image

    from vaegan_core.storage.checkpoint import load_model

    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))
    for name, value in (("bees", 60), ("cows", 200)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for index in range(20):
            Image.new("L", (16, 16), value + index).save(tmp_path / "photos" / name / f"{index}.png")
    (tmp_path / "photos" / "empty").mkdir()
    run = tmp_path / "run"
    assert main(["train", "--model", "vae", "--conditional", "--dataset", f"folder:{tmp_path / 'photos'}",
                 "--image-size", "16", "--channels", "1", "--width", "8", "--batch-size", "8", "--epochs", "1",
                 "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert load_model(run).class_names == ["bees", "cows", "empty"]
    (tmp_path / "photos" / "ants").mkdir()  # sorts first: read from the folder, every label would shift
    Image.new("L", (16, 16), 9).save(tmp_path / "photos" / "ants" / "0.png")
    assert main(["sample", str(run), "--labels", "0,1", "--out", str(tmp_path / "s.png")]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == ["bees", "cows"]
