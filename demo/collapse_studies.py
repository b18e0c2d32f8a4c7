"""The Collapse page's image tab: the shipped studies (seed bands, the answer, strips, the class histogram across
generations, the two kinds of collapse side by side) and a live study that starts from a shipped checkpoint."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from vaegan_core.config import MODEL_KINDS
from vaegan_core.errors import VaeganError
from vaegan_core.experiments.collapse import GaussianCollapseConfig, summarize
from vaegan_core.experiments.collapse_images import read_strip
from vaegan_core.experiments.collapse_report import (LOOP_LABELS, PAPER_CLAIM, band, load_studies, signatures,
                                                       stale_line, verdict)

MEASURES = [("fid", "domain FID (lower is better)"), ("recall", "recall (diversity)"),
            ("precision", "precision (fidelity)"), ("classes_covered", "classes covered (of 10)"),
            ("class_entropy", "class entropy (max ln 10 = 2.30)"), ("tail_mass", "tail mass (rare but real-looking)"),
            ("confident_share", "share the classifier is sure of")]
LIVE_TIMES = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "collapse_live.json"
STUDIES_COMMAND = "VAEGAN_DATA_DIR=... scripts/collapse_runs.sh"


DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def image_studies() -> None:
    root = ui.checkpoints_root() / "collapse"
    found = {name: load_studies(root, name, ui.checkpoints_root()) for name in DATASET_NAMES}
    offered = [name for name, (studies, _, stale) in found.items() if studies or stale] or ["mnist"]
    dataset = st.radio("Studies of", offered, format_func=DATASET_NAMES.get, horizontal=True,
                       key=ui.linked("collapse-dataset", offered[0], ui.one_of(offered)))
    studies, problems, stale = found[dataset]
    for problem in problems:
        st.warning(problem)
    if not studies:
        st.info(f"No current studies in {root}/{dataset}. Make them with `{STUDIES_COMMAND}` (`vaegan collapse --help` "
                "for one study), or run a small live study below.")
    else:
        _shipped(studies, dataset)
    _stale(stale, dataset)
    st.divider()
    _live()


def mode_versus_model() -> None:
    """The Collapse page's third tab: the two failures' signatures side by side, measured."""
    root = ui.checkpoints_root() / "collapse"
    _mode_versus_model(root, load_studies(root, "mnist", ui.checkpoints_root())[0])


def _stale(stale: list[dict], dataset: str) -> None:
    """The studies whose generation 0 is not today's checkpoint: shown apart, never in the answer."""
    if not stale:
        return
    with st.expander(f"{len(stale)} older stud{'y' if len(stale) == 1 else 'ies'}, left out of the answer"):
        st.caption(stale_line(stale, DATASET_NAMES[dataset]))
        st.dataframe([{"model": ui.LABELS[s["kind"]], "loop": LOOP_LABELS.get(s["loop"], s["loop"]), "seed": s["seed"],
                       "generations": len(s["generations"]) - 1, "FID at 0": round(s["generations"][0]["fid"], 1),
                       "FID at last": round(s["generations"][-1]["fid"], 1)} for s in stale], hide_index=True)


def _shipped(studies: dict, dataset: str) -> None:
    loops = [loop for loop in LOOP_LABELS if any(key[1] == loop for key in studies)]
    loop = st.radio("Loop", loops, format_func=LOOP_LABELS.get, horizontal=True,
                    key=ui.linked("collapse-loop", loops[0], ui.one_of(loops)))
    runs = {kind: studies[(kind, loop)] for kind in MODEL_KINDS if (kind, loop) in studies}
    first = next(iter(runs.values()))[0]["config"]
    seconds = [row["train_seconds"] for r in runs.values() for study in r for row in study["generations"][1:]
               if isinstance(row.get("train_seconds"), (int, float))]
    start = ("generation 0 is today's shipped checkpoint of each family (so it starts from a good model), and each "
             f"later generation fine-tunes the one before for {first.get('epochs')} epoch(s) on "
             f"{first.get('per_generation', 0):,} images" if first.get("start_from") else
             f"each generation trains a new model for {first.get('epochs')} epoch(s) on "
             f"{first.get('per_generation', 0):,} images")
    st.markdown(
        f"**The studies** ({LOOP_LABELS[loop]}): {start}; measured with the domain LeNet features on "
        f"{first.get('eval_n', 0):,} samples against the {DATASET_NAMES[dataset]} test split. Budget: "
        f"{np.median(seconds) if seconds else 0:.0f} s of training per generation (median, one CPU thread). "
        f"Seeds per family: {', '.join(f'{ui.LABELS[k]} {len(r)}' for k, r in runs.items())}; the band is the "
        f"range over seeds, the line their mean. Made by `{STUDIES_COMMAND}`.")
    _answer(studies, loop)
    columns = st.columns(3)
    for index, (measure, title) in enumerate(MEASURES):
        figure = go.Figure()
        for kind, kind_runs in runs.items():
            values = band(kind_runs, measure)
            if values:
                _band_traces(figure, values, kind)
        if measure == "tail_mass":
            levels = [row["tail_mass_real"] for r in runs.values() for s in r for row in s["generations"]
                      if isinstance(row.get("tail_mass_real"), (int, float))]
            if levels:
                figure.add_hline(y=float(np.mean(levels)), line_dash="dash", annotation_text="real images")
        figure.update_layout(height=280, title=title, xaxis_title="generation", margin={"t": 40, "b": 0},
                             showlegend=index == 0, font={"size": 14})
        ui.chart(columns[index % 3], figure, f"{dataset}-{loop}-{measure}")
    _strips(runs)
    _histograms(runs)
    _two_kinds(runs, studies, loop)


