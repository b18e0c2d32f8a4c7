"""The papercuts of issue 53 (item 8), each as a user meets it on the command line: a resume that trains nothing,
--nproc's refusals, the advice for a folder of too few images, eval on a tiny test split, fit-gmm's components,
sample's --out folders, --no-progress's epoch lines and the defaults in `vaegan train --help`."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_model_config, tiny_train_config
from vaegan_core.cli import main
from vaegan_core.config import ModelConfig, TrainConfig

TINY = ["--dataset", "digits", "--width", "8", "--latent-dim", "4", "--limit", "64", "--batch-size", "16",
        "--device", "cpu", "--no-progress"]


def one_line(capsys, argv: list[str], code: int) -> str:
    """main(argv) ends with ``code`` (its return or argparse's exit) and one line on stderr, which is returned."""
    try:
        returned = main(argv)
    except SystemExit as stop:
        returned = stop.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert returned == code, captured.err
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def files_of(folder) -> dict:
    """Every file under ``folder`` with its bytes and modification time: what "nothing changed" compares."""
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def image_folder(root, names: list[str], size: int = 16) -> str:
    """A flat folder of random grey images called ``names``; its --dataset."""
    root.mkdir(parents=True)
    for index, name in enumerate(names):
        Image.fromarray(np.random.default_rng(index).integers(0, 255, (size, size), dtype=np.uint8)).save(root / name)
    return f"folder:{root}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GAN trained for one epoch on digits."""
    from vaegan_core.training.train import Trainer

    out = tmp_path_factory.mktemp("papercuts") / "gan"
    Trainer(tiny_model_config("gan", latent_dim=4), tiny_train_config(), out, progress=False).fit()
    return out


@pytest.fixture
def folder_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))


# 1 ---------------------------------------------------------------------------------------------------------------
def test_a_resume_that_would_train_nothing_is_a_usage_error_and_leaves_the_folder_alone(trained, capsys):
    before = files_of(trained)
    for extra in ([], ["--reset-optimizer"]):
        line = one_line(capsys, ["train", "--resume", "--out", str(trained), "--epochs", "1", "--no-progress", *extra], 2)
        assert "is at epoch 1" in line and "pass --epochs above 1" in line and "--epochs 2" in line, line
    assert files_of(trained) == before


# 2 ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def launches(monkeypatch) -> list:
    """torchrun never starts: each launch is recorded, and fails as a refusing process would."""
    from vaegan_core.training import distributed

    launched = []
    monkeypatch.setattr(distributed, "launch", lambda nproc, argv: launched.append(argv) or 1)
    return launched


def test_nproc_checks_the_settings_before_it_starts_torchrun(tmp_path, capsys, launches, trained):
    new = ["train", "--model", "vaegan", "--epochs", "1", "--nproc", "2", *TINY]
    # what the model refuses on several processes: --equilibrium (a VAE-GAN's per-step choice of players)
    line = one_line(capsys, [*new, "--equilibrium", "--out", str(tmp_path / "eq")], 1)
    assert "--equilibrium" in line and "one process" in line
    # what it refuses on any number: the same line and exit code as with --nproc 1
    lines = [one_line(capsys, [*new, "--nproc", str(nproc), "--batch-size", "1", "--out", str(tmp_path / f"b{nproc}")],
                      1) for nproc in (2, 1)]
    assert lines[0] == lines[1] and "BatchNorm" in lines[0]
    # a folder that holds a checkpoint, and a resume that changes a kept setting
    assert "already holds a checkpoint" in one_line(capsys, [*new, "--out", str(trained)], 1)
    line = one_line(capsys, ["train", "--resume", "--out", str(trained), "--epochs", "3", "--nproc", "2", "--lr", "0.1"],
                    2)
    assert "--lr cannot change when resuming" in line
    assert launches == [] and not any((tmp_path / name).exists() for name in ("eq", "b1", "b2"))


