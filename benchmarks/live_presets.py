"""Do the Train live page's presets make their phenomena happen on this CPU within their time? Each preset runs
over several seeds, as the page runs it (``vaegan_core.training.live.LiveRun``, one thread, the machine as it is), for the
preset's wall-clock seconds; then one more quality reading, and the check below says whether the phenomenon
appeared. The goal: 4 of 5 seeds for every preset.

    OMP_NUM_THREADS=1 python benchmarks/live_presets.py [--seeds 5] [--presets mode-collapse,blur] [--seconds S]
                                                        [--out results.json]

Prints a Markdown table (preset, seeds where it appeared, what each seed showed) and, with --out, writes every
run's last readings as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from vaegan_core.training.live import PRESETS, LiveRegistry, LiveRun, LiveSettings  # noqa: E402


def _last(model: dict, key: str):
    rows = [row for row in model["readings"] if key in row]
    return rows[-1][key] if rows else None


def mode_collapse(models: dict) -> tuple[bool, str]:
    """The GAN covers at most 3 of the 10 classes in every reading of the run's second half."""
    readings = models["gan"]["readings"]
    late = [row["classes_covered"] for row in readings if row["seconds"] >= readings[-1]["seconds"] / 2]
    return bool(late) and max(late) <= 3, f"classes covered in the second half: {late}"


def posterior_collapse(models: dict) -> tuple[bool, str]:
    """At most 2 active latent units at the end."""
    active = _last(models["vae"], "active_units")
    return active is not None and active <= 2, f"active units at the end: {active}"


def blur(models: dict) -> tuple[bool, str]:
    """At equal CPU time, the VAE-GAN's samples are at least 1.15 times as sharp as the VAE's."""
    vae, vaegan = _last(models["vae"], "sharpness"), _last(models["vaegan"], "sharpness")
    seconds = [round(models[kind]["seconds"]) for kind in ("vae", "vaegan")]
    fids = [_last(models[kind], "fid") for kind in ("vae", "vaegan")]
    ratio = vaegan / vae if vae and vaegan else 0.0
    return ratio >= 1.15, f"sharpness VAE {vae} vs VAE-GAN {vaegan} (x{ratio:.2f}); FID {fids}; CPU s {seconds}"


def discriminator_wins(models: dict) -> tuple[bool, str]:
    """At the end D rejects the fakes (mean D(G(z)) < 0.01) and the generator's gradient norm is below 1e-3."""
    last = models["gan"]["history"][-10:]
    d_fake = sum(row["d_fake"] for row in last) / len(last)
    norm = sum(row["generator_grad_norm"] for row in last) / len(last)
    return d_fake < 0.01 and norm < 1e-3, f"D(G(z)) {d_fake:.2g}, generator gradient norm {norm:.2g}"


CHECKS = {"mode-collapse": mode_collapse, "posterior-collapse": posterior_collapse, "blur": blur,
          "discriminator-wins": discriminator_wins}


def run_once(name: str, seed: int, seconds: float) -> dict:
    preset = PRESETS[name]
    run = LiveRun(LiveSettings(**preset.settings, seed=seed), registry=LiveRegistry(1), idle_seconds=1e9)
    started = time.monotonic()
    run.start()
    while time.monotonic() - started < seconds and run.state not in ("stopped", "failed"):
        time.sleep(0.5)
    run.pause()
    if run.state == "failed":
        return {"preset": name, "seed": seed, "appeared": False, "detail": run.snapshot()["message"]}
    run.read_now()
    snapshot = run.snapshot()
    run.close()
    models = {model["kind"]: model for model in snapshot["models"]}
    appeared, detail = CHECKS[name](models)
    return {"preset": name, "seed": seed, "appeared": appeared, "detail": detail, "wall_seconds": seconds,
            "models": {kind: {"step": model["step"], "cpu_seconds": model["seconds"], "readings": model["readings"]}
                       for kind, model in models.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--seconds", type=float, default=0.0, help="wall seconds per run (default: the preset's)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app trains: one thread (VAEGAN_APP_THREADS)
    results = []
    for name in args.presets.split(","):
        for seed in range(args.seeds):
            result = run_once(name, seed, args.seconds or PRESETS[name].seconds)
            print(f"{name} seed {seed}: {'yes' if result['appeared'] else 'no'} - {result['detail']}", flush=True)
            results.append(result)
    print("\n| preset | appeared | seconds per run | what each seed showed |\n|---|---|---|---|")
    for name in args.presets.split(","):
        rows = [result for result in results if result["preset"] == name]
        shown = "; ".join(f"seed {row['seed']}: {row['detail']}" for row in rows)
        seconds = args.seconds or PRESETS[name].seconds
        print(f"| {name} | {sum(row['appeared'] for row in rows)} of {len(rows)} | {seconds:.0f} | {shown} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
