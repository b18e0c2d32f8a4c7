"""The static browser explorer (web/, `vaegan export-web`) in Chromium on this CPU: what a visitor waits for.

    python benchmarks/browser_explorer.py [--site DIR] [--repeats 5] [--seconds 3]

Exports the shipped models into a temporary folder (or takes an export, ``--site``), serves it on localhost as
`vaegan web` does, and times in Chromium (Playwright, Debian's /usr/bin/chromium), by the page's own clock:

- a control change to new pixels: the seed typed on Compare (a 3 x 16 grid: three models, 4 x 4 images each), a
  latent slider moved (one image per model) and a number typed on Conditional (each conditional model writes its 4
  glyphs), from the input event to the redraw's end (the pixels are on the canvases), and to the next frame after it
  (the screen shows them; this adds the display's wait, up to 16.7 ms at 60 Hz) (medians of ``--repeats``);
- frames per second while a slider is dragged: an input event every animation frame for ``--seconds`` (a drag at the
  display's rate), redraws completed per second, on the latent sliders, Compare's temperature and the
  interpolation's position;
- load to interactive: a new tab (empty cache) from the navigation's start to the first view drawn, from the local
  server (median of ``--repeats``);
- the page's memory with every model loaded: the tab's renderer process (RSS and PSS, /proc) after every dataset's
  views have loaded every network (Draw's encoders, Conditional's decoders);
- the static folder's total size, and its parts;
- server CPU per interaction: the serving process's CPU time (/proc/PID/stat) over the timed seed changes.

Beside it, in the same run, the same interactions in the Streamlit app (`streamlit run demo/app.py` on a copy of the
app made of links, whose static folder holds the export, so the repository is untouched): the sidebar seed changed
on Compare (a 3 x 16 grid: ``?compare-grid=4``), timed by the page's clock from the key press to the rerun drawn
(benchmarks/browser_latency.py's clock), a new tab of Compare on the warm server, and the Streamlit process's CPU
time per seed change; and the third column, the same page with *Drag live in this browser* on (demo/ui_browser.py):
the seed changed in the explorer's frame, the frame's first grid drawn from the navigation's start, and the
Streamlit process's CPU while the frame redraws.

One run, one table (Markdown); no budget is asserted. ONNX Runtime Web runs one wasm thread unless the page is
cross-origin isolated (`vaegan web` sends COOP/COEP; then web/js/models.js asks for min(4, cores) threads).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
from vaegan_core import web_export  # noqa: E402
import browser_latency  # noqa: E402 (its clock of a Streamlit rerun; it puts tools/ on the path)
from local_server import free_port, rerun_finished, streamlit_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# In the page: set a control, send its input event, wait for the redraw it starts (its pixels are on the canvases),
# then for the next frame (the screen shows them): [ms to drawn, ms to that frame]. The second adds the wait for the
# display, up to one frame (16.7 ms at 60 Hz) whatever the page does, since a change comes at any time in a frame.
CHANGE = """async ([selector, value]) => {
  const input = document.querySelector(selector);
  const before = explorer.started;
  const start = performance.now();
  input.value = value;
  input.dispatchEvent(new Event("input", {bubbles: true}));
  await explorer.drawn(before);
  const drawn = performance.now() - start;
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return [drawn, performance.now() - start];
}"""

# In the page: a drag at the display's rate: a new value every animation frame for `seconds`; redraws per second.
DRAG = """async ([selector, seconds]) => {
  const input = document.querySelector(selector);
  const low = Number(input.min), high = Number(input.max);
  const first = explorer.finished, start = performance.now();
  let frame = 0;
  await new Promise((resolve) => {
    const tick = (now) => {
      if (now - start > seconds * 1000) return resolve();
      const phase = (frame++ % 120) / 60;  // there and back every 2 s at 60 Hz
      input.value = low + (high - low) * (phase <= 1 ? phase : 2 - phase);
      input.dispatchEvent(new Event("input", {bubbles: true}));
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const before = explorer.started;
  await explorer.drawn(before - 1);  // the redraw under way ends
  const elapsed = (performance.now() - start) / 1000;
  return {fps: (explorer.finished - first) / elapsed, events: frame, elapsed};
}"""


def folder_sizes(site: Path) -> dict[str, float]:
    """Megabytes of the folder, and of its parts: ONNX Runtime Web, the ONNX networks, the rest (data, page)."""
    files = [path for path in site.rglob("*") if path.is_file()]
    mb = lambda paths: sum(path.stat().st_size for path in paths) / 2**20  # noqa: E731
    runtime = [path for path in files if path.parent.name == "ort"]
    networks = [path for path in files if path.suffix == ".onnx"]
    return {"total": mb(files), "runtime": mb(runtime), "networks": mb(networks), "count": len(networks),
            "rest": mb(set(files) - set(runtime) - set(networks))}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (its threads included), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def static_server(site: Path):
    """`vaegan web SITE` (web_export.make_server) in a process of its own, so that its CPU time is its own: (the
    process, its URL)."""
    port = free_port()
    code = f"from vaegan_core.web_export import make_server; make_server({str(site)!r}, port={port}).serve_forever()"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    url = f"http://localhost:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + web_export.INDEX_FILE, timeout=2).close()
            return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the static server did not answer {url}")


def app_with_explorer(site: Path, folder: Path) -> Path:
    """``folder``: a copy of the app made of links (demo/'s files, .streamlit/) whose static folder holds a copy of the
    export ``site`` (Streamlit serves no link that leads out of its static folder), for ``streamlit_server(root=...)``:
    the app with *Drag live in this browser* available, and the repository untouched."""
    (folder / "demo" / "static").mkdir(parents=True)
    (folder / ".streamlit").symlink_to(REPO / ".streamlit")
    for child in (REPO / "demo").iterdir():
        if child.name not in ("static", "__pycache__"):
            (folder / "demo" / child.name).symlink_to(child)
    shutil.copytree(site, folder / "demo" / "static" / "explorer")
    return folder


def renderers() -> set[int]:
    """The pids of the renderer processes (a page's JavaScript, its wasm memory and its workers) of the Chromium this
    script started: descendants of this process only, never another program's browser on the same machine."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue

    def ours(pid: int) -> bool:
        for _ in range(64):  # a chain of parents, up to init
            if pid == os.getpid():
                return True
            pid = parents.get(pid, 0)
            if pid <= 1:
                return False
        return False

    return {pid for pid, command in commands.items() if b"--type=renderer" in command and ours(pid)}


def resident_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB (/proc/PID/smaps_rollup); PSS shares the pages it shares with Chromium's other
    processes among them."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def page_memory(browser, url: str) -> str:
    """The page's memory with every model loaded. A new tab opens a file of the same server (a page of nothing), then
    the explorer in the same tab (the same site stays in the same renderer process); every dataset is opened, its
    Draw view given a stroke (the encoders) and its Conditional view a number (the conditional decoders). The tab's
    renderer is the one of Chromium's renderers that grew (the others are spares, made at once); its RSS and PSS
    (/proc), and what it had on the page of nothing."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(url + web_export.INDEX_FILE)
    page.wait_for_timeout(1000)
    empty = {pid: resident_mb(pid) for pid in renderers()}
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=120_000)
    datasets = page.evaluate("explorer.catalogue.map((entry) => entry.name)")
    for name in datasets:
        page.select_option("#dataset", name)
        page.wait_for_function(f"explorer.settings.dataset === {name!r} && document.body.dataset.state === 'ready'")
        page.evaluate("document.activeElement.blur()")  # the view keys work outside the form's controls
        page.keyboard.press("5")
        box = page.locator("#view-draw canvas.pad").bounding_box()
        page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.2 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.8 * box["height"], steps=8)
        page.mouse.up()
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("6")
        page.fill("#write", "2026")
        page.wait_for_function("explorer.finished === explorer.started && document.body.dataset.busy === 'false'")
    page.wait_for_timeout(1000)  # the last redraws and their garbage settle
    networks = page.evaluate("explorer.loaded.networks")
    now = {pid: resident_mb(pid) for pid in renderers()}
    tab = max(now, key=lambda pid: now[pid][0] - empty.get(pid, (0.0, 0.0))[0])
    context.close()
    if tab not in empty:  # the explorer opened in a renderer of its own: nothing to compare it with
        return (f"not measured: the tab changed renderer process on navigation (the largest new one: "
                f"{now[tab][0]:.0f} MB resident)")
    (rss, pss), (rss0, pss0) = now[tab], empty[tab]
    return (f"{rss:.0f} MB resident, {pss:.0f} MB proportional ({networks} networks of {len(datasets)} datasets "
            f"loaded; the tab's renderer process, which held {rss0:.0f} / {pss0:.0f} MB on a page of nothing)")


def median_ms(values) -> str:
    return f"{statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f})"


def change_ms(changes) -> str:
    """CHANGE's timings: to the pixels drawn (median, min, max), and the median to the next frame."""
    return (f"{median_ms([drawn for drawn, _ in changes])}; next frame "
            f"{statistics.median(frame for _, frame in changes):.0f} ms")


def measure(browser, url: str, server_pid: int, repeats: int, seconds: float) -> dict[str, str]:
    """The explorer served by the static server (process ``server_pid``): {row: value}."""
    rows = {}
    loads = []
    for _ in range(repeats):  # a fresh context each time: nothing cached
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(url + "?compare-grid=4")
        page.wait_for_selector("body[data-state=ready]", timeout=120_000)
        loads.append(page.evaluate("explorer.readyAt") / 1000)
        context.close()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(url + "?compare-grid=4")
    page.wait_for_selector("body[data-state=ready]", timeout=120_000)
    isolated, cores = page.evaluate("[crossOriginIsolated, navigator.hardwareConcurrency]")
    cpu = cpu_seconds(server_pid)
    grid = [page.evaluate(CHANGE, ["#seed", str(100 + i)]) for i in range(repeats)]
    cpu = (cpu_seconds(server_pid) - cpu) / repeats
    fps_compare = page.evaluate(DRAG, ["#view-compare input[name='compare-t']", seconds])
    page.keyboard.press("2")
    page.wait_for_selector("#latent-dim-0", timeout=30_000)
    single = [page.evaluate(CHANGE, ["#latent-dim-0", str(-2 + 0.5 * i)]) for i in range(repeats)]
    fps_latent = page.evaluate(DRAG, ["#latent-dim-0", seconds])
    page.keyboard.press("3")
    page.wait_for_selector("#view-interpolation input[name='interp-t']", timeout=30_000)
    page.get_by_label("two random codes").check()  # all three models walk the path (the GAN has no encoder)
    page.wait_for_function("explorer.settings['interp-between'] === 'two random codes'")
    fps_interp = page.evaluate(DRAG, ["#view-interpolation input[name='interp-t']", seconds])
    page.keyboard.press("6")
    page.wait_for_selector("#write", timeout=30_000)
    page.evaluate(CHANGE, ["#write", "2025"])  # the first text loads the conditional decoders: not timed
    written = [page.evaluate(CHANGE, ["#write", str(2026 + i)]) for i in range(repeats)]
    conditional = page.locator("#view-conditional canvas.line").count()
    context.close()
    rows[GRID] = change_ms(grid)
    rows[SINGLE] = change_ms(single)
    rows[f"control change to new pixels, a number typed ({conditional} conditional models x 4 glyphs)"] = \
        change_ms(written)
    rows[FPS_LATENT] = f"{fps_latent['fps']:.1f}"
    rows[FPS_COMPARE] = f"{fps_compare['fps']:.1f}"
    rows[FPS_INTERP] = f"{fps_interp['fps']:.1f}"
    rows[LOAD] = f"{statistics.median(loads):.2f} s (min {min(loads):.2f}, max {max(loads):.2f})"
    rows["the page's memory, every model loaded"] = page_memory(browser, url)
    rows[CPU] = f"{cpu:.3f} s (the static server; no request while the page redraws)"
    rows["wasm threads"] = (f"{max(1, min(4, cores)) if isolated else 1} (page cross-origin isolated: "
                            f"{'yes' if isolated else 'no'}; {cores} cores seen)")
    return rows


GRID = "control change to new pixels, 3 x 16 grid (Compare, seed changed)"
SINGLE = "control change to new pixels, one image per model (a latent slider moved)"
FPS_LATENT = "frames per second, latent slider dragged (3 x 1 image)"
FPS_COMPARE = "frames per second, temperature dragged (Compare, 3 x 16 grid)"
FPS_INTERP = "frames per second, interpolation position dragged (3 x 11 images, two random codes)"
LOAD = "load to interactive, a new tab of Compare (first grid drawn)"
CPU = "server CPU per interaction (a seed change on Compare)"
ON_RELEASE = "none: Streamlit reruns once the slider is let go"
COMPARE = "compare?compare-grid=4"


def measure_streamlit(browser, url: str, pid: int, repeats: int) -> dict[str, str]:
    """The same interactions in the Streamlit app at ``url`` (process ``pid``), its pages drawn by the server."""
    browser_latency.first_visit(browser, url, COMPARE)  # the server's first visitor loads the models: not timed
    loads = [browser_latency.first_visit(browser, url, COMPARE)[0] for _ in range(repeats)]
    page = browser_latency.new_page(browser)
    page.goto(f"{url}/{COMPARE}")
    browser_latency.drawn(page)
    field = page.get_by_label("Seed", exact=True).and_(page.locator("input"))
    changes, cpu = [], 0.0
    for seed in range(100, 101 + repeats):  # the first change warms the page's caches: not timed
        field.fill(str(seed))
        before = cpu_seconds(pid)
        field.press("Enter")
        rerun_finished(page, 1500, 300_000)
        changes.append(browser_latency.drawn(page) * 1000)
        cpu += (cpu_seconds(pid) - before) if seed > 100 else 0.0
    page.close()
    return {GRID: median_ms(changes[1:]), SINGLE: "none: no page redraws one image per model for a control",
            FPS_LATENT: ON_RELEASE, FPS_COMPARE: ON_RELEASE, FPS_INTERP: ON_RELEASE,
            LOAD: f"{statistics.median(loads):.2f} s (min {min(loads):.2f}, max {max(loads):.2f}; warm server)",
            CPU: f"{cpu / repeats:.3f} s (the Streamlit process)"}


FRAME_READY = "performance.timeOrigin + explorer.readyAt"  # the frame's first grid, on the wall clock (ms)


def measure_drag_live(browser, url: str, pid: int, repeats: int, seconds: float) -> dict[str, str]:
    """Compare with *Drag live in this browser* on: the explorer in the page's frame, the Streamlit process ``pid``."""
    def open_frame(page):
        page.goto(f"{url}/{COMPARE}&compare-live=1")
        frame = page.wait_for_selector("iframe[src*='app/static/explorer']", timeout=120_000).content_frame()
        frame.wait_for_selector("body[data-state=ready]", timeout=120_000)
        return frame

    loads = []
    for _ in range(repeats):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        frame = open_frame(page)
        loads.append((frame.evaluate(FRAME_READY) - page.evaluate("performance.timeOrigin")) / 1000)
        page.close()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frame = open_frame(page)
    page.wait_for_timeout(1000)  # the page's own rerun settles
    before = cpu_seconds(pid)
    changes = [frame.evaluate(CHANGE, ["#seed", str(100 + i)]) for i in range(repeats)]
    cpu = (cpu_seconds(pid) - before) / repeats
    fps = frame.evaluate(DRAG, ["#view-compare input[name='compare-t']", seconds])
    page.close()
    return {GRID: change_ms(changes), FPS_COMPARE: f"{fps['fps']:.1f}",
            LOAD: f"{statistics.median(loads):.2f} s (min {min(loads):.2f}, max {max(loads):.2f}; Streamlit page, "
                  "then the frame's first grid)",
            CPU: f"{cpu:.3f} s (the Streamlit process, while the frame redraws)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", help="an export of `vaegan export-web` (default: export the shipped models now)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per control change and page load (median)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each simulated drag")
    parser.add_argument("--no-streamlit", action="store_true", help="the explorer's column only")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    columns = {}
    with tempfile.TemporaryDirectory(prefix="vaegan-explorer-") as temporary:
        site = Path(args.site) if args.site else Path(temporary) / "site"
        if not args.site:
            start = time.perf_counter()
            web_export.export_web(site)
            exported = time.perf_counter() - start
        server, url = static_server(site)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            version = browser.version
            try:
                columns["browser explorer (`vaegan web`)"] = measure(browser, url, server.pid, args.repeats,
                                                                     args.seconds)
            finally:
                server.terminate()
            if not args.no_streamlit:
                app = app_with_explorer(site, Path(temporary) / "app")
                with streamlit_server(timeout=180, root=app) as app_url:
                    columns["Streamlit app (pages drawn by the server)"] = measure_streamlit(
                        browser, app_url, app_url.pid, args.repeats)
                    columns["Streamlit, *Drag live in this browser*"] = measure_drag_live(
                        browser, app_url, app_url.pid, args.repeats, args.seconds)
            browser.close()
        sizes = folder_sizes(site)
    explorer = next(iter(columns.values()))
    explorer["static folder, total"] = (f"{sizes['total']:.1f} MB (ONNX Runtime Web {sizes['runtime']:.1f}, "
                                        f"networks {sizes['networks']:.1f}, data and page {sizes['rest']:.1f})")
    if not args.site:
        explorer[f"`vaegan export-web` of the shipped models ({sizes['count']} networks)"] = f"{exported:.1f} s"
    print(f"Chromium {version}, {platform.processor() or platform.machine()}, {_cpu()}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| measure | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for name in explorer:
        print(f"| {name} | " + " | ".join(column.get(name, "–") for column in columns.values()) + " |")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
