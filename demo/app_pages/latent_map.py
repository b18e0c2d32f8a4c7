"""Latent map: encode test images, project the codes to 2-D (UMAP, PCA or t-SNE), explore by clicking."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

import ui
import ui_browser
from vaegan_core.analysis.latent import PROJECTIONS, code_at, nearest_neighbours

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
index_key = ui.linked("map-index", 0, ui.as_int(0, n - 1))  # the box below keeps it (and the link, frame or not)
# Dragging without the server (demo/ui_browser.py): where the browser explorer is exported, a switch shows its Latent
# map instead (its own map: the exported test codes on their two principal axes; pointing anywhere decodes that spot
# in every model while the pointer moves), with this page's dataset, models and map model
if ui_browser.live_in_browser(st, "map-live", "map", dataset, {
        "dataset": dataset, "kinds": list(choice["kinds"]), "map-model": kind, "present": int(ui.presenting())},
        height=900 if ui.presenting() else 760,
        note="Its map is its own: the first test images' codes on their two principal axes (PCA), whatever the "
             "test images and projection chosen here."):
    ui.stop()
model = encoders[kind]
with st.spinner(f"Encoding {n:,} images and projecting with {method.upper()} (UMAP: up to half a minute the "
                "first time; instant afterwards)..."):
    codes = ui.explorer().test_codes(model, dataset, n)
    # seeded with 0, not the sidebar's seed: the map stays put while samples change; UMAP and t-SNE maps are kept on
    # disk (shipped for the shipped checkpoints' default map), PCA is instant
    points = ui.explorer().latent_map(model, dataset, n, method)
labels = ui.test_split(dataset)[1][:n]
low, high = points.min(0), points.max(0)
centre = (low + high) / 2
chart_key = f"map-{kind}-{n}-{method}"


def clicked() -> None:
    """A click on a dot picks that test image: it goes into the index box (and the link), so it stays picked
    when the model, the number of images or the projection changes."""
    event = st.session_state.get(chart_key)
    found = selected_index(event)
    if found is not None:
        st.session_state["map-index"] = found


def selected_index(event):
    points_selected = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    if not points_selected:
        return None
    point = points_selected[0]
    if point.get("customdata") is not None:
        value = point["customdata"]
        return int(value[0] if isinstance(value, (list, tuple)) else value)
    members = np.flatnonzero(labels == point["curve_number"])
    return int(members[point["point_index"]]) if point["point_index"] < len(members) else None


if not 0 <= int(st.session_state[index_key]) < n:  # fewer images than before: the box's range shrank
    st.session_state[index_key] = 0
index = int(st.session_state[index_key])
spot = (float(st.session_state.get("map-x", centre[0])), float(st.session_state.get("map-y", centre[1])))

figure = go.Figure()
for label in range(len(names)):
    members = np.flatnonzero(labels == label)
    figure.add_trace(go.Scattergl(x=points[members, 0], y=points[members, 1], mode="markers", name=names[label],
                                  customdata=members, marker={"size": 5, "opacity": 0.8,
                                                              "color": ui.CLASS_COLOURS[label % len(ui.CLASS_COLOURS)]},
                                  hovertemplate="#%{customdata}<extra>" + names[label] + "</extra>"))
# the picked image (a ring) and the decoded spot (a cross): on top, black over a white halo so that they show on
# any class colour, not clickable
for name, (px, py), symbol in ((f"image #{index}", points[index], "circle-open"), ("decoded spot", spot, "cross-thin-open")):
    for colour, line_width, show in (("white", 7, False), ("black", 3, True)):
        figure.add_trace(go.Scatter(x=[px], y=[py], mode="markers", name=name, showlegend=show, hoverinfo="skip",
                                    marker={"size": 20, "symbol": symbol, "color": colour, "line": {"width": line_width}}))
# on a projector (presenter mode: fonts and heights x 1.3) the map and its legend keep to one screen
figure.update_layout(height=480 if ui.presenting() else 600, margin={"l": 0, "r": 0, "t": 10, "b": 0},
                     legend={"itemsizing": "constant", "orientation": "h", "yanchor": "top", "y": -0.1, "x": 0},
                     dragmode="pan", xaxis_title=f"{method.upper()} 1", yaxis_title=f"{method.upper()} 2",
                     plot_bgcolor="white", xaxis={"gridcolor": "#e5e5e5"}, yaxis={"gridcolor": "#e5e5e5"})
# the map on the left, what it points at on the right: the picked image and the decoded spot stay in view (one
# screen on a projector)
on_map, beside = st.columns([3, 2], gap="medium")
ui.chart(on_map, figure, "latent-map", on_select=clicked, selection_mode="points", key=chart_key, width="stretch")

with beside:
    index = int(st.number_input(f"Test image (click a dot, or type its index 0-{n - 1})", 0, n - 1, key=index_key))
    image = ui.test_images(dataset, [index])
    neighbours = nearest_neighbours(codes, index, k=8)
    st.markdown(f"**Image #{index}** ({names[labels[index]]}, the ring on the map) and its reconstructions")
    recons = [m.reconstruct(image) for m in encoders.values()]
    ui.picture(torch.cat([image] + recons), ["original"] + [ui.LABELS[k] for k in encoders], width=96, slots=4)
    st.markdown(f"**Its 8 nearest neighbours** in the {ui.LABELS[kind]}'s latent space")
    # on a projector the class alone (one line under each; the index is in the link and on hover of the map)
    ui.picture(ui.test_images(dataset, neighbours),
               [names[labels[i]] if ui.presenting() else f"#{i} ({names[labels[i]]})" for i in neighbours], width=72,
               slots=8)
    spot_help = ("Its code is the distance-weighted mean of the codes of the 8 nearest dots, so empty regions show "
                 "what the model puts *between* clusters.")
    if ui.presenting():  # on a projector the explanation is the heading's tooltip: the column keeps to one screen
        st.markdown("**Decode any spot of the map** (the cross)", help=spot_help)
    else:
        st.markdown("**Decode any spot of the map** (the cross)")
        st.markdown(spot_help)
    a, b, decoded_at = st.columns(3)
    x = a.slider("x", float(low[0]), float(high[0]), float(min(max(spot[0], low[0]), high[0])), key="map-x")
    y = b.slider("y", float(low[1]), float(high[1]), float(min(max(spot[1], low[1]), high[1])), key="map-y")
    decoded = model.decode(code_at(points, codes, (x, y)).unsqueeze(0))
    ui.picture(decoded, [f"({x:.1f}, {y:.1f})"], width=60, where=decoded_at)
