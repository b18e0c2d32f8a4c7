"""Reconstruction: test images or an upload, through every model with an encoder, with per-image error."""

import numpy as np
import streamlit as st
import torch

import ui
from vaegan_core.images import error_heatmap, sharpness_kept
from vaegan_core.analysis.latent import invert_generator, reconstruct_with_error
from vaegan_core.uploads import ImageInputError, read_upload

choice = ui.page_header(
    "Reconstruction",
    "x -> encoder -> z = mu(x) -> decoder -> x'. The VAE measures the error in pixels and blurs; the VAE-GAN "
    "measures it in discriminator features and stays sharp. Error below each image: mean squared error per pixel.",
)
dataset = choice["dataset"]
images_u8, labels = ui.test_split(dataset)
names = ui.class_names(dataset)

# uploads and drawings become 28 x 28 grey digits or garments: the built-in datasets only
sources = ["Random test images", "By class", "By index"] + (["Upload", "Draw"] if dataset in ui.DATASETS else [])
source = st.radio("Images", sources, horizontal=True, key=ui.linked("recon-images", sources[0], ui.one_of(sources)))
count = 8
most = min(16, len(labels))
how_many = ui.linked("recon-n", min(8, most), ui.as_int(1, most))
if source == "Random test images":
    count = st.slider("How many", 1, most, key=how_many)
    rng = np.random.default_rng(choice["seed"])
    indices = rng.choice(len(labels), count, replace=False)
elif source == "By class":
    label = st.selectbox("Class", range(len(names)), format_func=lambda c: names[c],
                         key=ui.linked("recon-class", 0, ui.one_of(range(len(names)), int)))
    count = st.slider("How many", 1, most, key=how_many)
    rng = np.random.default_rng(choice["seed"])
    members = np.flatnonzero(labels == label)
    indices = rng.choice(members, min(count, len(members)), replace=False)
elif source == "By index":
    last = len(labels) - 1
    start = st.number_input(f"First index (0-{last})", 0, last, key=ui.linked("recon-first", 0, ui.as_int(0, last)))
    count = st.slider("How many", 1, most, key=how_many)
    indices = np.arange(start, min(start + count, len(labels)))
else:
    indices = None

if indices is not None:
    originals = ui.test_images(dataset, indices)
    captions = [f"#{i} ({names[labels[i]]})" for i in indices]
elif source == "Draw":
    originals = ui.drawing_pad("reconstruction-pad", dataset)
    if originals is None:
        ui.stop()
    captions = ["drawing, after preprocessing"]
else:
    upload = st.file_uploader("An image of a digit or a garment (PNG, JPEG, GIF, BMP, TIFF, WebP)",
                              type=["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"])
    style = ui.explorer(dataset).upload_style(dataset)
    invert = st.radio("Invert colours", ["auto", "yes", "no"], horizontal=True,
                      help="The models expect a light object on a dark background, as in the datasets.")
    if upload is None:
        st.info("Upload an image: it is converted to 28 x 28 grayscale the way the dataset was made.")
        ui.stop()
    try:
        originals, notes = read_upload(upload.getvalue(), style=style, invert=invert)
    except ImageInputError as error:
        ui.error_message(error)
        ui.stop()
    ui.show_upload(upload.getvalue(), originals, notes)
    captions = ["upload, after preprocessing"]

st.markdown("**Original**")
ui.picture(originals, captions)

encoders = ui.models(dataset, choice["kinds"], need_encoder=True)
reconstructions = {}
for kind, model in encoders.items():
    recon, errors = reconstruct_with_error(model, originals)
    reconstructions[kind] = recon
    st.markdown(f"**{ui.LABELS[kind]}** - mean error {errors.mean():.4f}")
    ui.picture(recon, [f"{e:.4f}" for e in errors.tolist()])
    ui.download_grid(torch.cat([originals, recon]), f"{kind}-reconstructions", nrow=len(originals))

