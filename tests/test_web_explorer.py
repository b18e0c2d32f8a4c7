"""The static browser explorer (web/, `vaegan export-web`) in a real browser: Playwright + Debian chromium.

Marked e2e: it exports the shipped models (about 10 s), serves the folder on localhost and drives the page. Needs
chromium (apt-get install chromium) and ONNX Runtime Web (npm ci --prefix web); skipped here without them, failed in
CI, whose .ci/run installs both.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch

from conftest import require_tools
from vaegan_core import web_export

pytestmark = pytest.mark.e2e
from conftest import REPO as ROOT  # noqa: E402
SHIPPED = ROOT / "checkpoints"
DATASETS = ("mnist", "fashion-mnist")
KINDS = ("gan", "vae", "vaegan")
IMAGES = 40  # test images per dataset in the export


def require_node_modules() -> None:
    """Skip without web/node_modules (ONNX Runtime Web), but fail in CI, as conftest.require_tools does for tools."""
    if (ROOT / "web" / web_export.ORT_DIST / web_export.ORT_FILES[0]).is_file():
        return
    if os.environ.get("CI"):
        pytest.fail("needs web/node_modules in CI; .ci/run must `npm ci --prefix web`")
    pytest.skip("needs web/node_modules (npm ci --prefix web)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    require_tools()
    require_node_modules()
    pytest.importorskip("onnxruntime")
    out = tmp_path_factory.mktemp("explorer") / "site"
    web_export.export_web(out, n_images=IMAGES, root=SHIPPED)
    return out


@contextlib.contextmanager
def served(folder: Path):
    server = web_export.make_server(folder, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def url(site):
    with served(site) as address:
        yield address


@contextlib.contextmanager
def page_of(browser, address: str, touch: bool = False):
    """A page that may reach ``address``'s host only: any other request is aborted and recorded in page.outside;
    console errors and uncaught exceptions are recorded in page.problems. touch: a touch screen (page.touchscreen)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, has_touch=touch)
    host = urlparse(address).netloc
    outside, problems = [], []

    def guard(route):
        if urlparse(route.request.url).netloc == host or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.outside, page.problems = outside, problems
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def open_page(page, address: str, query: str = "") -> None:
    page.goto(address + query)
    page.wait_for_selector("body[data-state=ready]", timeout=60_000)


def redrawn(page, action) -> None:
    """Do ``action`` (a function) and wait for the first redraw that starts after it to end."""
    before = page.evaluate("explorer.started")
    action()
    page.wait_for_function(f"explorer.finished > {before}", timeout=30_000)


def pixels(page, selector: str) -> np.ndarray:
    """The red channel of the canvas ``selector`` (height x width, uint8): the grey value drawn."""
    found = page.evaluate("""(selector) => {
        const canvas = document.querySelector(selector);
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        return {width: canvas.width, height: canvas.height, red: Array.from(data.filter((_, i) => i % 4 === 0))};
    }""", selector)
    return np.array(found["red"], dtype=np.uint8).reshape(found["height"], found["width"])


