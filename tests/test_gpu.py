"""On a CUDA device (deselected by default; `python -m pytest -m gpu` where one is present): the training
recipe's parts on the GPU path (bf16 autocast, the moving average of the decoder, two time-scales and the
cosine schedule) train, save, load on the CPU and resume equal to an uninterrupted run."""

import pytest
import torch

from vaegan_core.checkpoint import load_model
from vaegan_core.train import Trainer

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
