"""Anomalies: how unusual an image looks to each model, how well each score detects other data, and whether
the samples are copies of training images (memorisation)."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

import ui
from vaegan_core.analysis import anomaly, memorisation
from vaegan_core.app import REFERENCE_IMAGES
from vaegan_core.config import ANOMALY_SCORE_LABELS, CORRUPTIONS, DATASET_LABELS, OTHER_DATASET
from vaegan_core.errors import DatasetError

choice = ui.page_header(
    "Anomalies",
    "A model trained on one kind of image can flag images unlike them. Each score below is higher for stranger "
    "images: the VAE's negative " + ui.term("elbo", "ELBO") + ", the reconstruction error in pixels or in "
    "discriminator features, and the discriminator's verdict; the " + ui.term("roc-auc", "ROC AUC") + " says how "
    "well each score tells the two kinds apart. Then: are the samples new images, or copies of training images?",
)
dataset = choice["dataset"]
names = ui.class_names(dataset)
models = ui.models(dataset, choice["kinds"])
if not models:
    ui.stop()
def scores_of(model, dataset: str, against: str, n: int) -> dict:
    """Scores of the first n (<= REFERENCE_IMAGES) images of ``anomaly.detection_sets`` (``Explorer.anomaly_scores``):
    at n = REFERENCE_IMAGES, the images of the Overview's stored AUCs and of `vaegan anomaly`."""
    with st.spinner("Scoring the test images..."):
        return ui.explorer().anomaly_scores(model, dataset, against, n)


def training_images(dataset: str):
    """``(images uint8, pixels as one float matrix, labels)`` of the training split, kept once per process."""
    with st.spinner("Reading the training images..."):
        images, pixels = ui.explorer().train_split(dataset)
        return images, pixels, ui.explorer().train_labels(dataset)


image_tab, detection_tab, memory_tab = ui.tabs("anomaly-tab", ["Your image", "Detecting other data", "Memorisation"])

if image_tab.open:
    with image_tab:
        chosen, scored = st.columns([1, 2], gap="medium")  # the image beside its scores: one screen on a projector
        with chosen:
            image, caption, _ = ui.image_source("anomaly", dataset, "Image to score")
            if image is not None:
                corruption = st.radio("Corrupt it first", ["none", *CORRUPTIONS], horizontal=True,
                                      key=ui.linked("anomaly-corruption", "none", ui.one_of(["none", *CORRUPTIONS])))
                if corruption != "none":
                    image = anomaly.corrupt(image, corruption)
                    caption = f"{caption}, {corruption}"
                ui.show_row(image, f"**{caption}**", width=112)
    if image is not None:  # its scores beside it
        with scored:
            rows = []
            for kind, model in models.items():
                reference = scores_of(model, dataset, dataset, REFERENCE_IMAGES)
                for score, values in anomaly.anomaly_scores(model, image).items():
                    rank = anomaly.percentile(float(values[0]), reference[score])
                    rows.append({"model": ui.LABELS[kind], "score": ANOMALY_SCORE_LABELS[score],
                                 "value": round(float(values[0]), 4), "percentile vs test images": round(rank, 1),
                                 "verdict": "unusual" if rank >= 99 else "rather unusual" if rank >= 90 else "typical"})
            st.dataframe(rows, hide_index=True, width="stretch")
            st.caption(f"Percentile: the share of {REFERENCE_IMAGES:,} {ui.dataset_label(dataset)} test images that score "
                       "at or below this image; 99 means stranger than 99 % of real test images.")
            if st.toggle("Show its nearest training images", key=ui.linked("anomaly-nearest", False, ui.as_bool),
                         help="Searches all training images, in pixels: about a second the first time (reading them), "
                              "then a few hundredths."):
                try:
                    _, train, train_labels = training_images(dataset)
                except DatasetError as error:
                    st.info("Its nearest training images need the training split: " + str(error).splitlines()[0])
                else:
                    distances, indices = memorisation.nearest_k(image.numpy(), train, 8)
                    ui.show_row(train[indices].reshape(-1, *image.shape[-3:]), "**Its nearest training images** (pixels)",
                                width=84, captions=[f"{names[train_labels[i]]}, {d:.2f}"
                                                    for i, d in zip(indices, distances)], slots=8)

