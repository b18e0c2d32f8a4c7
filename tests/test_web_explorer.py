"""The static browser explorer (web/, `vaegan export-web`) in a real browser: Playwright + Debian chromium.

Marked e2e: it exports the shipped models (about 10 s), serves the folder on localhost and drives the page. Needs
chromium (apt-get install chromium) and ONNX Runtime Web (npm ci --prefix web); skipped here without them, failed in
CI, whose .ci/run installs both.
"""

from __future__ import annotations

import contextlib
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
def page_of(browser, address: str):
    """A page that may reach ``address``'s host only: any other request is aborted and recorded in page.outside;
    console errors and uncaught exceptions are recorded in page.problems."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
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
