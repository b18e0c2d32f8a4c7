"""`streamlit run demo/app.py` on a free port of 127.0.0.1, for the programs that drive the app in a browser
(the browser tests, scripts/screenshot_compare.py): start it, wait until it is healthy, stop it.

    with streamlit_server({"VAEGAN_CHECKPOINTS_DIR": "..."}) as url:
        ...  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright drives it (never `playwright install`)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"  # a page that has finished running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server(str):
    """The app's URL (a str, so it can be used as one), with the server's process id beside it."""

    pid: int = 0


@contextlib.contextmanager
def streamlit_server(env: dict | None = None, timeout: float = 90.0, network_log: str | None = None):
    """Yield the URL of the app (a ``Server``: a str with ``.pid``) served with ``env`` added to this process's
    environment (UMAP warm-up off unless ``env`` turns it on); a server that is not healthy within ``timeout``
    seconds is a RuntimeError with the end of its output. With ``network_log``, every attempt of the server to
    reach another host is written there (``network_audit.py``)."""
    port = free_port()
    environment = {**os.environ, "VAEGAN_NO_WARMUP": "1", **(env or {})}
    audit = [str(REPO / "demo" / "network_audit.py"), network_log] if network_log else []
    # audited, the server runs as a user starts it: its settings (telemetry off, headless) from .streamlit/config.toml
    flags = [] if network_log else ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [sys.executable, *audit, "-m", "streamlit", "run", "demo/app.py", "--server.port", str(port), *flags],
            cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT)
        url = Server(f"http://127.0.0.1:{port}")
        url.pid = process.pid
        try:
            _wait_until_healthy(url, process, output, timeout)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_healthy(url: str, process: subprocess.Popen, output, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    output.seek(0)
    raise RuntimeError(f"streamlit did not answer {url}/_stcore/health within {timeout:.0f} s:\n"
                       + output.read().decode(errors="replace")[-2000:])
