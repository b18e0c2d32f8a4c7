"""Compare: GAN, VAE and VAE-GAN samples from the same latent codes, and what classes each one draws."""

import plotly.graph_objects as go
import streamlit as st

import ui
import ui_browser
from vaegan_core.images import png_bytes

choice = ui.page_header(
    "Compare",
    "Each model at its best, from the same seeded noise: the GAN decodes z ~ N(0, T^2 I); the VAE and the VAE-GAN "
    "send that noise through a Gaussian mixture fitted to the codes of their training images (" + ui.term("gmm-prior")
    + "), where "
    "their decoders were trained, instead of the parts of N(0, I) no image was encoded to. Switch to N(0, I) to "
    "see all three decode the very same codes: differences then come from the models alone. Temperature T < 1 "
    "trades variety for typical-looking samples.",
)
dataset = choice["dataset"]
models = ui.models(dataset, choice["kinds"])
if not models:
    ui.stop()

left, middle, right = st.columns(3)
sides = [3, 4, 5, 6, 8, 10]
side = left.select_slider("Grid", sides, format_func=lambda s: f"{s} x {s}",
                          key=ui.linked("compare-grid", 6, ui.one_of(sides, int)))
temperature = middle.slider("Temperature T", 0.1, 1.5, step=0.05,
                            key=ui.linked("compare-t", 1.0, ui.as_float(0.1, 1.5)))
prior = ui.prior_choice(right)

# Dragging without the server (demo/ui_browser.py): where the browser explorer is exported, a switch shows its
# Compare, opened with these settings, instead of the grids drawn here
in_browser = ui_browser.live_in_browser(st, "compare-live", "compare", dataset, {
    "dataset": dataset, "kinds": list(models), "seed": choice["seed"], "prior": prior, "compare-grid": side,
    "compare-t": round(temperature, 2), "present": int(ui.presenting())}, height=1000 if ui.presenting() else 650)
if not in_browser:
    # Drawn once per process by the app layer (the same grids as the Gradio app's for the same settings); the PNGs
    # at their own pixels, stretched pixel-sharp by the browser (ui.SHARP_CSS): a PNG four times as large took four
    # times as long to write; the download's 4x PNG is made when clicked
    samples = ui.explorer().samples(models, side * side, seed=choice["seed"], temperature=temperature, prior=prior)
    grids = {kind: (png_bytes(images, nrow=side), images) for kind, images in samples.items()}
    columns = st.columns(len(grids))
    for column, (kind, (picture, images)) in zip(columns, grids.items()):
        with column:
            st.markdown(f"**{ui.LABELS[kind]}** · {models[kind].prior(prior, fallback=True).label}")
            st.image(picture, width="stretch")
            ui.download(st, "PNG", lambda images=images: png_bytes(images, nrow=side, scale=4),
                        f"{ui.export_name(kind, f'grid{side}', f't{temperature}', prior)}.png", "image/png",
                        key=f"png-{kind}")
    for kind, model in models.items():
        note = model.prior(prior, fallback=True).note
        if note:
            st.caption(f"{ui.LABELS[kind]}: {note}.")

if not ui.presenting():  # on a projector the grids keep the screen; the histogram's switch follows them
    st.divider()
    st.subheader("Which classes does each model draw?")
left, right = st.columns([1, 2])
classify = left.toggle("Classify the samples", key=ui.linked("compare-classify", False, ui.as_bool),
                       help="On demand: every change of the seed, temperature or prior draws and classifies the "
                            "samples again (seconds to a minute on a CPU); the grid above does not wait for it.")
n_histogram = right.select_slider("Samples classified", [500, 1000, 2000, 5000],
                                  key=ui.linked("compare-classified", 1000, ui.one_of([500, 1000, 2000, 5000], int)),
                                  help="Each sample is labelled by the dataset's domain classifier (a LeNet).")
names = ui.class_names(dataset)
if not classify:
    if not ui.presenting():
        st.caption("Switch on *Classify the samples* to see the share of each class per model: mode collapse shows "
                   "as missing classes.")
    ui.stop()


try:
    with st.spinner("Classifying samples..."):
        histograms = ui.explorer().class_histograms(models, dataset, n_histogram, choice["seed"], temperature, prior)
except Exception as error:  # a missing domain classifier: say so, keep the samples above
    st.warning(f"No class histogram: {error}")
    ui.stop()
figure = go.Figure()
for kind, result in histograms.items():
    figure.add_trace(go.Bar(x=names, y=[c / n_histogram for c in result["histogram"]], name=ui.LABELS[kind],
                            marker_color=ui.MODEL_COLOURS[kind]))  # the model's colour on every page
figure.add_hline(y=0.1, line_dash="dot", annotation_text="uniform (test set)")
figure.update_layout(barmode="group", height=360, yaxis_title="share of samples", margin={"t": 20})
ui.chart(st, figure, "class-histogram")
st.dataframe([{"model": ui.LABELS[kind], "classes drawn": result["classes_covered"],
               "KL to uniform (nats)": round(result["kl_to_uniform"], 2)} for kind, result in histograms.items()],
             hide_index=True, column_config={"KL to uniform (nats)": st.column_config.NumberColumn(format="%.2f")})
st.caption("KL to uniform is 0 for a perfectly balanced model and ln 10 = 2.30 for one that draws a single class "
           "(mode collapse).")