if detection_tab.open:
    with detection_tab:
        options = [other for other in (OTHER_DATASET.get(dataset),) if other] + list(CORRUPTIONS)
        against = st.radio("Anomalies", options, horizontal=True, key=ui.linked("anomaly-against", options[0], ui.one_of(options)),
                           format_func=lambda name: f"{DATASET_LABELS[name]} test images" if name in DATASET_LABELS
                           else f"{name} of the test images")
        n = st.select_slider("Images per side", [500, 1000, 2000], key=ui.linked("anomaly-n", 1000, ui.one_of([500, 1000, 2000], int)))
        table, curves = [], go.Figure()
        paradox = []
        for kind, model in models.items():
            try:
                normal = scores_of(model, dataset, dataset, n)
                strange = scores_of(model, dataset, against, n)
            except DatasetError as error:
                st.info(str(error).splitlines()[0])
                break
            for score in normal:
                found = anomaly.detection(normal[score], strange[score])
                table.append({"model": ui.LABELS[kind], "score": ANOMALY_SCORE_LABELS[score],
                              "ROC AUC": round(found["auc"], 3), "average precision": round(found["average_precision"], 3)})
                dash = {"elbo": "dot", "bernoulli_elbo": "longdashdot", "pixel_error": "solid", "feature_error": "dash",
                        "discriminator": "dashdot"}[score]
                curves.add_trace(go.Scatter(x=found["roc_fpr"], y=found["roc_tpr"], mode="lines",
                                            name=f"{ui.LABELS[kind]}: {ANOMALY_SCORE_LABELS[score]}",
                                            line={"color": ui.MODEL_COLOURS[kind], "dash": dash}))
                if found["auc"] < 0.5:
                    paradox.append(f"{ui.LABELS[kind]}'s {ANOMALY_SCORE_LABELS[score]} (AUC {found['auc']:.2f})")
        if table:
            st.dataframe(table, hide_index=True, width="stretch")
            curves.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"color": "#999999"}))
            curves.update_layout(height=430, xaxis_title="false positive rate", yaxis_title="true positive rate",
                                 font={"size": 15}, margin={"t": 10})
            ui.chart(st, curves, "curves")
        if paradox:
            st.warning(
                "**The paradox of likelihood models** (Nalisnick et al. 2019): " + "; ".join(paradox) + " rank the "
                "anomalies as *more* typical than the model's own test images. A likelihood rewards images that are "
                "easy to compress: MNIST digits are mostly black background, simpler than any garment, so a model of "
                "garments gives them a higher likelihood than it gives garments. The reconstruction errors compare the "
                "image with what the model makes of it, and are not fooled here.")
        kind = st.selectbox("Histogram of", list(models), format_func=ui.LABELS.get,
                            key=ui.linked("anomaly-model", list(models)[0], ui.one_of(list(models))))
        model = models[kind]
        normal = scores_of(model, dataset, dataset, n)
        score = st.radio("Score", list(normal), format_func=ANOMALY_SCORE_LABELS.get, horizontal=True)
        try:
            strange = scores_of(model, dataset, against, n)
            histogram = go.Figure()
            # one set of 60 bins from the lowest score of either side to the highest: both histograms are drawn on
            # the same bins, and no tail is cut off
            low, high = float(min(normal[score].min(), strange[score].min())), float(max(normal[score].max(),
                                                                                          strange[score].max()))
            bins = {"start": low, "end": high + (high - low) / 600 + 1e-12, "size": (high - low) / 60 or 1.0}
            strange_name = (f"{DATASET_LABELS[against]} test" if against in DATASET_LABELS
                            else f"{against} of the test images")
            histogram.add_trace(go.Histogram(x=normal[score], name=f"{ui.dataset_label(dataset)} test", opacity=0.6,
                                             xbins=bins, autobinx=False))
            histogram.add_trace(go.Histogram(x=strange[score], name=strange_name, opacity=0.6, xbins=bins,
                                             autobinx=False))
            histogram.update_layout(barmode="overlay", height=320, xaxis_title=ANOMALY_SCORE_LABELS[score],
                                    xaxis_range=[low - (high - low) / 60, high + (high - low) / 30],
                                    yaxis_title="images", font={"size": 15}, margin={"t": 10})
            ui.chart(st, histogram, "histogram")
        except DatasetError as error:
            st.info(str(error).splitlines()[0])


if memory_tab.open:
    with memory_tab:
        st.markdown(
            "A model could score well by reproducing its training images. For each sample, find its nearest training "
            "image among all 60,000 (exactly, in pixels), and compare with how close real *test* images come to the "
            "training set. **Closer than test**: the share of samples nearer to a training image than 95 % of test "
            "images are; about 5 % for a model that makes new images, far more for one that copies.")
        kind = st.selectbox("Model", list(models), format_func=ui.LABELS.get, key="memory-model")
        model = models[kind]
        try:
            with st.spinner("Finding the nearest training image of each sample..."):
                result = ui.explorer().memorisation(model, dataset, 1000, choice["seed"])
            train = training_images(dataset)[0]
        except DatasetError as error:
            st.info("The memorisation check needs the training images: " + str(error).splitlines()[0])
            ui.stop()
        columns = st.columns(3)
        pixels = result["pixels"]
        columns[0].metric("Closer than test (pixels)", f"{pixels['closer_than_test']:.1%}")
        columns[1].metric("Closer than test (classifier features)", f"{result['features']['closer_than_test']:.1%}")
        columns[2].metric("Copies (distance ~ 0)", f"{pixels['copies']}")
        st.caption(f"Median distance to the nearest training image: samples {pixels['sample_median']:.2f}, test images "
                   f"{pixels['test_median']:.2f} (pixels in [0, 1], Euclidean).")
        order = np.argsort(pixels["distance"])[:12]
        # the shown samples alone: the same codes check_model drew (seeded), decoded 12 instead of 1,000
        codes = model.prior("normal").sample(1000, torch.Generator().manual_seed(choice["seed"]))
        samples = model.decode(codes[torch.as_tensor(order)])
        neighbours = torch.from_numpy(train[np.asarray(pixels["neighbour"])[order]]).float() / 255
        ui.show_row(samples, "**Samples, closest to a training image first**", width=84,
                    captions=[f"{pixels['distance'][i]:.2f}" for i in order])
        ui.show_row(neighbours, "**Their nearest training images**", width=84)
