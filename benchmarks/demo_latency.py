"""Demo latency and memory budgets, measured through the functions the Streamlit pages call.

    python benchmarks/demo_latency.py [--repeats 20] [--no-server] [--no-umap]

Budgets (issue 4, 2-core CPU): app rendered within 5 s of `streamlit run`; reconstruction,
interpolation and compare interactions under 200 ms; latent map of 5,000 points under 30 s cold
and under 1 s cached; resident memory under 1.5 GB with all six default checkpoints loaded.
Prints one markdown table. Uses the checkpoints in $VAEGAN_CHECKPOINTS_DIR or checkpoints/.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.storage import zoo  # noqa: E402
from vaegan_core.config import IDX_DATASETS, MODEL_KINDS  # noqa: E402
from vaegan_core.storage.checkpoint import load_model  # noqa: E402
from vaegan_core.training.data import load_dataset  # noqa: E402
from vaegan_core.images import gif_bytes, png_bytes  # noqa: E402
from vaegan_core.analysis.latent import encode_images, interpolate, project, sample_side_by_side  # noqa: E402

ROWS: list[tuple[str, str, str, str]] = []


def timed(function, repeats: int) -> float:
    """Median wall time in ms over ``repeats`` calls (after one warm-up call)."""
    function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def row(what: str, value: float, unit: str, budget: float | None) -> None:
    verdict = "" if budget is None else ("yes" if value <= budget else "**no**")
    ROWS.append((what, f"{value:,.1f} {unit}", "" if budget is None else f"{budget:,.0f} {unit}", verdict))


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def server_first_render(timeout: float = 90) -> tuple[float, float] | None:
    """(seconds to /_stcore/health, seconds to the first page fully rendered), both from `streamlit run`.

    The browser is started first (a visitor's browser is already open), so its start-up is not counted.
    Returns None without Playwright or Debian's chromium.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists("/usr/bin/chromium"):
        return None
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "demo/app.py", "--server.port",
                                    str(port), "--server.headless", "true"], cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - start < timeout:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            healthy = time.perf_counter() - start
            page.goto(url)
            page.get_by_text("Loaded models").wait_for(timeout=timeout * 1000)
            page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
            rendered = time.perf_counter() - start
        finally:
            browser.close()
            process.terminate()
            process.wait(timeout=20)
    return healthy, rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--no-server", action="store_true", help="skip the streamlit start-up measurement")
    parser.add_argument("--no-umap", action="store_true", help="skip the latent-map measurement")
    args = parser.parse_args()

    if not args.no_server:
        timings = server_first_render()
        if timings is not None:
            row("`streamlit run` -> server answers /_stcore/health", timings[0], "s", None)
            row("`streamlit run` -> first page (Overview) rendered in chromium", timings[1], "s", 5)

    base = rss_mb()
    start = time.perf_counter()
    models = {}
    for dataset in IDX_DATASETS:
        for kind in MODEL_KINDS:
            if zoo.is_available(dataset, kind):
                models[(dataset, kind)] = load_model(zoo.checkpoint_dir(dataset, kind))
    row(f"load {len(models)} checkpoints", (time.perf_counter() - start) * 1000, "ms", None)
    images, labels = load_dataset(args.dataset, "test")
    chosen = {kind: model for (dataset, kind), model in models.items() if dataset == args.dataset}
    encoders = {kind: model for kind, model in chosen.items() if kind != "gan"}
    if not chosen:
        sys.exit(f"no checkpoints for {args.dataset} under {zoo.checkpoints_root()}: run scripts/train_all.sh")
    batch = images[:8].float() / 255

    def reconstruction():
        for model in encoders.values():
            recon = model.reconstruct(batch)
            (recon - batch).pow(2).flatten(1).mean(1)

    def interpolation():
        ends = images[:2].float() / 255
        frames = []
        for kind, model in chosen.items():
            if kind == "gan":
                codes = torch.randn(2, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
            else:
                codes = encode_images(model, ends)
            frames.append(model.decode(interpolate(codes[0], codes[1], 10, "slerp")))
        png_bytes(torch.cat(frames), nrow=10, scale=2)
        gif_bytes(list(frames[0]))

    def compare():
        sample_side_by_side(chosen, 36, seed=0)

    row(f"reconstruction: 8 images x {len(encoders)} models", timed(reconstruction, args.repeats), "ms", 200)
    row(f"interpolation: 10 steps x {len(chosen)} models + PNG + GIF", timed(interpolation, args.repeats), "ms", 200)
    row(f"compare: 6 x 6 grid x {len(chosen)} models", timed(compare, args.repeats), "ms", 200)

    if not args.no_umap and encoders:
        model = next(iter(encoders.values()))
        start = time.perf_counter()
        codes = encode_images(model, images[:5000])
        encode_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        project(codes.numpy(), "umap", seed=0)
        cold = time.perf_counter() - start
        row("latent map 5,000: encode", encode_ms, "ms", None)
        row("latent map 5,000: UMAP, cold process (numba compiles)", cold, "s", 30)
        start = time.perf_counter()
        points = project(codes.numpy(), "umap", seed=1)
        row("latent map 5,000: UMAP, compiled (after the app's warm-up)", time.perf_counter() - start, "s", 30)
        import streamlit as st

        cached_project = st.cache_data(lambda key: points, show_spinner=False)
        cached_project("warm")
        row("latent map 5,000: cached (st.cache_data hit)", timed(lambda: cached_project("warm"), 5), "ms", 1000)
        start = time.perf_counter()
        project(codes.numpy(), "pca", seed=0)
        row("latent map 5,000: PCA", (time.perf_counter() - start) * 1000, "ms", None)

    row(f"resident memory, {len(models)} checkpoints + test split loaded", rss_mb(), "MB", 1536)
    row("  of which models and data", rss_mb() - base, "MB", None)

    print(f"Demo latency on {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, dataset {args.dataset}\n")
    print("| measure | value | budget | within |")
    print("|---|---|---|---|")
    for cells in ROWS:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
