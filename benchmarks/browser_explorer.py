"""The static browser explorer (web/, `vaegan export-web`) in Chromium on this CPU: what a visitor waits for.

    python benchmarks/browser_explorer.py [--site DIR] [--repeats 5] [--seconds 3]

Exports the shipped models into a temporary folder (or takes an export, ``--site``), serves it on localhost as
`vaegan web` does, and times in Chromium (Playwright, Debian's /usr/bin/chromium), by the page's own clock:

- a control change to new pixels: the seed typed on Compare (a 3 x 16 grid: three models, 4 x 4 images each), a
  latent slider moved (one image per model) and a number typed on Conditional (each conditional model writes its 4
  glyphs), from the input event to the redraw's end and the next frame (median of ``--repeats``);
- frames per second while a slider is dragged: an input event every animation frame for ``--seconds`` (a drag at the
  display's rate), redraws completed per second, on the latent sliders, Compare's temperature and the
  interpolation's position;
- load to interactive: a new tab (empty cache) from the navigation's start to the first view drawn, from the local
  server (median of ``--repeats``);
- the static folder's total size, and its parts.

One run, one table (Markdown); no budget is asserted. ONNX Runtime Web runs one wasm thread unless the page is
cross-origin isolated (`vaegan web` sends COOP/COEP; then ORT picks min(4, cores / 2) threads).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from vaegan_core import web_export  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# In the page: set a control, send its input event, wait for the redraw it starts and the next frame.
CHANGE = """async ([selector, value]) => {
  const input = document.querySelector(selector);
  const before = explorer.started;
  const start = performance.now();
  input.value = value;
  input.dispatchEvent(new Event("input", {bubbles: true}));
  await explorer.drawn(before);
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  return performance.now() - start;
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


def measure(browser, url: str, repeats: int, seconds: float) -> list[tuple[str, str]]:
    rows = []
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
    grid = [page.evaluate(CHANGE, ["#seed", str(100 + i)]) for i in range(repeats)]
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
    median_ms = lambda values: f"{statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f})"  # noqa: E731
    rows.append(("control change to new pixels, 3 x 16 grid (Compare, seed typed)", median_ms(grid)))
    rows.append(("control change to new pixels, one image per model (a latent slider moved)", median_ms(single)))
    rows.append((f"control change to new pixels, a number typed ({conditional} conditional models x 4 glyphs)",
                 median_ms(written)))
    rows.append(("frames per second, latent slider dragged (3 x 1 image)", f"{fps_latent['fps']:.1f}"))
    rows.append(("frames per second, temperature dragged (Compare, 3 x 16 grid)", f"{fps_compare['fps']:.1f}"))
    rows.append(("frames per second, interpolation position dragged (3 x 11 images, two random codes)", f"{fps_interp['fps']:.1f}"))
    rows.append(("load to interactive, new tab from the local server (first grid drawn)",
                 f"{statistics.median(loads):.2f} s (min {min(loads):.2f}, max {max(loads):.2f})"))
    rows.append(("wasm threads", f"{max(1, min(4, -(-cores // 2))) if isolated else 1} (page cross-origin isolated: "
                                 f"{'yes' if isolated else 'no'}; {cores} cores seen)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", help="an export of `vaegan export-web` (default: export the shipped models now)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per control change and page load (median)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each simulated drag")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="vaegan-explorer-") as temporary:
        site = Path(args.site) if args.site else Path(temporary) / "site"
        if not args.site:
            start = time.perf_counter()
            web_export.export_web(site)
            exported = time.perf_counter() - start
        server = web_export.make_server(site, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://localhost:{server.server_address[1]}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            version = browser.version
            rows = measure(browser, url, args.repeats, args.seconds)
            browser.close()
        server.shutdown()
        sizes = folder_sizes(site)
    rows.append(("static folder, total", f"{sizes['total']:.1f} MB (ONNX Runtime Web {sizes['runtime']:.1f}, "
                                         f"networks {sizes['networks']:.1f}, data and page {sizes['rest']:.1f})"))
    if not args.site:
        rows.append((f"`vaegan export-web` of the shipped models ({sizes['count']} networks)", f"{exported:.1f} s"))
    print(f"Chromium {version}, {platform.processor() or platform.machine()}, {_cpu()}\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


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
