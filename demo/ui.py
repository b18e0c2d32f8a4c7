"""What the Streamlit pages share: the sidebar's settings, cached model and data loading, error display.

No model math here: everything computed comes from ``vaegan_core``. Caches:
- models: ``st.cache_resource`` (one copy per process, shared by every browser session; the
  models are in eval mode and only run forward passes, which is safe from several threads);
  each carries ``model.fingerprint``, a hash of its checkpoint's files (``zoo.open_model``);
- derived arrays (test split, encodings, projections): ``st.cache_data``, keyed by that
  fingerprint and the parameters; the model itself is passed as an ``_model`` argument, which
  Streamlit does not hash.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from vaegan_core import zoo
from vaegan_core.app import dataset_label, upload_style  # noqa: F401 (ui.dataset_label: for the pages)
from vaegan_core.app import explorer as explorer_of
# DATASET_LABELS and MAX_SEED are for the pages and app.py (ui.DATASET_LABELS, ui.MAX_SEED)
from vaegan_core.config import (DATASET_LABELS, ENCODER_KINDS, IDX_DATASETS, MAX_SEED, MODEL_KINDS,  # noqa: F401
                                MODEL_LABELS, PRIOR_LABELS, PRIORS)

# torch (1.8 s to import on a 2-core CPU) is imported by the first page that needs a model, not here:
# the Overview renders without it, which keeps the app's start within its budget.

DATASETS = IDX_DATASETS  # the datasets with shipped checkpoints and test images
LABELS = MODEL_LABELS
MODEL_COLOURS = {"gan": "#1f77b4", "vae": "#2ca02c", "vaegan": "#d62728"}  # one colour per family, every page
# One colour per class, dark and saturated so that each stays visible on white from the back of a room (Plotly's
# default has a pale cyan and a grey that vanish on a projector); neighbours in the list differ in hue and lightness.
CLASS_COLOURS = ["#1f3c88", "#d7191c", "#1a9641", "#ff7f00", "#6a3d9a", "#000000", "#e7298a", "#8c510a",
                 "#01858f", "#b8a000"]


def checkpoints_root() -> Path:
    """``streamlit run demo/app.py -- --checkpoints DIR``, else $VAEGAN_CHECKPOINTS_DIR, else checkpoints/."""
    argv = sys.argv[1:]
    for position, argument in enumerate(argv):
        if argument == "--checkpoints" and position + 1 < len(argv):
            return Path(argv[position + 1])
        if argument.startswith("--checkpoints="):
            return Path(argument.split("=", 1)[1])
    return zoo.checkpoints_root(os.environ.get("VAEGAN_CHECKPOINTS_DIR"))


@st.cache_resource
def start_warm_up() -> bool:
    """Once per process, in a background thread, after the first page has rendered: import torch, pandas (the
    pages' tables) and the pages' modules (seconds of the first visit of any page that draws), load the sidebar's
    default models into the model cache (Compare and Reconstruction open with all three), time the domain
    features for the FID page's estimate, then compile UMAP's numba code (the first map of another size or
    model). Off with VAEGAN_NO_WARMUP=1 (the tests set it, to keep both cores for themselves);
    with VAEGAN_WARMUP_REPORT=FILE, the seconds it took are written there when done (benchmarks/browser_latency.py
    waits for it)."""
    if os.environ.get("VAEGAN_NO_WARMUP") == "1":
        return False
    import time

    root = checkpoints_root()  # read here: the thread has no script context

    def warm_up() -> None:
        time.sleep(2)  # the first page first: importing now would slow the app's start
        started = time.perf_counter()
        import importlib

        for module in ("torch", "pandas", "vaegan_core.images", "vaegan_core.anomaly", "vaegan_core.conditional",
                       "vaegan_core.latent_usage", "vaegan_core.page_cache", "vaegan_core.metrics.evaluate"):
            importlib.import_module(module)
        from vaegan_core.live import warm_up as warm_up_live

        warm_up_live("digits")  # Train live: its data read and torch's optimizer imported before the first Start
        for kind in MODEL_KINDS:  # the default view's models, into the cache every session shares
            explorer_of(root).open("mnist", kind)  # a missing or broken one is the page's to explain
        from vaegan_core.app import FID_METRICS
        from vaegan_core.errors import VaeganError

        try:  # the FID page's default estimate (the domain features' speed): timed once per process
            explorer_of(root).results.estimate_seconds("lenet", 5000, "mnist", FID_METRICS)
        except VaeganError:  # no classifier shipped: the page says so
            pass
        from vaegan_core.latent import warm_up_umap

        warm_up_umap()
        report = os.environ.get("VAEGAN_WARMUP_REPORT")
        if report:
            Path(report).write_text(f"{time.perf_counter() - started:.1f}\n")

    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    return True


def settings() -> dict:
    """The sidebar's choices (set in app.py): dataset, model kinds, seed."""
    state = st.session_state
    return {
        "dataset": state.get("dataset", "mnist"),
        "kinds": list(state.get("kinds", list(MODEL_KINDS))),
        "seed": int(state.get("seed", 0)),
    }


def explorer():
    """The app layer (``vaegan_core.app``) over this app's checkpoints folder: every model, dataset view, result
    and page computation the pages show comes from it, shared by every session of the process."""
    return explorer_of(checkpoints_root())


def load(dataset: str, kind: str, conditional: bool = False):
    """The model (the class-conditional one with ``conditional``), or None (after saying how to get it) when its
    checkpoint is missing or broken."""
    found = explorer()
    if found.is_open(dataset, kind, conditional):
        opened = found.open(dataset, kind, conditional)
    else:
        with st.spinner("Loading the model..."):
            opened = found.open(dataset, kind, conditional)
    if opened.message:
        (st.info if opened.missing else st.error)(opened.message)
    return opened.model


def models(dataset: str, kinds, need_encoder: bool = False) -> dict:
    """``{kind: model}`` for the chosen kinds that load; the others are explained on the page."""
    loaded = {}
    for kind in kinds:
        if need_encoder and kind not in ENCODER_KINDS:
            continue
        model = load(dataset, kind)
        if model is not None:
            loaded[kind] = model
    return loaded


def datasets() -> list[str]:
    """The sidebar's datasets: MNIST and Fashion-MNIST, then every image folder with models in the checkpoints
    folder (``--checkpoints DIR``)."""
    return explorer().datasets()


def dataset_view(dataset: str):
    """The test split of ``dataset`` with its class names (``vaegan_core.app.DatasetView``): from VAEGAN_DATA_DIR or
    the copy shipped with the app; an image folder's from the folder its models were trained on. A folder that is
    not on this machine stops the page with one line that says so."""
    from vaegan_core.errors import DatasetError

    try:
        with st.spinner("Reading the test images..."):
            return explorer().dataset(dataset)
    except DatasetError as error:
        st.error(f"The test images of {dataset_label(dataset)} are not here: {error}")
        stop()


def test_split(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N x C x S x S, labels N)`` of ``dataset_view``."""
    view = dataset_view(dataset)
    return view.images, view.labels


def test_images(dataset: str, indices):
    """Test images by index as a float tensor B x C x S x S in [0, 1]."""
    return dataset_view(dataset).floats(indices)


def class_names(dataset: str) -> list[str]:
    names = explorer()._class_names(dataset, explorer().data_of(dataset))
    return names if names is not None else dataset_view(dataset).class_names


def progress_callback(bar):
    """A ``progress(fraction, message)`` callback that drives an ``st.progress`` bar."""
    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)
    return report


@contextlib.contextmanager
def slow_work(what: str, key: str):
    """Work of several seconds, shown honestly: a bar that says the time so far and, from the pace so far, the time
    left, and a Stop button (its click reruns the page, which ends the work; nothing it made is kept). Yields the
    ``progress(fraction, message)`` callback; afterwards the time it took is remembered for ``took_last_time``."""
    import time

    bar = st.progress(0.0, text=f"{what}: starting")
    stop = st.empty()
    stop.button("Stop", key=f"stop-{key}", icon=":material/stop_circle:", help="Ends this now; nothing it made is kept")
    start = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        elapsed = time.perf_counter() - start
        left = f", about {elapsed * (1 - fraction) / fraction:.0f} s left" if 0.05 <= fraction < 1 else ""
        bar.progress(fraction, text=f"{what}: {message} ({elapsed:.0f} s so far{left})")

    yield report
    st.session_state[f"took-{key}"] = time.perf_counter() - start
    bar.empty()
    stop.empty()


def took_last_time(key: str) -> str:
    """" (took 12 s last time)" after ``slow_work(..., key)`` ran in this session; "" before."""
    seconds = st.session_state.get(f"took-{key}")
    return f" (took {seconds:.0f} s last time)" if seconds is not None else ""


class _HeavyWork:
    """One kind of heavy work (an FID, a live study) that runs one at a time in this process: two at once would
    only halve each other's speed and slow every other visitor's page. Counts who is waiting."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count_lock = threading.Lock()
        self.queued = 0


@st.cache_resource
def _heavy_work(name: str) -> _HeavyWork:
    return _HeavyWork()


def busy_message(ahead: int, name: str) -> str:
    """What a visitor reads while ``ahead`` runs of heavy work ``name`` of other visitors go first."""
    return (f"Busy: {ahead} {name} of other visitors {'is' if ahead == 1 else 'are'} ahead of yours; it starts as soon "
            "as they finish (keep this page open).")


@contextlib.contextmanager
def one_at_a_time(name: str):
    """Run the block when no other session of this process is running work called ``name``; meanwhile say
    how many are ahead ("busy, your turn in N"), instead of everyone slowing down."""
    work = _heavy_work(name)
    with work.count_lock:
        ahead = work.queued
        work.queued += 1
    notice = st.empty()
    if ahead:
        notice.info(busy_message(ahead, name))
    try:
        with work.lock:
            notice.empty()
            yield
    finally:
        with work.count_lock:
            work.queued -= 1


# Each model at its best by default: the VAE and the VAE-GAN decode codes from the GMM of their training codes
# (where their decoders were trained; a model without one falls back to N(0, I) and says so), the GAN from N(0, I).
DEFAULT_PRIOR = "gmm"


def prior_choice(container) -> str:
    """The Compare and FID pages' switch between N(0, I) and the GMM of the training codes; the choice goes from
    page to page (kept outside the widget, whose own state Streamlit drops when the page changes)."""
    linked("prior", DEFAULT_PRIOR, one_of(PRIORS))  # the link's ?prior=..., kept in session_state["prior"]
    chosen = st.session_state["prior"]
    value = container.radio(
        "Codes of the VAE and VAE-GAN from", PRIORS, index=PRIORS.index(chosen) if chosen in PRIORS else 0,
        format_func=PRIOR_LABELS.get, horizontal=True, key=f"prior-{chosen}",
        help="GMM: a Gaussian mixture fitted to the codes of the training images (`vaegan fit-gmm`), "
             "where the decoder was trained. The same seeded noise goes through each model's own mixture. The "
             "GAN has no encoder, so it keeps N(0, I).")
    st.session_state["prior"] = value
    return value


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
        image, notes = read_upload(upload.getvalue(), style=upload_style(dataset))
    except ImageInputError as error:
        error_message(error)
        return None, None, None
    show_upload(upload.getvalue(), image, notes)
    return image, "your upload", None


def error_message(error: Exception | str) -> None:
    """A one-line error for a person: the core's messages start in lower case to follow "error: " on a
    command line; on a page they start with a capital."""
    text = str(error).strip()
    st.error(text[:1].upper() + text[1:])


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


PRESENTER_SCALE = 2  # presenter mode: pictures twice as wide (84 px digits -> 168 px, 6x their 28 pixels)
PRESENTER_CSS = """
html { font-size: 21px; }                       /* Streamlit sizes its text in rem: everything grows */
.developer-detail, [data-testid="stSidebar"] [data-testid="stCaptionContainer"] { display: none; }
[data-testid="stMainBlockContainer"] { padding-top: 2rem; padding-bottom: 1rem; }  /* one screen, not 1.2 */
"""


def presenting() -> bool:
    """Presenter mode (the sidebar toggle, or ?present=1): larger pictures and figures, no developer detail."""
    return bool(st.session_state.get("present", False))


# Pictures are pixels: a picture stretched to its column (a row of pictures, ui.picture) stays sharp, never smoothed
SHARP_CSS = '[data-testid="stImage"] img { image-rendering: pixelated; }'


def apply_presenter_mode() -> None:
    # st.html of one <style> only: applied to the page without taking room, and without the frontend's code for raw
    # HTML in Markdown (which a new tab then no longer loads on pages that need it for nothing else)
    st.html(f"<style>{SHARP_CSS}{PRESENTER_CSS if presenting() else ''}</style>")


def _page_slug() -> str:
    return st.session_state.get("_page", "page").lower().replace(" ", "-")


def export_name(*parts) -> str:
    """A file name for an export: the page, the parts that say what it shows, the dataset and the seed."""
    choice = settings()
    words = [_page_slug(), *map(str, parts), choice["dataset"], f"seed{choice['seed']}"]
    return "-".join(word.replace(" ", "-").replace("/", "-").lower() for word in words if word)


def figure_csv(figure) -> str:
    """The numbers behind a Plotly figure as CSV: one row per point (trace, x, y), frames left out."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["trace", "x", "y"])
    for index, trace in enumerate(figure.data):
        name = getattr(trace, "name", None) or f"trace {index}"
        xs = list(trace.x) if getattr(trace, "x", None) is not None else []
        ys = list(trace.y) if getattr(trace, "y", None) is not None else [None] * len(xs)
        if not xs:
            xs = list(range(len(ys)))
        for x, y in zip(xs, ys):
            writer.writerow([name, x, y])
    return out.getvalue()


def chart(where, figure, part: str, **kwargs):
    """Show a Plotly figure in ``where`` (st, a column, ...): larger fonts in presenter mode; the toolbar's camera
    saves a PNG (or an SVG: the sidebar's "Chart pictures as") named after the page and settings, and a CSV of its
    numbers is one click away."""
    if presenting():
        height = figure.layout.height or 450
        figure.update_layout(font={"size": 20}, height=int(height * 1.3))
    name = export_name(part)
    kwargs.setdefault("width", "stretch")
    image_format = st.session_state.get("chart-format", "png")  # the sidebar's "Chart pictures as"
    kwargs.setdefault("config", {"toImageButtonOptions": {"format": image_format, "filename": name, "scale": 2},
                                 "displaylogo": False})
    event = where.plotly_chart(figure, **kwargs)
    download(where, "CSV of this chart", figure_csv(figure), f"{name}.csv", "text/csv",
             key=f"csv-{name}-{kwargs.get('key', '')}")
    return event


MAIN_WIDTH = {False: 1000, True: 1400}  # px of the main column, about: a laptop; presenter mode on a 1920 x 1080 screen


def picture(images, captions=None, width: int = 84, where=None, slots: int | None = None) -> None:
    """Images (B x C x H x W in [0, 1]) shown without smoothing, so pixels stay sharp; twice as wide in
    presenter mode. Several images stand in one row, never wrapped onto a second line: about ``width`` px each
    where the page is wide enough for them, narrower where it is not; two rows of as many images line up image for
    image (originals over their reconstructions). The row is one picture with its captions in a grid of as many
    cells below it (a picture element per image made a page of 60 images slow to draw). ``slots``: the row's
    places, for a row in a narrower place than the page's main column (default: as many as fit the main column)."""
    from vaegan_core.images import to_uint8

    where = where or st
    present = presenting()
    width *= PRESENTER_SCALE if present else 1
    pixels = to_uint8(images, channels_last=True)  # B x H x W x C
    captions = list(captions) if captions is not None else [None] * len(pixels)
    if len(pixels) == 1:
        scale = max(1, -(-width // pixels.shape[2]))  # the width: a written line is one wide picture
        pixels = pixels.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2).numpy()
        where.image(pixels[0], width=width, caption=captions[0])
        return
    slots = max(len(pixels), slots or MAIN_WIDTH[present] // (width + ROW_GAP))
    gap = max(1, round(ROW_GAP * pixels.shape[2] / width))  # in the pictures' own pixels
    # at their own size: the browser stretches the row to the page, pixel-sharp (SHARP_CSS); a PNG of the upscaled
    # row took ten times as long to write
    where.image(picture_row(pixels.numpy(), slots, gap), width="stretch")
    if any(caption is not None for caption in captions):
        where.markdown(caption_row(captions, slots, present), unsafe_allow_html=True)


ROW_GAP = 16  # px between two pictures of a row, at their nominal width


def picture_row(pixels: np.ndarray, slots: int, gap: int) -> np.ndarray:
    """``pixels`` (B x H x W x C uint8, B <= slots) side by side in ``slots`` equal places, each picture centred in
    its place with ``gap`` transparent pixels between two; the places left over are transparent. H x slots*(W+gap)
    x 4 (RGBA), so two rows of the same pictures' size line up place for place."""
    count, height, tile, channels = pixels.shape
    cell = tile + gap
    row = np.zeros((height, slots * cell, 4), np.uint8)
    for index in range(count):
        left = index * cell + gap // 2
        row[:, left:left + tile, :3] = pixels[index] if channels == 3 else pixels[index][..., :1]
        row[:, left:left + tile, 3] = 255
    return row


def caption_row(captions: list, slots: int, present: bool) -> str:
    """The captions of a ``picture_row``, one under each place (HTML: a grid of ``slots`` equal cells)."""
    import html

    cells = "".join(f'<div style="overflow-wrap:anywhere;padding:0 2px">{html.escape(str(caption or ""))}</div>'
                    for caption in captions)
    size = "1.1rem" if present else "0.8rem"
    return (f'<div style="display:grid;grid-template-columns:repeat({slots},minmax(0,1fr));text-align:center;'
            f'font-size:{size};line-height:1.25;opacity:0.7;margin-top:-0.5rem">{cells}</div>')


def markdown_table(rows: list[dict]) -> str:
    """Rows of ``{column: text}`` (the first row's columns) as a Markdown table, pipes and line breaks escaped."""
    if not rows:
        return ""

    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    columns = list(rows[0])
    lines = ["| " + " | ".join(cell(name) for name in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(name, "")) for name in columns) + " |" for row in rows]
    return "\n".join(lines)


def static_picture(path, caption: str, where=None, fraction: float = 1.0) -> None:
    """A picture file (a sample grid a run wrote) as wide as its column, pixels kept sharp (nearest neighbour);
    ``fraction``: only its top share (half a grid of 8 rows: its first 4 rows). A damaged, oversized or foreign
    file shows a one-line note in its place, never an error page."""
    from PIL import Image

    from vaegan_core.images import open_picture

    where = where or st
    try:
        image = open_picture(path)
    except ValueError as error:
        where.caption(f"{caption}: no picture ({zoo.shown(str(error), checkpoints_root())})")
        return
    if fraction < 1:
        image = image.crop((0, 0, image.width, max(1, round(image.height * fraction))))
    scale = max(1, 480 // max(image.size))
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    where.image(image, caption=caption, width="stretch")


def download_grid(images, part: str, nrow: int | None = None, where=None) -> None:
    """A "PNG" download of an image grid (4x upscaled), named after the page and settings; written when clicked."""
    from vaegan_core.images import png_bytes

    name = export_name(part)
    download(where or st, "PNG", lambda: png_bytes(images, nrow=nrow, scale=4), f"{name}.png", "image/png",
             key=f"png-{name}")


def download(where, label: str, data, file_name: str, mime: str, **kwargs) -> None:
    """A download button (no rerun on click) whose file also goes into the page's zip (``page_zip``). ``data``: the
    bytes or text, or a function without arguments that makes them when the button is clicked (Streamlit runs it
    then, beside the page: a rerun does not spend time on files nobody asked for)."""
    kwargs.setdefault("icon", ":material/download:")
    where.download_button(label, data, file_name=file_name, mime=mime, on_click="ignore", **kwargs)
    st.session_state.setdefault("_exports", {})[file_name] = data


def start_exports() -> None:
    """Forget the last run's files: each run of a page collects its own."""
    st.session_state["_exports"] = {}


def zip_of(files: dict) -> bytes:
    """A zip archive of ``{file name: bytes or text, or a function that makes them}``."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            data = data() if callable(data) else data
            archive.writestr(name, data if isinstance(data, (bytes, str)) else bytes(data))
    return buffer.getvalue()


def page_zip() -> None:
    """The sidebar's "This page's figures (zip)": every file the page offered in this run, in one download."""
    files = st.session_state.get("_exports", {})
    if len(files) < 2:
        return
    files = dict(files)  # this run's: the zip is made when clicked
    st.sidebar.download_button(f"This page's figures ({len(files)} files, zip)", lambda: zip_of(files),
                               file_name=f"{export_name('figures')}.zip", mime="application/zip",
                               icon=":material/folder_zip:", on_click="ignore", key="page-zip")


def show_row(images, caption: str | None = None, width: int = 96, captions=None, slots: int | None = None,
             beside: bool = False) -> None:
    """A row of images, upscaled without smoothing so pixels stay visible on a projector (``slots``: see picture).
    ``beside``: in presenter mode the caption (a short name) stands left of the row, not above it, so that a page of
    several rows keeps to one screen."""
    if caption and beside and presenting():
        name, row = st.columns([1.5, 7], vertical_alignment="center")
        name.markdown(caption)
        picture(images, captions, width, where=row, slots=slots)
        return
    if caption:
        st.markdown(caption)
    picture(images, captions, width, slots=slots)


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
        drawing, notes = read_drawing(pixels, style=upload_style(dataset))
    except ImageInputError as error:
        error_message(error)
        return None
    if drawing is None:
        st.info(notes[0])
        return None
    st.caption(notes[0])
    return drawing


def explain(text: str, where=None, label: str = "Explanation", shown=None) -> None:
    """A paragraph that explains what is shown: as text (``shown``: how, default markdown), or folded under
    ``label`` in presenter mode (the teacher says it; the page keeps to one screen)."""
    where = where or st
    if presenting():
        where.expander(label).markdown(text)
    else:
        (shown or where.markdown)(text)


def page_header(title: str, explanation: str, needs_models: bool = True) -> dict:
    st.session_state["_page"] = title  # for the names of exports
    st.title(title)
    explain(explanation, label="What this page shows", shown=st.caption)
    choice = settings()
    if needs_models and not choice["kinds"]:
        st.info("No model is chosen: pick at least one under *Models* in the sidebar.")
        stop()
    return choice


# ---- Shareable views: every linked control lives in the URL (?seed=3&compare-grid=8...), both ways ----------------
# A control is linked by creating it with key=ui.linked(name, default, check) and no default value of its own: on
# the session's first run (or the page's, after a page change) it starts from the link, else from the default; after
# each run app.py writes the values that differ from the defaults back into the link (ui.write_link).


def in_range(cast, low, high):
    """A link parser: ``cast(text)`` within [low, high]."""
    def parse(text: str):
        try:
            value = cast(text)
        except (TypeError, ValueError):  # Python's own text ("invalid literal for int()...") is not for a visitor
            raise ValueError("not a whole number" if cast is int else "not a number") from None
        if not low <= value <= high:
            raise ValueError(f"not in {low}-{high}")
        return value
    return parse


def as_int(low: int, high: int):
    return in_range(int, low, high)


def as_float(low: float, high: float):
    return in_range(float, low, high)


def one_of(options, cast=str):
    allowed = list(options)

    def parse(text: str):
        value = cast(text)
        if value not in allowed:
            raise ValueError(f"not one of {', '.join(map(str, allowed))}")
        return value
    return parse


def tabs(name: str, labels: list[str]) -> list:
    """Tabs whose content runs only while open (Streamlit's lazy tabs: a page computes one tab, not all of them),
    the open one kept in the link (?name=label). Use as ``if tab.open:`` then ``with tab:``."""
    return st.tabs(labels, key=linked(name, labels[0], one_of(labels)), on_change="rerun")


def many_of(options):
    allowed = list(options)

    def parse(text: str) -> list:
        values = [part for part in text.split(",") if part]
        if not values or any(value not in allowed for value in values):
            raise ValueError(f"choose from {', '.join(allowed)}")
        return [value for value in allowed if value in values]
    return parse


def _registry() -> dict:
    """The linked controls of this run: name -> default."""
    registry = st.session_state.setdefault("_linked", {})
    return registry


def linked(name: str, default, parse=str) -> str:
    """The key of a control that lives in the URL (see above); ``parse`` turns the link's text into a value or
    raises ValueError, and then the default is used with a small notice. A link's value that this session did
    not write itself (a pasted link, a Lesson button) wins over the control's current value."""
    text = st.query_params.get(name)
    from_outside = text is not None and text != st.session_state.get("_written", {}).get(name)
    if name not in st.session_state or from_outside:
        value = st.session_state.get(name, default)
        if text is not None:
            try:
                value = parse(text)
            except (TypeError, ValueError) as error:
                kept = "showing the default" if name not in st.session_state else "keeping the current value"
                st.toast(f"The link's {name}={text!r} is not usable ({error}); {kept}.")
                value = default if name not in st.session_state else value
        st.session_state[name] = value
        st.session_state.setdefault("_written", {})[name] = text  # read once: later runs keep the control's value
    elif st.session_state[name] not in ([], ()):  # (an emptied multiselect is a choice; the page says so)
        # a value that no longer fits the control (its options or range follow other settings): the default
        try:
            parse(_as_text(st.session_state[name]))
        except (TypeError, ValueError):
            st.session_state[name] = default
    # Told to the browser on every run, not only when it changes: a browser that mounts the control afresh (it can, on
    # a page change) and holds no value for it takes the widget's own default (an empty multiselect, the first
    # dataset, seed 0) and sends that back on the next click, silently replacing the choice.
    st.session_state[name] = st.session_state[name]
    _registry()[name] = default
    return name


def as_bool(text: str) -> bool:
    """A link parser for a toggle: 1/true/yes/on or 0/false/no/off."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("use 1 or 0")


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _link_params() -> dict[str, str]:
    """The linked controls of this run whose values differ from their defaults, as the link's text."""
    registry = st.session_state.get("_linked", {})
    return {name: _as_text(st.session_state[name]) for name, default in registry.items()
            if name in st.session_state and _as_text(st.session_state[name]) != _as_text(default)}


def write_link() -> None:
    """After a run: the linked controls that differ from their defaults, and presenter mode, into the URL; the
    other parameters out of it."""
    import lesson_nav

    wanted = {**_link_params(), **lesson_nav.link_params()}  # a Lesson step's page keeps its step in the link
    registry = st.session_state.get("_linked", {})
    # a link that says what the page shows, only with some defaults spelled out (a Lesson step's, a pasted one), is
    # left as it is: rewriting it would add a browser history entry, and Back would take two presses
    meaningful = {name: text for name, text in st.query_params.to_dict().items()
                  if not (name in registry and text == _as_text(registry[name]))}
    if meaningful != wanted:
        st.query_params.from_dict(wanted)
    # what the link says now came from this session (a default left spelled out in it too: not a link from outside)
    st.session_state["_written"] = st.query_params.to_dict() if meaningful == wanted else dict(wanted)
    st.session_state["_linked"] = {}


def stop() -> None:
    """``st.stop()`` for the pages: the link and its box are written first (after st.stop, Streamlit accepts no
    more calls, so app.py could not write them), and so is the page's zip of what it offered so far."""
    page_zip()
    link_to_this_view()
    write_link()
    st.stop()


def link_to_this_view() -> None:
    """The sidebar's "Link to this view": the page's URL with its settings, with a copy button."""
    params = _link_params()
    from urllib.parse import urlencode

    base = (getattr(st.context, "url", "") or "").split("?")[0]
    # filled only while open: the code box's frontend (1.5 MB of JavaScript) is then loaded when someone opens the
    # box, not by every new tab of every page
    box = st.sidebar.expander("Link to this view", key="link-box", on_change="rerun")
    if box.open:
        with box:
            st.code(base + ("?" + urlencode(params) if params else ""), language=None)
            st.caption("Copy it (the button at its right): it opens this page with these settings.")
