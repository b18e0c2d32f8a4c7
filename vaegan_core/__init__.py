"""vaegan_core: train, load and measure VAE, GAN and VAE-GAN models (Larsen et al. 2016).

    import vaegan_core
    model = vaegan_core.load_model("checkpoints/mnist/vaegan")
    images = model.sample(16)            # 16 x 1 x 28 x 28, float in [0, 1]
    model = vaegan_core.load_model("hf://USER/NAME@main")   # a checkpoint pushed with `vaegan push`
"""

__version__ = "0.1.0"

# The public names load lazily (PEP 562): `from vaegan_core import zoo` or `errors` does not import torch,
# which keeps the Streamlit app's first render fast; `vaegan_core.load_model` imports it on first use.
_EXPORTS = {
    "load_model": "checkpoint", "save_checkpoint": "checkpoint", "push_to_hub": "hub",
    "ModelConfig": "config", "TrainConfig": "config", "load_dataset": "data",
    "VaeganError": "errors", "ConfigError": "errors", "DatasetError": "errors", "CheckpointError": "errors",
    "TrainingDiverged": "errors", "VAE": "models", "GAN": "models", "VAEGAN": "models", "build_model": "models",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaegan_core' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