def _band_traces(figure, values: dict, kind: str) -> None:
    colour, x = ui.MODEL_COLOURS[kind], values["generation"]
    if values["seeds"] > 1:
        figure.add_trace(go.Scatter(x=x + x[::-1], y=values["high"] + values["low"][::-1], fill="toself",
                                    fillcolor=colour, opacity=0.2, line={"width": 0}, hoverinfo="skip",
                                    showlegend=False))
    figure.add_trace(go.Scatter(x=x, y=values["mean"], mode="lines+markers", name=ui.LABELS[kind],
                                line={"color": colour, "dash": ui.MODEL_DASHES[kind]},  # curves that meet stay two
                                marker={"symbol": ui.MODEL_MARKERS[kind], "size": 8}))


def _answer(studies: dict, loop: str) -> None:
    result = verdict(studies, loop)
    if result is None:
        st.info("Fewer than two families have a study of this loop, so there is nothing to compare.")
        return
    (st.success if result["separated"] or result["fastest_separated"] else st.info)(result["text"])
    st.caption(PAPER_CLAIM + " The answer above is computed from the files the studies wrote (FID last / FID at "
               "generation 0, per seed); it says what this study found, whichever way it falls.")
    st.dataframe([{"model": ui.LABELS[kind], "FID at 0": round(row["fid_first"], 1),
                   f"FID at {result['generations']}": round(row["fid_last"], 1), "growth (mean)": round(row["mean"], 2),
                   "growth per seed": ", ".join(f"{r:.2f}" for r in row["ratios"]),
                   "recall at 0": round(row["recall_first"], 3), f"recall at {result['generations']}":
                   round(row["recall_last"], 3)} for kind, row in result["rows"].items()], hide_index=True)


def _strips(runs: dict) -> None:
    st.markdown("**One fixed set of codes, decoded by every generation** (rows: generation 0 at the top; seed 0).")
    columns = st.columns(len(runs))
    for column, (kind, kind_runs) in zip(columns, runs.items()):
        path = kind_runs[0].get("strip")
        column.markdown(f"**{ui.LABELS[kind]}**")
        if path is None:
            column.caption("no strip in this study (made before strips were saved)")
            continue
        try:
            strip = read_strip(path)  # generations x codes x C x H x W
        except ValueError as error:
            column.caption(str(error))
            continue
        g, n, c, h, w = strip.shape
        picture = strip.transpose(0, 3, 1, 4, 2).reshape(g * h, n * w, c)
        scale = 4
        column.image(picture.repeat(scale, 0).repeat(scale, 1).squeeze(-1) if c == 1 else
                     picture.repeat(scale, 0).repeat(scale, 1), width="stretch")


