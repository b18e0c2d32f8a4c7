"""How much memory does one live run add to the server? (issue 49: at most 500 MB.) In one process, as the app holds
it: after one short run (what a server that has run one holds: torch's kernels, the quality reader's classifier),
the resident memory before a run, the peak while it trains, takes a quality reading and opens its models in the
other pages (the copies), and what is left after it is closed. Each setting in a fresh process.

    OMP_NUM_THREADS=1 python benchmarks/live_memory.py [--seconds 40] [--cold | --first]

``--cold``: the first run of a bare process (no warm-up at all); ``--first``: the first run of a started server, after
the app's warm-up (``live.warm_up``: the data read and one training step, as ``demo/ui_data.start_warm_up`` does
when the first page is shown; the table then also says what the warm-up itself kept).

Prints a Markdown table: setting, resident MB before, peak MB during, added MB (peak - before), MB left after close.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {  # the lightest and the heaviest runs the page can start
    "one VAE-GAN, digits (the default)": {"kinds": ["vaegan"], "dataset": "digits"},
    "all three, MNIST 5,000 images": {"kinds": ["gan", "vae", "vaegan"], "dataset": "mnist", "subset": 5000},
    "all three, MNIST all 60,000, width 32": {"kinds": ["gan", "vae", "vaegan"], "dataset": "mnist", "subset": 0,
                                             "width": 32},
}


def _status(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _run(settings: dict, seconds: float) -> None:
    """One live run as the page makes it: trained for ``seconds``, a quality reading, its models opened in the other
    pages (the copies), stopped and closed."""
    from vaegan_core.training.live import LiveRegistry, LiveRun, LiveSettings

    run = LiveRun(LiveSettings(**{**settings, "kinds": tuple(settings["kinds"])}), registry=LiveRegistry(1),
                  idle_seconds=1e9)
    run.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and run.state not in ("failed", "stopped"):
        time.sleep(0.2)
    run.read_now()
    run.open_as_checkpoints()
    run.stop()
    run.close()


def _measure(settings: dict, seconds: float, cold: bool = False, first: bool = False) -> dict:
    """In this process: a short run first (what a server has done once: torch's kernels and the quality reader's
    classifier loaded), then memory before, the peak during a second run of ``seconds`` (sampled every 0.1 s), and
    after it is closed."""
    import gc
    import threading

    import torch

    from vaegan_core.training.live import training_data

    torch.set_num_threads(1)  # the app's one thread per request (VAEGAN_APP_THREADS)
    started = _status("VmRSS")
    if first:  # the app's warm-up, as a started server has done it before its first live run
        from vaegan_core.training.live import warm_up

        warm_up(settings["dataset"], wait=True)
    training_data(settings["dataset"])  # the server reads the data once (warm_up)
    if not (cold or first):  # --cold: the first run of a bare process, which also pays torch's one-time kernels
        _run(settings, 8)
    gc.collect()
    before, peak, done = _status("VmRSS"), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _status("VmRSS"))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _run(settings, seconds)
    done.set()
    sampler.join()
    gc.collect()
    return {"started": started, "before": before, "peak": peak[0], "after": _status("VmRSS")}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--cold", action="store_true", help="measure the first run of a bare process instead")
    parser.add_argument("--first", action="store_true",
                        help="measure the first run of a server after the app's warm-up instead")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: measure this setting, print JSON
    args = parser.parse_args(argv)
    if args.one:
        sys.path.insert(0, str(REPO))
        print(json.dumps(_measure(SETTINGS[args.one], args.seconds, args.cold, args.first)))
        return 0
    warm = " (the warm-up kept, MB)" if args.first else ""
    print(f"| live run | resident before (MB){warm} | peak during (MB) | added (MB) | left after close (MB) |")
    print("|---|---:|---:|---:|---:|")
    for name in SETTINGS:
        done = subprocess.run([sys.executable, __file__, "--one", name, "--seconds", str(args.seconds),
                               *(["--cold"] if args.cold else []), *(["--first"] if args.first else [])],
                              capture_output=True, text=True, check=True)
        found = json.loads(done.stdout.strip().splitlines()[-1])
        kept = f" ({found['before'] - found['started']:.0f})" if args.first else ""
        print(f"| {name} | {found['before']:.0f}{kept} | {found['peak']:.0f} | {found['peak'] - found['before']:.0f} | "
              f"{found['after'] - found['before']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
