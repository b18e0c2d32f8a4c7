"""The app in a real browser: `streamlit run demo/app.py` served on localhost, driven by Playwright + Debian chromium.

Marked e2e (it starts a server and a browser, ~30 s); CI installs chromium and runs it.
"""

from __future__ import annotations

import time

import pytest

from conftest import require_tools  # noqa: E402

import lesson_steps  # noqa: E402 (demo/, on the path by conftest)
from local_server import READY, rerun_finished, streamlit_server  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tiny_checkpoints):
    require_tools()
    try:
        with streamlit_server({"VAEGAN_CHECKPOINTS_DIR": str(tiny_checkpoints)}, timeout=60) as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))


def shown(page, server, locator, timeout: int = 60_000) -> None:
    """Wait for ``locator`` to be visible; if it is not, fail with what the page shows and what the server was
    doing (every thread's stack and the end of its output): a wait that runs out in CI says why."""
    try:
        locator.wait_for(timeout=timeout)
    except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError, whose module the fixture imports
        state = page.locator("[data-testid='stApp']").get_attribute("data-test-script-state", timeout=5_000)
        pytest.fail(f"{error}\n-- the page ({page.url}, script {state}) says:\n{page.inner_text('body')[-1500:]}"
                    f"\n-- the server:\n{server.report()}")


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
        shown(page, server, page.get_by_text(marker).first)
        page.wait_for_selector(READY, timeout=60_000)
        assert page.locator("[data-testid='stException']").count() == 0, title
    print(f"first render {rendered:.1f} s")
    page.close()


