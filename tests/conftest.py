"""Shared fixtures: tiny configs and tiny data, so every test runs on a CPU in seconds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from vaegan_core.config import ModelConfig, TrainConfig

REPO = Path(__file__).resolve().parents[1]  # the repository root, for every test (`from conftest import REPO`)
# the apps' modules (demo/: ui, page_list, ...) and the test tools (tools/: local_server, network_audit) import by name
for _folder in (REPO / "tools", REPO / "demo"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

CHROMIUM = "/usr/bin/chromium"  # Debian's package (tools/local_server.py drives it; never `playwright install`)


def require_tools(tools=(), files=(CHROMIUM,), install: str = "chromium") -> None:
    """Skip the test when a command of ``tools`` or a file of ``files`` is missing here, but fail it in CI, whose
    .ci/run installs them (``apt-get install INSTALL``): a browser test must not pass there by being skipped."""
    import shutil

    missing = [tool for tool in tools if shutil.which(tool) is None] + [path for path in files if not os.path.exists(path)]
    if not missing:
        return
    reason = f"needs {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} in CI; .ci/run must `apt-get install {install}`")
    pytest.skip(f"{reason} (apt-get install {install})")


def tiny_model_config(kind: str = "vaegan", **changes) -> ModelConfig:
    values = dict(kind=kind, latent_dim=8, width=8)
    values.update(changes)
    return ModelConfig(**values)


def tiny_train_config(**changes) -> TrainConfig:
    values = dict(dataset="digits", epochs=1, batch_size=16, limit=64, log_every=2, sample_grid=4,
                  device="cpu", precision="fp32")
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture
def images() -> torch.Tensor:
    """A batch of 16 random 28x28 grayscale images in [0, 1]."""
    return torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def data_dir() -> str:
    """The real MNIST / Fashion-MNIST folder from VAEGAN_DATA_DIR (CI fetches it); skipped when unset."""
    path = os.environ.get("VAEGAN_DATA_DIR")
    if not path or not os.path.isdir(os.path.join(path, "mnist")):
        if os.environ.get("CI"):  # in CI a skip would pass silently: the data must be there
            pytest.fail("VAEGAN_DATA_DIR with mnist/ is not set in CI; .ci/run must fetch the datasets")
        pytest.skip("VAEGAN_DATA_DIR with mnist/ is not set; run shared/data/fetch-datasets DIR and export it")
    return path


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): tiny runs on a
    busy 2-core machine (CI, other jobs) are up to ten times slower with several OpenMP threads waiting on each
    other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def web_dir(tmp_path) -> Path:
    """web/'s static files with stand-ins for the ONNX Runtime Web files (the export tests never run them)."""
    import shutil

    from vaegan_core import web_export

    folder = tmp_path / "web"
    folder.mkdir()
    for name in web_export.STATIC:
        source = REPO / "web" / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    dist = folder / web_export.ORT_DIST
    dist.mkdir(parents=True)
    for name in web_export.ORT_FILES:
        (dist / name).write_text("// stand-in\n")
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> Path:
    """A checkpoints root with tiny, briefly trained mnist/{gan,vae,vaegan}, their conditional twins in
    mnist/conditional/, and the shipped classifiers."""
    from vaegan_core.training.train import Trainer

    root = tmp_path_factory.mktemp("checkpoints")
    for kind in ("gan", "vae", "vaegan"):
        Trainer(tiny_model_config(kind), tiny_train_config(epochs=2), root / "mnist" / kind, progress=False).fit()
        Trainer(tiny_model_config(kind, num_classes=10), tiny_train_config(epochs=1),
                root / "mnist" / "conditional" / kind, progress=False).fit()
    for shipped in ("classifiers", "reference_stats"):
        (root / shipped).symlink_to(Path(__file__).resolve().parents[1] / "checkpoints" / shipped)
    return root


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (never `playwright install`), one per test module."""
    playwright = pytest.importorskip("playwright.sync_api")
    from local_server import CHROMIUM_ARGS

    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
