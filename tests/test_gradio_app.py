"""The Gradio app (demo/gradio_app.py) as a user's program sees it: `python demo/gradio_app.py` on a free
localhost port (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME), each tab's event called through gradio_client.

Marked e2e: it starts a server over tiny models (one more over the shipped ones, for samples that depend on the
seed) and computes FID for three models (about a minute on a busy 2-core CPU). The layout's promises (galleries,
Compare's triggers, the intro) are checked on build_app() or the served /config.
"""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.e2e
gradio_client = pytest.importorskip("gradio_client")
from local_server import gradio_server  # noqa: E402

STARTUP_SECONDS = 180
CALL_SECONDS = 600
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"  # the models shipped with the app


@pytest.fixture(scope="module")
def server(tiny_checkpoints):
    """`python demo/gradio_app.py` over the tiny mnist/{gan,vae,vaegan} of conftest's session fixture."""
    try:
        with gradio_server({"VAEGAN_CHECKPOINTS_DIR": str(tiny_checkpoints)}, timeout=STARTUP_SECONDS) as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return gradio_client.Client(server, verbose=False, analytics_enabled=False,
                                download_files=str(tmp_path_factory.mktemp("downloads")),
                                httpx_kwargs={"timeout": CALL_SECONDS})


@pytest.fixture(scope="module")
def shipped_client(tmp_path_factory):
    """The app over the shipped checkpoints: the tiny models' samples are near-black whatever the seed."""
    try:
        with gradio_server({"VAEGAN_CHECKPOINTS_DIR": str(SHIPPED)}, timeout=STARTUP_SECONDS) as url:
            yield gradio_client.Client(url, verbose=False, analytics_enabled=False,
                                       download_files=str(tmp_path_factory.mktemp("shipped")),
                                       httpx_kwargs={"timeout": CALL_SECONDS})
    except RuntimeError as error:
        pytest.fail(str(error))


def call(client, *args, api_name: str):
    return client.submit(*args, api_name=api_name).result(timeout=CALL_SECONDS)


def image_size(path) -> tuple[int, int]:
    assert path and Path(path).is_file(), path
    with Image.open(path) as image:
        return image.size


