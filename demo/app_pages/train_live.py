"""Train live: one model, or all three side by side at equal CPU time, trained in front of the class.

The training runs in a background thread owned by ``vaegan_core.training.live.LiveRun`` (one per session, kept in
session_state); the controls call its methods from their callbacks, and a fragment redraws what it has seen once
a second without blocking them. The run is forgotten with the session; its models can be downloaded as checkpoint
folders (zip)."""

from __future__ import annotations

import html
import logging
import os

import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

import ui
from vaegan_core.training import live
from vaegan_core.app import app_threads
from vaegan_core.config import MODEL_KINDS
from vaegan_core.errors import VaeganError, first_line

RUN, ERROR, SHOWN = "_live-run", "_live-error", "_live-shown-state"  # session_state: the run, a failed start, its state
ACTIVE = ("queued", "starting", "running")  # the states the view refreshes in
DATASETS = ["digits", "mnist", "fashion-mnist"]
SUBSETS = [1000, 2000, 5000, 10000, 60000]
BETAS = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
GAMMAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
RATES = [0.0, 1e-5, 3e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3]
WIDTHS, BATCHES, LATENTS = [8, 16, 32, 64], [16, 32, 64, 128], [2, 4, 8, 16, 32]
NORMS, LOSSES = ["spectral", "batch", "none"], list(live.GENERATOR_LOSSES)
PRESET_NAMES = [""] + list(live.PRESETS)
# knob key -> (LiveSettings field, default, link parser)
KNOBS = {
    "live-models": ("kinds", ["vaegan"], ui.many_of(MODEL_KINDS)),
    "live-dataset": ("dataset", "digits", ui.one_of(DATASETS)),
    "live-subset": ("subset", 5000, ui.one_of(SUBSETS, int)),
    "live-beta": ("beta", 1.0, ui.one_of(BETAS, float)),
    "live-gamma": ("gamma", 0.05, ui.one_of(GAMMAS, float)),
    "live-lr": ("lr", 0.0, ui.one_of(RATES, float)),
    "live-lr-d": ("lr_discriminator", 0.0, ui.one_of(RATES, float)),
    "live-d-steps": ("d_steps", 1, ui.as_int(1, 10)),
    "live-width": ("width", 16, ui.one_of(WIDTHS, int)),
    "live-batch": ("batch_size", 64, ui.one_of(BATCHES, int)),
    "live-latent": ("latent_dim", 16, ui.one_of(LATENTS, int)),
    "live-norm": ("discriminator_norm", "spectral", ui.one_of(NORMS)),
    "live-loss": ("generator_loss", "non-saturating", ui.one_of(LOSSES)),
}


def rate_label(value: float) -> str:
    return "model default" if value == 0 else f"{value:g}"


def apply_preset(name: str) -> None:
    """Put a preset's settings into the knobs (before they are drawn), the others back to their defaults."""
    values = live.PRESETS[name].settings if name else {}
    for key, (field, default, _) in KNOBS.items():
        value = values.get(field, default)
        st.session_state[key] = list(value) if isinstance(default, list) else value
    st.session_state["_live-applied"] = name