# 3 ---------------------------------------------------------------------------------------------------------------
def test_too_few_images_advise_more_images_or_a_smaller_batch_not_the_limit(tmp_path, capsys, folder_cache):
    data = image_folder(tmp_path / "photos", [f"{index}.png" for index in range(12)])
    line = one_line(capsys, ["train", "--model", "vae", "--dataset", data, "--image-size", "16", "--channels", "1",
                             "--width", "8", "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"], 1)
    assert "fewer than one batch of 64" in line and "add images to the folder" in line and "--batch-size" in line
    assert "--limit" not in line  # the whole folder is in use: a higher limit cannot help
    assert not (tmp_path / "run").exists()
    # where --limit did cut the split, raising it helps, and is said
    line = one_line(capsys, ["train", "--model", "vae", "--epochs", "1", "--out", str(tmp_path / "cut"), *TINY,
                             "--limit", "10"], 1)
    assert "raise --limit (the split has 1,437)" in line and "lower --batch-size to 10 or less" in line


# 4 ---------------------------------------------------------------------------------------------------------------
def test_check_real_count_names_the_numbers_and_the_fixes():
    from vaegan_core.errors import MetricError
    from vaegan_core.metrics.evaluate import METRICS, WITHOUT_REAL_FEATURES, check_real_count

    with pytest.raises(MetricError, match=r"has 100 test images, too few: FID needs more than the 2048 features"
                                          r".*add images to the folder.*--split train.*--force"):
        check_real_count(100, 5000, "inception", METRICS, False, "folder:/data/photos", "test")
    with pytest.raises(MetricError, match=r"has 4 test images.*need at least 6"):
        check_real_count(4, 5000, "inception", METRICS, True, "folder:/data/photos", "test")
    with pytest.raises(MetricError, match="--n 4 generated images are too few"):
        check_real_count(10_000, 4, "lenet", METRICS, True, "mnist", "test")
    check_real_count(4, 5000, "inception", WITHOUT_REAL_FEATURES, True, "folder:/data/photos", "test")  # FID alone
    check_real_count(10_000, 10_000, "lenet", METRICS, False, "mnist", "test")