def grid_size(count: int, per_row: int, scale: int) -> tuple[int, int]:
    """Pixels of a grid of 28 x 28 images with 2-pixel padding (vaegan_core.images.grid), upscaled."""
    rows = -(-count // per_row)
    return ((per_row * 28 + (per_row + 1) * 2) * scale, (rows * 28 + (rows + 1) * 2) * scale)


def test_every_tab_has_a_named_endpoint(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/reconstruct", "/interpolate", "/compare", "/fid", "/write"} <= set(endpoints)


def test_the_conditional_models_write_a_number(client):
    gan, vae, vaegan, notes = call(client, "mnist", 0, "2026", -1, api_name="/write")
    for line in (gan, vae, vaegan):
        assert image_size(line) == (4 * 28 * 2, 28 * 2)
    assert "Written: 2 0 2 6" in notes
    gan, vae, vaegan, notes = call(client, "mnist", 0, "31", 0, api_name="/write")  # the style of test image 0
    assert image_size(vaegan) == (2 * 28 * 2, 28 * 2) and "Style from test image #0" in notes
    with pytest.raises(Exception, match="class digits"):
        call(client, "mnist", 0, "20x6", -1, api_name="/write")


def test_reconstruction_of_test_images_with_error_per_image(client):
    originals, vae, vaegan, notes = call(client, "mnist", 0, "random test images", 4, 0, None, "auto",
                                         api_name="/reconstruct")
    assert len(originals) == len(vae) == len(vaegan) == 4
    for item in originals + vae + vaegan:
        assert image_size(item["image"]) == (112, 112)
    assert all(item["caption"].startswith("MSE ") for item in vae + vaegan)
    assert "mean error" in notes and "no encoder" in notes

    originals, vae, _, _ = call(client, "mnist", 0, "by index", 3, 10, None, "auto", api_name="/reconstruct")
    assert [item["caption"].split()[0] for item in originals] == ["#10", "#11", "#12"] and len(vae) == 3


def test_reconstruction_of_test_images_needs_no_upload_argument(client):
    """An API caller of /reconstruct gives only what test images need: upload, invert and sketch are optional."""
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/reconstruct"]
    optional = {parameter["parameter_name"]: parameter["parameter_has_default"] for parameter in endpoint["parameters"]}
    assert optional["upload"] and optional["invert"] and optional["sketch"], optional
    originals, vae, vaegan, notes = client.predict("mnist", 0, "random test images", 3, 0, api_name="/reconstruct")
    assert len(originals) == len(vae) == len(vaegan) == 3 and "mean error" in notes
    assert image_size(vae[0]["image"]) == (112, 112) and vae[0]["caption"].startswith("MSE ")
    originals, _, _, _ = call(client, "mnist", 0, "by index", 2, 5, api_name="/reconstruct")
    assert [item["caption"].split()[0] for item in originals] == ["#5", "#6"]


def test_reconstruction_galleries_show_whole_pictures_with_their_captions(server):
    """As served (/config): no cropping ("contain"), as tall as their rows at any page width (a height in pixels
    cut the bottom row and its captions on wide pages), one column per picture even for one upload."""
    with urllib.request.urlopen(f"{server}/config", timeout=60) as answer:
        config = json.load(answer)
    galleries = {c["props"]["label"]: c["props"] for c in config["components"] if c.get("type") == "gallery"}
    assert set(galleries) == {"Original", "VAE", "VAE-GAN"}
    for props in galleries.values():
        assert props["object_fit"] == "contain" and props["height"] == "fit-content", props
        assert props["columns"] == 8 and props["fit_columns"] is False, props


def test_reconstruction_of_an_upload(client, tmp_path):
    picture = Image.new("L", (200, 160), 255)  # a dark ring on white: inverted and centred like MNIST
    ImageDraw.Draw(picture).ellipse((60, 30, 140, 130), outline=0, width=14)
    path = tmp_path / "ring.png"
    picture.save(path)
    originals, vae, vaegan, notes = call(client, "mnist", 0, "upload", 8, 0, gradio_client.handle_file(str(path)),
                                         "auto", api_name="/reconstruct")
    assert len(originals) == len(vae) == len(vaegan) == 1
    assert image_size(vaegan[0]["image"]) == (112, 112)
    assert "inverted" in notes


def test_reconstruction_of_a_drawing_on_the_sketchpad(client, tmp_path):
    pad = Image.new("RGBA", (280, 280), (0, 0, 0, 0))  # black strokes on a transparent pad, as Sketchpad sends
    ImageDraw.Draw(pad).line([(80, 60), (200, 60), (120, 230)], fill=(0, 0, 0, 255), width=20)
    path = tmp_path / "seven.png"
    pad.save(path)
    sketch = {"background": None, "layers": [], "composite": gradio_client.handle_file(str(path))}
    originals, vae, vaegan, notes = call(client, "mnist", 0, "drawing", 8, 0, None, "auto", sketch,
                                         api_name="/reconstruct")
    assert len(originals) == len(vae) == len(vaegan) == 1
    assert originals[0]["caption"] == "drawing, after preprocessing" and "centred" in notes
    with pytest.raises(Exception, match="pad is empty"):
        call(client, "mnist", 0, "drawing", 8, 0, None, "auto", None, api_name="/reconstruct")


@pytest.mark.parametrize("name, payload, message", [
    ("notes.png", b"this is not an image at all", "not an image"),
    ("cut.png", None, "truncated"),
])
def test_a_bad_upload_gives_one_clear_message(client, tmp_path, name, payload, message):
    if payload is None:
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(buffer, format="PNG")
        payload = buffer.getvalue()[:60]
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(gradio_client.exceptions.AppError) as raised:
        call(client, "mnist", 0, "upload", 8, 0, gradio_client.handle_file(str(path)), "auto",
             api_name="/reconstruct")
    text = str(raised.value)
    assert message in text and "Traceback" not in text and "\n" not in text.strip()


def test_interpolation_gives_one_row_per_model(client):
    ends, gan, vae, vaegan, _ = call(client, "mnist", 0, "two random codes", 0, 1, "slerp", 5, False,
                                     api_name="/interpolate")
    assert ends is None
    for row in (gan, vae, vaegan):
        assert image_size(row) == grid_size(5, 5, 2)

    ends, gan, vae, vaegan, notes = call(client, "mnist", 0, "two test images", 3, 4, "lerp", 6, False,
                                         api_name="/interpolate")
    assert image_size(ends) == grid_size(2, 2, 4)
    assert gan is None and "no encoder" in notes  # the GAN is only inverted on request
    assert image_size(vae) == image_size(vaegan) == grid_size(6, 6, 2)

    _, gan, _, _, _ = call(client, "mnist", 0, "two test images", 3, 4, "slerp", 4, True, api_name="/interpolate")
    assert image_size(gan) == grid_size(4, 4, 2)


def test_compare_is_reproducible_and_explains_missing_checkpoints(client):
    first = call(client, "mnist", 7, 3, 0.8, api_name="/compare")
    again = call(client, "mnist", 7, 3, 0.8, api_name="/compare")
    for grid, repeat in zip(first[:3], again[:3]):
        assert image_size(grid) == grid_size(9, 3, 2)
        assert Path(grid).read_bytes() == Path(repeat).read_bytes()
    *grids, notes = call(client, "fashion-mnist", 0, 3, 1.0, api_name="/compare")
    assert grids == [None, None, None]
    assert notes.count("vaegan train") == 3 and "VAEGAN_CHECKPOINTS_DIR" in notes
    *grids, notes = call(client, "mnist", 7, 3, 0.8, "gmm", api_name="/compare")  # no GMM fitted to these
    assert [Path(grid).read_bytes() for grid in grids] == [Path(grid).read_bytes() for grid in first[:3]]
    assert "VAE: no GMM fitted" in notes and "VAE-GAN: no GMM fitted" in notes and "vaegan fit-gmm" in notes


def test_compare_samples_each_seed_and_names_it(shipped_client):
    first, again, second = (call(shipped_client, "mnist", seed, 3, 1.0, api_name="/compare") for seed in (3, 3, 4))
    for grid, repeat, other in zip(first[:3], again[:3], second[:3]):
        pixels = [np.asarray(Image.open(path), dtype=np.int16) for path in (grid, repeat, other)]
        assert (pixels[0] == pixels[1]).all() and np.abs(pixels[0] - pixels[2]).mean() > 5  # new seed, new samples
    assert "from seed 3," in first[3] and "from seed 4," in second[3]
    *_, notes = call(shipped_client, "mnist", None, 3, 1.0, api_name="/compare")  # an emptied seed box: seed 0
    assert "from seed 0," in notes


def test_fid_table_has_a_finite_row_per_model(client):
    table, notes = call(client, "mnist", 0, ["gan", "vae", "vaegan"], 1000, "lenet", True, api_name="/fid")
    headers, rows = table["headers"], table["data"]
    assert [row[0] for row in rows] == ["GAN", "VAE", "VAE-GAN"]
    fid_column = headers.index("FID")
    assert all(np.isfinite(float(row[fid_column])) for row in rows)
    assert all(row[headers.index("n")] == 1000 and row[headers.index("features")].startswith("lenet")
               for row in rows)
    assert "test split" in notes
    assert all(row[headers.index("prior")] == "N(0, I)" for row in rows)
    fid_only, notes = call(client, "mnist", 0, ["vaegan"], 1000, "lenet", False, "normal", api_name="/fid")
    (row,) = fid_only["data"]
    assert row[headers.index("precision")] is None and float(row[fid_column]) == pytest.approx(float(rows[2][fid_column]))


def test_the_quick_tabs_show_a_result_on_opening_with_one_endpoint_per_tab():
    import gradio_app

    app = gradio_app.build_app()
    on_load = {fn.fn.__name__ for fn in app.fns.values() if any(event == "load" for _, event in fn.targets)}
    assert on_load == {"reconstruct", "compare", "write"}  # FID and the interpolation wait for their buttons
    public = client_free_endpoints(app)  # one each, no "compare_1": UI plumbing is not API
    assert public == {"reconstruct", "interpolate", "compare", "write", "fid"}, public


def test_compare_samples_again_when_a_setting_changes():
    """Seed, grid side, temperature, prior (and dataset) changes run the /compare event itself, like Sample."""
    import gradio_app

    app = gradio_app.build_app()
    (event,) = [fn for fn in app.fns.values() if fn.api_name == "compare"]
    triggers = {(labelled(app, block_id), name) for block_id, name in event.targets if name != "load"}
    assert triggers == {("Sample", "click"), ("Seed", "change"), ("Grid (side x side)", "change"),
                        ("Temperature T", "change"), ("Codes of the VAE and VAE-GAN from", "change"),
                        ("Dataset", "change")}, triggers


def test_the_intro_says_what_is_sampled_by_default():
    import gradio as gr
    import gradio_app

    app = gradio_app.build_app()
    texts = [block.value or "" for block in app.blocks.values() if isinstance(block, gr.Markdown)]
    intro = texts[0]
    assert intro.startswith("# VAE-GAN Explorer")
    assert "by default" in intro.lower() and "GMM prior" in intro and "the GAN from N(0, I)" in intro, intro
    priors = [block.value for block in app.blocks.values() if isinstance(block, gr.Radio)
              and block.label == "Codes of the VAE and VAE-GAN from"]
    assert priors == ["gmm", "gmm"]  # Compare and FID: what the intro says
    compare_text = next(text for text in texts if text.startswith("Every model decodes"))
    assert "by default the VAE and the VAE-GAN through the GMM" in compare_text, compare_text


def labelled(app, block_id: int) -> str:
    block = app.blocks[block_id]
    return getattr(block, "label", None) or getattr(block, "value", None)


def client_free_endpoints(app) -> set[str]:
    return {fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"}