def knobs(locked: bool) -> None:
    """The preset and the knobs; ``locked`` while a run exists (its settings are fixed until Reset)."""
    preset = st.selectbox("Preset", PRESET_NAMES,
                          format_func=lambda name: live.PRESETS[name].label if name else "none: my own settings",
                          key=ui.linked("live-preset", "", ui.one_of(PRESET_NAMES)), disabled=locked)
    applied = st.session_state.get("_live-applied")
    if applied != preset and not locked and (preset or applied is not None):
        apply_preset(preset)  # a preset chosen now (or by a link): its settings into the knobs
    st.session_state["_live-applied"] = preset
    if preset:
        st.info(f"**What to watch:** {live.PRESETS[preset].watch}")
    for key, (_, default, parse) in KNOBS.items():
        ui.linked(key, default, parse)
    first, second, third, fourth = st.columns(4)
    first.multiselect("Models (side by side, equal CPU time)", MODEL_KINDS, format_func=ui.LABELS.get,
                      key="live-models", disabled=locked)
    first.radio("Data", DATASETS, format_func=ui.DATASET_LABELS.get, key="live-dataset", horizontal=True,
                disabled=locked)
    if st.session_state["live-dataset"] != "digits":
        first.select_slider("Training images (the first N)", SUBSETS, key="live-subset", disabled=locked)
    second.select_slider("KL weight beta", BETAS, key="live-beta", disabled=locked,
                         help="VAE and VAE-GAN: the weight of KL(q(z|x) || N(0, I)). Large: the codes carry little, "
                              "latent units switch off (posterior collapse).")
    second.select_slider("VAE-GAN: feature vs pixel weight gamma", GAMMAS, key="live-gamma", disabled=locked,
                         help="The weight of the reconstruction in the discriminator's features against the GAN term "
                              "in the decoder's loss (Larsen et al. 2016).")
    third.select_slider("Learning rate (generator / VAE)", RATES, format_func=rate_label, key="live-lr",
                        disabled=locked)
    third.select_slider("Learning rate (discriminator)", RATES, format_func=lambda v: "as the generator's" if v == 0
                        else f"{v:g}", key="live-lr-d", disabled=locked)
    third.slider("Discriminator steps per generator step", 1, 10, key="live-d-steps", disabled=locked)
    fourth.select_slider("Width (channels of the first layer)", WIDTHS, key="live-width", disabled=locked)
    fourth.select_slider("Batch size", BATCHES, key="live-batch", disabled=locked)
    with st.expander("More settings"):
        left, middle, right = st.columns(3)
        left.select_slider("Latent dimensions", LATENTS, key="live-latent", disabled=locked)
        middle.radio("Discriminator normalisation", NORMS, key="live-norm", horizontal=True, disabled=locked)
        right.radio("GAN generator loss", LOSSES, key="live-loss", horizontal=True, disabled=locked,
                    help="non-saturating: G minimises -log D(G(z)); minimax: G minimises log(1 - D(G(z))), whose "
                         "gradient vanishes when D rejects the fakes (Goodfellow et al. 2014).")
    if locked:
        st.caption("The settings hold for this run: Reset to change them.")


def chosen_settings() -> live.LiveSettings:
    state = st.session_state
    values = {field: state[key] for key, (field, _, _) in KNOBS.items()}
    values["kinds"] = tuple(kind for kind in MODEL_KINDS if kind in values["kinds"])
    return live.LiveSettings(**values, seed=ui.settings()["seed"])


def session_alive():
    """A check that this browser session is still connected (None where there is no server: tests)."""
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not runtime.exists():
        return None
    server, session = runtime.get_instance(), context.session_id
    return lambda: bool(server.is_active_session(session))


def control(action: str) -> None:
    """A button's callback: act on the run (making it first, for Start and Step)."""
    state = st.session_state
    state.pop(ERROR, None)
    run = state.get(RUN)
    if action == "reset":
        if run is not None:
            run.close()
        state.pop(RUN, None)
        return
    if run is None and action in ("start", "step"):
        if not state.get("live-models"):
            state[ERROR] = "Choose at least one model."
            return
        try:
            run = state[RUN] = live.LiveRun(chosen_settings(), alive=session_alive())
        except VaeganError as error:
            state[ERROR] = first_line(error)
            return
    if run is not None:
        getattr(run, action)()


BUTTONS = [("Start", "start", ":material/play_arrow:"), ("Pause", "pause", ":material/pause:"),
           ("Step", "step", ":material/skip_next:"), ("Stop", "stop", ":material/stop:"),
           ("Reset", "reset", ":material/restart_alt:")]


def layout(state: str) -> tuple:
    """The controls in ``state`` ("none": no run): each button's disabled flag, and how often they refresh (with
    the state, the grids and the heartbeat that keeps the run): twice a second while the run starts or trains, so
    that the first grid shows as soon as it is there; every 5 s while it is paused."""
    idle = state in ("none", "new", "paused")
    disabled = (not idle, state not in ACTIVE, not idle, state in ("none", "stopped", "failed"), state == "none")
    return disabled, {"queued": 1.0, "starting": 0.5, "running": 0.5, "paused": 5.0}.get(state)