def _histograms(runs: dict) -> None:
    st.markdown("**The class histogram across generations** (seed 0; press Play).")
    count = min(len(r[0]["generations"]) for r in runs.values())
    frames = []
    for g in range(count):
        bars = []
        for kind, kind_runs in runs.items():
            histogram = _histogram(kind_runs[0]["generations"][g])
            bars.append(go.Bar(x=list(range(len(histogram))), y=histogram.tolist(), name=ui.LABELS[kind],
                               marker_color=ui.MODEL_COLOURS[kind]))
        frames.append(go.Frame(name=str(g), data=bars))
    figure = go.Figure(data=frames[0].data, frames=frames)
    figure.add_hline(y=0.1, line_dash="dash", annotation_text="uniform")
    figure.update_layout(
        height=340, barmode="group", yaxis_range=[0, 0.35], xaxis={"dtick": 1, "title": "class (domain classifier)"},
        yaxis_title="share of samples", margin={"t": 20, "b": 0}, font={"size": 14},
        updatemenus=[{"type": "buttons", "buttons": [{"label": "Play", "method": "animate",
                                                      "args": [None, {"frame": {"duration": 600}}]}]}],
        sliders=[{"steps": [{"label": f.name, "method": "animate", "args": [[f.name], {"mode": "immediate"}]}
                            for f in frames], "currentvalue": {"prefix": "generation "}}])
    ui.chart(st, figure, "class-histogram")


def _histogram(row: dict) -> np.ndarray:
    """A generation's class shares (zeros when its histogram is missing or malformed)."""
    try:
        counts = np.asarray(row.get("histogram"), dtype=float).reshape(-1)
    except (TypeError, ValueError):
        counts = np.zeros(10)
    total = counts.sum() if counts.size and np.isfinite(counts).all() and (counts >= 0).all() else 0.0
    return counts / total if total > 0 else np.zeros(max(counts.size, 10))


def _two_kinds(runs: dict, studies: dict, loop: str) -> None:
    st.markdown("**Tails first, then variance?** The Gaussian toy's theory (left; M = 100 samples per generation, "
                "200 runs) beside the images (right), each measure relative to generation 0.")
    found = signatures(studies, loop)
    st.caption("In the toy the tail mass falls long before sigma does. In these image studies (mean over seeds): "
               + "; ".join(f"{ui.LABELS[kind]}: tail mass {row['tail_mass']['trend']} ({row['tail_mass']['first']:.2f} "
                           f"-> {row['tail_mass']['last']:.2f}), recall {row['recall']['trend']} "
                           f"({row['recall']['first']:.2f} -> {row['recall']['last']:.2f})"
                           for kind, row in found.items() if "tail_mass" in row and "recall" in row)
               + ". A tail mass that rises means samples drift into the sparse regions of the data (odd-looking "
                 "digits), not that rare digits are kept.")
    left, right = st.columns(2)
    toy = summarize(GaussianCollapseConfig(samples=100, generations=300, runs=200))
    figure = go.Figure([
        go.Scatter(x=toy["generation"], y=np.asarray(toy["tail_mass_median"]) / toy["tail_mass_real"],
                   name="tail mass P(|x| > 2)"),
        go.Scatter(x=toy["generation"], y=toy["sigma_median"], name="sigma (spread)", line={"dash": "dot"})])
    figure.update_layout(height=300, title="Gaussian toy (median run)", xaxis_title="generation",
                         yaxis_title="relative to the start", margin={"t": 40, "b": 0}, font={"size": 14})
    ui.chart(left, figure, "toy-relative")
    figure = go.Figure()
    for kind, kind_runs in runs.items():
        for measure, dash in (("tail_mass", None), ("recall", "dot")):
            values = (band(kind_runs, measure) or {}).get("mean")
            if not values:
                continue
            figure.add_trace(go.Scatter(x=list(range(len(values))), y=[v / values[0] if values[0] else 0 for v in values],
                                        name=f"{ui.LABELS[kind]} {measure.replace('_', ' ')}",
                                        line={"color": ui.MODEL_COLOURS[kind], "dash": dash}))
    figure.update_layout(height=300, title="Images: tail mass (solid) and recall (dotted)", xaxis_title="generation",
                         yaxis_title="relative to generation 0", margin={"t": 40, "b": 0}, font={"size": 14})
    ui.chart(right, figure, "images-relative")


