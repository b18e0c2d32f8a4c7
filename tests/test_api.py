"""The library as a script or a notebook uses it (docs/api.md): the public names, training from tensors with hooks,
codes with gradients for a probe, float datasets, and errors in Python's words."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile

import pytest
import torch

import vaegan_core
from vaegan_core.api import _python_words
from vaegan_core.storage.checkpoint import load_model, save_checkpoint
from vaegan_core.training.data import load_dataset
from vaegan_core.errors import CheckpointError, ConfigError
from vaegan_core.models import build_model

from conftest import tiny_model_config, tiny_train_config

from conftest import REPO as ROOT  # noqa: E402


def _example() -> str:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_the_notebook_example_in_docs_runs(tmp_path, monkeypatch, capsys):
    """docs/api.md's block as it stands: train from tensors with an epoch hook, sample, save a grid, interpolate,
    and a linear probe on codes from encode(grad=True) that reads the digit far above chance."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the run's temporary folder, inside the test's
    names: dict = {}
    exec(compile(_example(), "docs/api.md", "exec"), names)
    printed = capsys.readouterr().out
    assert [line.split(":")[0] for line in printed.splitlines()[:3]] == ["epoch 1", "epoch 2", "epoch 3"]
    run = names["run"]
    assert run.out_dir.is_relative_to(tmp_path) and (run.out_dir / "grid.png").is_file()
    assert run.summary["epoch"] == 3 and not run.stopped and run.history and not run.model.training
    assert names["frames"].shape == (8, 1, 28, 28)
    assert names["accuracy"] > 0.5  # chance is 10 %
    assert load_model(run.out_dir).config == run.model.config


def test_public_names_load_lazily_and_are_declared_for_type_checkers():
    """`import vaegan_core` imports no torch; every exported name resolves; the TYPE_CHECKING imports (what a type
    checker reads) name the same set; py.typed ships with the package."""
    code = ("import sys, vaegan_core; assert 'torch' not in sys.modules; "
            "missing = [n for n in vaegan_core.__all__ if getattr(vaegan_core, n, None) is None]; "
            "assert not missing, missing")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    for name in ("load_model", "train_model", "Trainer", "evaluate", "interpolate", "save_grid", "load_dataset"):
        assert name in vaegan_core.__all__
    tree = ast.parse((ROOT / "vaegan_core" / "__init__.py").read_text(encoding="utf-8"))
    checked = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
                   "TYPE_CHECKING")
    declared = {alias.name for node in checked.body for alias in node.names}
    assert declared == set(vaegan_core._EXPORTS)
    assert (ROOT / "vaegan_core" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_encode_by_default_is_inference_on_the_cpu_and_cannot_train_a_probe(images):
    model = build_model(tiny_model_config("vae")).eval()
    mu, logvar = model.encode(images)
    assert mu.is_inference() and mu.device.type == "cpu" and mu.shape == logvar.shape == (16, 8)
    with pytest.raises(RuntimeError, match="Inference tensors"):
        torch.nn.Linear(8, 2)(mu).sum().backward()


def test_a_probe_trains_through_encode_with_grad(images):
    """encode(grad=True): a linear probe and the encoder under it learn from one loss (the VAE as a part of a larger
    model); the codes equal the default ones."""
    torch.manual_seed(0)
    model = build_model(tiny_model_config("vaegan")).eval()
    targets = (images.mean(dim=(1, 2, 3)) > images.mean()).long()  # a property of the images a probe can learn
    probe = torch.nn.Linear(8, 2)
    encoder_before = [p.detach().clone() for p in model.encoder.parameters()]
    optimizer = torch.optim.Adam([*probe.parameters(), *model.encoder.parameters()], lr=1e-2)
    losses = []
    for _ in range(30):
        mu, _ = model.encode(images, grad=True)
        assert mu.requires_grad and not mu.is_inference()
        loss = torch.nn.functional.cross_entropy(probe(mu), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(encoder_before, model.encoder.parameters()))
    torch.testing.assert_close(model.encode(images, grad=True)[0].detach(), model.encode(images)[0])


def test_decode_with_grad_back_propagates_into_the_codes():
    model = build_model(tiny_model_config("gan")).eval()
    z = torch.randn(4, 8, requires_grad=True)
    images = model.decode(z, grad=True)
    assert images.shape == (4, 1, 28, 28) and images.requires_grad
    images.mean().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    reconstructed = build_model(tiny_model_config("vae")).eval().reconstruct(images.detach(), grad=True)
    assert reconstructed.requires_grad and reconstructed.shape == images.shape


@pytest.mark.gpu
def test_grad_keeps_the_inputs_device_on_a_gpu(images):
    if not torch.cuda.is_available():
        pytest.fail("needs a CUDA device; run with -m gpu where one is present")
    model = build_model(tiny_model_config("vae")).cuda().eval()
    mu, _ = model.encode(images.cuda(), grad=True)
    assert mu.device.type == "cuda" and mu.requires_grad
    assert model.encode(images, grad=True)[0].device.type == "cpu"  # a CPU batch comes back on the CPU
    assert model.encode(images.cuda())[0].device.type == "cpu"  # the default: CPU tensors
    assert model.decode(mu, grad=True).device.type == "cuda"


def test_load_model_on_an_absent_gpu_says_so_in_one_line(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, build_model(tiny_model_config("vae")))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"no CUDA device is available.*device='cpu'") as caught:
        load_model(tmp_path, device="cuda")
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="device must be"):
        load_model(tmp_path, device="gpu")
    assert load_model(tmp_path, device="auto").device.type in ("cpu", "mps")


