"""The app in a real browser: `streamlit run demo/app.py` served on localhost, driven by Playwright + Debian chromium.

Marked e2e (it starts a server and a browser, ~30 s); CI installs chromium and runs it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_checkpoints):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run must `apt-get install chromium`")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    port = free_port()
    env = dict(os.environ, VAEGAN_CHECKPOINTS_DIR=str(tiny_checkpoints), VAEGAN_NO_WARMUP="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "demo/app.py", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("streamlit did not answer /_stcore/health within 60 s:\n" + process.stdout.read().decode()[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
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
