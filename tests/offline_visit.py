"""Visit every page of the app with the network cut off; run inside a network namespace by tests/test_offline.py:

    unshare -n sh -c 'ip link set lo up && exec python tests/offline_visit.py RESULT.json'
    python tests/offline_visit.py RESULT.json http://127.0.0.1:7860     # a server already running: its pages

Starts `streamlit run demo/app.py` on 127.0.0.1 under tools/network_audit.py (every attempt of the server to
reach another host is logged), drives Debian's Chromium through each page with Playwright, records every
request the pages make, then does the same for the Gradio app (demo/gradio_app.py), and writes RESULT.json: pages visited (with any error shown), requests to other hosts,
the server's attempts, and whether the namespace really had no route out.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tools"), str(REPO / "demo")]  # local_server; page_list
from local_server import CHROMIUM, CHROMIUM_ARGS, READY, gradio_server, streamlit_server  # noqa: E402
import page_list  # noqa: E402
from page_list import url_path  # noqa: E402

# the Latent map by PCA (its link says so): UMAP's first run compiles for minutes on a busy 2-core machine, and
# what is checked here is the page, offline; tests/test_app.py renders the UMAP map
PAGES = [{"latent_map": "latent_map?projection=pca"}.get(name, url_path(name)) for name in page_list.PAGES
         if name != "train_live"]


def no_route_out() -> bool:
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=2).close()
    except OSError:
        return True
    return False


def visit_pages(browser, url: str, result: dict):
    """Every Streamlit page of the app at ``url``: errors shown, and every request to another host."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda request: result["outside_requests"].append(request.url)
            if urlparse(request.url).hostname not in ("127.0.0.1", None) else None)
    for name in PAGES:
        started = time.perf_counter()
        page.goto(f"{url}/{name}")
        page.wait_for_selector(READY, timeout=180_000)
        seconds = time.perf_counter() - started
        page.wait_for_timeout(500)  # late requests (fonts, icons) of the rendered page
        errors = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
        result["pages"][name.split("?")[0] or "overview"] = {"errors": errors.all_inner_texts(), "title": page.title(),
                                                             "seconds": round(seconds, 2)}
    return page


def main(result_path: str, url: str | None = None) -> None:
    from playwright.sync_api import sync_playwright

    result = {"offline": no_route_out(), "pages": {}, "outside_requests": [], "server_attempts": []}
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if url:  # a server started by the caller (the Space image): its pages only
            visit_pages(browser, url, result)
        else:
            log = Path(folder) / "network.log"
            log.touch()
            with streamlit_server({"HF_HUB_OFFLINE": "1"}, timeout=120, network_log=str(log)) as url:
                page = visit_pages(browser, url, result)
            with gradio_server(network_log=str(log)) as gradio_url:  # the Gradio app, the same way
                page.goto(gradio_url)
                page.get_by_text("VAE-GAN Explorer").first.wait_for(timeout=120_000)
                page.wait_for_timeout(3000)
                result["pages"]["gradio"] = {"errors": page.locator(".error").all_inner_texts(), "title": page.title()}
            result["server_attempts"] = log.read_text(encoding="utf-8").splitlines()
        browser.close()
    Path(result_path).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
