"""On a CUDA device (deselected by default; `python -m pytest -m gpu` where one is present): the training
recipe's parts on the GPU path (bf16 autocast, the moving average of the decoder, two time-scales and the
cosine schedule, torch.compile) train, save, load on the CPU and resume equal to an uninterrupted run."""

import pytest
import torch

from vaegan_core.storage.checkpoint import load_model
from vaegan_core.training.train import Trainer

from conftest import tiny_model_config, tiny_train_config

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def needs_cuda():
    if not torch.cuda.is_available():
        pytest.fail("the gpu tests need a CUDA device; run them with -m gpu where one is present")


@pytest.mark.parametrize("kind", ["gan", "vaegan"])
def test_the_recipe_trains_and_resumes_on_the_gpu(tmp_path, kind):
    model_config = tiny_model_config(kind, ema_decay=0.99)
    settings = dict(device="cuda", precision="auto", lr_discriminator=4e-4, lr_schedule="cosine")
    Trainer(model_config, tiny_train_config(epochs=2, **settings), tmp_path / "straight", progress=False).fit()
    Trainer(model_config, tiny_train_config(epochs=1, **settings), tmp_path / "resumed", progress=False).fit()
    Trainer.resume(tmp_path / "resumed", epochs=2, progress=False).fit()
    straight, again = load_model(tmp_path / "straight"), load_model(tmp_path / "resumed")  # on the CPU
    first, second = straight.state_dict(), again.state_dict()
    assert any(name.startswith("decoder_ema.") for name in first)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert torch.isfinite(straight.sample(4)).all()


@pytest.mark.parametrize("kind", ["vae", "gan", "vaegan"])
def test_each_model_trains_in_bf16_on_cuda_and_samples_alike_on_the_cpu(tmp_path, kind):
    """A few steps with the bf16 autocast path on the GPU; the checkpoint loads on the CPU and decodes the same
    codes as the GPU copy does (fp32 decoding on both: within 1e-3 per pixel)."""
    trainer = Trainer(tiny_model_config(kind), tiny_train_config(epochs=1, device="cuda", precision="bf16"),
                      tmp_path / kind, progress=False)
    assert trainer.precision == "bf16" and trainer.device.type == "cuda"
    trainer.fit()
    codes = torch.randn(8, trainer.model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    trainer.model.eval()
    on_gpu = trainer.model.decode(codes.cuda()).float().cpu()
    on_cpu = load_model(tmp_path / kind).decode(codes)
    assert torch.isfinite(on_cpu).all() and (on_gpu - on_cpu).abs().max() < 1e-3


def test_a_colour_folder_trains_on_cuda(tmp_path, monkeypatch):
    from test_folders import make_folder

    monkeypatch.setenv("VAEGAN_FOLDER_CACHE", str(tmp_path / "cache"))
    images = make_folder(tmp_path / "images", per_class=20, bad=False)
    trainer = Trainer(tiny_model_config("vaegan", image_size=32, channels=3),
                      tiny_train_config(dataset=f"folder:{images}", epochs=1, limit=0, device="cuda"),
                      tmp_path / "run", progress=False)
    trainer.fit()
    assert load_model(tmp_path / "run").sample(4).shape == (4, 3, 32, 32)


def test_a_compiled_run_trains_on_the_gpu_and_loads_on_the_cpu(tmp_path):
    """--compile on CUDA with the recipe (bf16 autocast, moving average): trains, resumes compiled, and the
    checkpoint holds the plain networks' weights, which load and sample on the CPU."""
    settings = dict(device="cuda", precision="auto", epochs=1)
    trainer = Trainer(tiny_model_config("vaegan", ema_decay=0.99), tiny_train_config(**settings), tmp_path / "run",
                      progress=False, compile=True)
    trainer.fit()
    assert trainer.compile_seconds > 0
    Trainer.resume(tmp_path / "run", epochs=2, progress=False, compile=True).fit()
    model = load_model(tmp_path / "run")
    assert not any("_orig_mod" in name for name in model.state_dict())
    assert torch.isfinite(model.sample(4)).all()
