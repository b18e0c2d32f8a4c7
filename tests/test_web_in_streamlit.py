"""The browser explorer inside the Streamlit app (demo/ui_browser.py): the switch *Drag live in this browser* of
Compare, Interpolation and the Latent map, which shows the explorer's view (web/, `vaegan export-web`) in a frame
with the page's settings.

The AppTest tests run anywhere (a stand-in explorer.json); the browser test (marked e2e) exports the shipped models
into a copy of the app made of links (benchmarks/browser_explorer.py's app_with_explorer: the repository is never
written), starts `streamlit run` on it and checks in Chromium that the frame draws every model with no request to
another host.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import REPO, require_tools

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(REPO / "demo" / "app.py")


@pytest.fixture
def app(tiny_checkpoints, monkeypatch, tmp_path):
    """The app on the tiny checkpoints, its static folder an empty temporary one (``tmp_path / "static"``)."""
    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(tiny_checkpoints))
    monkeypatch.setenv("VAEGAN_NO_WARMUP", "1")
    monkeypatch.syspath_prepend(str(REPO / "demo"))
    import ui_browser

    monkeypatch.setattr(ui_browser, "STATIC", tmp_path / "static")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["projection"] = "pca"
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at, page: str):
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frames(at) -> list[str]:
    """The src of every st.iframe on the page."""
    return [element.proto.src for element in at.get("iframe")]


def fake_export(static, datasets=("mnist",)) -> None:
    folder = static / "explorer"
    folder.mkdir(parents=True)
    (folder / "explorer.json").write_text(json.dumps({"datasets": [{"name": name} for name in datasets]}))


@pytest.mark.parametrize("page, key", [("compare", "compare-live"), ("interpolation", "interp-live"),
                                       ("latent_map", "map-live")])
def test_without_an_export_the_switch_is_off_and_says_how_to_make_one(app, page, key):
    at = open_page(app, page)
    switch = at.toggle(key=key)
    assert switch.disabled and switch.value is False
    assert "vaegan export-web --out demo/static/explorer" in switch.help
    assert frames(at) == []
    assert at.get("image")  # the page draws its own pictures, as before


def test_with_an_export_compare_shows_the_explorer_with_the_pages_settings(app, tmp_path):
    fake_export(tmp_path / "static")
    at = open_page(app, "compare")
    assert not at.toggle(key="compare-live").disabled
    drawn_here = len(at.get("image"))
    at.select_slider(key="compare-grid").set_value(4)
    at.slider(key="compare-t").set_value(0.7)
    at.toggle(key="compare-live").set_value(True).run()
    (src,) = frames(at)
    address = urlparse(src)
    assert address.path == "/app/static/explorer/index.html"
    query = {name: values[0] for name, values in parse_qs(address.query).items()}
    assert query == {"view": "compare", "embed": "1", "dataset": "mnist", "kinds": "gan,vae,vaegan", "seed": "0",
                     "prior": "gmm", "compare-grid": "4", "compare-t": "0.7", "present": "0"}
    assert len(at.get("image")) < drawn_here  # the grids are not drawn by the server
    assert at.toggle(key="compare-classify")  # the class histogram stays below


def test_with_an_export_interpolation_shows_the_explorer_and_a_link_can_open_it(app, tmp_path):
    fake_export(tmp_path / "static")
    at = app
    at.switch_page("app_pages/interpolation.py")
    at.query_params.update({"interp-live": "1", "interp-a": "2", "interp-b": "5", "interp-steps": "6"})
    at.run()
    (src,) = frames(at)
    query = {name: values[0] for name, values in parse_qs(urlparse(src).query).items()}
    assert (query["view"], query["interp-a"], query["interp-b"], query["interp-steps"]) == ("interpolation", "2", "5", "6")
    assert query["interp-between"] == "two test images" and query["interp-path"] == "slerp"


def test_with_an_export_the_latent_map_shows_the_explorers_map_with_the_pages_model(app, tmp_path):
    fake_export(tmp_path / "static")
    at = open_page(app, "latent_map")
    drawn_here = len(at.get("plotly_chart"))
    assert drawn_here and not at.toggle(key="map-live").disabled
    at.selectbox(key="map-model").set_value("vae")
    at.toggle(key="map-live").set_value(True).run()
    (src,) = frames(at)
    query = {name: values[0] for name, values in parse_qs(urlparse(src).query).items()}
    assert query == {"view": "map", "embed": "1", "dataset": "mnist", "kinds": "gan,vae,vaegan", "map-model": "vae",
                     "present": "0"}
    assert at.get("plotly_chart") == []  # the server draws no map, encodes and projects nothing
    assert any("principal axes" in caption.value for caption in at.caption)  # how its map differs from the page's


def test_a_dataset_the_export_does_not_hold_keeps_the_server_side_view(app, tmp_path):
    fake_export(tmp_path / "static", datasets=("fashion-mnist",))
    at = open_page(app, "compare")
    switch = at.toggle(key="compare-live")
    assert switch.disabled and "holds fashion-mnist" in switch.help
    assert frames(at) == []


# --- in Chromium: the frame draws inside the page, nothing from another host ---------------------------------------

def _benchmark():
    spec = importlib.util.spec_from_file_location("browser_explorer", REPO / "benchmarks" / "browser_explorer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`streamlit run` on a copy of the app (links) whose static folder holds an export of the shipped models."""
    from test_web_explorer import require_node_modules
    from vaegan_core import web_export

    require_tools()
    require_node_modules()
    pytest.importorskip("onnxruntime")
    sys.path.insert(0, str(REPO / "tools"))
    from local_server import streamlit_server

    folder = tmp_path_factory.mktemp("app-with-explorer")
    site = folder / "site"
    web_export.export_web(site, n_images=40, root=REPO / "checkpoints")
    with streamlit_server(timeout=180, root=_benchmark().app_with_explorer(site, folder / "app")) as url:
        yield url