def torch_grid(model, codes: np.ndarray, columns: int) -> np.ndarray:
    """torch's decode of ``codes`` as the page tiles it, rounded to 8 bits (height x width, int)."""
    images = model.decode(torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))).numpy()[:, 0]
    values = np.rint(np.clip(images, 0, 1) * 255).astype(int)
    rows = -(-len(values) // columns)
    size = values.shape[1]
    grid = np.zeros((rows * size, columns * size), dtype=int)
    for index, image in enumerate(values):
        row, column = divmod(index, columns)
        grid[row * size:(row + 1) * size, column * size:(column + 1) * size] = image
    return grid


def test_the_explorer_loads_offline_and_every_view_renders(url, browser):
    with page_of(browser, url) as page:
        open_page(page, url)
        assert page.locator("#notices p").count() == 0
        for number, (view, selector) in enumerate([("compare", "canvas.grid"), ("latent", "canvas.single"),
                                                   ("interpolation", "canvas.strip")], start=1):
            redrawn(page, lambda: page.keyboard.press(str(number)))  # the keys 1, 2, 3 open the views
            assert page.evaluate("explorer.settings.view") == view
            for kind in KINDS if view != "interpolation" else ("vae", "vaegan"):  # (between test images: encoders)
                drawn = pixels(page, f"#view-{view} {selector}[data-kind={kind}]")
                assert drawn.max() > 100 and drawn.size >= 28 * 28, (view, kind)  # something was drawn
        assert "no encoder" in page.locator("#view-interpolation figure[data-kind=gan]").inner_text()
        redrawn(page, lambda: page.get_by_label("two random codes").check())
        for kind in KINDS:
            assert pixels(page, f"#view-interpolation canvas.strip[data-kind={kind}]").max() > 100, kind
        # Latent sliders from the keyboard: a slider takes the arrow keys, every model redraws, the URL keeps it
        redrawn(page, lambda: page.keyboard.press("2"))
        page.focus("#latent-dim-5")
        redrawn(page, lambda: page.keyboard.press("ArrowRight"))
        assert "5" in page.evaluate("explorer.settings['latent-edit']")
        page.wait_for_function("location.search.includes('latent-edit=5')", timeout=5_000)
        # Interpolation: Play moves t and redraws until paused
        redrawn(page, lambda: page.keyboard.press("3"))
        start, renders = page.evaluate("explorer.settings['interp-t']"), page.evaluate("explorer.finished")
        page.get_by_role("button", name="Play").click()
        page.wait_for_function(f"explorer.finished >= {renders + 3}", timeout=30_000)
        page.get_by_role("button", name="Pause").click()
        assert page.evaluate("explorer.settings['interp-t']") != start
        # the dataset switch loads the other models and redraws
        redrawn(page, lambda: page.select_option("#dataset", "fashion-mnist"))
        assert pixels(page, "#view-interpolation canvas.strip[data-kind=vae]").max() > 100
        assert page.locator("#notices p").count() == 0
        assert page.outside == [], f"requests to other hosts: {page.outside}"
        assert page.problems == [], page.problems


def test_the_browser_draws_what_torch_decodes_for_every_model(site, url, browser):
    from vaegan_core.storage.checkpoint import load_model
    from vaegan_core.analysis.latent import interpolate

    with page_of(browser, url) as page:
        for dataset in DATASETS:
            models = {kind: load_model(SHIPPED / dataset / kind) for kind in KINDS}
            d = models["vae"].config.latent_dim
            codes = {kind: np.fromfile(site / dataset / kind / "codes.bin", dtype="<f4").reshape(IMAGES, d)
                     for kind in ("vae", "vaegan")}
            # fixed codes from the export: every model decodes the VAE-GAN's code of test image 3
            open_page(page, url, f"?dataset={dataset}&view=latent&latent-index=3&latent-model=vaegan")
            for kind, model in models.items():
                found = pixels(page, f"#view-latent canvas.single[data-kind={kind}]").astype(int)
                assert np.abs(found - torch_grid(model, codes["vaegan"][3:4], 1)).max() <= 1, (dataset, kind)
            # Compare, GMM prior: the codes the page drew (its own seeded generator), decoded by torch
            open_page(page, url, f"?dataset={dataset}&seed=11&compare-grid=3&compare-t=0.8")
            for kind, model in models.items():
                drawn = np.array(page.evaluate(f"Array.from(explorer.lastCodes['{kind}'])"), dtype=np.float32)
                found = pixels(page, f"#view-compare canvas.grid[data-kind={kind}]").astype(int)
                assert np.abs(found - torch_grid(model, drawn.reshape(9, d), 3)).max() <= 1, (dataset, kind)
            # Interpolation: the page's slerp is vaegan_core.analysis.latent.interpolate's
            open_page(page, url, f"?dataset={dataset}&view=interpolation&interp-a=2&interp-b=5&interp-steps=6")
            drawn = np.array(page.evaluate("Array.from(explorer.lastCodes['vae'])"), dtype=np.float32).reshape(7, d)
            expected = interpolate(torch.from_numpy(codes["vae"][2]), torch.from_numpy(codes["vae"][5]), 6).numpy()
            np.testing.assert_allclose(drawn[:6], expected, atol=1e-4)
            found = pixels(page, "#view-interpolation canvas.strip[data-kind=vae]").astype(int)
            assert np.abs(found - torch_grid(models["vae"], drawn[:6], 6)).max() <= 1
        assert page.problems == [], page.problems


def test_a_bad_url_parameter_falls_back_with_a_notice(url, browser):
    with page_of(browser, url) as page:
        open_page(page, url, "?seed=abc&compare-grid=7&prior=laplace&view=compare&dataset=cifar&compare-t=0.5")
        notices = page.locator("#notices .notice")
        text = " ".join(notices.all_inner_texts())
        assert notices.count() == 4, text
        for name in ("seed", "compare-grid", "prior", "dataset"):
            assert f"The link's {name}=" in text and "showing the default" in text
        settings = page.evaluate("explorer.settings")
        assert (settings["seed"], settings["compare-grid"], settings["prior"], settings["dataset"]) == (0, 4, "gmm", "mnist")
        assert settings["compare-t"] == 0.5  # the good parameters are kept
        assert pixels(page, "#view-compare canvas.grid[data-kind=gan]").max() > 100
        page.locator("#notices .notice .dismiss").first.click()
        assert notices.count() == 3


def _broken_site(site: Path, folder: Path, how: str) -> Path:
    """A copy of ``site`` (links to its files) whose MNIST VAE decoder is missing or corrupt."""
    for path in site.rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(site)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    broken = folder / "mnist" / "vae" / "decoder.onnx"
    broken.unlink()
    if how == "corrupt":
        broken.write_bytes((site / "mnist" / "vae" / "decoder.onnx").read_bytes()[:5000])  # a truncated copy
    return folder


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_file_is_one_message_and_the_others_work(site, browser, tmp_path, how):
    with served(_broken_site(site, tmp_path / "site", how)) as address, page_of(browser, address) as page:
        open_page(page, address)
        errors = page.locator("#notices .model-error")
        assert errors.count() == 1, errors.all_inner_texts()
        message = errors.inner_text()
        assert message.startswith("VAE:") and "decoder.onnx" in message and "vaegan export-web" in message
        assert ("HTTP 404" in message) == (how == "missing")
        assert page.locator("#view-compare canvas[data-kind=vae]").count() == 0
        for kind in ("gan", "vaegan"):
            assert pixels(page, f"#view-compare canvas.grid[data-kind={kind}]").max() > 100, kind
        redrawn(page, lambda: page.keyboard.press("2"))  # the other views work without it too
        assert pixels(page, "#view-latent canvas.single[data-kind=vaegan]").max() > 100
        assert errors.count() == 1


@pytest.mark.parametrize("how", ["missing", "corrupt", "not wasm"])
def test_a_missing_or_corrupt_runtime_is_one_message(site, browser, tmp_path, how):
    """ONNX Runtime's wasm binary ships gzipped (web_export.ORT_BINARY): without it, with a truncated copy, or with a
    file that is no WebAssembly, no model can run, and the page says so once (not once per model, nor again in the
    Conditional view's rows), naming the file and the command that repairs it."""
    import gzip

    folder = _broken_site(site, tmp_path / "site", "missing")
    (folder / "mnist" / "vae" / "decoder.onnx").symlink_to(site / "mnist" / "vae" / "decoder.onnx")  # models intact
    runtime = folder / "ort" / (web_export.ORT_BINARY + ".gz")
    runtime.unlink()
    if how == "corrupt":
        runtime.write_bytes((site / "ort" / runtime.name).read_bytes()[:100_000])
    elif how == "not wasm":
        runtime.write_bytes(gzip.compress(b"<!doctype html><p>a server's page, not the runtime</p>"))
    with served(folder) as address, page_of(browser, address) as page:
        open_page(page, address)
        errors = page.locator("#notices .model-error")
        assert errors.count() == 1, errors.all_inner_texts()
        message = errors.inner_text()
        assert "ONNX Runtime Web could not be loaded" in message and runtime.name in message, message
        assert "vaegan export-web" in message and ("HTTP 404" in message) == (how == "missing"), message
        assert ("not a WebAssembly binary" in message) == (how == "not wasm"), message
        assert "decoder.onnx" not in message  # the networks are intact: not theirs to blame
        assert page.locator("#view-compare canvas.grid").count() == 0
        redrawn(page, lambda: page.keyboard.press("6"))  # the conditional decoders load now: the same runtime
        notes = page.locator("#view-conditional figure.model .caption").all_inner_texts()
        assert notes and all("not available: ONNX Runtime Web could not be loaded" in note for note in notes), notes
        thrown = [text for text in page.problems if "Failed to load resource" not in text]  # (the 404 is the browser's)
        assert errors.count() == 1 and not thrown, thrown


def test_python_http_server_serves_it_too(site, browser):
    """`python -m http.server` in the folder: no COOP/COEP (one wasm thread), the types Python knows; it works."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://localhost:{server.server_address[1]}/"
    try:
        with page_of(browser, address) as page:
            open_page(page, address, "?view=latent")
            assert page.evaluate("crossOriginIsolated") is False
            assert pixels(page, "#view-latent canvas.single[data-kind=gan]").max() > 100
            assert page.problems == [] and page.outside == []
    finally:
        server.shutdown()
        server.server_close()


def _click_map_at(page, x: float, y: float) -> None:
    """Click the Latent map at PCA coordinates (x, y) (through its data-bounds) and wait for the redraw."""
    low_x, high_x, low_y, high_y = map(float, page.get_attribute("#view-map canvas.map", "data-bounds").split(","))
    box = page.locator("#view-map canvas.map").bounding_box()
    left = box["x"] + (x - low_x) / (high_x - low_x) * box["width"]
    top = box["y"] + (high_y - y) / (high_y - low_y) * box["height"]
    redrawn(page, lambda: page.mouse.click(left, top))


def test_a_point_on_the_latent_map_decodes_as_torch_decodes_the_pca_inverse(site, url, browser):
    from vaegan_core.storage.checkpoint import load_model

    with page_of(browser, url) as page:
        for dataset in DATASETS:
            manifest = json.loads((site / dataset / "manifest.json").read_text())
            assert manifest["class_colours"][:2] == ["#1f3c88", "#d7191c"]  # demo/ui_settings.py CLASS_COLOURS
            pca = manifest["models"]["vaegan"]["pca"]
            mean, axes = np.array(pca["mean"]), np.array(pca["components"])
            codes = np.fromfile(site / dataset / "vaegan" / "codes.bin", dtype="<f4").reshape(IMAGES, -1)
            # the two axes are the leading eigenvectors of the codes' covariance (up to sign)
            _, vectors = np.linalg.eigh(np.cov(codes.T.astype(np.float64)))
            for k in range(2):
                assert abs(abs(vectors[:, -1 - k] @ axes[k]) - 1) < 1e-6
            open_page(page, url, f"?dataset={dataset}&view=map")
            assert page.evaluate("explorer.settings['map-model']") == "vaegan"
            target = (codes[5] - mean) @ axes.T  # test image 5 on the map
            _click_map_at(page, *target)
            x, y = page.evaluate("[explorer.settings['map-x'], explorer.settings['map-y']]")
            bounds = [float(v) for v in page.get_attribute("#view-map canvas.map", "data-bounds").split(",")]
            assert abs(x - target[0]) <= (bounds[1] - bounds[0]) / 100  # within a few of the map's pixels
            assert abs(y - target[1]) <= (bounds[3] - bounds[2]) / 100
            z = (mean + x * axes[0] + y * axes[1]).astype(np.float32)[None]
            for kind in KINDS:
                model = load_model(SHIPPED / dataset / kind)
                found = pixels(page, f"#view-map canvas.single[data-kind={kind}]").astype(int)
                assert np.abs(found - torch_grid(model, z, 1)).max() <= 1, (dataset, kind)
            # the keyboard moves the point: the focused map takes the arrow keys
            page.focus("#view-map canvas.map")
            redrawn(page, lambda: page.keyboard.press("ArrowRight"))
            assert page.evaluate("explorer.settings['map-x']") > x
            page.wait_for_function("location.search.includes('map-x=')", timeout=5_000)
        assert page.outside == [] and page.problems == [], (page.outside, page.problems)


def _ink_samples() -> list[np.ndarray]:
    """Drawings as a pad makes them (280 x 280, uint8): strokes of several shapes, sizes and places."""
    from PIL import Image, ImageDraw

    samples = []
    for shape in range(4):
        image = Image.new("L", (280, 280))
        pen = ImageDraw.Draw(image)
        if shape == 0:
            pen.line([(60, 50), (150, 200), (220, 90)], fill=255, width=18)
        elif shape == 1:
            pen.ellipse([30, 20, 90, 250], outline=255, width=14)  # tall and thin, off centre
        elif shape == 2:
            pen.line([(10, 140), (270, 150)], fill=255, width=9)  # wide
            pen.line([(120, 60), (125, 80)], fill=180, width=5)
        else:
            pen.rectangle([200, 200, 260, 275], fill=255)
        samples.append(np.asarray(image))
    return samples


def test_the_pages_drawing_preprocessing_is_read_drawings(url, browser):
    from vaegan_core.uploads import read_drawing

    with page_of(browser, url) as page:
        open_page(page, url, "?view=draw")
        for ink in _ink_samples():
            for style in ("mnist", "fashion"):
                found = page.evaluate("([ink, style]) => Array.from(explorer.preprocess(ink.map((v) => v / 255), "
                                      "280, 280, style))", [ink.ravel().tolist(), style])
                expected = read_drawing(ink, style)[0].numpy().reshape(-1)
                assert np.abs(np.array(found) - expected).max() <= 1 / 255 + 1e-6, style
        assert page.evaluate("explorer.preprocess(new Float32Array(100), 10, 10, 'mnist')") is None  # empty


def test_drawing_a_stroke_reconstructs_it_with_each_encoder(url, browser):
    from vaegan_core.storage.checkpoint import load_model
    from vaegan_core.uploads import read_drawing

    with page_of(browser, url) as page:
        open_page(page, url)
        redrawn(page, lambda: page.keyboard.press("5"))
        assert page.evaluate("explorer.settings.view") == "draw"
        assert "empty" in page.locator("#view-draw").inner_text()
        box = page.locator("#view-draw canvas.pad").bounding_box()
        before = page.evaluate("explorer.started")
        page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.2 * box["height"])
        page.mouse.down()
        for step in range(1, 11):  # a stroke down the pad, then a hook
            page.mouse.move(box["x"] + (0.5 - 0.01 * step) * box["width"],
                            box["y"] + (0.2 + 0.06 * step) * box["height"])
        page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.75 * box["height"])
        page.mouse.up()
        page.wait_for_timeout(100)  # the last animation frame's redraw
        page.wait_for_function(f"explorer.finished > {before} && document.body.dataset.busy === 'false'",
                               timeout=30_000)
        rgba = np.array(page.evaluate("""() => Array.from(document.querySelector('#view-draw canvas.pad')
            .getContext('2d').getImageData(0, 0, 280, 280).data)"""), dtype=np.uint8).reshape(280, 280, 4)
        expected = read_drawing(rgba, "mnist")[0]
        found = np.array(page.evaluate("Array.from(explorer.lastInput)"), dtype=np.float32)
        assert np.abs(found - expected.numpy().reshape(-1)).max() <= 1 / 255 + 1e-6
        for kind in ("vae", "vaegan"):
            model = load_model(SHIPPED / "mnist" / kind)
            with torch.no_grad():
                mu = model.encode(torch.from_numpy(found).reshape(1, 1, 28, 28))[0]
            drawn = pixels(page, f"#view-draw canvas.single[data-kind={kind}]").astype(int)
            assert drawn.max() > 100, kind
            assert np.abs(drawn - torch_grid(model, mu.numpy(), 1)).max() <= 1, kind
        assert page.locator("#view-draw canvas[data-kind=gan]").count() == 0  # no encoder
        redrawn(page, lambda: page.get_by_role("button", name="Clear").click())
        assert page.evaluate("explorer.lastInput === null")
        assert page.outside == [] and page.problems == [], (page.outside, page.problems)


def test_the_map_and_the_pad_take_a_finger_and_the_keyboard(url, browser):
    with page_of(browser, url, touch=True) as page:
        open_page(page, url, "?view=map&dataset=fashion-mnist")
        box = page.locator("#view-map canvas.map").bounding_box()
        redrawn(page, lambda: page.touchscreen.tap(box["x"] + 0.8 * box["width"], box["y"] + 0.2 * box["height"]))
        x, y = page.evaluate("[explorer.settings['map-x'], explorer.settings['map-y']]")
        assert x > 0 and y > 0  # right of and above the mean
        assert pixels(page, "#view-map canvas.single[data-kind=vae]").max() > 100
        redrawn(page, lambda: page.keyboard.press("5"))
        box = page.locator("#view-draw canvas.pad").bounding_box()
        redrawn(page, lambda: page.touchscreen.tap(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"]))
        assert page.evaluate("explorer.lastInput !== null")  # a dot is a drawing
        redrawn(page, lambda: page.get_by_role("button", name="Clear").click())
        page.focus("#view-draw canvas.pad")  # the keyboard: Space lowers the pen, the arrows draw
        for key in ["Space"] + ["ArrowDown"] * 8 + ["ArrowRight"] * 4:
            page.keyboard.press(key)
        page.wait_for_function("explorer.lastInput !== null && document.body.dataset.busy === 'false'",
                               timeout=30_000)
        assert "Pen down" in page.locator("#view-draw").inner_text()
        assert pixels(page, "#view-draw canvas.single[data-kind=vaegan]").max() > 100
        assert page.outside == [] and page.problems == [], (page.outside, page.problems)
