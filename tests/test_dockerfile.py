"""What can be checked of the Hugging Face Space without building it: the Dockerfile's properties, the files it
copies, and README's Space front matter. tests/test_space_image.py builds and runs the image itself."""

from __future__ import annotations

import re
import shlex
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import pytest

yaml = pytest.importorskip("yaml")
from conftest import REPO  # noqa: E402


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def front_matter() -> dict:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("---\n"), "README.md must start with the Space front matter"
    return yaml.safe_load(readme.split("---\n", 2)[1])


def test_front_matter_declares_a_docker_space():
    meta = front_matter()
    assert meta["sdk"] == "docker"
    assert isinstance(meta["app_port"], int)
    for key in ("title", "emoji", "short_description", "tags"):
        assert meta.get(key), key
    assert len(meta["short_description"]) <= 60  # the Hub refuses longer ones


def test_runs_as_uid_1000_with_home_and_path():
    steps = instructions()
    runs = " ".join(args for keyword, args in steps if keyword == "RUN")
    assert re.search(r"useradd\b.*(-u|--uid) 1000\b", runs)
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1] in ("user", "1000")
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert "HOME=/home/user" in env and re.search(r"PATH=/home/user/venv/bin:.*\$PATH", env)
    assert any("python3 -m venv $HOME/venv" in args for keyword, args in steps if keyword == "RUN")


def test_every_copy_is_chowned_and_its_sources_exist():
    copies = [args for keyword, args in instructions() if keyword == "COPY"]
    assert copies
    for args in copies:
        parts = shlex.split(args)
        assert parts[0].startswith("--chown="), f"COPY without --chown: {args}"
        for source in parts[1:-1]:
            assert (REPO / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"


def test_port_matches_front_matter_and_healthcheck():
    port = front_matter()["app_port"]
    steps = instructions()
    assert ("EXPOSE", str(port)) in steps
    health = [args for keyword, args in steps if keyword == "HEALTHCHECK"]
    assert health and f":{port}/_stcore/health" in health[0]
    command = [args for keyword, args in steps if keyword == "CMD"][-1]
    assert "demo/app.py" in command and f"--server.port={port}" in command and "0.0.0.0" in command


def test_cpu_only_torch_is_installed_before_the_project():
    steps = instructions()
    assert ("ARG", "TORCH_INDEX=https://download.pytorch.org/whl/cpu") in steps and ("ARG", "BASE_IMAGE=python:3.11-slim") in steps
    runs = [args for keyword, args in steps if keyword == "RUN"]
    torch_step = next(i for i, args in enumerate(runs) if "--index-url ${TORCH_INDEX} ${TORCH_SPEC}" in args)
    project_step = next(i for i, args in enumerate(runs) if re.search(r'pip install .*-e "?\.', args))
    assert torch_step < project_step


def test_image_ships_what_the_offline_app_needs():
    copied = " ".join(args for keyword, args in instructions() if keyword == "COPY")
    for needed in ("vaegan_core", "demo", "checkpoints", "pyproject.toml", ".streamlit"):
        assert needed in copied, needed
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "checkpoints" not in ignored and "demo" not in ignored
    for needed in ("checkpoints/data/mnist", "checkpoints/classifiers/mnist", "demo/app.py"):
        assert (REPO / needed).exists(), needed


def test_an_exported_explorer_goes_into_the_image():
    """`vaegan export-web --out demo/static/explorer` before a build puts the browser explorer in the image (docs/
    space.md): nothing in .dockerignore leaves it out, and the image's Streamlit serves the static folder."""
    import fnmatch

    ignored = [line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for path in ("demo/static/explorer/index.html", "demo/static/explorer/ort/ort-wasm-simd-threaded.wasm.gz",
                 "demo/static/explorer/mnist/gan/decoder.onnx"):
        parts = path.split("/")
        prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
        caught = [pattern for pattern in ignored for prefix in prefixes
                  if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, pattern.replace("**/", ""))]
        assert not caught, (path, caught)
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["enableStaticServing"] is True