def test_load_dataset_gives_float_images_when_asked():
    pixels, labels = load_dataset("digits", "test")
    assert pixels.dtype == torch.uint8  # the contract's default
    images, same_labels = load_dataset("digits", "test", dtype=torch.float32)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    torch.testing.assert_close(images, pixels.float() / 255)
    assert torch.equal(labels, same_labels)
    with pytest.raises(ConfigError, match="dtype must be"):
        load_dataset("digits", "test", dtype=torch.int32)


def test_train_model_calls_its_hooks_and_stops_when_asked(tmp_path):
    """Every optimizer step and each epoch's end reach the hooks; StopTraining from a hook ends the run with the
    last finished epoch saved; a dataset object is read like tensors."""
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    dataset = torch.utils.data.TensorDataset(images, torch.arange(64) % 10)
    steps, epochs = [], []

    def on_epoch(epoch, model):
        epochs.append((epoch, model.training))
        if epoch == 2:
            raise vaegan_core.StopTraining

    run = vaegan_core.train_model(tiny_model_config("vae"), tiny_train_config(epochs=5), dataset,
                                  out_dir=tmp_path / "run", on_step=lambda step, logs: steps.append((step, logs)),
                                  on_epoch=on_epoch, progress=False)
    assert run.stopped and run.summary["epoch"] == 2 and epochs == [(1, False), (2, False)]
    assert [step for step, _ in steps] == list(range(1, 9)) and set(steps[0][1]) >= {"loss", "kl"}
    assert all(isinstance(value, float) for value in steps[0][1].values())
    assert load_model(run.out_dir).config == run.model.config and not run.model.training
    assert run.history[-1]["step"] == 8


def test_train_model_speaks_python_in_its_errors(tmp_path):
    model_config, train_config = tiny_model_config("vae"), tiny_train_config()
    with pytest.raises(ConfigError, match=r"unsqueeze\(1\)"):
        vaegan_core.train_model(model_config, train_config, torch.rand(64, 28, 28), progress=False)
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        vaegan_core.train_model(model_config, train_config, torch.rand(64, 1, 28, 28) * 255, progress=False)
    with pytest.raises(ConfigError, match="train_config.batch_size") as caught:
        vaegan_core.train_model(model_config, tiny_train_config(batch_size=128), torch.rand(64, 1, 28, 28),
                                progress=False)
    assert "--" not in str(caught.value)
    vaegan_core.train_model(model_config, train_config, out_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="choose another out_dir") as caught:
        vaegan_core.train_model(model_config, train_config, out_dir=tmp_path, progress=False)
    assert "--" not in str(caught.value)


def test_flags_become_config_fields_but_quoted_commands_stay():
    assert _python_words("lower --batch-size or raise --limit") == \
        "lower train_config.batch_size or raise train_config.limit"
    assert _python_words("use --batch-size 2 or more") == "use train_config.batch_size=2 or more"
    assert _python_words("--device cuda was asked for") == "train_config.device='cuda' was asked for"
    assert _python_words("the trick (--equilibrium)") == "the trick (model_config.equilibrium)"
    quoted = "continue with `vaegan train --resume --out runs/a --epochs N`"
    assert _python_words(quoted) == quoted
