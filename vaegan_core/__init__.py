"""vaegan_core: train, load and measure VAE, GAN and VAE-GAN models (Larsen et al. 2016).

    import vaegan_core
    model = vaegan_core.load_model("checkpoints/mnist/vaegan")
    images = model.sample(16)            # 16 x 1 x 28 x 28, float in [0, 1]
    model = vaegan_core.load_model("hf://USER/NAME@main")   # a checkpoint pushed with `vaegan push`
"""

__version__ = "0.1.0"

from .checkpoint import load_model, save_checkpoint  # noqa: E402
from .config import ModelConfig, TrainConfig  # noqa: E402
from .data import load_dataset  # noqa: E402
from .hub import push_to_hub  # noqa: E402
from .errors import CheckpointError, ConfigError, DatasetError, TrainingDiverged, VaeganError  # noqa: E402
from .models import GAN, VAE, VAEGAN, build_model  # noqa: E402

__all__ = [
    "__version__", "load_model", "save_checkpoint", "push_to_hub", "ModelConfig", "TrainConfig", "load_dataset",
    "VaeganError", "ConfigError", "DatasetError", "CheckpointError", "TrainingDiverged",
    "VAE", "GAN", "VAEGAN", "build_model",
]
