"""`vaegan train --config FILE` (issue 53): a TOML [train] table of the train options, each value checked as its flag,
the command line winning; `vaegan info DIR --config FILE` writes a run's file, from which it trains again; the
shipped recipes in configs/."""

import json
import sys

import pytest
import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from conftest import REPO
from vaegan_core.cli import build_parser, main
from vaegan_core.cli.train import _given_settings
from vaegan_core.config import IDX_DATASETS, MODEL_KINDS
from vaegan_core.errors import ConfigError
from vaegan_core.storage.zoo import DEFAULT_EPOCHS, recipe
from vaegan_core.training import config_file

TINY = ["--width", "8", "--latent-dim", "8", "--limit", "64", "--batch-size", "32", "--ema-decay", "0.9",
        "--precision", "fp32", "--device", "cpu", "--seed", "3"]
QUIET = ["--no-progress", "--threads", "1"]  # a CPU's sums depend on its threads: fixed, the run repeats bit for bit


def write(path, body: str):
    path.write_text(body, encoding="utf-8")
    return str(path)


def parse(*argv):
    return build_parser().parse_args(["train", *argv])


def one_line_error(capsys, argv, pattern, code=2):
    """main(argv) fails with exit code ``code`` (argparse's exit, or main's return) and one line on stderr."""
    try:
        returned = main(argv)
    except SystemExit as stop:
        returned = stop.code
    assert returned == code
    error = capsys.readouterr().err
    lines = error.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in error, error
    assert pattern in lines[0], lines[0]
    return lines[0]


def test_a_file_stands_for_its_flags_and_the_command_line_wins(tmp_path):
    path = write(tmp_path / "run.toml", '[train]\nmodel = "vae"\ndataset = "digits"\nepochs = 2\nwidth = 8\n'
                                        'beta = 4\nequilibrium = true\nconditional = false\nlr = "2e-4"\n')
    typed = parse("--model", "vae", "--dataset", "digits", "--epochs", "2", "--width", "8", "--beta", "4",
                  "--equilibrium", "--no-conditional", "--lr", "2e-4", "--out", "x")
    from_file = parse("--config", path, "--out", "x")
    assert from_file.config == path and {k: v for k, v in vars(from_file).items() if k not in ("config", "config_argv")} \
        == {k: v for k, v in vars(typed).items() if k != "config"}
    # a switch set to false is a value given (--no-conditional), as one set to true is
    assert _given_settings(from_file) == _given_settings(typed) == {"width", "beta", "equilibrium", "conditional", "lr"}
    # a flag on the command line wins, before or after --config, in any spelling argparse takes
    for argv in (["--width", "16", "--config", path], ["--config", path, "--width=16"], ["--conf=" + path, "--width", "16"]):
        args = parse(*argv, "--out", "x")
        assert (args.width, args.beta, args.model, args.epochs) == (16, 4.0, "vae", 2)
        assert "width" in _given_settings(args)
    empty = parse("--config", write(tmp_path / "empty.toml", "[train]\n"), "--epochs", "1", "--out", "x")
    assert _given_settings(empty) == set() and empty.width == 64  # nothing given: the defaults filled in


@pytest.mark.parametrize("body, pattern", [
    ("widht = 8", "unknown setting 'widht'; did you mean 'width'?"),
    ("batch-size = 8", "unknown setting 'batch-size'; did you mean 'batch_size'?"),
    ("width = 8.5", "width: expected an integer, got '8.5'"),
    ("width = \"abc\"", "width: expected an integer, got 'abc'"),
    ("width = 100000", "width: expected a positive integer up to 256"),
    ("width = true", "width takes a value"),
    ("width = [8]", "width must be a number or a string, got a list"),
    ("equilibrium = 1", "equilibrium must be true or false, got 1"),
    ("model = \"vaegn\"", "model: invalid choice: 'vaegn'"),
    ("channels = 2", "channels: invalid choice: 2"),
    ("lr = -1", "lr: expected a finite number >= 0, got -1"),
    ("ema_decay = nan", "ema_decay: expected a finite number >= 0, got nan"),
    ("adam_beta1 = 1", "adam_beta1: expected a number in [0, 1)"),
    ("out = \"x\"", "out is not a config-file setting: give --out on the command line"),
    ("resume = true", "give --resume on the command line"),
])
def test_a_wrong_value_is_one_line_naming_the_file_and_the_key(tmp_path, capsys, body, pattern):
    path = write(tmp_path / "run.toml", f"[train]\n{body}\n")
    line = one_line_error(capsys, ["train", "--config", path, "--out", "x"], pattern)
    assert line.startswith(f"vaegan train: error: {path}: ")
    if "vaegn" in body:
        assert "did you mean 'vaegan'?" in line


