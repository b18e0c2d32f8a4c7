"""`streamlit run demo/app.py` (or `python demo/gradio_app.py`) on a free port of 127.0.0.1, for the programs that
drive the apps (the browser and Gradio tests, scripts/screenshot_compare.py): start, wait until healthy, stop.

    with streamlit_server({"VAEGAN_CHECKPOINTS_DIR": "..."}) as url:
        ...  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import os
import signal
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
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"


def rerun_finished(page, start_timeout_ms: int = 3_000, timeout_ms: int = 60_000) -> None:
    """After an input in ``page`` (Playwright): wait for the rerun it started to begin (unless it already has
    finished) and then to finish, so that what is read next is that rerun's, not the previous one's."""
    try:
        page.wait_for_selector(RUNNING, timeout=start_timeout_ms)
    except Exception:  # noqa: BLE001 - it may have finished before we looked
        pass
    page.wait_for_selector(READY, timeout=timeout_ms)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server(str):
    """The app's URL (a str, so it can be used as one), with the server's process id beside it; ``report()``
    says what the server is doing: where each of its threads is, and the end of its output."""

    pid: int = 0
    output = None  # the server's stdout and stderr (a file), while it runs

    def report(self, chars: int = 6000) -> str:
        if self.output is None:
            return "(the server has stopped)"
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGUSR1)  # the server writes every thread's stack to its output (faulthandler)
            time.sleep(1.0)
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-chars:]


@contextlib.contextmanager
def streamlit_server(env: dict | None = None, timeout: float = 90.0, network_log: str | None = None,
                     root: Path = REPO):
    """Yield the URL of the app (a ``Server``: a str with ``.pid``) served with ``env`` added to this process's
    environment (UMAP warm-up off unless ``env`` turns it on); a server that is not healthy within ``timeout``
    seconds is a RuntimeError with the end of its output. With ``network_log``, every attempt of the server to
    reach another host is written there (``network_audit.py``)."""
    port = free_port()
    # audited, the server runs as a user starts it: its settings (telemetry off, headless) from .streamlit/config.toml
    flags = [] if network_log else ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command = ["-m", "streamlit", "run", "demo/app.py", "--server.port", str(port), *flags]
    environment = {"VAEGAN_NO_WARMUP": "1", **(env or {})}
    with _serve(command, port, "/_stcore/health", environment, timeout, network_log, root) as url:
        yield url


@contextlib.contextmanager
def gradio_server(env: dict | None = None, timeout: float = 180.0, network_log: str | None = None):
    """``python demo/gradio_app.py`` on a free port of 127.0.0.1, as ``streamlit_server`` does it (analytics off)."""
    port = free_port()
    environment = {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                   "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    with _serve(["demo/gradio_app.py"], port, "/", environment, timeout, network_log) as url:
        yield url


@contextlib.contextmanager
def _serve(arguments: list[str], port: int, health: str, env: dict, timeout: float, network_log: str | None,
           root: Path = REPO):
    """Start ``python [network audit] ARGUMENTS`` in the repository root with ``env`` added, wait until
    ``health`` answers, yield the URL, and stop the server afterwards."""
    environment = {**os.environ, **env}
    audit = [str(REPO / "tools" / "network_audit.py"), network_log] if network_log else []
    with tempfile.TemporaryFile() as output:
        # through this file's main: SIGUSR1 makes the server write its threads' stacks (Server.report)
        process = subprocess.Popen([sys.executable, __file__, *audit, *arguments], cwd=root, env=environment,
                                   stdout=output, stderr=subprocess.STDOUT)
        url = Server(f"http://127.0.0.1:{port}")
        url.pid, url.output = process.pid, output
        try:
            _wait_until_healthy(url, health, process, output, timeout)
            yield url
        finally:
            url.output = None
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_healthy(url: str, health: str, process: subprocess.Popen, output, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}{health}", timeout=5) as answer:
                if answer.status == 200 and (health != "/_stcore/health" or answer.read() == b"ok"):
                    return
        except OSError:
            time.sleep(0.3)
    output.seek(0)
    state = "exited" if process.poll() is not None else f"did not answer {url}{health} within {timeout:.0f} s"
    raise RuntimeError(f"the server {state}:\n" + output.read().decode(errors="replace")[-2000:])


if __name__ == "__main__":  # python tools/local_server.py (-m MODULE | SCRIPT) ARGS...: run it, stacks on SIGUSR1
    import faulthandler

    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from network_audit import run_program

    run_program(sys.argv[1:])
