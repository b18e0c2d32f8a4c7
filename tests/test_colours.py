"""One colour per model on every page (issue 50): each chart trace that stands for a model (named "VAE", "VAE: ELBO",
"VAE-GAN tail mass", ...) is drawn in that model's colour (ui.MODEL_COLOURS), on the shipped checkpoints."""

from __future__ import annotations

import json

import pytest

from conftest import REPO

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import ui  # noqa: E402  (demo/ is on the path: conftest)

# the pages whose charts draw the models, each opened where its models' charts are (its tab, a toggle on)
VIEWS = [("compare", {"compare-classify": True, "compare-classified": 500}),
         ("anomalies", {"anomaly-tab": "Detecting other data", "anomaly-n": 500}),
         ("training", {}),
         ("collapse", {"collapse-tab": "Images"})]


def model_of(name: str) -> str | None:
    """The model a trace's name stands for: "VAE-GAN", "VAE-GAN: pixels", "VAE tail mass" -> its kind."""
    for kind, label in sorted(ui.LABELS.items(), key=lambda item: -len(item[1])):  # "VAE-GAN" before "VAE"
        if name == label or name.startswith((f"{label}:", f"{label} ")):
            return kind
    return None


def colours_of(trace: dict) -> set[str]:
    found = {(trace.get("line") or {}).get("color"), (trace.get("marker") or {}).get("color")}
    return {colour for colour in found if isinstance(colour, str)}


def test_the_name_of_a_trace_tells_its_model():
    assert model_of("VAE-GAN: pixels") == "vaegan" and model_of("VAE tail mass") == "vae"
    assert model_of("GAN") == "gan" and model_of("chance") is None and model_of("VAEX") is None


@pytest.mark.parametrize("page, state", VIEWS, ids=[view[0] for view in VIEWS])
def test_each_model_keeps_its_colour(monkeypatch, page, state):
    monkeypatch.delenv("VAEGAN_CHECKPOINTS_DIR", raising=False)  # the shipped checkpoints and their studies
    monkeypatch.setenv("VAEGAN_NO_WARMUP", "1")
    at = AppTest.from_file(str(REPO / "demo" / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    traces = [trace for chart in at.get("plotly_chart") for trace in json.loads(chart.proto.spec).get("data", [])]
    named = [(trace["name"], model_of(trace["name"]), colours_of(trace)) for trace in traces
             if isinstance(trace.get("name"), str) and model_of(trace["name"])]
    assert named, f"no chart of {page} draws a model (the view did not open?)"
    wrong = [(name, colours, ui.MODEL_COLOURS[kind]) for name, kind, colours in named
             if colours != {ui.MODEL_COLOURS[kind]}]
    assert wrong == [], "traces not in their model's colour (name, colours, expected)"
