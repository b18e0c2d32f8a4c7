"""One image from the visitor: a test image by index, a drawing on a canvas or an upload, each read the way the
dataset was made."""

from __future__ import annotations

import streamlit as st

from ui_data import class_names, explorer, test_images, test_split
from ui_pictures import error_message


def image_source(key: str, dataset: str, label: str = "Image", allow_upload: bool = True):
    """Pick one image: a test image by index, a drawing or an upload. Returns (1 x 1 x 28 x 28 tensor, caption,
    its test index or None), or (None, None, None) while nothing is chosen yet (a hint is shown)."""
    options = ["Test image", "Draw"] + (["Upload"] if allow_upload else [])
    source = st.radio(label, options, horizontal=True, key=f"{key}-source")
    images, labels = test_split(dataset)
    names = class_names(dataset)
    if source == "Test image":
        index = int(st.number_input(f"Test image index (0-{len(labels) - 1})", 0, len(labels) - 1, 0,
                                    key=f"{key}-index"))
        return test_images(dataset, [index]), f"#{index} ({names[labels[index]]})", index
    if source == "Draw":
        drawing = drawing_pad(f"{key}-pad", dataset)
        return (drawing, "your drawing", None) if drawing is not None else (None, None, None)
    from vaegan_core.uploads import ImageInputError, read_upload

    upload = st.file_uploader("An image (PNG, JPEG, GIF, BMP, TIFF, WebP)", key=f"{key}-upload",
                              type=["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"])
    if upload is None:
        st.info("Upload an image: it is converted to 28 x 28 grayscale the way the dataset was made.")
        return None, None, None
    try:
        image, notes = read_upload(upload.getvalue(), style=explorer(dataset).upload_style(dataset))
    except ImageInputError as error:
        error_message(error)
        return None, None, None
    show_upload(upload.getvalue(), image, notes)
    return image, "your upload", None


def show_upload(data: bytes, image, notes: list[str]) -> None:
    """The upload as it came, beside the 28 x 28 image the model reads, and what was done to it."""
    from vaegan_core.uploads import ImageInputError, preview

    raw, seen = st.columns(2)
    try:
        raw.image(preview(data), caption="your file", width=168)
    except ImageInputError:  # read_upload read it, so this is not expected; the 28 x 28 image still shows
        raw.caption("your file cannot be shown as it is")
    seen.image(image[0, 0].numpy(), caption="as the model sees it (28 x 28)", width=168, clamp=True)
    if notes:
        text = "; ".join(notes)
        seen.caption(text[:1].upper() + text[1:] + ".")


def drawing_pad(key: str, dataset: str):
    """A canvas to draw on with the mouse (white ink on black, as in the datasets); returns the drawing as a
    1 x 1 x 28 x 28 tensor through the upload's preprocessing, or None (with a hint) while it is empty."""
    from streamlit_drawable_canvas import st_canvas  # a Streamlit component: it registers in the app's runtime

    from vaegan_core.uploads import ImageInputError, read_drawing

    st.caption("Draw with the mouse (or a finger) in the black box; the bin icon under it clears the drawing.")
    canvas = st_canvas(stroke_width=22, stroke_color="#FFFFFF", background_color="#000000", height=280, width=280,
                       drawing_mode="freedraw", return_image_data=True, key=key)
    try:
        pixels = canvas.image_data if canvas is not None else None
    except (OSError, ValueError):  # a torn or odd image from the browser: treat it as not drawn yet
        pixels = None
    if pixels is None:
        st.info("The canvas is empty: draw a " + ("digit" if dataset == "mnist" else "garment") + " to see what the "
                "models make of it.")
        return None
    try:
        drawing, notes = read_drawing(pixels, style=explorer(dataset).upload_style(dataset))
    except ImageInputError as error:
        error_message(error)
        return None
    if drawing is None:
        st.info(notes[0])
        return None
    st.caption(notes[0])
    return drawing