def _mode_versus_model(root: Path, studies: dict) -> None:
    st.markdown("**Mode collapse or model collapse?** Their signatures, measured.")
    left, right = st.columns(2)
    example = root / "mode-collapse" / "results.json"
    with left:
        st.markdown("*Mode collapse*: one training run that covers only part of the data. Signature at generation "
                    "0: precision high, recall near 0, classes missing from the histogram.")
        if example.is_file():
            try:
                row = json.loads(example.read_text(encoding="utf-8"))["generations"][0]
            except (OSError, ValueError, KeyError, IndexError):
                st.warning(f"{example} could not be read")
            else:
                missing = [str(c) for c, count in enumerate(row["histogram"]) if count == 0]
                st.caption(f"Measured on one under-trained GAN (width 16, 780 steps): precision {row['precision']:.2f}, "
                           f"recall {row['recall']:.2f}, classes covered {row['classes_covered']} "
                           f"(missing: {', '.join(missing) or 'none'}).")
                grid = root / "mode-collapse" / "grid.png"
                if grid.is_file():
                    with st.container(width=360):
                        ui.static_picture(grid, "one under-trained GAN's samples")
    with right:
        st.markdown("*Model collapse*: a slope across generations of models trained on their predecessors' samples. "
                    "Signature: FID rises while recall and the class entropy fall; in theory (Shumailov et al. 2024) "
                    "the tails go first (see the comparison with the toy above for what these studies show).")
        result = verdict(studies, "synthetic")
        if result:
            st.caption("Measured (fully synthetic loop, mean over seeds, generation 0 to "
                       f"{result['generations']}): " + "; ".join(
                           f"{ui.LABELS[k]} FID x{row['mean']:.2f}, recall {row['recall_first']:.2f} -> "
                           f"{row['recall_last']:.2f}" for k, row in result["rows"].items()))


def _live() -> None:
    st.markdown("**A live study**: generation 0 is the shipped MNIST checkpoint; each generation fine-tunes on 2,000 of "
                "the previous generation's samples for one epoch and is measured on 1,000 samples. Each generation "
                "appears as it finishes; **Stop** keeps what is done.")
    times = _live_times()
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Model ", MODEL_KINDS, format_func=ui.LABELS.get,
                        key=ui.linked("collapse-live-model", "vaegan", ui.one_of(MODEL_KINDS)))
    loop = c2.selectbox("Loop ", list(LOOP_LABELS), format_func=LOOP_LABELS.get,
                        help="fresh real data and accumulation read the MNIST training split (VAEGAN_DATA_DIR)",
                        key=ui.linked("collapse-live-loop", "synthetic", ui.one_of(list(LOOP_LABELS))))
    generations = c3.slider("Generations after 0", 1, 6, key=ui.linked("collapse-live-generations", 3, ui.as_int(1, 6)))
    if kind in times:
        st.caption(f"Measured on the 2-core CPU: {times[kind]['seconds_per_generation']:.0f} s per generation for the "
                   f"{ui.LABELS[kind]} (`python benchmarks/collapse_speed.py --live`, {times[kind]['when']}).")
    start, stop = st.columns([1, 5])
    run_it = start.button("Run live study", type="primary")
    stop.button("Stop", help="stops after the generation being trained; the finished ones stay")
    if run_it:
        st.session_state["collapse-live"] = {"kind": kind, "rows": [], "grids": []}
        _run_live(kind, loop, generations)
    _show_live(st.session_state.get("collapse-live"))


def _run_live(kind: str, loop: str, generations: int) -> None:
    from vaegan_core.experiments.collapse_images import live_config, run

    if not ui.shipped_explorer().is_available("mnist", kind):
        st.info(ui.shipped_explorer().missing_message("mnist", kind))
        return
    state = st.session_state["collapse-live"]
    bar, shown, started = st.progress(0.0), st.empty(), time.perf_counter()
    try:
        with ui.one_at_a_time("live studies"), tempfile.TemporaryDirectory() as folder:
            config = live_config(kind, str(ui.shipped_explorer().folder("mnist", kind).path), loop, generations)
            for g in range(1, generations + 1):  # one more generation per call: the study resumes in the folder
                report = ui.progress_callback(bar)
                results = run(replace(config, generations=g), folder,
                              progress=lambda f, m, g=g: report((g - 1 + f) / generations, m))
                state["rows"] = results["generations"]
                state["grids"] = [(Path(folder) / "grids" / f"generation_{k:02d}.png").read_bytes()
                                  for k in range(len(results["generations"]))]
                state["seconds"] = time.perf_counter() - started
                with shown.container():
                    _show_live(state)
        bar.empty()
        shown.empty()
    except VaeganError as error:
        ui.error_message(error)


def _show_live(state: dict | None) -> None:
    if not state or not state.get("rows"):
        return
    rows = state["rows"]
    st.image(state["grids"], caption=[f"generation {row['generation']}" for row in rows], width=200)
    st.dataframe([{"generation": row["generation"], "FID": round(row["fid"], 1), "recall": round(row["recall"], 3),
                   "tail mass": round(row["tail_mass"], 3), "classes": row["classes_covered"]} for row in rows],
                 hide_index=True)
    st.caption(f"{ui.LABELS[state['kind']]}: {len(rows) - 1} generation(s) in {state.get('seconds', 0):.0f} s.")


def _live_times() -> dict:
    try:
        return json.loads(LIVE_TIMES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
