"""The app in a real browser: `streamlit run demo/app.py` served on localhost, driven by Playwright + Debian chromium.

Marked e2e (it starts a server and a browser, ~30 s); CI installs chromium and runs it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from conftest import require_tools  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "demo"))
from local_server import CHROMIUM, CHROMIUM_ARGS, READY, streamlit_server  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tiny_checkpoints):
    require_tools()
    try:
        with streamlit_server({"VAEGAN_CHECKPOINTS_DIR": str(tiny_checkpoints)}, timeout=60) as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_app_renders_and_navigates(server, browser):
    page = browser.new_page()
    start = time.perf_counter()
    page.goto(server)
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("Loaded models").wait_for(timeout=30_000)
    rendered = time.perf_counter() - start
    assert page.locator("[data-testid='stException']").count() == 0
    for title, marker in [("Compare", "Which classes"), ("Reconstruction", "Original"),
                          ("Training", "Loss terms"), ("Interpolation", "Download all rows")]:
        page.get_by_role("link", name=title).click()
        page.get_by_text(marker).first.wait_for(timeout=60_000)
        page.wait_for_selector(READY, timeout=60_000)
        assert page.locator("[data-testid='stException']").count() == 0, title
    print(f"first render {rendered:.1f} s")
    page.close()


def test_a_bad_upload_in_the_browser_shows_one_message(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(f"{server}/reconstruction")
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("Upload", exact=True).click()
    page.wait_for_selector(READY, timeout=60_000)
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"definitely not a PNG")
    page.locator("input[type='file']").set_input_files(str(bad))
    page.get_by_text("not an image").wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_role("link", name="Compare").click()  # the app keeps working
    page.get_by_text("Which classes").wait_for(timeout=60_000)
    page.close()


def test_drawing_a_digit_gives_reconstructions(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/reconstruction")
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("Draw", exact=True).click()
    page.get_by_text("The canvas is empty").wait_for(timeout=60_000)
    canvas = page.locator("canvas").last
    canvas.wait_for(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100
    # a "7": a bar across the top, then a stroke down to the lower left
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.25 * w, y + 0.2 * h)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + (0.25 + 0.05 * step) * w, y + 0.2 * h)
    for step in range(1, 13):
        page.mouse.move(x + (0.75 - 0.03 * step) * w, y + (0.2 + 0.055 * step) * h)
    page.mouse.up()
    page.get_by_text("drawing, after preprocessing").wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("mean error").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def test_the_conditional_page_writes_a_number_and_downloads_it(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(f"{server}/conditional")
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("conditional VAE-GAN").first.wait_for(timeout=60_000)  # the class grid, one row per model
    page.get_by_role("tab", name="Write").click()
    field = page.get_by_label("Number to write (digits 0-9, up to 40)")
    field.fill("1984")
    field.press("Enter")
    page.wait_for_selector(READY, timeout=60_000)
    button = page.get_by_role("button", name="VAE-GAN line (PNG)")
    button.wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "write-mnist-vaegan-1984.png" and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(saved).size[0] >= 4 * Image.open(saved).size[1]  # four glyphs side by side
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()
