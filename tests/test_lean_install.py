"""The library without the apps (issue 53): `pip install vaegan` brings the core and the CLI, `[app]` Streamlit, Gradio,
Plotly and UMAP. Checked twice: the dependency metadata, and the core at work in a Python that cannot import the apps'
packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib

from conftest import REPO

APP_PACKAGES = ("streamlit", "streamlit_drawable_canvas", "plotly", "gradio", "umap")
APP_DISTRIBUTIONS = ("streamlit", "streamlit-drawable-canvas", "plotly", "gradio", "umap-learn")


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower() for requirement in requirements}


def test_the_core_dependencies_leave_the_apps_to_the_app_extra():
    project = _project()
    core, extras = _names(project["dependencies"]), project["optional-dependencies"]
    assert not core & set(APP_DISTRIBUTIONS), "an app's package is a core dependency"
    assert set(APP_DISTRIBUTIONS) <= _names(extras["app"])
    assert {"torch", "safetensors", "numpy"} <= core
    assert any(requirement.startswith("vaegan[") and "app" in requirement for requirement in extras["dev"]), \
        "the tests install the apps too"


BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = {blocked!r}

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"No module named {{name!r}} (blocked: not in a lean install)", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]
""")

LEAN_WORK = textwrap.dedent("""
    import torch, vaegan_core
    from vaegan_core.analysis.latent import project
    from vaegan_core.errors import ConfigError
    from vaegan_core.app import explorer

    model = vaegan_core.load_model("checkpoints/mnist/vaegan")
    images = model.sample(8, torch.Generator().manual_seed(0))
    mu, _ = model.encode(images)
    assert images.shape == (8, 1, 28, 28) and mu.shape[0] == 8
    run = vaegan_core.train_model({"kind": "vae", "width": 4, "latent_dim": 2},
                                  {"dataset": "digits", "epochs": 1, "batch_size": 32, "limit": 64})
    assert run.summary["epoch"] == 1
    assert project(mu.numpy(), "pca").shape == (8, 2)
    try:
        project(mu.numpy(), "umap")
    except ConfigError as error:
        assert "vaegan[app]" in str(error)
    else:
        raise AssertionError("UMAP ran without umap-learn")
    assert len(explorer().models("mnist", ["gan", "vae"])[0]) == 2  # the app layer needs no UI package
    from vaegan_core.cli import main
    assert main(["info", "checkpoints/mnist/gan"]) == 0
    print("lean ok")
""")


def test_the_core_works_where_the_apps_packages_cannot_be_imported(tmp_path):
    """Load, sample, encode, train from Python, project, the app layer and the CLI, in a Python where importing
    streamlit, gradio, plotly or umap fails."""
    script = tmp_path / "lean.py"
    script.write_text(BLOCKER.format(blocked=APP_PACKAGES) + LEAN_WORK)
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "lean ok" in done.stdout