@pytest.mark.parametrize("content, pattern", [
    (b"[train\nmodel = 1\n", "is not valid TOML"),
    (b"model = \"vae\"\n", "'model' outside the [train] table"),
    (b"[model]\n", "'model' outside the [train] table"),
    (b"train = 3\n", "train must be a table"),
    (b"# nothing\n", "has no [train] table"),
    (b"[train]\nmodel = \"\xff\"\n", "is not UTF-8 text"),
    (b"[train]\n" + b"#" * (config_file.MAX_BYTES + 1), "is over 64 KiB"),
])
def test_a_file_that_is_not_a_config_file_is_one_line(tmp_path, capsys, content, pattern):
    path = tmp_path / "run.toml"
    path.write_bytes(content)
    one_line_error(capsys, ["train", "--config", str(path), "--out", "x"], pattern)


def test_a_missing_file_a_folder_and_two_files_are_one_line(tmp_path, capsys):
    one_line_error(capsys, ["train", "--config", str(tmp_path / "no.toml"), "--out", "x"], "does not exist")
    one_line_error(capsys, ["train", "--config", str(tmp_path), "--out", "x"], "is not a file")
    path = write(tmp_path / "run.toml", "[train]\nepochs = 1\n")
    one_line_error(capsys, ["train", "--config", path, "--config", path, "--out", "x"], "give --config once")
    # the file need not name a required option, but the command then must
    one_line_error(capsys, ["train", "--config", write(tmp_path / "e.toml", "[train]\n"), "--out", "x"],
                   "required: --epochs")


def test_reading_needs_tomllib_or_tomli(monkeypatch):
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ConfigError, match="needs Python 3.11 or the tomli package"):
        config_file.read(REPO / "configs" / "mnist-vae.toml")


