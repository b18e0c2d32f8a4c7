"""Latent map: encode test images, project the codes to 2-D (UMAP, PCA or t-SNE), explore by clicking."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

import ui
from vaegan_core.latent import PROJECTIONS, code_at, nearest_neighbours, project

choice = ui.page_header(
    "Latent map",
    "Each dot is a test image placed by its code mu(x), projected to 2-D. Similar images should land together; "
    "the colour is the true class, which the model never saw. Click a dot to see the image, its reconstructions "
    "and its nearest neighbours in latent space.",
)
dataset = choice["dataset"]
names = ui.class_names(dataset)
encoders = ui.models(dataset, choice["kinds"], need_encoder=True)
if not encoders:
    st.info("The map needs a model with an encoder: choose the VAE or the VAE-GAN in the sidebar.")
    ui.stop()

left, middle, right = st.columns(3)
kind = left.selectbox("Model", list(encoders), format_func=ui.LABELS.get,
                     key=ui.linked("map-model", list(encoders)[0], ui.one_of(list(encoders))))
n = middle.select_slider("Test images", [1000, 2000, 5000, 10000],
                         key=ui.linked("map-n", 5000, ui.one_of([1000, 2000, 5000, 10000], int)))
method = right.selectbox("Projection", PROJECTIONS, format_func=str.upper,
                         key=ui.linked("projection", PROJECTIONS[0], ui.one_of(PROJECTIONS)),
                         help="UMAP keeps neighbourhoods and clusters; PCA is linear and instant; t-SNE is slow.")
model = encoders[kind]


# Keyed by the checkpoint's fingerprint; the model itself (_model) is not hashed.
@st.cache_data(show_spinner=False, max_entries=16)
def map_of(_model, fingerprint: str, dataset: str, n: int, method: str, seed: int) -> np.ndarray:
    return project(ui.test_codes(_model, fingerprint, dataset, n), method, seed=seed)


with st.spinner(f"Encoding {n:,} images and projecting with {method.upper()} (UMAP: up to half a minute the "
                "first time; instant afterwards)..."):
    codes = ui.test_codes(model, model.fingerprint, dataset, n)
    points = map_of(model, model.fingerprint, dataset, n, method, choice["seed"])
labels = ui.test_split(dataset)[1][:n]

figure = go.Figure()
order = []
for label in range(len(names)):
    members = np.flatnonzero(labels == label)
    order.append(members)
    figure.add_trace(go.Scattergl(x=points[members, 0], y=points[members, 1], mode="markers", name=names[label],
                                  customdata=members, marker={"size": 4, "opacity": 0.7},
                                  hovertemplate="#%{customdata}<extra>" + names[label] + "</extra>"))
figure.update_layout(height=560, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend={"itemsizing": "constant"},
                     dragmode="pan", xaxis_title=f"{method.upper()} 1", yaxis_title=f"{method.upper()} 2")
event = ui.chart(st, figure, "latent-map", on_select="rerun", selection_mode="points", key=f"map-{kind}-{n}-{method}",
                        width="stretch")


def selected_index(event):
    points_selected = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    if not points_selected:
        return None
    point = points_selected[0]
    if point.get("customdata") is not None:
        value = point["customdata"]
        return int(value[0] if isinstance(value, (list, tuple)) else value)
    return int(order[point["curve_number"]][point["point_index"]])


index = selected_index(event)
if index is None:
    index = int(st.number_input("...or pick a test image by index", 0, n - 1,
                                key=ui.linked("map-index", 0, ui.as_int(0, n - 1))))
image = ui.test_images(dataset, [index])
neighbours = nearest_neighbours(codes, index, k=8)
st.markdown(f"**Image #{index}** ({names[labels[index]]}) and its reconstructions")
recons = [m.reconstruct(image) for m in encoders.values()]
ui.picture(torch.cat([image] + recons), ["original"] + [ui.LABELS[k] for k in encoders], width=96)
st.markdown(f"**Its 8 nearest neighbours** in the {ui.LABELS[kind]}'s latent space")
ui.picture(ui.test_images(dataset, neighbours), [f"#{i} {names[labels[i]]}" for i in neighbours], width=72)

st.divider()
st.markdown("**Decode any spot of the map**: its code is the distance-weighted mean of the codes of the 8 "
            "nearest dots, so empty regions show what the model puts *between* clusters.")
a, b = st.columns(2)
low, high = points.min(0), points.max(0)
x = a.slider("x", float(low[0]), float(high[0]), float((low[0] + high[0]) / 2))
y = b.slider("y", float(low[1]), float(high[1]), float((low[1] + high[1]) / 2))
decoded = model.decode(code_at(points, codes, (x, y)).unsqueeze(0))
ui.picture(decoded, [f"({x:.1f}, {y:.1f})"], width=96)