def test_eval_on_a_tiny_test_split_stops_before_any_feature(tmp_path, capsys, folder_cache, monkeypatch):
    from vaegan_core.errors import MetricError
    from vaegan_core.metrics import evaluate as evaluation
    from vaegan_core.storage.checkpoint import load_model
    from vaegan_core.training.folders import split_of

    names = [f"{index}.png" for index in range(200)]
    test = [name for name in names if split_of(name) == "test"][:3]
    data = image_folder(tmp_path / "photos", test + [name for name in names if split_of(name) == "train"][:30])
    run = tmp_path / "run"
    assert main(["train", "--model", "vae", "--dataset", data, "--image-size", "16", "--channels", "1", "--width", "8",
                 "--latent-dim", "4", "--batch-size", "8", "--epochs", "1", "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()

    def no_work(*args, **kwargs):
        raise AssertionError("the extractor was loaded")

    monkeypatch.setattr(evaluation, "load_extractor", no_work)
    line = one_line(capsys, ["eval", str(run), "--n", "10", "--force", "--no-progress", "--no-diagnostics"], 1)
    assert "has 3 test images, too few" in line and "need at least 6" in line and "add images" in line, line
    assert not (run / "metrics.json").exists()
    with pytest.raises(MetricError, match="has 3 test images"):  # the library checks the decoded split too
        evaluation.evaluate(load_model(run), data, n=10, extractor="inception", force=True)


# 5 ---------------------------------------------------------------------------------------------------------------
def test_fit_gmm_warns_when_the_codes_are_too_few_for_full_covariances():
    from vaegan_core.models.prior import gmm_of_codes

    codes = np.random.default_rng(0).normal(size=(200, 16))
    with pytest.warns(UserWarning, match=r"20 full-covariance components on 200 codes of 16 dimensions leave about "
                                         r"10 codes per component, fewer than the 17 .* --components 11 or fewer"):
        gmm_of_codes(codes, components=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gmm_of_codes(codes[:, :4], components=20)  # 10 codes per component of 4 dimensions: enough


def test_fit_gmm_command_says_the_warning(tmp_path, capsys):
    from vaegan_core.training.train import Trainer

    Trainer(tiny_model_config("vae", latent_dim=16), tiny_train_config(), tmp_path, progress=False).fit()
    with pytest.warns(UserWarning, match=r"1,437 codes of 16 dimensions.*--components 84 or fewer"):
        assert main(["fit-gmm", str(tmp_path), "--components", "100", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["components"] == 100  # warned, and fitted as asked


# 6 ---------------------------------------------------------------------------------------------------------------
def test_sample_creates_the_folders_of_out_but_refuses_a_folder(trained, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "grid.png"
    assert main(["sample", str(trained), "--n", "4", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(out) and Image.open(out).size[0] > 0
    (tmp_path / "made.png").mkdir()
    for folder in (tmp_path, tmp_path / "made.png"):
        assert "is a folder" in one_line(capsys, ["sample", str(trained), "--out", str(folder)], 2)
    (tmp_path / "plain").write_text("")
    assert "is a file, not a folder" in one_line(capsys, ["sample", str(trained), "--out",
                                                          str(tmp_path / "plain" / "x.png")], 2)


# 7 ---------------------------------------------------------------------------------------------------------------
def test_no_progress_prints_one_line_per_epoch_and_leaves_stdout_to_the_json(tmp_path, capsys):
    assert main(["train", "--model", "gan", "--epochs", "2", "--out", str(tmp_path / "run"), *TINY]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["epoch"] == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2, captured.err
    number = r"-?[\d.]+(?:e[-+]\d+)?"
    for epoch, line in enumerate(lines, 1):  # e.g. epoch 1/2: discriminator 1.386, generator 0.69, d_accuracy 0.3 (0.1 s)
        assert re.fullmatch(rf"epoch {epoch}/2: discriminator {number}, generator {number}, d_accuracy {number} "
                            r"\(\d+\.\d s\)", line), line


# 8 ---------------------------------------------------------------------------------------------------------------
def help_texts(capsys, monkeypatch) -> dict[str, str]:
    """{option: its help text, lines joined} of `vaegan train --help`."""
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as stop:
        main(["train", "--help"])
    assert stop.value.code == 0
    texts, option = {}, None
    for line in capsys.readouterr().out.splitlines():
        match = re.match(r"  (-[-\w]+)(?: [^ ]+)?(?:  +(.*))?$", line)
        if match:
            option = match.group(1)
            texts[option] = match.group(2) or ""
        elif option and line.startswith(" " * 10):
            texts[option] += " " + line.strip()
    return texts


def test_train_help_shows_each_default_from_the_configs(capsys, monkeypatch):
    from vaegan_core.cli import train

    texts = help_texts(capsys, monkeypatch)
    expected = {"--batch-size": TrainConfig.batch_size, "--width": ModelConfig.width,
                "--latent-dim": ModelConfig.latent_dim, "--beta": ModelConfig.beta, "--gamma": ModelConfig.gamma,
                "--log-every": TrainConfig.log_every, "--likelihood": ModelConfig.likelihood,
                "--precision": TrainConfig.precision, "--nproc": 1, "--image-size": train.FOLDER_IMAGE_SIZE}
    # and every saved setting with a default to show: the one the command really uses when the flag is left out
    expected.update({train._flag(option): value for option, value in train._DEFAULTS.items()
                     if value is not None and not isinstance(value, bool)})
    assert expected["--batch-size"] == 64 and expected["--latent-dim"] == 32  # the values the issue named
    for flag, value in expected.items():
        found = re.search(r"\(default ([^:;,)]+)", texts[flag])
        assert found, f"{flag}: {texts[flag]}"
        shown = found.group(1)
        assert (float(shown) == value if isinstance(value, (int, float)) else shown == value), (flag, shown, value)