def test_strings_are_written_as_toml_reads_them():
    settings = {"dataset": 'folder:/data/"odd" \\ été\t\x7f\x01', "lr": 1e-05, "ema_decay": 0.999, "width": 8,
                "keep_best": True}
    assert tomllib.loads(config_file.to_toml(settings, ["a comment", "  a command"]))["train"] == settings


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run trained with flags, and the config file `vaegan info --config` writes of it."""
    folder = tmp_path_factory.mktemp("runs")
    out, path = folder / "flags", folder / "run.toml"
    assert main(["train", "--model", "vaegan", "--dataset", "digits", "--epochs", "2", "--out", str(out), *TINY,
                 *QUIET]) == 0
    assert main(["info", str(out), "--config", str(path)]) == 0
    return out, path


def test_info_writes_the_runs_settings(trained, capsys):
    out, path = trained
    settings = tomllib.loads(path.read_text(encoding="utf-8"))["train"]
    assert {key: settings[key] for key in ("model", "dataset", "epochs", "width", "latent_dim", "limit", "batch_size",
                                           "ema_decay", "precision", "device", "seed", "equilibrium")} == \
        {"model": "vaegan", "dataset": "digits", "epochs": 2, "width": 8, "latent_dim": 8, "limit": 64,
         "batch_size": 32, "ema_decay": 0.9, "precision": "fp32", "device": "cpu", "seed": 3, "equilibrium": False}
    assert "image_size" not in settings and "channels" not in settings  # the built-in datasets have theirs
    capsys.readouterr()
    assert main(["info", str(out)]) == 0 and "config_file" not in json.loads(capsys.readouterr().out)
    one_line_error(capsys, ["info", str(out), "--config", str(out / "config.json")], "must end in .toml")
    one_line_error(capsys, ["info", str(out), "--config", str(out / "no" / "x.toml")], "does not exist")


def test_config_round_trips_with_info(trained, capsys):
    """The file of `vaegan info --config` trains the same run: the same config.json settings, the same weights."""
    from safetensors.torch import load_file

    out, path = trained
    again = out.parent / "again"
    assert main(["train", "--config", str(path), "--out", str(again), *QUIET]) == 0
    first, second = (json.loads((folder / "config.json").read_text()) for folder in (out, again))
    assert (first["model"], first["train"]) == (second["model"], second["train"])
    weights, copied = load_file(out / "model.safetensors"), load_file(again / "model.safetensors")
    assert weights.keys() == copied.keys() and all(torch.equal(weights[k], copied[k]) for k in weights)

    # on --resume, the file is as its flags typed: its own values are no change, another value is refused
    capsys.readouterr()
    assert main(["train", "--resume", "--config", str(path), "--out", str(again), "--epochs", "3", *QUIET]) == 0
    assert json.loads((again / "config.json").read_text())["state"]["epoch"] == 3
    changed = write(out.parent / "wider.toml", path.read_text().replace("width = 8\n", "width = 16\n"))
    capsys.readouterr()  # the run's own epoch lines (--no-progress) are not the error's
    one_line_error(capsys, ["train", "--resume", "--config", changed, "--out", str(again), "--epochs", "4"],
                   "--width cannot change when resuming")


def test_a_continued_run_says_what_its_file_cannot(trained):
    from vaegan_core.storage.checkpoint import read_config
    from vaegan_core.cli.train import _SAVED_SETTINGS

    saved = read_config(trained[0])
    saved["state"] = {**saved["state"], "epoch": 1, "stages": [{"from_epoch": 1, "optimizer": "kept",
                                                                "changed": {"prior_gan_weight": 2.0}}]}
    saved["model_config"] = type(saved["model_config"])(**{**vars(saved["model_config"]), "gaussian_sigma": 0.2})
    text = config_file.checkpoint_toml(saved, _SAVED_SETTINGS, source="run")
    assert tomllib.loads(text)["train"]["epochs"] == 1
    comments = " ".join(line[1:].strip() for line in text.splitlines() if line.startswith("#"))
    assert "sets 2 epochs; the weights are those of epoch 1" in comments
    assert "from epoch 1 (kept optimizer): prior_gan_weight = 2.0" in comments
    assert "gaussian_sigma = 0.2, which no `vaegan train` option sets" in comments


def test_nproc_hands_its_processes_the_files_flags(tmp_path, monkeypatch, capsys):
    from vaegan_core.training import distributed

    launched = []
    monkeypatch.setattr(distributed, "launch", lambda nproc, argv: launched.append((nproc, argv)) or 1)
    path = write(tmp_path / "run.toml", '[train]\nmodel = "gan"\ndataset = "digits"\nepochs = 1\nnproc = 2\nwidth = 8\n')
    one_line_error(capsys, ["train", "--config", path, "--out", str(tmp_path / "run")], "on 2 processes stopped", 1)
    assert launched == [(2, ["train", "--model=gan", "--dataset=digits", "--epochs=1", "--width=8", "--out",
                             str(tmp_path / "run")])]


def test_the_shipped_recipes_are_the_zoos():
    """configs/ holds one file per shipped (dataset, kind), written from vaegan_core.storage.zoo: the same text, and
    the same parsed settings as the flags scripts/train_all.sh gives."""
    folder = REPO / "configs"
    expected = {config_file.recipe_name(kind, dataset): (kind, dataset) for dataset in IDX_DATASETS for kind in MODEL_KINDS}
    assert sorted(path.name for path in folder.iterdir()) == sorted(expected), \
        "run: python -m vaegan_core.training.config_file configs"
    script = (REPO / "scripts" / "train_all.sh").read_text(encoding="utf-8")
    assert f"--seed {config_file.RECIPE_SEED} " in script and f"--track-fid {config_file.RECIPE_TRACK_FID} " in script
    for name, (kind, dataset) in expected.items():
        text = (folder / name).read_text(encoding="utf-8")
        assert text == config_file.recipe_toml(kind, dataset), "run: python -m vaegan_core.training.config_file configs"
        flags = parse("--model", kind, "--dataset", dataset, "--epochs", str(DEFAULT_EPOCHS[kind]), "--seed", "0",
                      *recipe(kind, dataset), "--track-fid", "5000", "--out", "x")
        from_file = parse("--config", str(folder / name), "--out", "x")
        assert {k: v for k, v in vars(from_file).items() if k not in ("config", "config_argv")} == \
            {k: v for k, v in vars(flags).items() if k != "config"}


def test_write_recipes(tmp_path):
    written = config_file.write_recipes(tmp_path / "configs")
    assert [path.read_text() for path in written] == [(REPO / "configs" / path.name).read_text() for path in written]


def test_a_switch_set_to_false_in_a_file_counts_on_resume(tmp_path, capsys):
    """`equilibrium = false` stands for --no-equilibrium: on --resume of a run with the trick it is a change, refused
    as a typed flag would be (before, a false switch was the flag left out, and the run went on with the trick);
    `keep_best = false` is a value given too; the switches that are not saved settings stay out of the flags."""
    from vaegan_core.models import build_model
    from vaegan_core.storage.checkpoint import save_checkpoint

    from conftest import tiny_model_config, tiny_train_config

    out = tmp_path / "trick"
    save_checkpoint(out, build_model(tiny_model_config("vaegan", equilibrium=True)), tiny_train_config(),
                    state={"epoch": 1})
    path = write(tmp_path / "off.toml", "[train]\nequilibrium = false\nkeep_best = false\ncompile = false\n")
    args = parse("--config", path, "--resume", "--epochs", "2", "--out", str(out))
    assert (args.equilibrium, args.keep_best, args.compile) == (False, False, False)
    assert _given_settings(args) == {"equilibrium", "keep_best"}
    assert args.config_argv[:2] == ["--no-equilibrium", "--no-keep-best"]  # what --nproc hands its processes
    line = one_line_error(capsys, ["train", "--resume", "--config", path, "--out", str(out), "--epochs", "2"],
                          "--no-equilibrium cannot change when resuming")
    assert "drop --no-equilibrium" in line
    one_line_error(capsys, ["train", "--resume", "--no-equilibrium", "--out", str(out), "--epochs", "2"],
                   "--no-equilibrium cannot change when resuming")
    assert parse("--no-equilibrium", "--equilibrium", "--epochs", "1", "--out", "x").equilibrium is True  # last wins
