"""Interpolation: walk from one code to another (lerp or slerp) through every model side by side."""

import streamlit as st
import torch

import ui
import ui_browser
from vaegan_core.images import gif_bytes, png_bytes
from vaegan_core.analysis.latent import interpolate, interpolation_ends, invert_generator

choice = ui.page_header(
    "Interpolation",
    "Decode the codes on the path between two points of latent space. Between two images, each model with an "
    "encoder starts from its own codes of the images; between two random codes, all models walk the same path.",
)
dataset = choice["dataset"]
images_u8, labels = ui.test_split(dataset)
names = ui.class_names(dataset)

modes = ["two test images", "two random codes"]
between, left, middle, right = st.columns([1.6, 0.9, 1.2, 1.5])  # the controls in one row: the page fits a projector
mode = between.radio("Between", modes, horizontal=True, key=ui.linked("interp-between", modes[0], ui.one_of(modes)))
method = left.radio("Path", ["slerp", "lerp"], horizontal=True,
                    key=ui.linked("interp-path", "slerp", ui.one_of(["slerp", "lerp"])),
                    help="slerp follows the sphere where Gaussian codes live; lerp cuts through its centre, "
                         "where codes are atypical and images often fade.")
steps = middle.slider("Steps", 2, 16, key=ui.linked("interp-steps", 10, ui.as_int(2, 16)))
invert_gan = right.checkbox("Invert the GAN (5-15 s a pair)", value=False,
                            disabled=mode != "two test images",
                            help="The GAN has no encoder: its codes of the two images are found by gradient descent, "
                                 "once per pair of images.")

models = ui.models(dataset, choice["kinds"])
if not models:
    ui.stop()

if mode == "two test images":
    a, b, pictured = st.columns([1, 1, 2])
    last = len(labels) - 1
    first = a.number_input("First image index", 0, last, key=ui.linked("interp-a", 0, ui.as_int(0, last)))
    second = b.number_input("Second image index", 0, last, key=ui.linked("interp-b", min(1, last), ui.as_int(0, last)))
    ends = ui.test_images(dataset, [first, second])
    ui.picture(ends, [f"#{first} ({names[labels[first]]})", f"#{second} ({names[labels[second]]})"], where=pictured,
               slots=4)
else:
    seed = choice["seed"]
    st.caption(f"Codes: two draws from N(0, I) with seeds {seed} and {seed + 1} (sidebar seed).")

# Dragging without the server (demo/ui_browser.py): where the browser explorer is exported, a switch shows its
# Interpolation, opened with these settings (its t slider and Play walk the path), instead of the rows drawn here
ends_asked = {"interp-a": int(first), "interp-b": int(second)} if mode == "two test images" else {}
if ui_browser.live_in_browser(st, "interp-live", "interpolation", dataset, {
        "dataset": dataset, "kinds": list(models), "seed": choice["seed"], "interp-between": mode,
        "interp-path": method, "interp-steps": steps, **ends_asked, "present": int(ui.presenting())},
        height=1100 if ui.presenting() else 900):
    ui.stop()



# The GAN's inverted ends, once per (model, pair, seed) in this session: the path, the steps and the method reuse them.
def inverted_ends(model, first: int, second: int, seed: int):
    found = st.session_state.setdefault("interp-inverted", {})
    key = (model.fingerprint, first, second, seed)
    if key not in found:
        with ui.slow_work("Inverting the GAN on the two images", "interp-invert") as report:
            codes, _ = invert_generator(model, ends, steps=200, seed=seed, progress=report)
        found.clear()  # one pair kept: a new pair replaces it
        found[key] = (codes[0], codes[1])
    return found[key]


rows = {}
for kind, model in models.items():
    if mode == "two test images" and invert_gan and not model.has_encoder:
        codes = inverted_ends(model, int(first), int(second), choice["seed"])
    else:
        codes = interpolation_ends(model, ends if mode == "two test images" else None, choice["seed"], invert_gan)
    if codes is None:
        st.caption(":blue-background[**GAN**: no encoder, so it cannot start from the images; tick *Invert the GAN* "
                   "or use random codes.]")
        continue
    images = model.decode(interpolate(*codes, steps, method))
    rows[kind] = images
    # in presenter mode the name stands beside its row, not above it: the page keeps to one screen on a projector
    ui.show_row(images, f"**{ui.LABELS[kind]}**", width=72, beside=True)

if rows:
    if not ui.presenting():
        st.divider()
    all_rows = torch.cat(list(rows.values()))
    columns = st.columns(len(rows) + 1)
    ui.download(columns[0], "Download all rows (PNG)", lambda: png_bytes(all_rows, nrow=steps, scale=2),
                f"interpolation-{dataset}-{method}.png", "image/png")
    for column, (kind, images) in zip(columns[1:], rows.items()):
        ui.download(column, f"{ui.LABELS[kind]} as GIF", lambda images=images: gif_bytes(list(images)),
                    f"interpolation-{dataset}-{kind}-{method}.gif", "image/gif")
