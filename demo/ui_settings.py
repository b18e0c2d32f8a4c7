"""The sidebar's choices (dataset, models, seed) and what every page draws them with: the model and class colours,
the labels, the default prior."""

from __future__ import annotations

import streamlit as st

from vaegan_core.config import IDX_DATASETS, MODEL_KINDS, MODEL_LABELS

DATASETS = IDX_DATASETS  # the datasets with shipped checkpoints and test images
LABELS = MODEL_LABELS
MODEL_COLOURS = {"gan": "#1f77b4", "vae": "#2ca02c", "vaegan": "#d62728"}  # one colour per family, every page

# One colour per class, dark and saturated so that each stays visible on white from the back of a room (Plotly's
# default has a pale cyan and a grey that vanish on a projector); neighbours in the list differ in hue and lightness.
CLASS_COLOURS = ["#1f3c88", "#d7191c", "#1a9641", "#ff7f00", "#6a3d9a", "#000000", "#e7298a", "#8c510a",
                 "#01858f", "#b8a000"]


def settings() -> dict:
    """The sidebar's choices (set in app.py): dataset, model kinds, seed."""
    state = st.session_state
    return {
        "dataset": state.get("dataset", "mnist"),
        "kinds": list(state.get("kinds", list(MODEL_KINDS))),
        "seed": int(state.get("seed", 0)),
    }


# Each model at its best by default: the VAE and the VAE-GAN decode codes from the GMM of their training codes
# (where their decoders were trained; a model without one falls back to N(0, I) and says so), the GAN from N(0, I).
DEFAULT_PRIOR = "gmm"