def buttons(state: str) -> None:
    for column, (label, action, icon), disabled in zip(st.columns(5), BUTTONS, layout(state)[0]):
        column.button(label, key=f"live-{action}", icon=icon, on_click=control, args=(action,), disabled=disabled,
                      width="stretch")


LOSS_TERMS = {  # per model: the terms of its losses, in the order of its equation
    "vae": ["nll", "kl", "loss"],
    "gan": ["loss_discriminator", "loss_generator"],
    "vaegan": ["kl", "feature_nll", "loss_gan_decoder", "loss_encoder", "loss_decoder", "loss_discriminator"],
}



def status(snapshot: dict) -> None:
    state, models = snapshot["state"], snapshot["models"]
    steps = ", ".join(f"{ui.LABELS[m['kind']]} step {m['step']:,} ({m['seconds']:.0f} s CPU)" for m in models)
    limit = f"{snapshot['elapsed']:.0f} s of at most {snapshot['max_seconds'] / 60:.3g} min"
    if state == "queued":
        ahead = snapshot["ahead"]
        runs = f"{ahead} live run{'s' if ahead != 1 else ''} of other visitors {'is' if ahead == 1 else 'are'}"
        st.info(f"Waiting: {runs} ahead of yours on this server; it starts as soon as a place is free (keep this "
                "page open).")
    elif state == "starting":
        st.info("Starting: reading the data and building the models...")
    elif state == "failed":
        ui.error_message(f"The run stopped: {snapshot['message']}")
    elif state == "stopped":
        st.info(f"Stopped ({snapshot['message']}) after {steps}. Download the models below, or Reset.")
    else:
        st.caption(f"**{state.capitalize()}**: {steps}; {limit}.")


def grids(models: list) -> None:
    columns = st.columns(max(len(models), 2))
    for column, model in zip(columns, models):
        if "grid" in model:
            caption = f"{ui.LABELS[model['kind']]}, step {model['grid_step']:,}"
            ui.picture(torch.from_numpy(model["grid"])[None, None] / 255.0, [caption], width=300, where=column)


MAX_SHOWN = 300  # points per curve drawn (a run's history holds up to 3,000 per term)


def thin(rows: list) -> list:
    """At most about MAX_SHOWN of ``rows``, evenly spread, the last one kept."""
    step = -(-len(rows) // MAX_SHOWN)
    return rows if step <= 1 else rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else [])


def trace(model: dict, rows: list, key: str, name: str | None = None, dash: bool = False) -> dict:
    """One curve of a panel: ``key`` of ``rows`` (records with "seconds") in the model's colour."""
    rows = [row for row in rows if row.get(key) is not None]
    return {"name": name or ui.LABELS[model["kind"]], "x": [row["seconds"] for row in rows],
            "y": [row[key] for row in rows], "colour": ui.MODEL_COLOURS[model["kind"]], "dash": dash}


def loss_panels(models: list) -> list:
    """One panel per loss term (and the generator's gradient norm), a curve per model that has it."""
    panels = {}
    for model in models:
        history = thin(model["history"])
        terms = LOSS_TERMS[model["kind"]] + (["generator_grad_norm"] if model["kind"] != "vae" else [])
        for term in terms:
            panels.setdefault(term, {"title": ui.term_label(term), "traces": []})["traces"].append(
                trace(model, history, term))
    return list(panels.values())


def discriminator_panels(models: list) -> list:
    judged = [model for model in models if "d_real" in model]
    if not judged:
        return []
    means = {"title": "mean D(x): real (solid), generated (dashed)", "traces": [], "range": (0, 1.02)}
    now = {"title": "D's scores now on 36 real images and the grid's 36", "traces": [], "range": (0, 1.02),
           "points": True, "ticks": ([], [])}
    for index, model in enumerate(judged):
        history = thin(model["history"])
        means["traces"] += [trace(model, history, "d_real", f"{ui.LABELS[model['kind']]} real"),
                            trace(model, history, "d_fake", f"{ui.LABELS[model['kind']]} generated", dash=True)]
        for side, key in enumerate(("d_real", "d_fake")):
            now["ticks"][0].append(2.5 * index + side)
            now["ticks"][1].append(f"{ui.LABELS[model['kind']]} {'real' if side == 0 else 'grid'}")
            scores = list(model[key])
            spread = [2.5 * index + side + (position % 12 - 5.5) / 30 for position in range(len(scores))]
            now["traces"].append({"name": ui.LABELS[model["kind"]], "x": spread, "y": scores,
                                  "colour": ui.MODEL_COLOURS[model["kind"]], "dash": False})
    return [means, now]


