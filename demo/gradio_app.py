"""VAE-GAN Explorer in Gradio: reconstruction, interpolation, side-by-side samples and FID, through the same
vaegan_core functions as the Streamlit app (demo/app.py).

    python demo/gradio_app.py        # http://127.0.0.1:7860; GRADIO_SERVER_PORT and GRADIO_SERVER_NAME change it

Checkpoints: $VAEGAN_CHECKPOINTS_DIR, else checkpoints/ (vaegan_core.storage.zoo, as in the Streamlit app). Every
tab has one API endpoint (reconstruct, interpolate, compare, write, fid), so gradio_client can call it; inputs only
some choices need (the upload, the sketch) may be left out. Models are
loaded once per process and shared by every visitor (eval mode, forward passes only: safe across threads).
No model math here: every number and image comes from vaegan_core.
"""

from __future__ import annotations

import functools
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # demo machines are often offline: no telemetry calls

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from vaegan_core.storage import zoo  # noqa: E402
from vaegan_core.app import FID_METRICS, FID_METRICS_WITHOUT_PR, explorer, upload_style  # noqa: E402
from vaegan_core.config import (DATASET_LABELS, ENCODER_KINDS, EXTRACTOR_LABELS, EXTRACTORS, IDX_DATASETS,  # noqa: E402
                                MAX_SEED, MODEL_KINDS, MODEL_LABELS, PRIOR_LABELS, PRIORS)
from vaegan_core.training.data import CLASS_NAMES  # noqa: E402
from vaegan_core.errors import VaeganError, first_line  # noqa: E402
from vaegan_core.images import grid_image, to_pil  # noqa: E402
from vaegan_core.analysis.latent import interpolate, interpolation_ends, reconstruct_with_error  # noqa: E402

DATASETS = IDX_DATASETS  # the datasets with shipped checkpoints and test images
LABELS = MODEL_LABELS
KINDS = MODEL_KINDS
SCALE = 4  # 28 x 28 images are shown 4x larger, nearest neighbour, so pixels stay sharp
ROW_SCALE = 2  # interpolation rows and sample grids: 2x
SOURCES = ("random test images", "by index", "upload", "drawing")
MODES = ("two test images", "two random codes")
GRID_SIDES = (3, 4, 5, 6, 8, 10)
FID_SIZES = (1000, 2000, 5000, 10000)
DEFAULT_PRIOR = "gmm"  # Compare and FID: each model at its best (the GAN, without an encoder, keeps N(0, I))
INTRO = ("# VAE-GAN Explorer\nVAE, GAN and VAE-GAN (Larsen et al. 2016) side by side: reconstructions, latent "
         "interpolations, samples from the same seeded noise, and FID. Samples by default: the VAE and the VAE-GAN "
         f"draw their codes from the {PRIOR_LABELS[DEFAULT_PRIOR]} of each model (the GMM prior, fitted by "
         "`vaegan fit-gmm`; N(0, I) for a model without one), the GAN from N(0, I). Choose N(0, I) on the Compare "
         "and FID tabs to give all three the same codes.")
FID_COLUMNS = ["model", "prior", "FID", "precision", "recall", "IS (classifier)", "classes covered", "n", "features",
               "seconds"]

# ---------------------------------------------------------------------- shared helpers (no math)
# Models, test images, Compare's samples and FID results come from the app layer (vaegan_core.app), as in the
# Streamlit app: loaded, drawn or computed once per process and shared by every visitor.

def load(dataset: str, kind: str, notes: list[str], conditional: bool = False):
    """The model of ``kind`` for ``dataset`` (its class-conditional twin with ``conditional``); None (with a note
    saying how to get it) when its checkpoint is missing or broken."""
    opened = explorer().open(dataset, kind, conditional)
    if opened.message:
        notes.append(opened.message)
    return opened.model


def load_all(dataset: str, kinds, notes: list[str]) -> dict:
    loaded = {kind: load(dataset, kind, notes) for kind in kinds}
    return {kind: model for kind, model in loaded.items() if model is not None}


