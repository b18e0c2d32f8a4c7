"""Set-up in two commands (issue 47): `scripts/dev app`, `scripts/dev test` (README's test command, which .ci/run
calls) and `vaegan data fetch`, which downloads a dataset only when it does not load from the data folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from vaegan_core.training import data as data_module
from vaegan_core.cli import main

from conftest import REPO as ROOT  # noqa: E402
DEV = ROOT / "scripts" / "dev"


def _no_download(name, cache):
    raise AssertionError(f"downloaded {name} although it was there")


def _offline_download(name, cache):
    """What `_download_with_torchvision` does without internet: a warning, no files."""
    warnings.warn(f"torchvision download of {name} failed: Error downloading train-images-idx3-ubyte.gz:\n"
                  "Tried https://ossci-datasets.s3.amazonaws.com/mnist/, got:\n"
                  "<urlopen error [Errno -2] Name or service not known>\n", stacklevel=2)


def test_fetch_with_the_data_there_downloads_nothing(data_dir, monkeypatch, capsys):
    monkeypatch.setattr(data_module, "_download_with_torchvision", _no_download)
    assert main(["data", "fetch", "--data-dir", data_dir]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"mnist: already in {data_dir}", f"fashion-mnist: already in {data_dir}"]
    assert '"mnist": "already there"' in captured.out and '"fashion-mnist": "already there"' in captured.out


def test_fetch_offline_into_an_empty_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VAEGAN_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(data_module, "_download_with_torchvision", _offline_download)
    assert main(["data", "fetch", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    assert lines[0].startswith(f"vaegan data: error: mnist could not be downloaded into {tmp_path}")
    assert "Name or service not known" in lines[0] and "no internet?" in lines[0]
    assert "VAEGAN_DATA_DIR" in lines[0] and "docs/data.md" in lines[0] and "t10k-images-idx3-ubyte.gz" in lines[0]
    assert list(tmp_path.iterdir()) == []  # the download's staging folder is gone


def test_fetch_with_downloads_off_is_one_line_without_a_traceback(tmp_path):
    """A real process, torchvision not patched: VAEGAN_OFFLINE stops it before any network access."""
    env = {**os.environ, "VAEGAN_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "vaegan_core.cli", "data", "fetch", "--dataset", "fashion-mnist",
                           "--data-dir", str(tmp_path / "data")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "fashion-mnist could not be downloaded" in done.stderr and "VAEGAN_OFFLINE" in done.stderr


def test_a_download_lands_where_load_dataset_looks(data_dir, tmp_path, monkeypatch, capsys):
    """torchvision writes MNIST/raw/ (the .gz files and their extracted copies); fetch moves the .gz files into
    DIR/mnist/, the folder tests/conftest.py and fetch-datasets use."""
    def torchvision_layout(name, cache):
        raw = Path(cache) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for source in (Path(data_dir) / "mnist").glob("*.gz"):
            shutil.copy(source, raw / source.name)
            (raw / source.stem).write_bytes(b"extracted")

    monkeypatch.setattr(data_module, "_download_with_torchvision", torchvision_layout)
    assert main(["data", "fetch", "--dataset", "mnist", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().err == f"mnist: downloaded into {tmp_path / 'mnist'}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mnist"]
    assert len(list((tmp_path / "mnist").glob("*.gz"))) == 4
    images, labels = data_module.load_dataset("mnist", "test", root=tmp_path)
    assert images.shape == (10_000, 1, 28, 28) and labels.shape == (10_000,)


def test_dev_help():
    done = subprocess.run([str(DEV), "help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "scripts/dev test" in done.stdout and "scripts/dev app" in done.stdout


def test_dev_unknown_command_is_one_line():
    done = subprocess.run([str(DEV), "tset"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "use app, test or help" in done.stderr


def test_dev_test_dry_run_prints_the_steps_in_order(tmp_path):
    """On a fresh clone (no .venv, no web/node_modules), outside any virtual environment: every step, run none."""
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    (clone / "web").mkdir()
    shutil.copy(DEV, clone / "scripts" / "dev")
    shutil.copy(ROOT / "pyproject.toml", clone / "pyproject.toml")
    (clone / "web" / "package-lock.json").write_text("{}")
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env.update(VAEGAN_DEV_DRY_RUN="1", VAEGAN_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([str(clone / "scripts" / "dev"), "test", "-k", "x"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stderr.splitlines() if line.startswith("+ ")]
    npm = (["+ npm ci --prefix web --no-audit --no-fund"] if shutil.which("npm") else [])
    assert steps == ["+ python3 -m venv .venv", "+ .venv/bin/python -m pip install --upgrade pip",
                     "+ python -m pip install -e .[dev]", *npm,
                     f"+ vaegan data fetch --data-dir {tmp_path / 'data'}", "+ python -m pytest -k x"], done.stderr
    if not npm:
        assert "npm is missing" in done.stderr
    assert sorted(path.name for path in clone.iterdir()) == ["pyproject.toml", "scripts", "web"]  # nothing made
    assert not (tmp_path / "data").exists()


def test_ci_runs_readmes_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Test\n", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"```bash\n(.*?)\n```", section, re.S).group(1) == "scripts/dev test"
    setup = readme.split("\n## Set up and run\n", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in re.search(r"```bash\n(.*?)\n```", setup, re.S).group(1).splitlines()]
    assert [line.split("#")[0].strip() for line in commands] == ["scripts/dev app"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert "scripts/dev test" in ci
    assert not any(re.match(r"(python -m )?pytest|pip install|npm ci", line) for line in ci)  # scripts/dev does them
    assert os.access(DEV, os.X_OK)
