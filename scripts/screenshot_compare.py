"""The README's picture: the app's Compare page (default settings, MNIST, the shipped checkpoints), as a PNG.

    python scripts/screenshot_compare.py [--out docs/images/compare.png]

Serves the app with the shipped checkpoints on a free local port (tools/local_server.py), opens the
Compare page in Debian's Chromium (Playwright, never `playwright install`) and saves a screenshot.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from local_server import CHROMIUM, CHROMIUM_ARGS, READY, streamlit_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "compare.png"))
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit(f"screenshot_compare: {CHROMIUM} is missing; apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with streamlit_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/compare")
        page.get_by_text("Which classes").wait_for(timeout=120_000)
        page.wait_for_selector(READY, timeout=120_000)
        page.screenshot(path=args.out, clip={"x": 0, "y": 0, "width": 1400, "height": 720})
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