def test_split(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The test split (uint8 N x 1 x 28 x 28, labels N): from VAEGAN_DATA_DIR or the copy shipped with the app."""
    view = explorer().dataset(dataset)
    return torch.from_numpy(view.images), torch.from_numpy(view.labels)


def test_images(dataset: str, indices) -> tuple[torch.Tensor, list[str]]:
    view = explorer().dataset(dataset)
    images = view.floats(indices)  # an index outside the split: one line (DatasetError)
    return images, [view.caption(int(i)) for i in indices]  # "#12 (Sneaker)", as every page


def picture(image: torch.Tensor, scale: int = SCALE) -> Image.Image:
    """One C x H x W image in [0, 1] -> a PIL image ``scale`` times larger (nearest neighbour)."""
    shown = to_pil(image)
    return shown.resize((shown.width * scale, shown.height * scale), Image.Resampling.NEAREST)


def grid_picture(images: torch.Tensor, nrow: int, scale: int = ROW_SCALE) -> Image.Image:
    """A batch B x C x H x W in [0, 1] as one grid picture, ``nrow`` images per row."""
    return grid_image(images, nrow=nrow, scale=scale)


def status(notes: list[str]) -> str:
    return "\n\n".join(notes)


def guarded(function):
    """Errors a user can cause become one readable message in the app (gr.Error), never a traceback."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except VaeganError as error:
            raise gr.Error(str(error)) from None
        except Exception as error:  # the last guard: one line, and the app keeps working
            raise gr.Error(f"Something went wrong: {type(error).__name__}: {first_line(error)} - change a setting "
                           "and retry") from None
    return run


# ---------------------------------------------------------------------- tab functions

def _drawing(sketch) -> np.ndarray | None:
    """The composite image of a Sketchpad value (a dict with ``composite``, or an array), or None when empty."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        return None
    pixels = np.asarray(composite, dtype=np.float32)
    if pixels.ndim == 3 and pixels.shape[2] == 4:  # dark strokes, opaque, on a white or transparent pad
        ink = pixels[..., 3] / 255.0 * (1.0 - pixels[..., :3].mean(2) / 255.0)
    else:
        gray = pixels.mean(2) if pixels.ndim == 3 else pixels
        gray = gray / 255.0 if gray.max(initial=0) > 1 else gray
        ink = 1.0 - gray if float(np.median(gray)) > 0.5 else gray  # dark strokes on a light pad: inverted
    return ink if float(ink.max(initial=0)) > 0.1 else None


@guarded
def reconstruct(dataset: str, seed: float, source: str, count: float, start: float, upload: bytes | None = None,
                invert: str = "auto", sketch=None):
    """Originals and their VAE and VAE-GAN reconstructions, with the mean squared error per image. ``upload``,
    ``invert`` and ``sketch`` are optional (None defaults: optional for gradio_client too): test images need none."""
    from vaegan_core.uploads import read_drawing, read_upload

    notes: list[str] = []
    if source == "drawing":
        ink = _drawing(sketch)
        if ink is None:
            raise gr.Error("Draw a digit or a garment on the sketchpad first (the pad is empty).")
        originals, drawing_notes = read_drawing(ink, style=upload_style(dataset))
        captions = ["drawing, after preprocessing"]
        notes += drawing_notes
    elif source == "upload":
        if not upload:
            raise gr.Error("Choose an image file to upload first (PNG, JPEG, GIF, BMP, TIFF or WebP).")
        originals, upload_notes = read_upload(upload, style=upload_style(dataset),
                                              invert=invert)
        captions = ["upload, after preprocessing"]
        notes += upload_notes
    else:
        size = len(test_split(dataset)[1])
        count = int(count)
        if source == "random test images":
            indices = np.random.default_rng(int(seed)).choice(size, count, replace=False)
        else:
            first = int(start)
            indices = np.arange(first, min(first + count, size)) if 0 <= first < size else [first]
        originals, captions = test_images(dataset, indices)
    galleries = {}
    for kind in ENCODER_KINDS:
        model = load(dataset, kind, notes)
        if model is None:
            galleries[kind] = None
            continue
        recon, errors = reconstruct_with_error(model, originals)
        galleries[kind] = [(picture(image), f"MSE {error:.4f}") for image, error in zip(recon, errors.tolist())]
        notes.append(f"**{LABELS[kind]}**: mean error {errors.mean():.4f} over {len(errors)} image(s)")
    notes.append("GAN: it has no encoder, so it cannot reconstruct directly (the Streamlit app can invert it).")
    originals_gallery = [(picture(image), caption) for image, caption in zip(originals, captions)]
    return originals_gallery, galleries["vae"], galleries["vaegan"], status(notes)


GALLERY_COLUMNS = 8
# Every picture whole with its caption (the MSE) at its foot: "contain", never cropped; the gallery as tall as its
# rows at any page width ("fit-content": the browser measures the square cells; a height in pixels cut the bottom
# row, captions included, once the page was wider than ~1300 px, and Gradio's "auto" keeps a 450 px minimum);
# 8 columns however few the pictures (fit_columns would stretch one upload over the whole row).
GALLERY = dict(columns=GALLERY_COLUMNS, height="fit-content", object_fit="contain", fit_columns=False, format="png")


@guarded
def interpolation(dataset: str, seed: float, mode: str, first: float, second: float, method: str, steps: float,
                  invert_gan: bool):
    """One row of decoded images per model along the path between two codes (lerp or slerp)."""
    notes: list[str] = []
    seed, steps = int(seed), int(steps)
    models = load_all(dataset, KINDS, notes)
    ends_picture = None
    if mode == "two test images":
        ends, captions = test_images(dataset, [int(first), int(second)])
        ends_picture = grid_picture(ends, nrow=2, scale=SCALE)
        notes.append(f"From {captions[0]} to {captions[1]}.")
    else:
        notes.append(f"Codes: two draws from N(0, I) with seeds {seed} and {seed + 1}.")
    rows = {kind: None for kind in KINDS}
    for kind, model in models.items():
        codes = interpolation_ends(model, ends if mode == "two test images" else None, seed, invert_gan)
        if codes is None:
            notes.append("GAN: no encoder, so it cannot start from the images; tick *Invert the GAN* "
                         "or use two random codes.")
            continue
        rows[kind] = grid_picture(model.decode(interpolate(*codes, steps, method)), nrow=steps)
    return ends_picture, rows["gan"], rows["vae"], rows["vaegan"], status(notes)


@guarded
def write(dataset: str, seed: float, text: str, style_index: float | None = None):
    """The conditional GAN, VAE and VAE-GAN write ``text`` (class digits) in one style: a random z of ``seed``, or
    the style of test image ``style_index`` (read with its label; the GAN by inversion)."""
    from vaegan_core.models import conditional

    notes: list[str] = []
    glyphs = conditional.parse_text(text, len(CLASS_NAMES[dataset]))
    image = label = None
    if style_index is not None and str(style_index).strip() not in ("", "None") and int(style_index) >= 0:
        image, captions = test_images(dataset, [int(style_index)])
        label = int(explorer().dataset(dataset).labels[int(style_index)])
        notes.append(f"Style from test image {captions[0]}.")
    lines = {}
    for kind in KINDS:
        model = load(dataset, kind, notes, conditional=True)
        if model is None:
            lines[kind] = None
            continue
        code = None if image is None else conditional.style_code(model, image, label=label, seed=int(seed),
                                                                 steps=200)[0]
        lines[kind] = picture(conditional.write(model, glyphs, code, seed=int(seed)), scale=ROW_SCALE)
    names = CLASS_NAMES[dataset]
    notes.append("Written: " + " ".join(conditional.glyph_names(glyphs, names))
                 + (f" (seed {int(seed)})" if image is None else ""))
    return lines["gan"], lines["vae"], lines["vaegan"], status(notes)


@guarded
def compare(dataset: str, seed: float | None, side: float, temperature: float, prior: str = DEFAULT_PRIOR):
    """GAN, VAE and VAE-GAN sample grids decoded from the same seeded noise z ~ N(0, T^2 I): for the VAE and
    VAE-GAN with ``prior`` gmm (the default), that noise through the GMM of each one's training codes. An empty
    seed box (while a new seed is typed) counts as seed 0, and the notes say so."""
    notes: list[str] = []
    side, seed = int(side), 0 if seed is None or str(seed).strip() == "" else int(seed)
    models = load_all(dataset, KINDS, notes)
    samples = explorer().samples(models, side * side, seed=int(seed), temperature=float(temperature),
                                 prior=prior) if models else {}  # the Streamlit Compare page's, for the same settings
    grids = {kind: grid_picture(samples[kind], nrow=side) if kind in samples else None for kind in KINDS}
    if models:
        priors = {kind: model.prior(prior, fallback=True) for kind, model in models.items()}
        used = ", ".join(f"{LABELS[kind]}: {chosen.label}" for kind, chosen in priors.items())
        notes.append(f"{side * side} samples per model from seed {int(seed)}, temperature {float(temperature):.2f} "
                     f"({used}).")
        notes += [f"{LABELS[kind]}: {chosen.note}." for kind, chosen in priors.items() if chosen.note]
    return grids["gan"], grids["vae"], grids["vaegan"], status(notes)


@guarded
def fid(dataset: str, seed: float, kinds: list[str], n: float, extractor: str, with_pr: bool = True,
        prior: str = "normal", progress=gr.Progress()):
    """FID, precision, recall and the classifier IS of each chosen model; results are kept for the process.

    Without precision and recall (``with_pr`` false), no real image needs features: FID then uses the shipped
    reference statistics, unless the real features are cached already (see ``evaluate``)."""
    notes: list[str] = []
    seed, n = int(seed), int(n)
    metrics = FID_METRICS if with_pr else FID_METRICS_WITHOUT_PR
    if not kinds:
        raise gr.Error("Choose at least one model.")
    models = load_all(dataset, [kind for kind in KINDS if kind in kinds], notes)
    rows, sides = [], set()
    results = explorer().results  # one FID at a time per process, kept for every visitor
    for number, (kind, model) in enumerate(models.items()):
        used = model.prior(prior, fallback=True).name

        def report(fraction: float, message: str, number=number, kind=kind) -> None:
            progress((number + min(max(fraction, 0.0), 1.0)) / len(models), desc=f"{LABELS[kind]}: {message}")

        try:
            result = results.compute(model, dataset, n, extractor, seed, metrics, used, progress=report)
        except VaeganError as error:
            notes.append(f"{LABELS[kind]}: {error}")
            continue
        sides.add(result.get("real_side", "features"))
        scores = zoo.headline_scores(result)

        def score(name: str, digits: int = 3):
            return round(scores[name], digits) if name in scores else None

        rows.append([LABELS[kind], PRIOR_LABELS[used], score("fid"), score("precision"), score("recall"), score("is"),
                     scores.get("classes_covered"), result["n"], result["extractor"], result["wall_seconds"]])
    if rows:
        notes.append(f"Against the {dataset} test split (real side: {', '.join(sorted(sides))}), seed {seed}. FID is biased "
                     "upward for small n: compare numbers at the same n only.")
    return {"headers": FID_COLUMNS, "data": rows}, status(notes)


def describe(dataset: str) -> str:
    found = [LABELS[kind] for kind in KINDS if explorer().is_available(dataset, kind)]
    return (f"Checkpoints: {explorer().description()} - {DATASET_LABELS[dataset]}: "
            f"{', '.join(found) if found else 'none yet (each tab says how to train them)'}")


# ---------------------------------------------------------------------- layout

def prior_choice() -> gr.Radio:
    return gr.Radio([(PRIOR_LABELS[prior], prior) for prior in PRIORS], value=DEFAULT_PRIOR,  # as INTRO says
                    label="Codes of the VAE and VAE-GAN from",
                    info="GMM: a Gaussian mixture fitted to the codes of the training images (vaegan fit-gmm). "
                         "The GAN has no encoder and keeps N(0, I).")


def labelled_image(label: str) -> gr.Image:
    """A picture output with its name above it (Gradio's own label badge covered the top row of a grid)."""
    gr.Markdown(f"**{label}**")
    return gr.Image(show_label=False, format="png", type="pil", interactive=False, height="auto")


def offline_theme():
    """Gradio's default theme with the fonts of the visitor's system: the default theme loads its fonts from
    Google Fonts, which an offline classroom cannot reach (tests/test_offline.py checks that nothing is fetched)."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


def build_app() -> gr.Blocks:
    with gr.Blocks(title="VAE-GAN Explorer", analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        with gr.Row():
            dataset = gr.Dropdown([(DATASET_LABELS[name], name) for name in DATASETS], value="mnist", label="Dataset")
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=MAX_SEED,
                             info="The same seed gives the same samples, in every model and every session.")
        found = gr.Markdown(describe("mnist"))
        dataset.change(describe, [dataset], [found], api_visibility="private")

        with gr.Tab("Reconstruction"):
            gr.Markdown("x -> encoder -> z = mu(x) -> decoder -> x'. The VAE measures the error in pixels and "
                        "blurs; the VAE-GAN measures it in discriminator features and stays sharp.")
            with gr.Row():
                source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Images")
                count = gr.Slider(1, 16, value=8, step=1, label="How many")
                start = gr.Number(0, label="First index (by index)", precision=0, minimum=0)
            with gr.Row():
                upload = gr.File(label="An image of a digit or a garment (upload)", type="binary",
                                 file_types=["image"])
                invert = gr.Radio(["auto", "yes", "no"], value="auto", label="Invert colours (upload)",
                                  info="The models expect a light object on a dark background.")
            sketch = gr.Sketchpad(label="Or draw (source: drawing)", type="numpy", canvas_size=(280, 280),
                                  brush=gr.Brush(default_size=20, colors=["#000000"], color_mode="fixed"))
            run_reconstruction = gr.Button("Reconstruct", variant="primary")
            originals, vae_gallery, vaegan_gallery = (gr.Gallery(label=name, **GALLERY)
                                                      for name in ("Original", "VAE", "VAE-GAN"))
            reconstruction_notes = gr.Markdown()
            run_reconstruction.click(reconstruct, [dataset, seed, source, count, start, upload, invert, sketch],
                                     [originals, vae_gallery, vaegan_gallery, reconstruction_notes],
                                     api_name="reconstruct")

        with gr.Tab("Interpolation"):
            gr.Markdown("Decode the codes on the path between two points of latent space. Between two images, "
                        "each model with an encoder starts from its own codes of them; between two random codes, "
                        "all models walk the same path.")
            with gr.Row():
                mode = gr.Radio(list(MODES), value=MODES[1], label="Between")
                first = gr.Number(0, label="First image index", precision=0, minimum=0)
                second = gr.Number(1, label="Second image index", precision=0, minimum=0)
            with gr.Row():
                method = gr.Radio(["slerp", "lerp"], value="slerp", label="Path",
                                  info="slerp follows the sphere where Gaussian codes live; lerp cuts through "
                                       "its centre, where images often fade.")
                steps = gr.Slider(2, 16, value=10, step=1, label="Steps")
                invert_gan = gr.Checkbox(False, label="Invert the GAN on the images (a few seconds)")
            run_interpolation = gr.Button("Interpolate", variant="primary")
            ends = labelled_image("End images")
            interpolation_rows = [labelled_image(LABELS[kind]) for kind in KINDS]
            interpolation_notes = gr.Markdown()
            run_interpolation.click(interpolation, [dataset, seed, mode, first, second, method, steps, invert_gan],
                                    [ends, *interpolation_rows, interpolation_notes], api_name="interpolate")

        with gr.Tab("Compare"):
            gr.Markdown("Every model decodes the same seeded noise z ~ N(0, T^2 I): the GAN as it is; by default "
                        "the VAE and the VAE-GAN through the GMM of their own training codes (each model at its "
                        "best). With N(0, I) all three decode the same codes, so differences come from the models "
                        "alone. Temperature T < 1 trades variety for typical-looking samples. A new seed, grid, "
                        "temperature or prior samples at once.")
            with gr.Row():
                side = gr.Dropdown(list(GRID_SIDES), value=6, label="Grid (side x side)")
                temperature = gr.Slider(0.1, 1.5, value=1.0, step=0.05, label="Temperature T")
                compare_prior = prior_choice()
            run_compare = gr.Button("Sample", variant="primary")
            with gr.Row():
                compare_grids = []
                for kind in KINDS:
                    with gr.Column():
                        compare_grids.append(labelled_image(LABELS[kind]))
            compare_notes = gr.Markdown()
            gr.on([run_compare.click, *(control.change for control in (dataset, seed, side, temperature,
                                                                       compare_prior))],
                  compare, [dataset, seed, side, temperature, compare_prior], [*compare_grids, compare_notes],
                  api_name="compare", trigger_mode="always_last")  # one event, so one /compare endpoint

        with gr.Tab("Conditional"):
            gr.Markdown("The class-conditional models are given the class y: z is left to hold the style. Type class "
                        "digits (MNIST digits; for Fashion-MNIST, 0 = T-shirt/top ... 9 = Ankle boot) and each model "
                        "writes them in one style.")
            with gr.Row():
                text = gr.Textbox("2026", label="Classes to write (digits 0-9, up to 40)", max_length=40)
                style_index = gr.Number(-1, label="Style from test image (index; -1: random, the seed)",
                                        precision=0, minimum=-1)
            run_write = gr.Button("Write", variant="primary")
            written = [labelled_image(f"conditional {LABELS[kind]}") for kind in KINDS]
            write_notes = gr.Markdown()
            run_write.click(write, [dataset, seed, text, style_index], [*written, write_notes], api_name="write")

        with gr.Tab("FID"):
            gr.Markdown("The Frechet distance between the feature statistics of real test images and of n "
                        "generated ones (lower is better), with precision, recall and the classifier Inception "
                        "Score. Domain features (a LeNet trained on the dataset) take seconds; the standard "
                        "Inception features are what papers report, and are slow on a CPU.")
            with gr.Row():
                kinds = gr.CheckboxGroup([(LABELS[kind], kind) for kind in KINDS], value=list(KINDS), label="Models")
                n = gr.Dropdown(list(FID_SIZES), value=5000, label="Generated images n")
                extractor = gr.Radio([(EXTRACTOR_LABELS[name], name) for name in EXTRACTORS], value="lenet",
                                     label="Features")
                with_pr = gr.Checkbox(value=True, label="Precision and recall",
                                      info="Needs the features of all 10,000 real test images (computed once, "
                                           "then cached); without, FID uses the shipped real statistics.")
                fid_prior = prior_choice()
            run_fid = gr.Button("Compute", variant="primary")
            table = gr.Dataframe(headers=FID_COLUMNS, label="Scores", interactive=False)
            fid_notes = gr.Markdown()
            run_fid.click(fid, [dataset, seed, kinds, n, extractor, with_pr, fid_prior], [table, fid_notes],
                          api_name="fid")

        # Something to look at before any button is pressed: the quick tabs show their default result (tens of
        # milliseconds each); FID waits for its button, and the interpolation for its own.
        for function, inputs, outputs in (
                (reconstruct, [dataset, seed, source, count, start, upload, invert, sketch],
                 [originals, vae_gallery, vaegan_gallery, reconstruction_notes]),
                (compare, [dataset, seed, side, temperature, compare_prior], [*compare_grids, compare_notes]),
                (write, [dataset, seed, text, style_index], [*written, write_notes])):
            app.load(function, inputs, outputs, api_visibility="private")
    return app


if __name__ == "__main__":
    # No server_name / server_port here: Gradio reads GRADIO_SERVER_NAME (default 127.0.0.1) and
    # GRADIO_SERVER_PORT (default 7860, or the next free port) itself.
    build_app().queue().launch(theme=offline_theme())
