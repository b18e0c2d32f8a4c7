"""Training: loss curves and discriminator accuracy from history.jsonl, and the sample grid of every epoch."""

import plotly.graph_objects as go
import streamlit as st

import ui

choice = ui.page_header(
    "Training",
    "What happened while each model trained: every loss term, the discriminator's accuracy (near 1.0 for long means "
    "the generator is losing; near 0.5, a balanced game) and samples from one fixed noise batch after each epoch.",
)
dataset = choice["dataset"]
explorer = ui.explorer()
available = [kind for kind in choice["kinds"] if explorer.is_available(dataset, kind)]
if not available:
    for kind in choice["kinds"]:
        st.info(explorer.missing_message(dataset, kind))
    ui.stop()

quality = {kind: explorer.folder(dataset, kind).quality() for kind in available}
if any(quality.values()):
    st.markdown("**Quality against training time**")
    figure = go.Figure()
    for kind, rows in quality.items():
        if rows:
            figure.add_trace(go.Scatter(
                x=[row["train_seconds"] / 60 for row in rows], y=[row["fid_domain_train"] for row in rows],
                mode="lines+markers", name=ui.LABELS.get(kind, kind), line={"color": ui.MODEL_COLOURS.get(kind), "dash": ui.MODEL_DASHES.get(kind)},
                marker={"symbol": ui.MODEL_MARKERS.get(kind), "size": 8},
                customdata=[row["epoch"] for row in rows],
                hovertemplate="epoch %{customdata}: FID %{y:.1f} after %{x:.1f} min<extra></extra>"))
    figure.update_layout(height=340, xaxis_title="training minutes (the checkpoint's own device)",
                         yaxis_title="domain FID (train split, lower is better)", yaxis_type="log", margin={"t": 20})
    ui.chart(st, figure, "quality")
    st.caption("After each epoch the run scored fresh N(0, I) samples against the training split with the domain "
               "(LeNet) features; the test split plays no part in training choices. "
               "The minutes are training only, on the device each model card names. A model missing here was "
               "trained without tracking.", help="`vaegan train --track-fid N` tracks it, in the run's quality.jsonl.")
kind = st.selectbox("Model", available, format_func=ui.LABELS.get,
                    key=ui.linked("training-model", available[0], ui.one_of(available)))
folder = explorer.folder(dataset, kind)
history = folder.history()
if not history:
    st.info(f"{explorer.shown_path(folder.path)} has no history.jsonl.")
else:
    skip = {"step", "epoch", "images_per_second"}
    terms = sorted({key for row in history for key, value in row.items()
                    if key not in skip and isinstance(value, (int, float))})
    accuracy_terms = [t for t in terms if t.startswith(("d_", "train_"))]
    loss_terms = [t for t in terms if t not in accuracy_terms]
    chosen = st.multiselect("Loss terms", loss_terms, default=loss_terms[:6], format_func=ui.term_label)
    log_y = st.checkbox("Log scale", key=ui.linked("training-log", False, ui.as_bool))
    epochs = [row.get("epoch") for row in history]
    figure = go.Figure()
    for term in chosen:
        figure.add_trace(go.Scattergl(x=epochs, y=[row.get(term) for row in history], mode="lines",
                                      name=ui.term_label(term)))
    figure.update_layout(height=380, xaxis_title="epoch", yaxis_type="log" if log_y else "linear", margin={"t": 20})
    ui.chart(st, figure, "losses")
    if accuracy_terms:
        figure = go.Figure()
        for term in accuracy_terms:
            figure.add_trace(go.Scattergl(x=epochs, y=[row.get(term) for row in history], mode="lines",
                                          name=ui.term_label(term)))
        figure.add_hline(y=0.5, line_dash="dot")
        figure.update_layout(height=300, xaxis_title="epoch", yaxis_range=[0, 1.02], margin={"t": 20})
        st.markdown("**Discriminator**")
        ui.chart(st, figure, "discriminator")
    st.caption(f"{len(history):,} log lines; last: step {history[-1].get('step')}, "
               f"{history[-1].get('images_per_second', 0):.0f} images/s.")



def _grid_caption(path) -> str:
    """A sample grid's caption: "after epoch 7" for samples/epoch_7.png (the file's name for another name)."""
    number = path.stem.rpartition("_")[2]
    return f"after epoch {int(number)}" if path.stem.startswith("epoch") and number.isdigit() else path.stem


grids = folder.sample_grids()
if grids:
    st.markdown("**Samples from the same noise after each epoch**")
    epoch = st.slider("Epoch", 1, len(grids), len(grids)) if len(grids) > 1 else 1
    with st.container(width=420):  # one damaged grid is a note in its place, not an error page
        ui.static_picture(grids[epoch - 1], _grid_caption(grids[epoch - 1]))