def _frame_pixels(frame, selector: str) -> int:
    """The largest red value drawn on the canvas ``selector`` of ``frame``."""
    return frame.evaluate("""(selector) => {
        const canvas = document.querySelector(selector);
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let most = 0;  // a loop: spreading a large canvas's pixels into Math.max overflows the stack
        for (let i = 0; i < data.length; i += 4) most = Math.max(most, data[i]);
        return most;
    }""", selector)


@pytest.mark.e2e
def test_the_explorer_draws_inside_the_streamlit_page_with_no_other_host(app_url, browser):
    from local_server import READY
    from test_web_explorer import page_of

    with page_of(browser, app_url) as page:
        # the explorer's errors: the Streamlit frontend's own probes of a page's path (/compare/_stcore/health: 404)
        # are its business, not this test's
        failed = []
        page.on("console", lambda message: message.type == "error" and "/app/static/" in message.location["url"]
                and failed.append(message.text))
        page.on("response", lambda response: response.status >= 400 and "/app/static/" in response.url
                and failed.append(f"{response.status} {response.url}"))
        for path, view, canvas, kinds in [
                ("compare?compare-live=1&seed=7&compare-grid=3", "compare", "canvas.grid", ("gan", "vae", "vaegan")),
                ("interpolation?interp-live=1&interp-a=2&interp-b=5", "interpolation", "canvas.strip", ("vae", "vaegan")),
                ("latent_map?map-live=1&map-model=vae", "map", "canvas.single", ("vae",))]:
            page.goto(f"{app_url}/{path}")
            page.wait_for_selector(READY, timeout=120_000)
            frame = page.wait_for_selector("iframe[src*='app/static/explorer']", timeout=60_000).content_frame()
            frame.wait_for_selector("body[data-state=ready]", timeout=120_000)
            settings = frame.evaluate("explorer.settings")
            assert settings["view"] == view and settings["embed"] == 1
            assert frame.locator("#notices p").count() == 0, frame.locator("#notices").inner_text()
            assert not frame.locator("h1").is_visible()  # embedded: the view without the explorer's own title
            for kind in kinds:
                assert _frame_pixels(frame, f"#view-{view} {canvas}[data-kind={kind}]") > 100, (view, kind)
            if view == "compare":
                assert (settings["seed"], settings["compare-grid"]) == (7, 3)
                # a seed typed in the frame redraws it in the browser: the Streamlit page does not run
                before = frame.evaluate("explorer.started")
                frame.fill("#seed", "8")
                frame.wait_for_function(f"explorer.finished > {before}", timeout=30_000)
                assert page.locator(READY).count() == 1
                assert _frame_pixels(frame, "#view-compare canvas.grid[data-kind=vae]") > 100
            elif view == "interpolation":
                assert (settings["interp-a"], settings["interp-b"]) == (2, 5)
            else:  # the explorer's own map of the page's model, its codes drawn as dots
                assert settings["map-model"] == "vae" and _frame_pixels(frame, "#view-map canvas.map") > 100
        assert page.outside == [], f"requests to other hosts: {page.outside}"
        assert failed == [], failed
        assert [problem for problem in page.problems if "Failed to load resource" not in problem] == []