def test_the_sidebar_choices_survive_quick_page_changes(server, browser):
    """Compare -> Reconstruction by the sidebar links, the second click while Compare may still be drawing: the
    models and the seed of the link stay chosen (the browser once forgot the Models list on such a page change and
    sent it back empty: "No model is chosen", a quarter of the time)."""
    for round_ in range(8):  # a new session each round: the first page change of a session is the one at risk
        page = browser.new_page()
        page.goto(f"{server}/?seed=7&kinds=gan,vae")
        page.wait_for_selector(READY, timeout=60_000)
        page.get_by_text("Loaded models").wait_for(timeout=30_000)
        page.get_by_role("link", name="Compare").click()
        shown(page, server, page.get_by_text("Which classes").first)
        page.get_by_role("link", name="Reconstruction").click()
        shown(page, server, page.get_by_text("Original").first)
        page.wait_for_selector(READY, timeout=60_000)
        assert "seed=7" in page.url and "kinds=gan%2Cvae" in page.url.replace(",", "%2C"), (round_, page.url)
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
    shown(page, server, page.get_by_text("not an image"), 30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_role("link", name="Compare").click()  # the app keeps working
    page.get_by_text("Which classes").wait_for(timeout=60_000)
    page.close()


def test_drawing_a_digit_gives_reconstructions(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/reconstruction")
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("Draw", exact=True).click()
    shown(page, server, page.get_by_text("The canvas is empty"))
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
    shown(page, server, page.get_by_text("drawing, after preprocessing"))
    page.wait_for_selector(READY, timeout=60_000)
    shown(page, server, page.get_by_text("mean error").first)
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def test_the_conditional_page_writes_a_number_and_downloads_it(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(f"{server}/conditional")
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("conditional VAE-GAN").first.wait_for(timeout=60_000)  # the class grid, one row per model
    page.get_by_role("tab", name="Write").click()  # a rerun: the page computes the open tab only
    field = page.get_by_label("Number to write (digits 0-9, up to 40)")
    shown(page, server, field)
    rerun_finished(page)  # the tab's run has ended: the number typed next starts a run of its own, not one mid-run
    assert page.get_by_role("tab", name="Write").get_attribute("aria-selected") == "true"
    field.fill("1984")
    field.press("Enter")
    rerun_finished(page)  # else the button of the previous run (the default number) may be the one clicked
    button = page.get_by_role("button", name="VAE-GAN line (PNG)")
    shown(page, server, button)
    with page.expect_download(timeout=60_000) as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "write-mnist-vaegan-1984.png" and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(saved).size[0] >= 4 * Image.open(saved).size[1]  # four glyphs side by side
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def _ready(page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector(READY, timeout=90_000)
    assert page.locator("[data-testid='stException']").count() == 0, path


def test_a_copied_link_opens_the_same_view(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _ready(page, f"{server}/interpolation?interp-steps=7&interp-path=lerp&seed=3")
    page.get_by_text("Link to this view").click()
    link = page.locator("[data-testid='stSidebar'] [data-testid='stCode'] code").inner_text().strip()
    assert "interp-steps=7" in link and "interp-path=lerp" in link and "seed=3" in link
    copy = browser.new_page(viewport={"width": 1400, "height": 1000})  # a colleague opens the copied link
    _ready(copy, link)
    steps = copy.locator("[data-testid='stSlider']").filter(has_text="Steps")
    assert steps.locator("[data-testid='stSliderThumbValue']").inner_text().strip() == "7"
    assert copy.get_by_role("radio", name="lerp", exact=True).is_checked()
    assert copy.get_by_label("Seed", exact=True).input_value() == "3"
    page.close()
    copy.close()


def test_each_lesson_button_opens_its_page_with_its_settings(server, browser):
    from urllib.parse import parse_qs, urlparse

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _ready(page, f"{server}/lesson")
    page.locator("[data-testid='stPageLink'] a").nth(6).wait_for(timeout=60_000)
    hrefs = [link.get_attribute("href") for link in page.locator("[data-testid='stPageLink'] a").all()]
    assert len(hrefs) == len(lesson_steps.STEPS) and all("?" in href for href in hrefs)
    for number, href in enumerate(hrefs):
        _ready(page, f"{server}/lesson")
        page.locator("[data-testid='stPageLink'] a").nth(6).wait_for(timeout=60_000)  # the steps drawn
        link = page.locator(f"[data-testid='stPageLink'] a[href='{href}']")  # this step's own link, by its address
        link.click(timeout=60_000)
        page.wait_for_function("() => !location.pathname.endsWith('/lesson')", timeout=60_000)
        page.wait_for_selector(READY, timeout=90_000)
        assert page.locator("[data-testid='stException']").count() == 0, href
        asked, landed = urlparse(href), urlparse(page.url)
        assert landed.path.rstrip("/").split("/")[-1] == asked.path.rstrip("/").split("/")[-1], (href, page.url)
        # the page kept every setting of the step: what its link shows now (defaults left out) is what was asked
        wanted, shown = parse_qs(asked.query), parse_qs(landed.query)
        assert all(wanted.get(key) == value for key, value in shown.items() if key in wanted), (href, page.url)
        if "kinds" in wanted:  # the models the step asked for are the ones chosen (all three: left out of the link)
            chosen = set(shown.get("kinds", ["gan,vae,vaegan"])[0].split(","))
            assert chosen == set(wanted["kinds"][0].split(",")), (href, page.url)
    page.close()


# a page (with its link's settings), and the start of the name of a file it offers (its first download button)
DOWNLOADS = [("compare", "compare-"), ("reconstruction", "reconstruction-"), ("interpolation", "interpolation-"),
             ("latent_map?projection=pca", "latent-map-"), ("latent_space", "latent-space-"),
             ("conditional", "conditional-"), ("training", "training-"),
             ("anomalies?anomaly-tab=Detecting+other+data", "anomalies-")]  # a tab opened by the link


@pytest.mark.parametrize("path, prefix", DOWNLOADS)
def test_a_download_from_each_page(server, browser, tmp_path, path, prefix):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    _ready(page, f"{server}/{path}")
    button = page.locator("[data-testid='stDownloadButton'] button:visible").first
    button.wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.stat().st_size > 0 and saved.name.startswith(prefix), saved.name
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def test_the_server_reports_its_threads(server):
    """What a failed wait prints (``shown``): the server's threads, where each one is."""
    report = server.report()
    assert "most recent call first" in report and "streamlit" in report, report[-500:]


def test_presenter_mode_shows_no_style_sheet_text(server, browser):
    """Presenter mode's style sheet styles the page and is not shown as text (a second <style> in one Markdown
    element once ended the HTML block early and showed its last rule's comment at the top of every page)."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server}/interpolation?present=1")
    page.wait_for_selector(READY, timeout=60_000)
    shown(page, server, page.get_by_text("Download all rows"))
    text = page.inner_text("[data-testid='stMain']")
    assert "*/" not in text and "{" not in text, text[:300]
    # the style sheet (st.html of a <style> alone goes to Streamlit's event container) can land a frame after the
    # main column's last element: wait for it rather than read the size at once (CI once read 16px there)
    page.wait_for_function("getComputedStyle(document.documentElement).fontSize === '21px'", timeout=30_000)
    text = page.inner_text("[data-testid='stMain']")
    assert "*/" not in text and "{" not in text, text[:300]
    page.close()


def test_a_lesson_step_guides_and_one_back_returns_to_the_lesson(server, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    _ready(page, f"{server}/lesson")
    page.locator("[data-testid='stPageLink'] a").nth(3).click(timeout=60_000)  # step 4: mode collapse, live
    page.wait_for_function("() => location.pathname.endsWith('/train_live')", timeout=60_000)
    page.wait_for_selector(READY, timeout=90_000)
    page.get_by_text("step 4 of 8").wait_for(timeout=60_000)
    page.get_by_text("What to watch").wait_for(timeout=30_000)  # the step's preset (mode collapse), ready to Start
    assert page.get_by_role("link", name="Next: step 5").count() == 1
    page.wait_for_timeout(2000)  # the page's own runs after arriving: none may add a history entry
    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/lesson')", timeout=30_000)
    page.locator("[data-testid='stPageLink'] a").nth(6).wait_for(timeout=60_000)  # the Lesson, with its 8 steps
    assert page.get_by_text("step 4 of 8").count() == 0
    page.close()
