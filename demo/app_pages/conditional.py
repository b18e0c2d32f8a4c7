"""Conditional: ask the class-conditional VAE, GAN and VAE-GAN for a class; write a number in one style; move a
style across every class."""

import hashlib

import streamlit as st
import torch

import ui
from vaegan_core.models import conditional
from vaegan_core.errors import VaeganError
from vaegan_core.images import png_bytes
from vaegan_core.storage import zoo

choice = ui.page_header(
    "Conditional",
    "A conditional model is given the class y as well: the encoder reads q(z | x, y), the decoder draws p(x | z, y). "
    "Since y is handed over, the code z does not need to hold the class and is free to hold the *style*: slant, "
    "thickness, width. So one z can be drawn as every class, and a number can be written in one hand.",
)
dataset = choice["dataset"]
names = ui.class_names(dataset)
explorer = ui.explorer()
available = [kind for kind in choice["kinds"] if explorer.is_available(dataset, kind, conditional=True)]
for kind in choice["kinds"]:
    if kind not in available:
        st.info(explorer.missing_message(dataset, kind, conditional=True))
models = {kind: model for kind in available if (model := ui.load(dataset, kind, conditional=True)) is not None}
if not models:
    ui.stop()
if not ui.presenting():  # on a projector the row labels say which models these are
    st.caption("Models: " + ", ".join(f"conditional {ui.LABELS[kind]}" for kind in models) + ". The GAN has no "
               "encoder: it finds an image's style by inverting its generator for that class (gradient descent, a "
               "few seconds).")

with st.expander("How the label enters each network"):
    st.markdown(
        "- **cVAE** (Sohn et al. 2015): the encoder gets y beside the image, the decoder beside z; the ELBO is the "
        "same as the VAE's, given y.\n"
        "- **cGAN** (Mirza & Osindero 2014): the generator draws G(z, y) for a label y; the discriminator judges "
        "the pair with the *projection* of Miyato & Koyama (2018): its logit gets a term <embed(y), phi(x)>, which "
        "is the form the log-ratio of the real and generated conditional densities takes.\n"
        "- **cVAE-GAN** (Bao et al. 2017): Larsen et al.'s losses with y given to encoder, decoder and "
        "discriminator.\n\n"
        "If z held the class too, changing y would fight it; the *label probe* below measures how much class "
        "a linear classifier can still read from z (10 % is chance: a clean split of style and class).")


@st.cache_data(show_spinner="Reading the image's style...", max_entries=64)
def style_of(_model, fingerprint: str, image_key: str, _image, label: int | None, dataset: str, seed: int):
    return conditional.style_code(_model, _image, label=label, dataset=dataset, seed=seed, steps=200)


def style_codes(image, label, key: str) -> dict:
    codes = {}
    for kind, model in models.items():
        try:
            codes[kind] = style_of(model, model.fingerprint, key, image, label, dataset, choice["seed"])
        except VaeganError as error:
            st.error(f"{ui.LABELS[kind]}: {error}")
    return codes


grid_tab, write_tab, style_tab = ui.tabs("conditional-tab", ["Class grid", "Write", "One style, every class"])

if grid_tab.open:
    with grid_tab:
        told, tuned = st.columns([2, 1], vertical_alignment="center")
        ui.explain("Each row: one model, one code z (the sidebar seed); each column: one class. Along a row only y "
                   "changes, so the style should stay and the class should change.", where=told)
        temperature = tuned.slider("Temperature (scale of z)", 0.3, 1.5, step=0.1,
                                key=ui.linked("conditional-t", 1.0, ui.as_float(0.3, 1.5)))
        z = torch.randn(1, min(model.config.latent_dim for model in models.values()),
                        generator=torch.Generator().manual_seed(choice["seed"])) * temperature
        rows = []
        for kind, model in models.items():
            code = z if z.shape[1] == model.config.latent_dim else torch.randn(
                1, model.config.latent_dim, generator=torch.Generator().manual_seed(choice["seed"])) * temperature
            images = conditional.style_grid(model, code)
            rows.append(images)
            ui.show_row(images, f"**conditional {ui.LABELS[kind]}**", width=84, captions=names, beside=True)
        ui.download(st, "Download the grid (PNG)",
                    lambda rows=rows: png_bytes(torch.cat(rows), nrow=len(names), scale=4),
                    f"conditional-grid-{dataset}-seed{choice['seed']}.png", "image/png")

