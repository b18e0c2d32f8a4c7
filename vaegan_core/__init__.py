"""vaegan_core: train, load and measure VAE, GAN and VAE-GAN models (Larsen et al. 2016).

    import torch, vaegan_core
    model = vaegan_core.load_model("checkpoints/mnist/vaegan")       # or "hf://USER/NAME@main"; device="cuda"
    images = model.sample(16)            # 16 x 1 x 28 x 28, float in [0, 1], on the CPU
    mu, logvar = model.encode(images)    # 16 x latent_dim each; grad=True keeps autograd and the device
    run = vaegan_core.train_model({"kind": "vae"}, {"dataset": "digits", "epochs": 2},
                                  on_epoch=lambda epoch, model: print(epoch))
    vaegan_core.save_grid(run.model.sample(64), "samples.png")

docs/api.md lists the public names below, with their shapes, ranges and devices.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names load lazily (PEP 562): `from vaegan_core import zoo` or `errors` does not import torch,
# which keeps the Streamlit app's first render fast; `vaegan_core.load_model` imports it on first use.
_EXPORTS = {
    "load_model": "storage.checkpoint", "save_checkpoint": "storage.checkpoint", "push_to_hub": "storage.hub",
    "ModelConfig": "config", "TrainConfig": "config", "load_dataset": "training.data",
    "VaeganError": "errors", "ConfigError": "errors", "DatasetError": "errors", "CheckpointError": "errors",
    "TrainingDiverged": "errors", "MetricError": "errors", "WriteError": "errors",
    "VAE": "models", "GAN": "models", "VAEGAN": "models", "GenerativeModel": "models", "build_model": "models",
    "train_model": "api", "resume_model": "api", "TrainResult": "api", "StopTraining": "api",
    "Trainer": "training.train",
    "evaluate": "metrics.evaluate", "interpolate": "analysis.latent", "save_grid": "images",
}
__all__ = ["__version__", *_EXPORTS]

# The package's parts (storage, models, training, analysis, metrics, experiments, app, cli): a module's earlier flat
# place (vaegan_core.zoo, vaegan_core.train, ...) still imports it (vaegan_core/_moved.py).
from . import _moved  # noqa: E402

_moved.install()

if TYPE_CHECKING:  # what type checkers and IDEs read (py.typed); never run, so nothing is imported at start
    from .api import StopTraining, TrainResult, resume_model, train_model  # noqa: F401
    from .storage.checkpoint import load_model, save_checkpoint  # noqa: F401
    from .config import ModelConfig, TrainConfig  # noqa: F401
    from .training.data import load_dataset  # noqa: F401
    from .errors import (  # noqa: F401
        CheckpointError, ConfigError, DatasetError, MetricError, TrainingDiverged, VaeganError, WriteError)
    from .storage.hub import push_to_hub  # noqa: F401
    from .images import save_grid  # noqa: F401
    from .analysis.latent import interpolate  # noqa: F401
    from .metrics.evaluate import evaluate  # noqa: F401
    from .models import GAN, VAE, VAEGAN, GenerativeModel, build_model  # noqa: F401
    from .training.train import Trainer  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaegan_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
