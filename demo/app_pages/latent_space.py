"""Latent space: which dimensions each model uses (posterior collapse), traversals and class arithmetic."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

import ui
from vaegan_core.analysis import directions
from vaegan_core.images import gif_bytes, png_bytes
from vaegan_core.analysis.latent_usage import explain

choice = ui.page_header(
    "Latent space",
    "What the codes z mean. Which of the latent dimensions does each model really use? What happens along one "
    "direction? Can a code be moved from one class towards another? Same settings, models side by side.",
)
dataset = choice["dataset"]
names = ui.class_names(dataset)
models = ui.models(dataset, choice["kinds"])
if not models:
    ui.stop()
encoders = {kind: model for kind, model in models.items() if model.has_encoder}


def usage_of(model, dataset: str) -> dict:
    with st.spinner("Encoding the test split..."):
        return ui.explorer().latent_usage(model, dataset)  # shipped for the shipped checkpoints



usage_tab, traversal_tab, arithmetic_tab = ui.tabs("latent-tab", ["Used dimensions", "Traversals", "Class arithmetic"])

if usage_tab.open:
    with usage_tab:
        ui.explain(
            "**" + ui.term("posterior-collapse") + ".** The " + ui.term("kl", "KL term") + " pulls each dimension's posterior q(z_d | x) towards the prior N(0, 1). "
            "A dimension that carries no information about the image pays nothing there, so the encoder can give "
            "dimensions up: their KL drops to 0 and their code no longer moves with the image. A dimension is "
            "*" + ui.term("active-units", "active") + "* when its posterior mean varies across images, Cov_x(E[z_d | x]) > 0.01 (Burda et al. 2016). "
            "A larger **beta** (weight of the KL) closes more dimensions; a strong decoder can make the encoder give "
            "up on all of them.")
        if not encoders:
            st.info("Only the VAE and the VAE-GAN have an encoder, hence a posterior: choose one in the sidebar.")
        columns = st.columns(max(1, len(encoders)))
        for column, (kind, model) in zip(columns, encoders.items()):
            usage = usage_of(model, dataset)
            with column:
                st.metric(f"{ui.LABELS[kind]}: active units", f"{usage['active_units']} / {usage['latent_dim']}")
                order = usage["order"]
                figure = go.Figure(go.Bar(
                    x=[f"z{index}" for index in order], y=[usage["kl_per_dim"][index] for index in order],
                    marker_color=[ui.MODEL_COLOURS[kind] if usage["active"][index] else "#bbbbbb" for index in order],
                    hovertemplate="%{x}: %{y:.2f} nats<extra></extra>"))
                figure.update_layout(height=270, margin={"t": 10, "b": 10, "l": 10, "r": 10}, font={"size": 15},
                                     yaxis_title="KL (nats)", xaxis_title="latent dimension, largest KL first")
                ui.chart(st, figure, f"kl-per-dimension-{kind}", key=f"kl-{kind}")
                st.caption(explain(usage) + " Grey bars: inactive dimensions.")

if traversal_tab.open:
    with traversal_tab:
        st.markdown("Move one code along one direction, from -3 to +3 standard deviations of the test codes along it. "
                    "The VAE and the VAE-GAN start from their code of the chosen image, the GAN (no encoder) from a "
                    "random code of the sidebar seed.")
        left, middle, right = st.columns(3)
        kind_of_direction = left.radio("Direction", ["principal direction", "latent dimension"], horizontal=True,
                                       key=ui.linked("traverse-direction", "principal direction",
                                                     ui.one_of(["principal direction", "latent dimension"])),
                                       help="Principal directions of each model's test codes, largest variance first "
                                            "(for the GAN, of its prior: the axes).")
        latent_dims = {model.config.latent_dim for model in models.values()}
        number = int(middle.number_input("Which (0 = the first)", 0, min(latent_dims) - 1,
                                         key=ui.linked("traverse-which", 0, ui.as_int(0, min(latent_dims) - 1))))
        steps = right.slider("Steps", 3, 15, key=ui.linked("traverse-steps", 9, ui.as_int(3, 15)))
        image, caption, _ = ui.image_source("traversal", dataset, "Start from")
        if image is not None:
            ui.show_row(image, f"**Start:** {caption}", width=112)
            strips = {}
            for kind, model in models.items():
                dim = model.config.latent_dim
                if kind in encoders:
                    codes = ui.explorer().test_codes(model, dataset)
                    start = model.encode(image)[0][0]
                    if kind_of_direction == "principal direction":
                        vectors, sigmas = directions.principal_directions(codes, number + 1)
                        vector, sigma = vectors[number], float(sigmas[number])
                    else:
                        vector, sigma = directions.axis(number, dim), float(codes[:, number].std())
                else:
                    start = torch.randn(dim, generator=torch.Generator().manual_seed(choice["seed"]))
                    vector, sigma = directions.axis(number, dim), 1.0
                path, offsets = directions.traversal(start, vector, sigma, steps)
                strips[kind] = model.decode(path)
                ui.show_row(strips[kind], f"**{ui.LABELS[kind]}** (sigma along it: {sigma:.2f})", width=84,
                            captions=[f"{t:+.1f}" for t in offsets])
            ui.download(st, "Download the strips (PNG)",
                        lambda strips=strips: png_bytes(torch.cat(list(strips.values())), nrow=steps, scale=4),
                        f"traversal-{dataset}-{kind_of_direction.split()[0]}{number}.png", "image/png")

if arithmetic_tab.open:
    with arithmetic_tab:
        st.markdown("Move an image's code by the difference of two class means, z + (mean code of A - mean code of B): "
                    "\"this 1, moved the way a 7 differs from a 1\". Only models with an encoder have class means.")
        if not encoders:
            st.info("Choose the VAE or the VAE-GAN in the sidebar.")
        else:
            left, middle, right = st.columns(3)
            classes = range(len(names))
            target = left.selectbox("Towards class A", classes, format_func=lambda c: names[c],
                                    key=ui.linked("arithmetic-a", min(7, len(names) - 1), ui.one_of(classes, int)))
            origin = middle.selectbox("Away from class B", classes, format_func=lambda c: names[c],
                                      key=ui.linked("arithmetic-b", min(1, len(names) - 1), ui.one_of(classes, int)))
            steps = right.slider("Steps", 2, 12, key=ui.linked("arithmetic-steps", 6, ui.as_int(2, 12)))
            labels = ui.test_split(dataset)[1]
            default = int(next(iter(np.flatnonzero(labels == origin)), 0))
            index = int(st.number_input("Image (test index; by default the first of class B)", 0, len(labels) - 1,
                                        default, key=f"arithmetic-index-{origin}"))
            image = ui.test_images(dataset, [index])
            ui.show_row(image, f"**Image:** #{index} ({names[labels[index]]})", width=112)
            for kind, model in encoders.items():
                codes = ui.explorer().test_codes(model, dataset)
                means = directions.class_means(codes, labels[: codes.shape[0]], len(names))
                path = directions.arithmetic(model.encode(image)[0][0], means[target], means[origin], steps)
                frames = model.decode(path)
                ui.show_row(frames, f"**{ui.LABELS[kind]}**: #{index} + ({names[target]} - {names[origin]})", width=84,
                            captions=[f"{amount:.0%}" for amount in np.linspace(0, 1, steps)])
                ui.download(st, f"{ui.LABELS[kind]} as GIF", lambda frames=frames: gif_bytes(list(frames)),
                            f"arithmetic-{dataset}-{kind}-{index}-{target}-minus-{origin}.gif", "image/gif", key=f"gif-{kind}")
