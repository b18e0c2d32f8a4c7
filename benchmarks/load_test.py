"""Load test of the Streamlit app: N browser sessions at once on the heavy pages, against 127.0.0.1.

    python benchmarks/load_test.py [--sessions 1,5,10,20] [--pages reconstruction,compare,latent_map]

Serves the app with the shipped checkpoints (tools/local_server.py, UMAP warm-up on, as in production), then
for each N opens N sessions (one Chromium, one context per session, so each is its own Streamlit session)
on each page at the same moment and measures, per page: the time until every session has rendered (the
script finished and the page's marker is visible), errors (exceptions shown, timeouts), the worst health-check
latency (/_stcore/health, polled every 0.25 s while the sessions render), the server's peak memory (RSS), and
the CPU seconds the server and everything else (mostly the browser, on the same cores) used meanwhile.
Budget (issue 16): at N = 20 every page renders in under 10 s, health answers in under 1 s, memory stays
under 3 GB, no errors. Bounded: at most 40 sessions, --timeout seconds per page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from local_server import CHROMIUM, CHROMIUM_ARGS, READY, streamlit_server  # noqa: E402

MARKERS = {  # what each page shows once it has rendered
    "reconstruction": "Worst reconstructed first",
    "compare": "Which classes",
    "latent_map": "Decode any spot of the map",
    "overview": "Loaded models",
    "interpolation": "Download all rows",
}


class Monitor:
    """Polls the health endpoint and the server's RSS in a thread; keeps the worst latency and the peak."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.worst_health, self.peak_rss_mb, self.health_failures = 0.0, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._cpu_start, self._machine_start = cpu_seconds(self.pid), machine_cpu_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.server_cpu = cpu_seconds(self.pid) - self._cpu_start
        self.machine_cpu = machine_cpu_seconds() - self._machine_start

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5).read()
            except OSError:
                self.health_failures += 1
            self.worst_health = max(self.worst_health, time.perf_counter() - start)
            self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(self.pid))
            self._stop.wait(0.25)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (the server's share of the machine, beside the browser's)."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (every core; the browser's share is this minus the server's)."""
    import os

    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def one_session(browser, url: str, page_name: str, timeout: float) -> tuple[float, str | None]:
    """Seconds until the page has rendered in a fresh session, and the error (None when it rendered cleanly)."""
    context = await browser.new_context()
    page = await context.new_page()
    start = time.perf_counter()
    try:
        await page.goto(f"{url}/{page_name}", timeout=timeout * 1000)
        await page.get_by_text(MARKERS[page_name]).first.wait_for(timeout=timeout * 1000)
        await page.wait_for_selector(READY, timeout=timeout * 1000)
        seconds = time.perf_counter() - start
        error = "exception shown" if await page.locator("[data-testid='stException']").count() else None
    except Exception as failure:  # Playwright's timeout: the page did not render in time
        seconds, error = time.perf_counter() - start, type(failure).__name__
    await context.close()
    return seconds, error


async def measure(url: str, pid: int, sessions: list[int], pages: list[str], timeout: float) -> list[dict]:
    from playwright.async_api import async_playwright

    rows = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for count in sessions:
            for page_name in pages:
                with Monitor(url, pid) as monitor:
                    results = await asyncio.gather(*[one_session(browser, url, page_name, timeout)
                                                     for _ in range(count)])
                times = [seconds for seconds, _ in results]
                errors = [error for _, error in results if error]
                rows.append({"sessions": count, "page": page_name, "median": statistics.median(times),
                             "slowest": max(times), "errors": len(errors) + monitor.health_failures,
                             "health": monitor.worst_health, "rss": monitor.peak_rss_mb,
                             "server_cpu": monitor.server_cpu, "machine_cpu": monitor.machine_cpu})
                print_row(rows[-1])
        await browser.close()
    return rows


def print_row(row: dict) -> None:
    print(f"| {row['sessions']} | {row['page']} | {row['median']:.1f} | {row['slowest']:.1f} | {row['errors']} | "
          f"{row['health'] * 1000:.0f} | {row['rss']:.0f} | {row['server_cpu']:.1f} | "
          f"{row['machine_cpu'] - row['server_cpu']:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,5,10,20", help="comma-separated session counts (each <= 40)")
    parser.add_argument("--pages", default="reconstruction,compare,latent_map",
                        help=f"comma-separated pages, from {', '.join(MARKERS)}")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a session may take per page")
    args = parser.parse_args()
    try:
        sessions = [int(part) for part in args.sessions.split(",")]
    except ValueError:
        sys.exit(f"load_test: --sessions must be integers separated by commas, got {args.sessions!r}")
    pages = args.pages.split(",")
    if not all(1 <= count <= 40 for count in sessions) or not set(pages) <= set(MARKERS):
        sys.exit(f"load_test: sessions must be 1..40 and pages among {', '.join(MARKERS)}")
    if not Path(CHROMIUM).exists():
        sys.exit(f"load_test: {CHROMIUM} is missing; apt-get install chromium")
    print("| sessions | page | median render (s) | slowest render (s) | errors | worst health check (ms) | "
          "server peak RSS (MB) | server CPU (s) | browser and rest CPU (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with streamlit_server({"VAEGAN_NO_WARMUP": "0"}) as url:
        asyncio.run(measure(url, url.pid, sessions, pages, args.timeout))


if __name__ == "__main__":
    main()