if reconstructions:
    with st.expander("A closer look: one image large, with where each model errs", expanded=True):
        pick = 0
        if len(originals) > 1:
            pick = st.selectbox("Image", range(len(originals)), format_func=lambda i: captions[i] if i < len(captions)
                                else f"image {i + 1}", key="recon-zoom")
        original = originals[pick]
        big = 224  # ui.picture doubles it in presenter mode; the heat map below follows
        columns = st.columns(1 + len(reconstructions))
        ui.picture(original[None], ["original"], width=big, where=columns[0])
        for column, (kind, recon) in zip(columns[1:], reconstructions.items()):
            kept = sharpness_kept(original, recon[pick])
            ui.picture(recon[pick][None], [f"{ui.LABELS[kind]}: {kept:.0%} of the edges"], width=big, where=column)
            column.image(np.kron(error_heatmap(original, recon[pick], top=0.5), np.ones((8, 8, 1), np.uint8)),
                         caption="error: black none, red to yellow more, white 0.5 or more",
                         width=big * (ui.PRESENTER_SCALE if ui.presenting() else 1))
        st.caption("Edges: the reconstruction's edge energy (squared differences of neighbouring pixels) as a share of "
                   "the original's. A blurred reconstruction keeps far less than 100 %; the error map shows where the "
                   "pixels differ, the same scale for every model.")

if "gan" in choice["kinds"]:
    st.markdown("**GAN**")
    st.info("A GAN has no encoder, so it cannot reconstruct directly. It can be *inverted*: search for the code z "
            "whose image G(z) is closest to the original (200 steps of gradient descent on z: about 5-15 s on a "
            "2-core CPU, whatever the number of images; a bar shows the time left).")
    gan = ui.load(dataset, "gan")
    if gan is not None and st.button("Invert the GAN on these images" + ui.took_last_time("invert")):
        with ui.slow_work("Inverting the GAN", "invert") as report:
            _, inverted = invert_generator(gan, originals, steps=200, seed=choice["seed"], progress=report)
        errors = (inverted - originals).pow(2).flatten(1).mean(1)
        ui.picture(inverted, [f"{e:.4f}" for e in errors.tolist()])
        st.caption(f"Inverted in {st.session_state['took-invert']:.1f} s on this machine.")

if not encoders:
    ui.stop()
st.divider()
st.subheader("Worst reconstructed first")
worst_kind = st.selectbox("Model", list(encoders), format_func=ui.LABELS.get)
pools = [size for size in (500, 1000, 2000, 5000, 10000) if size <= len(labels)] or [len(labels)]
pool = st.select_slider("Among the first N test images", pools, 1000 if 1000 in pools else pools[-1]) \
    if len(pools) > 1 else pools[0]


# The shipped checkpoints carry the default pool's errors (scripts/page_cache.py); other pools are computed once and
# kept in the user's cache.
def errors_of(model, dataset: str, pool: int):
    with st.spinner("Reconstructing the test images..."):
        return ui.explorer().reconstruction_errors(model, dataset, pool)


errors = errors_of(encoders[worst_kind], dataset, pool)
order = np.argsort(-errors)[:min(16, len(errors))]
worst = ui.test_images(dataset, order)
reconstructed = encoders[worst_kind].reconstruct(worst)
for start in range(0, len(order), 8):  # rows of 8: each original directly above its reconstruction
    rows = slice(start, start + 8)
    ui.picture(worst[rows], [f"#{i} ({names[labels[i]]})" for i in order[rows]], width=72)
    ui.picture(reconstructed[rows], [f"{errors[i]:.4f}" for i in order[rows]], width=72)
ui.download_grid(torch.cat([worst, reconstructed]), f"{worst_kind}-worst-{pool}", nrow=len(order))
st.caption(f"Mean error over these {pool:,} images: {errors.mean():.4f}; the {len(order)} worst are shown, each "
           "original above its reconstruction.")
