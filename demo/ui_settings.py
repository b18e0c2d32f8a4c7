"""The sidebar's choices (dataset, models, seed) and what every page draws them with: the model and class colours,
the labels, the default prior."""

from __future__ import annotations

import streamlit as st

from vaegan_core.config import IDX_DATASETS, MODEL_KINDS, MODEL_LABELS

DATASETS = IDX_DATASETS  # the datasets with shipped checkpoints and test images
LABELS = MODEL_LABELS
MODEL_COLOURS = {"gan": "#1f77b4", "vae": "#2ca02c", "vaegan": "#d62728"}  # one colour per family, every page
# and one line and marker shape per family in the curves of several models: two curves that meet stay two lines
MODEL_DASHES = {"gan": "solid", "vae": "dash", "vaegan": "dot"}
MODEL_MARKERS = {"gan": "circle", "vae": "square", "vaegan": "diamond"}

# One colour per class, dark and saturated so that each stays visible on white from the back of a room (Plotly's
# default has a pale cyan and a grey that vanish on a projector); neighbours in the list differ in hue and lightness.
CLASS_COLOURS = ["#1f3c88", "#d7191c", "#1a9641", "#ff7f00", "#6a3d9a", "#000000", "#e7298a", "#8c510a",
                 "#01858f", "#b8a000"]

# What a visitor reads for each number of a run's history (history.jsonl's keys are code names)
TERM_LABELS = {"nll": "reconstruction -log p(x|z)", "kl": "KL(q(z|x) || N(0, I))", "loss": "VAE loss (negative ELBO)",
               "loss_discriminator": "discriminator loss", "loss_generator": "generator loss",
               "feature_nll": "reconstruction in D's features", "loss_gan_decoder": "decoder's GAN term",
               "loss_encoder": "encoder loss", "loss_decoder": "decoder loss", "recon_mse": "reconstruction error (MSE)",
               "generator_grad_norm": "gradient norm of the generator / decoder",
               "d_real": "D's output on real images", "d_fake": "D's output on samples",
               "d_recon": "D's output on reconstructions", "d_accuracy": "D's accuracy",
               "train_fid": "FID on the training split (domain)"}


def term_label(term: str) -> str:
    """A history number's name for a visitor (an unknown one: its key with spaces)."""
    return TERM_LABELS.get(term, term.replace("_", " "))


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