if write_tab.open:
    with write_tab:
        if dataset == "mnist":
            text = st.text_input("Number to write (digits 0-9, up to 40)", max_chars=40,
                                 key=ui.linked("write", "2026", lambda text: text[:40]))
        else:
            picked = st.multiselect("Garments, in order" if dataset == "fashion-mnist" else "Classes, in order",
                                    list(range(len(names))),
                                    default=[c for c in (0, 1, 7, 8) if c < len(names)] if dataset == "fashion-mnist"
                                    else list(range(len(names))), format_func=lambda index: names[index])
            text = "".join(str(index) for index in picked)
        style_source = st.radio("Style", ["random (the sidebar seed)", "from an image"], horizontal=True,
                                key=ui.linked("write-style", "random (the sidebar seed)",
                                              ui.one_of(["random (the sidebar seed)", "from an image"])))
        glyphs = None
        try:
            glyphs = conditional.parse_text(text, len(names))
        except VaeganError as error:
            st.warning(str(error))
        codes: dict = {}
        if style_source == "from an image":
            image, caption, index = ui.image_source("write-style", dataset, "Style image")
            if image is not None:
                label = int(ui.test_split(dataset)[1][index]) if index is not None else None
                codes = style_codes(image, label, hashlib.sha256(image.numpy().tobytes()).hexdigest()[:16])
                ui.show_row(image, f"**Style from:** {caption}", width=84)
        if glyphs:
            for kind, model in models.items():
                if style_source == "from an image" and kind not in codes:
                    continue
                code = codes[kind][0] if kind in codes else None
                line = conditional.write(model, glyphs, code, seed=choice["seed"])
                ui.show_row(line.unsqueeze(0), f"**conditional {ui.LABELS[kind]}**",
                            width=min(1200, 84 * len(glyphs)))
                ui.download(st, f"{ui.LABELS[kind]} line (PNG)",
                            lambda line=line: png_bytes(line.unsqueeze(0), nrow=1, scale=4),
                            f"write-{dataset}-{kind}-{text}.png", "image/png", key=f"line-{kind}")

if style_tab.open:
    with style_tab:
        st.markdown("Take the style of one image and draw it as every class: *this 3 written as every digit*, *this "
                    "shirt's style as every garment*. The image's class comes from the dataset (test images) or from "
                    "the domain classifier (drawings and uploads).")
        image, caption, index = ui.image_source("transfer", dataset, "Image")
        if image is not None:
            label = int(ui.test_split(dataset)[1][index]) if index is not None else None
            codes = style_codes(image, label, hashlib.sha256(image.numpy().tobytes()).hexdigest()[:16])
            read_as = next(iter(codes.values()))[1] if codes else label
            ui.show_row(image, f"**{caption}**" + (f", read as {names[read_as]}" if read_as is not None else ""), width=112)
            for kind, (code, _) in codes.items():
                ui.show_row(conditional.style_grid(models[kind], code), f"**conditional {ui.LABELS[kind]}**", width=84,
                            captions=names, beside=True)

if ui.presenting():  # on a projector the numbers fold away: the grids keep the screen
    measured = st.expander("Measured: label adherence, FID, recall, label probe")
else:
    st.divider()
    measured = st.container()
    measured.subheader("Measured")


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _fid(value) -> str:  # to the decimals of every page's FID (zoo.HEADLINE_SHOWN)
    return "-" if value is None else f"{value:.{zoo.HEADLINE_SHOWN['fid']}f}"


rows, measured_any = [], False
for kind in models:
    folder = explorer.folder(dataset, kind, conditional=True)
    result = (folder.result("lenet") or {}).get("metrics", {})
    inception = (folder.result("inception") or {}).get("metrics", {})
    probe = folder.diagnostics().get("label_probe", {})
    twin = explorer.folder(dataset, kind).diagnostics().get("label_probe", {})
    measured_any |= result.get("label_adherence") is not None
    # percentages where the caption speaks of shares, FIDs to one decimal, "-" for what is not measured
    rows.append({"model": f"conditional {ui.LABELS[kind]}",
                 "label adherence": _percent(result.get("label_adherence")),
                 "per-class FID (domain)": _fid(result.get("intra_fid")),
                 "per-class FID (Inception)": _fid(inception.get("intra_fid")), "FID (domain)": _fid(result.get("fid")),
                 "FID (Inception)": _fid(inception.get("fid")), "recall (domain)": _percent(result.get("recall")),
                 "label probe on z": _percent(probe.get("accuracy")),
                 "label probe, unconditional model": _percent(twin.get("accuracy"))})
measured.markdown(ui.markdown_table(rows))
measured.caption("Label adherence: the share of samples the domain classifier reads as the class asked for. Per-class "
                 "FID: each class's samples against that class's test images, averaged (Inception's, with more features "
                 "than a class has test images, is comparable between these rows only). Recall: the share of test "
                 "images near some sample; a model that draws one image per class has none. Label probe: accuracy of a "
                 "linear classifier reading the class from z on test images (10 % = chance), beside the same family's "
                 "unconditional model, whose z must hold the class. A dash: not measured yet.",
                 help="Measured by `vaegan eval`, stored in each checkpoint's metrics.json.")
if not measured_any:
    measured.info("Not measured yet: the conditional checkpoints have no scores stored beside them.",
                  icon=None)