QUALITY = [("fid", "domain FID of 1,000 samples (log)"), ("classes_covered", "classes covered (of 10)"),
           ("sharpness", "sharpness of the samples (real = 1)"), ("active_units", "active latent units")]


def quality_panels(models: list) -> list:
    panels = []
    for key, title in QUALITY:
        traces = [trace(model, model["readings"], key) for model in models if model["readings"]]
        traces = [curve for curve in traces if curve["y"]]
        if traces:
            panels.append({"title": title, "traces": traces, "log": key == "fid", "points": True, "lines": True,
                           "range": (0, 10.5) if key == "classes_covered" else None})
    return panels


def plotly_of(panels: list, columns: int) -> go.Figure:
    rows = -(-len(panels) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=[panel["title"] for panel in panels],
                           vertical_spacing=0.3 / rows)
    legend = set()
    for index, panel in enumerate(panels):
        where = {"row": index // columns + 1, "col": index % columns + 1}
        mode = "markers" if panel.get("points") and not panel.get("lines") else \
            "lines+markers" if panel.get("points") else "lines"
        for curve in panel["traces"]:
            figure.add_trace(go.Scatter(x=curve["x"], y=curve["y"], mode=mode, name=curve["name"],
                                        legendgroup=curve["name"], showlegend=curve["name"] not in legend,
                                        line={"color": curve["colour"], "dash": "dash" if curve["dash"] else None},
                                        marker={"color": curve["colour"], "size": 5}), **where)
            legend.add(curve["name"])
        if panel.get("log"):
            figure.update_yaxes(type="log", **where)
        if panel.get("range"):
            figure.update_yaxes(range=list(panel["range"]), **where)
        if panel.get("ticks"):
            figure.update_xaxes(tickvals=panel["ticks"][0], ticktext=panel["ticks"][1], **where)
    figure.update_layout(height=230 * rows + 60, margin={"t": 40, "b": 10})
    return figure


CELL_W, CELL_H, MARGIN = 330, 190, 34  # one panel of a live picture, in SVG units


def _scale(values: list, low: float, high: float, start: float, length: float, flip: bool = False) -> list:
    span = (high - low) or 1.0
    return [start + length * ((high - value) if flip else (value - low)) / span for value in values]


def panel_svg(panel: dict, left: float, top: float) -> list:
    """One panel as SVG elements: a frame, the title, the y range and a polyline (or dots) per curve."""
    import math

    curves = [(curve, [(x, math.log10(y) if panel.get("log") else y) for x, y in zip(curve["x"], curve["y"])
                       if isinstance(y, (int, float)) and math.isfinite(y) and (y > 0 or not panel.get("log"))])
              for curve in panel["traces"]]
    points = [point for _, pairs in curves for point in pairs]
    if not points:
        return []
    low, high = panel.get("range") or (min(y for _, y in points), max(y for _, y in points))
    x_low, x_high = min(x for x, _ in points), max(x for x, _ in points)
    box = (left + MARGIN, top + 22, CELL_W - MARGIN - 8, CELL_H - 40)
    label = (lambda v: f"{10 ** v:.3g}") if panel.get("log") else (lambda v: f"{v:.3g}")
    parts = [f'<rect x="{box[0]}" y="{box[1]}" width="{box[2]}" height="{box[3]}" fill="none" stroke="#bbb"/>',
             f'<text x="{left + 4}" y="{top + 14}" font-size="12">{html.escape(panel["title"])}</text>',
             f'<text x="{left + 2}" y="{box[1] + 10}" font-size="10">{label(high)}</text>',
             f'<text x="{left + 2}" y="{box[1] + box[3]}" font-size="10">{label(low)}</text>']
    ticks = panel.get("ticks") or ([x_high], [f"{x_high:.0f} s CPU"])  # the x axis: categories, or the CPU time
    for x, text in zip(_scale(ticks[0], x_low, x_high, box[0], box[2]), ticks[1]):
        anchor = "middle" if panel.get("ticks") else "end"
        parts.append(f'<text x="{x:.1f}" y="{box[1] + box[3] + 12}" font-size="10" text-anchor="{anchor}">'
                     f'{html.escape(text)}</text>')
    for curve, pairs in curves:
        xs = _scale([x for x, _ in pairs], x_low, x_high, box[0], box[2])
        ys = _scale([y for _, y in pairs], low, high, box[1], box[3], flip=True)
        if panel.get("points"):
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{curve["colour"]}"/>' for x, y in zip(xs, ys)]
        if not panel.get("points") or panel.get("lines"):
            dash = ' stroke-dasharray="5,3"' if curve["dash"] else ""
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
            parts.append(f'<polyline points="{line}" fill="none" stroke="{curve["colour"]}" stroke-width="1.5"{dash}/>')
    return parts


def svg_of(panels: list, columns: int) -> str:
    """The panels as one SVG picture, with the models' colours below: drawn in a millisecond and shown by the
    browser at no cost, where a charting library every second took the server's or the browser's time."""
    rows = -(-len(panels) // columns)
    width, height = CELL_W * columns, CELL_H * rows + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" font-family="sans-serif">', f'<rect width="{width}" height="{height}" fill="white"/>']
    for index, panel in enumerate(panels):
        parts += panel_svg(panel, CELL_W * (index % columns), CELL_H * (index // columns))
    names = dict.fromkeys((curve["name"], curve["colour"]) for panel in panels for curve in panel["traces"])
    for position, (name, colour) in enumerate(names):
        parts.append(f'<text x="{10 + 170 * position}" y="{height - 6}" font-size="12" fill="{colour}">'
                     f'&#9644; {html.escape(name)}</text>')
    return "".join(parts) + "</svg>"


def draw(panels: list, part: str, state: str, columns: int = 3) -> None:
    """Pictures while the run goes on; interactive charts (hover, zoom, CSV) once it has stopped, or when asked for
    (an interactive chart redrawn while the buttons are used makes the browser answer them late)."""
    if not panels:
        return
    if state not in ("stopped", "failed") and not st.session_state.get("live-interactive"):
        st.image(svg_of(panels, columns), width="stretch")
    else:
        ui.chart(st, plotly_of(panels, columns), part, key=part)


def download(run, models: list) -> None:
    if not models or run.state in ACTIVE:
        return
    name = ui.export_name("live", "-".join(model["kind"] for model in models))
    ui.download(st, "Download the models (checkpoint folders, zip)", run.export_zip, f"{name}.zip", "application/zip",
                key="live-zip")
    st.caption("Each model as an ordinary checkpoint folder: unzip it and `vaegan info`, `vaegan sample` or `vaegan "
               "train --resume` read it. This server forgets the run when you leave or Reset.")
    st.button("Open them in the other pages", icon=":material/open_in_new:", key="live-open",
              on_click=open_in_other_pages, args=(run, models),
              help="Compare, Reconstruction, Interpolation, the latent maps... show these models as they are now, under "
                   "the dataset *Your live models* in the sidebar, for this session.")
    if st.session_state.pop("_live-opened", False):
        st.switch_page("app_pages/compare.py")


def open_in_other_pages(run, models: list) -> None:
    """(The button's callback, which runs before the sidebar's widgets.) The run's models as they are now become the
    sidebar's dataset "Your live models" (this session only), and Compare opens with them."""
    try:
        root = run.open_as_checkpoints()
    except OSError as error:  # a full disk: the run and its download stay
        st.session_state[ERROR] = f"the models could not be copied for the other pages: {error}"
        return
    st.session_state[ui.LIVE_ROOT] = str(root)
    st.session_state["dataset"] = ui.LIVE
    st.session_state["kinds"] = [kind for kind in ui.MODEL_KINDS if kind in {model["kind"] for model in models}]
    st.session_state["_live-opened"] = True


def guarded(part):
    """A part of the view as a fragment's body: a failure is one line, as app.py's guard makes it for a whole page
    (a fragment's own rerun does not pass through that guard)."""
    def body() -> None:
        try:
            part(st.session_state.get(RUN))
        except Exception as error:  # noqa: BLE001
            logging.getLogger("vaegan.app").exception("train live view failed")
            ui.error_message(f"The live view failed: {type(error).__name__}: {first_line(error)}")
    return body


def page_state(state: str) -> tuple:
    """What the rest of the page shows of a run's state: the knobs locked, the curves refreshing, the run over
    (interactive charts, the download). A change here reruns the whole page; any other only the controls."""
    return state != "none", state in ACTIVE, state in ("stopped", "failed")


def controls(run) -> None:
    """The buttons, the state, the queue and the grids, in one fragment: a click on Pause, Start or Step reruns
    this part alone (at once; a whole page's rerun would come later), and the view refreshes twice a second while
    the run trains."""
    buttons(run.state if run is not None else "none")
    if st.session_state.get(ERROR):
        ui.error_message(st.session_state[ERROR])
    if run is None:
        state = "none"
        st.info("Choose a preset or the settings, then **Start**: the grid appears within seconds and every curve "
                "grows as it trains. **Step** takes one optimizer step at a time.")
    else:
        run.heartbeat()  # this page is open: the run goes on
        snapshot = run.snapshot()
        state = snapshot["state"]
        status(snapshot)
        grids(snapshot["models"])
    if page_state(state) != page_state(st.session_state.get(SHOWN, "none")):
        st.session_state[SHOWN] = state
        st.rerun(scope="app")  # the rest of the page follows (a BaseException: not caught by guarded)


def curves(run) -> None:
    """Each loss term and the discriminator's scores."""
    if run is None:
        return
    models = run.snapshot()["models"]
    if any(model["history"] for model in models):
        draw(loss_panels(models), "live-losses", run.state)
        draw(discriminator_panels(models), "live-discriminator", run.state, columns=2)
        st.caption("D(x) is the discriminator's probability that an image is real; near 1 for real and 0 for "
                   "generated images, for long, means D wins and the generator learns little.")


def quality(run) -> None:
    """The quality readings (new ones come every few hundred steps) and the download."""
    if run is None:
        return
    models = run.snapshot()["models"]
    if not any(model["readings"] for model in models):
        if any(model["history"] for model in models):
            st.caption("The first quality reading comes after 300 steps of each model.")
    else:
        draw(quality_panels(models), "live-quality", run.state, columns=4)
        st.caption("Every 300 steps of each model: 1,000 samples through the domain (LeNet) classifier; a class "
                   "counts as covered with at least a quarter of its fair share of the samples. Sharpness: the mean "
                   "difference between neighbouring pixels, against real images'. Active units: latent dimensions "
                   "whose code moves with the image (Burda et al. 2016).")
    download(run, models)


ui.page_header(
    "Train live",
    "Train a VAE, a GAN or a VAE-GAN (or all three side by side, each given the same CPU time) on this machine, in "
    "front of the class: every loss term, the samples of a fixed batch of codes, the discriminator's verdicts and a "
    "quality reading, live. The presets make four classic failures happen within two minutes.",
    needs_models=False,
)
current = st.session_state.get(RUN)
knobs(locked=current is not None)
shown = st.session_state[SHOWN] = current.state if current is not None else "none"
app_threads()  # torch's threads, as every page that runs a model sets them (one by default)
# the data read, and torch's training warmed up before Start (VAEGAN_NO_WARMUP=1, as the tests set: the data only)
live.warm_up(st.session_state["live-dataset"], train_step=os.environ.get("VAEGAN_NO_WARMUP") != "1")
st.toggle("Interactive charts", key="live-interactive", disabled=shown in ("stopped", "failed"),
          help="Hover, zoom and a CSV of each chart. While the run goes on the charts are pictures, which keep the "
               "buttons quick to answer; after Stop they are interactive anyway.")
training = shown in ACTIVE
st.fragment(guarded(controls), run_every=layout(shown)[1])()
st.fragment(guarded(curves), run_every=1.0 if training else None)()
st.fragment(guarded(quality), run_every=3.0 if training else None)()
