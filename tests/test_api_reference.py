"""The API reference builds from the docstrings (issue 53: "built in CI so it cannot rot"), and documents every public
name of vaegan_core with its docstring."""

from __future__ import annotations

import html
import importlib.util
import re

import pytest

from conftest import REPO

pytest.importorskip("pdoc")


def _reference_builder():
    spec = importlib.util.spec_from_file_location("api_reference", REPO / "scripts" / "api_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_reference_builds_and_documents_every_public_name(tmp_path):
    import vaegan_core

    pages = _reference_builder().build(tmp_path / "api")
    names = {page.relative_to(tmp_path / "api").as_posix() for page in pages}
    assert {"vaegan_core.html", "vaegan_core/api.html", "vaegan_core/storage/checkpoint.html",
            "vaegan_core/models/generative.html", "vaegan_core/training/train.html", "vaegan_core/app/explorer.html",
            "vaegan_core/analysis/latent.html", "vaegan_core/metrics/evaluate.html"} <= names
    assert not any("_moved" in name for name in names)
    top = html.unescape((tmp_path / "api" / "vaegan_core.html").read_text(encoding="utf-8"))
    for name in vaegan_core.__all__:
        if name == "__version__":
            continue
        value = getattr(vaegan_core, name)
        assert (value.__doc__ or "").strip(), f"vaegan_core.{name} has no docstring"
        first = re.sub(r"\s+", " ", value.__doc__.strip().split("\n\n")[0])[:40]
        assert f'id="{name}"' in top, f"{name} is not in the reference"
        assert first.split("``")[0][:20] in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", top)), \
            f"vaegan_core.{name}'s docstring is not on its page"
