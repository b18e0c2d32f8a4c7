"""Drag live in this browser: the static explorer (web/, `vaegan export-web`) inside a Streamlit page.

Each change of a control on Compare, Interpolation or the Latent map is a rerun: a round trip, and 0.1-0.3
CPU-seconds of the server's (benchmarks/README.md). Where an export of the explorer lies in the app's static folder
(``demo/static/explorer``, served by Streamlit's static file serving at ``app/static/explorer/``), the page offers a
switch that shows the explorer's matching view in a frame instead of its own pictures, opened with the page's
settings (the explorer reads the same URL parameter names, web/js/params.js): the decoders then run in the visitor's
browser (ONNX Runtime Web) while a control is dragged, and the server only serves the folder's files.
Without the folder (a fresh clone, a Space built without it) the switch is greyed out and its help says how to
make one.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from ui_links import as_bool, linked
from ui_pictures import presenting

# The app's static folder is <folder of app.py>/static; not resolved, so that a copy of the app made of links (the
# browser test's) serves its own
STATIC = Path(__file__).absolute().parent / "static"
FOLDER = "explorer"
MAKE_IT = "npm ci --prefix web && vaegan export-web --out demo/static/explorer"
LABEL = "Drag live in this browser"


def exported_datasets() -> list[str]:
    """The datasets of the explorer exported in the app's static folder (its explorer.json); [] when there is none."""
    try:
        index = json.loads((STATIC / FOLDER / "explorer.json").read_text(encoding="utf-8"))
        return [str(entry["name"]) for entry in index["datasets"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def explorer_url(view: str, settings: dict) -> str:
    """The explorer's page (served by Streamlit's static file serving) opened on ``view`` with ``settings``
    (URL parameter -> value; a list is joined with commas, as the explorer writes it)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    query = {"view": view, "embed": 1, **{name: ",".join(value) if isinstance(value, (list, tuple)) else value
                              for name, value in settings.items()}}
    return f"{'/' + base if base else ''}/app/static/{FOLDER}/index.html?{urlencode(query)}"


def unavailable(dataset: str) -> str | None:
    """Why the switch cannot embed the explorer for ``dataset`` (a sentence with the fix), or None when it can."""
    found = exported_datasets()
    if not found:
        return f"Make the browser explorer once to use this: `{MAKE_IT}`, then reload this page (docs/web.md)."
    if not st.get_option("server.enableStaticServing"):
        return ("The app serves no static files: set `enableStaticServing = true` under `[server]` in "
                ".streamlit/config.toml and restart it.")
    if dataset not in found:
        return f"The exported explorer holds {', '.join(found)}, not this dataset; export its models to use it here."
    return None


def live_in_browser(container, key: str, view: str, dataset: str, settings: dict, height: int, note: str = "") -> bool:
    """The switch (in ``container``; its state under ``key``, linked to the URL) and, when it is on
    and the explorer is there, the explorer's ``view`` in a frame of ``height`` px with the page's ``settings``
    (``note``: one more sentence under it on how the frame's view differs from the page's). True when the frame is
    shown: the page then skips its own pictures."""
    reason = unavailable(dataset)
    on = container.toggle(
        LABEL, key=linked(key, False, as_bool), disabled=reason is not None,
        help=reason or "The models run in this browser (ONNX Runtime Web): dragging a control redraws at once and "
                       "costs the server nothing. The frame starts from this page's settings and has its own "
                       "controls; its random draws are its own, so a seed gives other samples than here.")
    if not on or reason is not None:
        return False
    if not presenting():
        st.caption("Drawn by this browser: the controls in the frame redraw it without the server; the page's "
                   "controls above start it afresh." + (f" {note}" if note else ""))
    st.iframe(explorer_url(view, settings), height=height)
    return True
