"""One object writes a checkpoint folder (issue 47): every file of the folder is written by ``CheckpointFolder``'s
writers, which round-trip through its readers, and the savers of the package (checkpoint, card, prior, page cache,
the Trainer, resume, the live run) call them instead of writing the folder's paths themselves."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO, tiny_model_config, tiny_train_config
from vaegan_core.storage import page_cache
from vaegan_core.storage.checkpoint_folder import CheckpointFolder
from vaegan_core.storage.files import clean_temporaries

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def leftovers(folder: Path) -> list[str]:
    return [path.name for path in folder.rglob("*") if ".tmp" in path.name]


# ---------------------------------------------------------------- each writer, read back

def test_config_weights_and_trainer_state_round_trip(tmp_path):
    from safetensors.torch import load_file

    folder = CheckpointFolder(tmp_path)
    config = {"class": "VAE", "model": {"latent_dim": 8}, "state": {"epoch": 3, "class_names": ["a", "b"]}}
    folder.write_config(config)
    assert folder.config_file.read_text(encoding="utf-8") == json.dumps(config, indent=2) + "\n"
    assert folder.config_json() == config and folder.class_names() == ["a", "b"]

    tensors = {"encoder.weight": torch.arange(6.0).reshape(2, 3), "decoder.bias": torch.ones(4)}
    folder.write_weights(tensors, {"format": "pt", "epoch": "3"})
    assert folder.exists() and folder.stored_values() == 10
    assert folder.weights_metadata() == {"format": "pt", "epoch": "3"}
    assert all(torch.equal(load_file(folder.weights_file)[name], tensor) for name, tensor in tensors.items())
    assert oct(folder.weights_file.stat().st_mode & 0o777) != oct(0o600)  # readable by others, like every file

    folder.write_trainer_state({"epoch": 3, "model": tensors})
    state = torch.load(folder.trainer_state_file, weights_only=True)
    assert state["epoch"] == 3 and torch.equal(state["model"]["decoder.bias"], torch.ones(4))
    assert leftovers(tmp_path) == []


def test_card_and_gmm_round_trip(tmp_path):
    from vaegan_core.models.prior import LatentGMM

    folder = CheckpointFolder(tmp_path)
    folder.write_card("---\nlibrary_name: vaegan\n---\n# a card\n")
    assert folder.card_file.read_text(encoding="utf-8") == "---\nlibrary_name: vaegan\n---\n# a card\n"

    mixture = LatentGMM(torch.tensor([0.25, 0.75]), torch.zeros(2, 3), torch.eye(3).repeat(2, 1, 1), {"n": 40})
    assert mixture.save(tmp_path) == folder.gmm_file  # LatentGMM.save goes through write_gmm
    loaded = LatentGMM.load(tmp_path)
    assert loaded.metadata == {"n": 40} and torch.equal(loaded.weights, mixture.weights)
    assert leftovers(tmp_path) == []


def test_the_training_logs_append_and_rewrite(tmp_path):
    folder = CheckpointFolder(tmp_path)
    rows = [{"step": step, "loss": 1.0 / step} for step in (1, 2, 3)]
    with folder.history_log() as log:
        for row in rows[:2]:
            log.append(row)
            assert folder.history()[-1] == row  # flushed: a reader during the run sees the whole line
    folder.append_history(rows[2])
    assert folder.history() == rows
    assert folder.history_file.read_text(encoding="utf-8") == "".join(json.dumps(row) + "\n" for row in rows)
    folder.rewrite_history(rows[:1])
    assert folder.history() == rows[:1]
    folder.rewrite_history([])
    assert folder.history_file.read_text(encoding="utf-8") == ""

    quality = [{"epoch": epoch, "step": 10 * epoch, "train_seconds": 1.5 * epoch, "fid_domain_train": 9.0 / epoch,
                "n": 64} for epoch in (1, 2)]
    for row in quality:
        folder.append_quality(row)
    assert folder.quality() == quality
    folder.rewrite_quality(quality[:1])
    assert folder.quality_file.read_text(encoding="utf-8") == json.dumps(quality[0]) + "\n"


def test_page_cache_files_are_written_by_the_folder(tmp_path):
    folder = CheckpointFolder(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="is gone"):  # a folder removed meanwhile (a live copy) stays gone
        folder.write_page_cache("usage-test-40.json", b"{}")
    assert not folder.path.exists()
    folder.path.mkdir()
    path = folder.write_page_cache("usage-test-40.json", b'{"fingerprint": "f", "value": 1}')
    assert path == folder.page_cache_dir / "usage-test-40.json" and path.read_bytes().startswith(b'{"fing')
    for name in ("../escape.json", "a/b.json", ""):
        with pytest.raises(ValueError):
            folder.write_page_cache(name, b"{}")
    assert sorted(p.name for p in folder.path.rglob("*")) == ["page_cache", "usage-test-40.json"]


def test_a_stored_page_result_goes_through_its_checkpoint_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    written = []
    real = CheckpointFolder.write_page_cache
    monkeypatch.setattr(CheckpointFolder, "write_page_cache",
                        lambda self, name, data: written.append((self.path, name)) or real(self, name, data))
    target = CheckpointFolder(tmp_path / "run")  # write_to a folder object: its page_cache/, written by it
    target.path.mkdir()
    assert page_cache.document("usage-test-4", "f" * 16, lambda: {"x": 1}, write_to=target) == {"x": 1}
    assert written == [(tmp_path / "run", "usage-test-4.json")]
    assert page_cache.document("usage-test-4", "f" * 16, lambda: {"x": 2}, checkpoint=tmp_path / "run") == {"x": 1}
    elsewhere = tmp_path / "other"  # a folder that is no checkpoint's page cache: written as before
    page_cache.document("usage-test-4", "f" * 16, lambda: {"x": 3}, write_to=elsewhere)
    assert len(written) == 1 and (elsewhere / "usage-test-4.json").is_file()


# ---------------------------------------------------------------- the savers call the writers

def test_a_training_run_and_its_resume_write_through_the_folder(tmp_path, monkeypatch):
    from vaegan_core.training.train import Trainer

    calls: list[tuple[str, Path]] = []
    for name in ("write_config", "write_weights", "write_trainer_state", "write_card", "history_log",
                 "rewrite_history", "rewrite_quality"):
        real = getattr(CheckpointFolder, name)
        monkeypatch.setattr(CheckpointFolder, name,
                            lambda self, *args, _name=name, _real=real: calls.append((_name, self.path))
                            or _real(self, *args))
    run = tmp_path / "run"
    Trainer(tiny_model_config("vae"), tiny_train_config(epochs=1), run, progress=False).fit()
    assert {name for name, path in calls if path == run} == {"write_config", "write_weights", "write_trainer_state",
                                                               "write_card", "history_log"}
    logged = CheckpointFolder(run).history()
    assert logged and all(isinstance(row.get("step"), int) for row in logged)
    CheckpointFolder(run).append_quality({"epoch": 1, "step": logged[-1]["step"], "train_seconds": 1.0,
                                          "fid_domain_train": 50.0, "n": 64})
    CheckpointFolder(run).append_quality({"epoch": 9, "step": 10**6, "train_seconds": 9.0,
                                          "fid_domain_train": 5.0, "n": 64})  # logged after the save: dropped
    calls.clear()
    Trainer.resume(run, epochs=2, progress=False).release()
    assert [name for name, _ in calls] == ["rewrite_history", "rewrite_quality"]
    assert [row["epoch"] for row in CheckpointFolder(run).quality()] == [1]
    assert leftovers(run) == []


# ---------------------------------------------------------------- nothing else writes a checkpoint folder's files

# The folder's files as the package names them: the constants of storage.paths and their spellings
FOLDER_NAMES = {"CONFIG_FILE", "WEIGHTS_FILE", "TRAINER_STATE_FILE", "HISTORY_FILE", "QUALITY_FILE", "MODEL_CARD_FILE",
                "METRICS_FILE", "LATENT_GMM_FILE", "GMM_GRID_FILE", "SAMPLES_DIR", "PAGE_CACHE_DIR",
                "config.json", "model.safetensors", "trainer_state.pt", "history.jsonl", "quality.jsonl",
                "README.md", "metrics.json", "latent_gmm.safetensors", "gmm.png", "samples", "page_cache"}
WRITERS = {"atomic_write", "write_text_atomic", "write_bytes_atomic", "save_npy_atomic", "save_file", "save_grid",
           "write_text", "write_bytes"}
# Modules that write folders of their own kind (a classifier's, an export's), or own the names
OTHER_FOLDERS = {"vaegan_core/storage/checkpoint_folder.py", "vaegan_core/storage/paths.py",
                 "vaegan_core/export.py", "vaegan_core/web_export.py", "vaegan_core/metrics/classifier.py"}


def _called_name(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def _writes(call: ast.Call) -> bool:
    """A call that writes a file: an atomic writer, safetensors' save_file, torch.save, open() to write or append."""
    name = _called_name(call)
    if name == "save" and isinstance(call.func, ast.Attribute) and getattr(call.func.value, "id", "") == "torch":
        return True
    if name == "open":
        modes = [arg for arg in call.args[1:2]] + [k.value for k in call.keywords if k.arg == "mode"]
        return any(isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax") for mode in modes)
    return name in WRITERS


def _names_a_folder_file(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and inner.id in FOLDER_NAMES or \
                isinstance(inner, ast.Attribute) and inner.attr in FOLDER_NAMES or \
                isinstance(inner, ast.Constant) and isinstance(inner.value, str) and (
                    inner.value in FOLDER_NAMES or inner.value.startswith(("samples/", "epoch_"))):
            return True
    return False


def folder_writes(source: str) -> list[str]:
    """The functions of ``source`` that both name a checkpoint folder's file and write a file: each one writes the
    folder's file itself instead of through ``CheckpointFolder``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _names_a_folder_file(node) and any(
                isinstance(call, ast.Call) and _writes(call) for call in ast.walk(node)):
            found.append(f"{node.name} (line {node.lineno})")
    return found


def test_no_module_writes_a_checkpoint_folders_files_but_the_folder():
    offenders = {}
    for path in sorted((REPO / "vaegan_core").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative not in OTHER_FOLDERS:
            found = folder_writes(path.read_text(encoding="utf-8"))
            if found:
                offenders[relative] = found
    assert not offenders, f"write these through CheckpointFolder (storage/checkpoint_folder.py): {offenders}"


@pytest.mark.parametrize("source", [
    'def save(directory):\n    path = Path(directory) / LATENT_GMM_FILE\n    atomic_write(path, write)\n',
    'def fit(self):\n    history = open(self.out_dir / paths.HISTORY_FILE, "a", encoding="utf-8")\n',
    'def _save(member):\n    write_text_atomic(member.out_dir / "history.jsonl", text)\n',
    'def end(out_dir):\n    save_grid(images, out_dir / paths.SAMPLES_DIR / f"epoch_{epoch:03d}.png")\n',
])
def test_the_check_finds_a_folder_file_written_by_hand(source):
    assert folder_writes(source)


def test_the_check_lets_readers_and_other_files_be():
    assert not folder_writes('def read(directory):\n    return read_json(Path(directory) / CONFIG_FILE)\n')
    assert not folder_writes('def grid(out):\n    save_grid(images, out)\n')
    assert not folder_writes('def log(path):\n    open(path / HISTORY_FILE, encoding="utf-8").read()\n')


# ---------------------------------------------------------------- temporaries of killed writers, one cleaner

def test_clean_temporaries_of_a_whole_folder_removes_dead_writers_files_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = [tmp_path / f".v9-abc-train.u8.tmp{dead.pid}", tmp_path / f"v1-abc-test.u8.tmp{dead.pid}"]
    gone.append(tmp_path / f".huge.tmp{'9' * 10}")  # a number no process id can be: no process of it runs
    kept = [tmp_path / f".busy.json.tmp{os.getppid()}", tmp_path / f".mine.json.tmp{os.getpid()}",
            tmp_path / "data.u8", tmp_path / f".huger.tmp{'9' * 30}"]
    for path in gone + kept:
        path.write_bytes(b"x")
    assert sorted(clean_temporaries(tmp_path, every_name=True)) == sorted(gone)
    assert all(path.exists() for path in kept)
    assert clean_temporaries(tmp_path / "missing", every_name=True) == []
    # beside one file, as atomic_write cleans: only that file's temporaries, whatever the length of the number
    (tmp_path / f".model.safetensors.tmp{dead.pid}").write_bytes(b"x")
    (tmp_path / f".model.safetensors.tmp{'9' * 30}").write_bytes(b"x")
    assert len(clean_temporaries(tmp_path / "model.safetensors")) == 2
    assert (tmp_path / f".busy.json.tmp{os.getppid()}").exists()
