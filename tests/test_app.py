"""The Streamlit app, page by page, through Streamlit's AppTest (no browser; CPU; tiny checkpoints)."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image


from conftest import REPO  # noqa: E402
APP = str(REPO / "demo" / "app.py")
from page_list import PAGES  # noqa: E402 (demo/page_list.py: app_pages/NAME.py in the sidebar's order)

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402


def new_app(monkeypatch, root, timeout: int = 120) -> "AppTest":
    """The app (not run yet) on the checkpoints root ``root``, without the UMAP warm-up thread."""
    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(root))
    monkeypatch.setenv("VAEGAN_NO_WARMUP", "1")
    monkeypatch.syspath_prepend(str(REPO / "demo"))
    return AppTest.from_file(APP, default_timeout=timeout)


@pytest.fixture
def app(tiny_checkpoints, monkeypatch):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.session_state["projection"] = "pca"  # UMAP's first call compiles for a minute: its own test below
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at, page: str, tab: tuple[str, str] | None = None):
    """Open a page; ``tab``: (its tabs' key, the label of the tab to open), as a link would."""
    at.switch_page(f"app_pages/{page}.py")
    if tab is not None:
        at.session_state[tab[0]] = tab[1]
    at.run()
    return at


def assert_clean(at):
    assert not at.exception, [e.value for e in at.exception]
    for error in at.error:
        assert "Traceback" not in error.value
    assert not [e.value for e in at.error], [e.value for e in at.error]


def test_overview_renders_losses_and_model_cards(app):
    assert_clean(app)
    latex = " ".join(element.value for element in app.latex)
    assert "ELBO" in latex and "Dis" in latex and r"\min_G" in latex
    assert any("parameters" in m.value for m in app.markdown)
    # each card shows its run's last sample grid (the landing page shows what the models draw)
    shown = [image for image in app.get("image") if "samples after epoch" in str(image.proto)]
    assert len(shown) == 3


@pytest.mark.parametrize("page", PAGES[1:])
def test_every_page_renders_without_error(app, page):
    assert_clean(open_page(app, page))


def test_reconstruction_shows_error_per_image_and_explains_the_gan(app):
    at = open_page(app, "reconstruction")
    assert_clean(at)
    assert any("no encoder" in info.value for info in at.info)
    text = " ".join(m.value for m in at.markdown)
    assert "VAE-GAN" in text and "mean error" in text


def test_reconstruction_gan_inversion_button(app):
    at = open_page(app, "reconstruction")
    invert = next(button for button in at.button if button.label.startswith("Invert the GAN"))
    assert "last time" not in invert.label
    invert.click().run()
    assert_clean(at)
    # the bar and its Stop button are gone once done, and the button now says what it took here
    assert not [button for button in at.button if button.label == "Stop"]
    assert any(caption.value.startswith("Inverted in") for caption in at.caption)
    at.run()
    assert "last time" in next(button for button in at.button if button.label.startswith("Invert the GAN")).label


def test_interpolation_inverts_the_gan_once_per_pair(app):
    at = open_page(app, "interpolation")
    at.radio(key="interp-between").set_value("two test images").run()
    at.checkbox[0].check().run()
    assert_clean(at)
    took = at.session_state["took-interp-invert"]
    assert any(m.value == "**GAN**" for m in at.markdown)
    at.slider(key="interp-steps").set_value(5).run()  # another path over the same pair: no new inversion
    assert_clean(at)
    assert at.session_state["took-interp-invert"] == took
    at.number_input(key="interp-b").set_value(5).run()  # another pair: inverted again
    assert at.session_state["took-interp-invert"] != took


@pytest.mark.parametrize("payload, message", [
    (b"this is not an image at all", "not an image"),
    (None, "truncated"),
])
def test_bad_upload_gives_one_clear_message(app, payload, message):
    at = open_page(app, "reconstruction")
    at.radio[0].set_value("Upload").run()
    assert_clean(at)
    if payload is None:
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(buffer, format="PNG")
        payload = buffer.getvalue()[:60]
    uploader = at.get("file_uploader")[0]
    uploader.set_value(("bad.png", payload, "image/png")).run()
    assert not at.exception
    assert any(message in error.value for error in at.error), [e.value for e in at.error]
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    shown = at.error[0].value
    assert shown[0].isupper() and "Error" not in shown  # a sentence for a person, no exception class


def test_an_upload_is_shown_as_it_came_beside_what_the_model_sees(app):
    at = open_page(app, "reconstruction")
    at.radio[0].set_value("Upload").run()
    buffer = io.BytesIO()
    photo = np.full((90, 60, 3), 235, np.uint8)
    photo[20:70, 25:35] = (200, 30, 30)  # a red stroke on white paper
    Image.fromarray(photo).save(buffer, format="PNG")
    at.get("file_uploader")[0].set_value(("seven.png", buffer.getvalue(), "image/png")).run()
    assert_clean(at)
    captions = " ".join(caption.value for caption in at.caption)
    assert "Light background: inverted" in captions
    images = at.get("image")
    assert len(images) >= 2  # the file as it came, and the 28 x 28 the model reads


def test_overview_shows_the_gmm_prior_samples_of_a_model_that_has_one(tiny_checkpoints, tmp_path, monkeypatch):
    """Compare opens on the GMM prior; the landing page shows the same prior's samples (written by fit-gmm) for a
    model that has one, the last epoch's N(0, I) grid for the others."""
    from vaegan_core.cli import main

    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, root, symlinks=True)
    assert main(["fit-gmm", str(root / "mnist" / "vae"), "--components", "3", "--no-progress"]) == 0
    at = new_app(monkeypatch, root, 120)
    at.run()
    assert_clean(at)
    captions = [str(image.proto) for image in at.get("image")]
    assert sum("samples of the GMM prior" in caption for caption in captions) == 1
    assert sum("samples after epoch" in caption for caption in captions) == 2


def test_a_row_of_pictures_stays_one_row_in_presenter_mode(app):
    """Sixteen steps at presenter size are wider than the page: each model's row is one picture of sixteen places
    (it shrinks to the page) instead of wrapping onto a second line, so the rows of two models line up."""
    app.session_state["present"] = True
    at = open_page(app, "interpolation", ("interp-steps", 16))
    assert_clean(at)
    assert len(at.columns) < 16  # no column per image any more
    assert 3 <= len(at.get("image")) <= 6  # the two ends, and one row per model


def test_picture_rows_line_up_place_for_place():
    """Two rows of as many pictures have the same size, picture i in place i; leftover places are transparent;
    captions go one per place, escaped."""
    import ui

    originals = np.full((3, 28, 28, 1), 200, np.uint8)
    coloured = np.full((3, 28, 28, 3), 50, np.uint8)
    top, bottom = ui.picture_row(originals, 5, 4), ui.picture_row(coloured, 5, 4)
    assert top.shape == bottom.shape == (28, 5 * 32, 4)
    for index in range(3):
        left = index * 32 + 2
        assert (top[:, left:left + 28, 3] == 255).all() and (top[:, left:left + 28, :3] == 200).all()
        assert (bottom[:, left:left + 28, :3] == 50).all()
        assert (top[:, left - 2:left, 3] == 0).all()  # the gap
    assert (top[:, 3 * 32:, 3] == 0).all()  # places 4 and 5: empty
    html = ui.caption_row(["#1 <b>", None, "0.0123"], 5, present=False)
    assert "repeat(5," in html and "&lt;b&gt;" in html and html.count("<div style=\"overflow") == 3


def test_interpolation_random_codes_and_downloads(app):
    at = open_page(app, "interpolation")
    at.radio[0].set_value("two random codes").run()
    assert_clean(at)
    assert len(at.get("download_button")) >= 2


def test_compare_shows_class_histogram_table(app):
    at = open_page(app, "compare")
    assert_clean(at)
    assert len(at.dataframe) == 0  # on demand: the grid does not wait for the classifier
    at.toggle(key="compare-classify").set_value(True).run()
    assert_clean(at)
    assert len(at.dataframe) == 1
    assert set(at.dataframe[0].value["model"]) == {"GAN", "VAE", "VAE-GAN"}
    table = at.dataframe[0].value  # words for a visitor, as on the other pages: no code names
    assert list(table.columns) == ["model", "classes drawn", "KL to uniform (nats)"]
    assert all(value == round(value, 2) for value in table["KL to uniform (nats)"])


def fid_table(at) -> dict[str, dict[str, str]]:
    """The FID page's results table (Markdown, text cells) as {model: {column: cell}}."""
    table = next(m.value for m in at.markdown if m.value.startswith("| model |"))
    lines = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    header, rows = lines[0], lines[2:]
    return {row[0]: dict(zip(header, row)) for row in rows}


def test_fid_page_computes_and_caches(app):
    at = open_page(app, "fid")
    at.select_slider[0].set_value(1000).run()
    compute = [b for b in at.button if b.label.startswith("Compute")]
    assert compute
    compute[0].click().run()
    assert_clean(at)
    table = fid_table(at)
    assert len(table) == 3 and all(np.isfinite(float(row["FID"].replace(",", ""))) for row in table.values())
    assert all(row["precision"] != "-" and row["features"] == "domain (LeNet)" for row in table.values()), table
    # the results replace the button and the estimate at once
    assert not [b for b in at.button if b.label.startswith("Compute")]
    assert not any("Estimated time" in caption.value for caption in at.caption)
    # without precision / recall: a new computation, the same FID (shipped statistics or cached features)
    [box for box in at.checkbox if box.label == "Precision and recall"][0].uncheck()
    at.run()
    estimate = next(c.value for c in at.caption if "Estimated time" in c.value)
    assert "about" in estimate and " s" in estimate and "minutes" not in estimate  # LeNet features take seconds
    [b for b in at.button if b.label.startswith("Compute")][0].click().run()
    assert_clean(at)
    fid_only = fid_table(at)  # a measure not computed is a dash, never "None" or "nan"
    assert all(row["precision"] == "-" and row["recall"] == "-" for row in fid_only.values())
    assert {model: row["FID"] for model, row in fid_only.items()} == {model: row["FID"] for model, row in table.items()}


@pytest.fixture
def gmm_app(tiny_checkpoints, tmp_path, monkeypatch):
    """The app on a copy of the tiny checkpoints where the VAE (only) has a GMM of its codes."""
    import shutil

    import torch

    from vaegan_core.storage.checkpoint import load_model
    from vaegan_core.models.prior import fit_latent_gmm

    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, root, symlinks=True)
    vae = load_model(root / "mnist" / "vae")
    fit_latent_gmm(vae, torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0)), components=2).save(
        root / "mnist" / "vae")
    at = new_app(monkeypatch, root, 120)
    at.run()
    return at


def prior_radio(at):
    return [radio for radio in at.radio if radio.label == "Codes of the VAE and VAE-GAN from"][0]


def test_overview_explains_the_second_prior_and_lists_it(gmm_app):
    assert_clean(gmm_app)
    text = " ".join(m.value for m in gmm_app.markdown)
    assert "aggregate posterior" in text and "Gaussian mixture" in text and "vaegan fit-gmm" not in text  # no code
    assert text.count("second prior: GMM of the training codes") == 1  # the VAE's card only


def test_compare_with_the_gmm_prior(gmm_app):
    at = open_page(gmm_app, "compare")
    assert_clean(at)
    prior_radio(at).set_value("gmm").run()
    assert_clean(at)
    headers = [m.value for m in at.markdown if m.value.startswith("**")]
    assert "**VAE** · GMM of the training codes" in headers and "**GAN** · N(0, I)" in headers
    assert "**VAE-GAN** · N(0, I)" in headers  # no GMM fitted to it: said, and N(0, I)
    assert any("VAE-GAN: no GMM fitted" in c.value for c in at.caption)
    at.toggle(key="compare-classify").set_value(True).run()  # the class histogram, on demand
    assert_clean(at)
    assert set(at.dataframe[0].value["model"]) == {"GAN", "VAE", "VAE-GAN"}


def test_fid_with_the_gmm_prior(gmm_app):
    at = open_page(gmm_app, "fid")
    at.select_slider[0].set_value(1000).run()
    [box for box in at.checkbox if box.label == "Precision and recall"][0].uncheck()
    at.run()
    estimate = next(c.value for c in at.caption if "Estimated time" in c.value)
    assert "about" in estimate and " s" in estimate and "minutes" not in estimate  # LeNet features take seconds
    prior_radio(at).set_value("normal").run()
    [b for b in at.button if b.label.startswith("Compute")][0].click().run()
    normal = fid_table(at)
    prior_radio(at).set_value("gmm").run()
    [b for b in at.button if b.label.startswith("Compute")][0].click().run()
    assert_clean(at)
    gmm = fid_table(at)
    assert gmm["VAE"]["prior"] == "GMM of the training codes" and gmm["GAN"]["prior"] == "N(0, I)"
    assert gmm["VAE"]["FID"] != normal["VAE"]["FID"] and gmm["GAN"]["FID"] == normal["GAN"]["FID"]


def test_missing_checkpoint_says_how_to_train(tmp_path, monkeypatch):
    at = new_app(monkeypatch, tmp_path, 60)
    at.run()
    for page in PAGES:
        open_page(at, page, ("collapse-tab", "Images") if page == "collapse" else None)
        assert not at.exception
        if page in ("lesson", "train_live", "glossary"):  # text and links, or models it trains itself: nothing to train
            continue
        command = "collapse_runs.sh" if page == "collapse" else "vaegan train"
        assert any(command in info.value for info in at.info), page


def _tiny_fashion_vae(root):
    """The tiny MNIST VAE's weights as a Fashion-MNIST VAE (its config says so): the pages' layout only."""
    import shutil

    folder = root / "fashion-mnist" / "vae"
    shutil.copytree(root / "mnist" / "vae", folder, ignore=shutil.ignore_patterns("page_cache", "metrics.json"))
    config = json.loads((folder / "config.json").read_text())
    config["train"]["dataset"] = "fashion-mnist"
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def _tiny_studies(root):
    """A real (tiny) VAE study on digits in two seeds, GAN studies derived from it, all marked as started from the
    tiny checkpoints' weights, and one stale VAE-GAN study (from other weights): the page's layout."""
    from vaegan_core.experiments.collapse_images import ImageCollapseConfig, run, start_fingerprint

    base = root / "collapse" / "mnist"
    study = base / "vae" / "synthetic-seed0"
    if not (study / "results.json").is_file():
        run(ImageCollapseConfig(model="vae", dataset="digits", generations=2, per_generation=256, epochs=1, width=8,
                                eval_n=300, device="cpu"), study)
        results = json.loads((study / "results.json").read_text())
        for kind, seed, factor in (("vae", 0, 1.0), ("vae", 1, 1.1), ("gan", 0, 1.5), ("gan", 1, 1.6),
                                   ("vaegan", 0, 3.0)):
            for row in results["generations"]:
                row["fid"] *= factor ** row["generation"]
            results["start_fingerprint"] = start_fingerprint(root / "mnist" / kind) if kind != "vaegan" else "0" * 16
            (base / kind / f"synthetic-seed{seed}").mkdir(parents=True, exist_ok=True)
            (base / kind / f"synthetic-seed{seed}" / "results.json").write_text(json.dumps(results))
    return base


def test_collapse_page_shows_the_shipped_studies(app, tiny_checkpoints):
    _tiny_studies(tiny_checkpoints)
    at = open_page(app, "collapse")
    assert_clean(at)
    at.session_state["collapse-tab"] = "Images"
    at.run()
    assert_clean(at)
    assert any("The studies" in m.value for m in at.markdown)
    answer = [m.value for m in at.success] + [m.value for m in at.info]
    assert any("VAE" in text and "seed" in text for text in answer), answer
    # the stale VAE-GAN study (x3 a generation) is shown apart, never in the answer
    assert not any("VAE-GAN" in text for text in answer), answer
    assert any("left out of the answer" in e.label for e in at.expander)
    assert any("started from weights that no longer ship" in c.value for c in at.caption)
    assert any("One fixed set of codes" in m.value for m in at.markdown)
    at.session_state["collapse-tab"] = "Mode vs model collapse"
    at.run()
    assert_clean(at)
    assert any("Mode collapse or model collapse" in m.value for m in at.markdown)


def test_collapse_page_gaussian_controls_and_live_study(app, tiny_checkpoints):
    at = open_page(app, "collapse")
    assert_clean(at)
    at.radio[0].set_value("mle").run()  # the estimator: the plots are recomputed
    assert_clean(at)
    at.session_state["collapse-tab"] = "Images"
    at.run()
    at.slider(key="collapse-live-generations").set_value(2).run()
    at.selectbox(key="collapse-live-model").set_value("vae").run()
    next(b for b in at.button if b.label == "Run live study").click().run(timeout=300)
    assert_clean(at)
    table = at.dataframe[-1].value
    assert list(table["generation"]) == [0, 1, 2]
    assert any("2 generation(s) in" in c.value for c in at.caption)


def test_first_render_imports_no_torch():
    """The Overview (the first page) and the sidebar need no torch: it is 1.8 s of the start-up budget."""
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, 'demo'); import ui, vaegan_core, vaegan_core.storage.zoo, vaegan_core.errors; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert callable(vaegan_core.load_model) and 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_overview_cards_need_no_weights(tiny_checkpoints):
    from vaegan_core.storage import zoo
    from vaegan_core.storage.checkpoint import load_model
    from vaegan_core.models import count_parameters

    folder = tiny_checkpoints / "mnist" / "vaegan"
    config = zoo.read_config_json(folder)
    assert config["parameters"]["total"] == count_parameters(load_model(folder))
    assert zoo.stored_values(folder) >= config["parameters"]["total"]  # + buffers (batch norm, spectral norm)


def test_latent_space_shows_used_dimensions_traversals_and_arithmetic(app):
    at = open_page(app, "latent_space")
    assert_clean(at)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["VAE: active units"].endswith("/ 8") and metrics["VAE-GAN: active units"].endswith("/ 8")
    captions = " ".join(caption.value for caption in at.caption)
    assert "Grey bars: inactive dimensions" in captions and ("are active" in captions or "No latent" in captions)
    assert not [radio for radio in at.radio if radio.label == "Direction"]  # a closed tab computes nothing
    at.session_state["latent-tab"] = "Traversals"
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert "**GAN**" in text and "sigma along it" in text  # a strip per model, the GAN's from a random code
    direction = [radio for radio in at.radio if radio.label == "Direction"][0]
    direction.set_value("latent dimension").run()
    assert_clean(at)
    assert any("strips" in b.label for b in at.get("download_button"))
    at.session_state["latent-tab"] = "Class arithmetic"
    at.run()
    assert_clean(at)
    assert len([b for b in at.get("download_button") if "GIF" in b.label]) == 2  # a GIF per encoder model


def test_anomalies_page_scores_an_image_and_detects_other_data(app):
    at = open_page(app, "anomalies")
    assert_clean(at)
    table = at.dataframe[0].value
    assert set(table["model"]) == {"GAN", "VAE", "VAE-GAN"}
    assert table["percentile vs test images"].between(0, 100).all()
    corrupt = [radio for radio in at.radio if radio.label == "Corrupt it first"][0]
    corrupt.set_value("inversion").run()
    assert_clean(at)
    assert not at.metric  # the closed Memorisation tab computes nothing
    at.session_state["anomaly-tab"] = "Detecting other data"
    at.run()
    anomalies = [radio for radio in at.radio if radio.label == "Anomalies"][0]
    anomalies.set_value("rotation").run()
    assert_clean(at)
    detection = at.dataframe[0].value
    assert detection["ROC AUC"].between(0, 1).all() and len(detection) == 6  # 1 + 2 + 3 scores


def test_memorisation_tab_with_the_training_images(app, data_dir, monkeypatch):
    at = open_page(app, "anomalies", ("anomaly-tab", "Memorisation"))
    assert_clean(at)
    labels = [metric.label for metric in at.metric]
    assert "Copies (distance ~ 0)" in labels
    assert any("nearest training images" in m.value for m in at.markdown)
    at.session_state["anomaly-tab"] = "Your image"
    at.run()
    assert not any("Its nearest training images" in m.value for m in at.markdown)  # on demand: reads 60,000 images
    at.toggle(key="anomaly-nearest").set_value(True).run()
    assert_clean(at)
    assert any("Its nearest training images" in m.value for m in at.markdown)  # of the image being scored


def test_an_empty_drawing_pad_is_a_hint(app):
    at = open_page(app, "reconstruction")
    at.radio[0].set_value("Draw").run()
    assert_clean(at)
    assert any("canvas is empty" in info.value for info in at.info)


def test_conditional_page_writes_a_number_in_each_model(app):
    at = open_page(app, "conditional")
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    for label in ("conditional VAE", "conditional GAN", "conditional VAE-GAN"):
        assert f"**{label}**" in text
    at.session_state["conditional-tab"] = "Write"
    at.run()
    at.text_input[0].set_value("7x").run()
    assert_clean(at)
    assert any("class digits" in warning.value for warning in at.warning)
    at.text_input[0].set_value("314").run()
    style = [radio for radio in at.radio if radio.label == "Style"][0]
    style.set_value("from an image").run()  # test image 0: its label from the dataset; the GAN by inversion
    assert_clean(at)
    assert len([b for b in at.get("download_button") if "line" in b.label]) == 3
    measured = next(m.value for m in at.markdown if m.value.startswith("| model |"))  # one row per model
    assert measured.count("| conditional ") == 3 and "None" not in measured and "nan" not in measured


def test_conditional_page_without_checkpoints_says_how_to_train(tmp_path, monkeypatch):
    at = new_app(monkeypatch, tmp_path, 120).run()
    at.switch_page("app_pages/conditional.py").run()
    assert not at.exception
    assert any("train_conditional.sh" in info.value for info in at.info)


def test_training_page_plots_quality_against_training_time(app, tiny_checkpoints):
    quality = tiny_checkpoints / "mnist" / "gan" / "quality.jsonl"
    quality.write_text('{"epoch": 1, "step": 4, "train_seconds": 60, "fid_domain_train": 300.5, "n": 5000}\n'
                       '{"epoch": 2, "step": 8, "train_seconds": 120, "fid_domain_train": 150.25, "n": 5000}\n')
    try:
        at = open_page(app, "training")
        assert_clean(at)
        assert any("Quality against training time" in m.value for m in at.markdown)
        charts = [chart for chart in at.get("plotly_chart")]
        assert charts and '"y":[300.5,150.25]' in charts[0].proto.spec.replace(" ", "")
    finally:
        quality.unlink()
    at = open_page(app, "training")
    assert not any("Quality against training time" in m.value for m in at.markdown)


def test_no_model_chosen_says_so_and_the_prior_goes_from_compare_to_fid(app):
    app.session_state["kinds"] = []
    at = open_page(app, "compare")
    assert_clean(at)
    assert any("No model is chosen" in info.value for info in at.info)
    at.session_state["kinds"] = ["vae", "gan"]
    at = open_page(at, "compare")
    prior = next(radio for radio in at.radio if radio.label.startswith("Codes of the VAE"))
    assert prior.value == "gmm"  # each model at its best by default
    prior.set_value("normal").run()
    at = open_page(at, "fid")
    assert_clean(at)
    assert next(radio for radio in at.radio if radio.label.startswith("Codes of the VAE")).value == "normal"


def test_a_link_opens_the_view_and_the_controls_write_the_link(tiny_checkpoints, monkeypatch):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update({"seed": "7", "kinds": "vae,gan"})
    at.run()
    at.switch_page("app_pages/compare.py")  # as a link to /compare?... opens it
    at.query_params.update({"compare-grid": "4", "compare-t": "0.5", "prior": "normal"})
    at.run()
    assert_clean(at)
    assert at.sidebar.number_input[0].value == 7 and at.sidebar.multiselect[0].value == ["gan", "vae"]
    assert at.select_slider[0].value == 4 and at.slider[0].value == 0.5
    assert next(r for r in at.radio if r.label.startswith("Codes of the VAE")).value == "normal"
    at.slider[0].set_value(0.8).run()  # a control changes the link
    assert at.query_params["compare-t"] in ("0.8", ["0.8"]) and at.query_params["seed"] in ("7", ["7"])
    at.select_slider[0].set_value(6).run()  # back to the default: out of the link
    assert "compare-grid" not in at.query_params
    assert any("Link to this view" in e.label for e in at.sidebar.expander)
    assert not at.sidebar.code  # the box is filled when opened: a new tab does not load its frontend code
    at.session_state["link-box"] = True  # opened
    at.run()
    assert "compare-t=0.8" in at.sidebar.code[0].value and "seed=7" in at.sidebar.code[0].value


@pytest.mark.parametrize("params, notice", [({"seed": "abc"}, "seed='abc'"), ({"kinds": "vae,unicorn"}, "kinds"),
                                            ({"dataset": "cifar"}, "dataset='cifar'")])
def test_a_bad_link_falls_back_to_the_default_with_a_notice(tiny_checkpoints, monkeypatch, params, notice):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update(params)
    at.run()
    assert_clean(at)
    assert any(notice in toast.value and "showing the default" in toast.value for toast in at.toast)
    assert not any("invalid literal" in toast.value or "base 10" in toast.value for toast in at.toast)  # a person reads it
    assert at.sidebar.number_input[0].value == 0 and at.sidebar.selectbox[0].value == "mnist"


def test_a_reconstruction_link_opens_the_chosen_images(tiny_checkpoints, monkeypatch):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.run()
    at.switch_page("app_pages/reconstruction.py")
    at.query_params.update({"recon-images": "By index", "recon-first": "42", "recon-n": "3", "recon-zzz": "1"})
    at.run()
    assert_clean(at)
    assert at.radio[0].value == "By index" and at.number_input[0].value == 42 and at.slider[0].value == 3
    assert "recon-zzz" not in at.query_params  # unknown parameters leave the link


def test_a_link_opened_later_in_the_session_wins_over_the_controls(tiny_checkpoints, monkeypatch):
    """A Lesson button (or a pasted link) in a session whose controls already have values opens its own view."""
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.run()
    open_page(at, "compare")
    at.select_slider[0].set_value(8).run()
    assert at.select_slider[0].value == 8
    at.query_params.clear()
    at.query_params.update({"compare-grid": "4", "kinds": "vae", "prior": "normal"})
    at.run()
    assert_clean(at)
    assert at.select_slider[0].value == 4 and at.sidebar.multiselect[0].value == ["vae"]
    at.slider[0].set_value(0.7).run()  # and the controls work on from there
    assert at.select_slider[0].value == 4 and at.query_params["compare-t"] in ("0.7", ["0.7"])


def test_the_lesson_links_open_pages_with_their_settings(app):
    import importlib.util

    at = open_page(app, "lesson")
    assert_clean(at)
    steps = len(lesson_steps())
    assert steps == 8 and len([h for h in at.subheader]) == steps and len(at.latex) == steps
    assert sum("Ask the class" in m.value for m in at.markdown) == steps
    spec = importlib.util.spec_from_file_location("lesson_steps", REPO / "demo" / "lesson_steps.py")
    source = spec.loader.get_source("lesson_steps")
    for page in ("reconstruction", "compare", "interpolation", "fid", "anomalies", "collapse"):
        assert f"app_pages/{page}.py" in source
    # each step's settings are ones its page reads: following them renders cleanly and shows them
    at.query_params.clear()
    at.query_params.update({"kinds": "vae,vaegan", "recon-images": "Random test images", "recon-n": "8"})
    open_page(at, "reconstruction")
    assert_clean(at)
    assert at.sidebar.multiselect[0].value == ["vae", "vaegan"] and at.slider[0].value == 8


def lesson_steps() -> list:
    """The Lesson's STEPS, read from its source (importing the page would run it)."""
    import ast

    tree = ast.parse((REPO / "demo" / "lesson_steps.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "STEPS")
    return ast.literal_eval(node.value)


@pytest.mark.parametrize("step", range(8))
def test_each_lesson_step_opens_a_view_its_page_reads(tiny_checkpoints, monkeypatch, tmp_path, step):
    import shutil

    *_, page, _, params = lesson_steps()[step]
    root = tiny_checkpoints
    if "collapse" in page:
        _tiny_studies(tiny_checkpoints)
    if params.get("dataset") == "fashion-mnist":  # the paradox step: a (tiny) Fashion-MNIST VAE, in a copy
        root = tmp_path / "checkpoints"
        shutil.copytree(tiny_checkpoints, root, symlinks=True)
        _tiny_fashion_vae(root)
    at = new_app(monkeypatch, root, 180)
    at.session_state["projection"] = "pca"
    at.run()
    at.switch_page(page)
    at.query_params.update(params)
    at.run()
    assert_clean(at)
    def shown(name):  # a control's value as a link writes it
        value = at.session_state[name] if name in at.session_state else None
        return ",".join(map(str, value)) if isinstance(value, list) else None if value is None else ui_text(value)
    assert {name: shown(name) for name in params} == params, page  # every setting reached its control
    assert not at.toast, [t.value for t in at.toast]  # none fell back to a default


def test_a_link_that_spells_out_defaults_still_lets_the_visitor_change_them(tiny_checkpoints, monkeypatch):
    """A Lesson link carries dataset=mnist (the default): the link is left as it is (no extra history entry), and
    the visitor's own change of the seed or dataset afterwards holds on the next run."""
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update({"dataset": "mnist", "seed": "0"})
    at.run()
    assert_clean(at)
    at.sidebar.number_input[0].set_value(5).run()
    at.run()
    assert at.sidebar.number_input[0].value == 5 and at.query_params["seed"] in ("5", ["5"])


def test_no_two_lesson_steps_open_the_same_view():
    views = [(page, tuple(sorted(params.items()))) for *_, page, _, params in lesson_steps()]
    assert len(set(views)) == len(views), views


def test_a_lesson_walk_shows_its_step_and_gives_the_sidebar_back(tiny_checkpoints, monkeypatch):
    """A step's page says "step k of 8" with the way back and on; leaving it restores the visitor's own sidebar."""
    at = new_app(monkeypatch, tiny_checkpoints, 180)
    at.session_state["projection"] = "pca"
    at.run()
    at.sidebar.multiselect[0].set_value(["gan"]).run()  # the visitor's own choice, before the lesson
    at.sidebar.number_input[0].set_value(5).run()
    *_, page, _, params = lesson_steps()[1]  # step 2: Reconstruction, VAE against VAE-GAN
    at.switch_page(page)
    at.query_params.update({**params, "lesson": "2"})
    at.run()
    assert_clean(at)
    assert any("step 2 of 8" in m.value for m in at.markdown)
    assert at.sidebar.multiselect[0].value == ["vae", "vaegan"]  # the step's models
    links = [str(link.proto) for link in at.get("page_link")]
    assert any("Back to the Lesson" in link for link in links)
    assert any("Next: step 3" in link and "lesson=3" in link for link in links), links
    at.slider[0].set_value(4).run()  # working on the step's page keeps the step
    assert any("step 2 of 8" in m.value for m in at.markdown) and at.query_params["lesson"] in ("2", ["2"])
    at.switch_page("app_pages/compare.py")  # left the step: the sidebar is the visitor's again, no banner
    at.query_params.clear()
    at.run()
    assert_clean(at)
    assert at.sidebar.multiselect[0].value == ["gan"] and at.sidebar.number_input[0].value == 5
    assert not any("of 8" in m.value for m in at.markdown) and "lesson" not in at.query_params
    at.query_params.update({"lesson": "99"})  # a bad step: the page opens on its own, with a notice
    at.run()
    assert_clean(at)
    assert any("lesson step" in t.value for t in at.toast)


def test_presenter_mode_from_the_link_enlarges_and_hides_paths(tiny_checkpoints, monkeypatch):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update({"present": "1"})
    at.run()
    assert_clean(at)
    assert at.sidebar.toggle[0].value is True
    assert "font-size: 21px" in style_sheet(at)  # the presenter style sheet is on
    open_page(at, "reconstruction")
    assert_clean(at)
    assert at.query_params["present"] in ("1", ["1"])
    at.sidebar.toggle[0].set_value(False).run()
    assert "font-size: 21px" not in style_sheet(at) and "present" not in at.query_params
    assert "image-rendering: pixelated" in style_sheet(at)  # pictures stay pixel-sharp in either mode


def style_sheet(at) -> str:
    """The page's style sheet (st.html of <style> only: applied to the page, taking no room)."""
    return " ".join(element.proto.body for element in at.get("html") if element.proto.body.startswith("<style>"))


def test_presenter_overview_shows_each_models_samples_under_its_idea(tiny_checkpoints, monkeypatch):
    """On a projector the landing page is one screen: each model's samples (a cut of its grid, one-line caption)
    stand under its idea, with no separate "Loaded models" section."""
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update({"present": "1"})
    at.run()
    assert_clean(at)
    assert not any("Loaded models" in header.value for header in at.subheader)
    captions = [str(image.proto) for image in at.get("image")]
    assert sum("samples, epoch" in caption for caption in captions) == 3


def test_presenter_mode_folds_the_page_explanation(tiny_checkpoints, monkeypatch):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update({"present": "1"})
    at.run()
    assert_clean(at)  # the Overview: each model's samples shown, its numbers folded
    assert [e.label for e in at.expander if e.label.endswith("'s numbers")] == [
        "The VAE's numbers", "The GAN's numbers", "The VAE-GAN's numbers"]  # below the three columns, full width
    open_page(at, "compare")
    assert_clean(at)
    assert [e.label for e in at.expander][:1] == ["What this page shows"]
    at.sidebar.toggle[0].set_value(False).run()
    assert "What this page shows" not in [e.label for e in at.expander]
    open_page(at, "overview")
    assert not [e.label for e in at.expander if e.label.endswith("'s numbers")]


def test_charts_save_svg_when_asked(tiny_checkpoints, monkeypatch):
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.session_state["projection"] = "pca"
    at.query_params.update({"chart-format": "svg"})
    at.run()
    open_page(at, "latent_map")
    assert_clean(at)
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["format"] == "svg"
    assert config["toImageButtonOptions"]["filename"].startswith("latent-map-")


def test_charts_export_their_numbers_named_after_the_page(app):
    at = open_page(app, "training")
    assert_clean(at)
    csvs = [b for b in at.get("download_button") if "CSV" in str(b.proto.label)]
    assert csvs, "no CSV export on the Training page"
    assert all(str(b.proto.label) == "CSV of this chart" for b in csvs)


def test_figure_csv_holds_every_point(monkeypatch):
    import plotly.graph_objects as go

    monkeypatch.syspath_prepend(str(REPO / "demo"))
    import ui

    figure = go.Figure([go.Scatter(x=[0, 1], y=[2.5, 3.5], name="a"), go.Bar(y=[7, 8, 9], name="b")])
    rows = ui.figure_csv(figure).strip().splitlines()
    assert rows == ["trace,x,y", "a,0,2.5", "a,1,3.5", "b,0,7", "b,1,8", "b,2,9"]


# one linked control per page: (page, widget type, key, the link's value, the value it shows, a value to set)
ROUND_TRIPS = [
    ("compare", "select_slider", "compare-grid", "4", 4, 8),
    ("reconstruction", "slider", "recon-n", "3", 3, 5),
    ("interpolation", "slider", "interp-steps", "5", 5, 7),
    ("latent_map", "select_slider", "map-n", "2000", 2000, 1000),
    ("latent_space", "slider", "traverse-steps", "5", 5, 11),
    ("conditional", "slider", "conditional-t", "0.5", 0.5, 1.2),
    ("fid", "select_slider", "fid-n", "2000", 2000, 1000),
    ("training", "checkbox", "training-log", "1", True, False),
    ("anomalies", "select_slider", "anomaly-n", "500", 500, 2000),
    ("collapse", "select_slider", "toy-m", "50", 50, 20),
]

TAB_OF = {"latent_space": {"latent-tab": "Traversals"}, "anomalies": {"anomaly-tab": "Detecting other data"}}


@pytest.mark.parametrize("page, widget, key, text, shown, other", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_every_page_round_trips_its_link(tiny_checkpoints, monkeypatch, page, widget, key, text, shown, other):
    at = new_app(monkeypatch, tiny_checkpoints, 180)
    at.session_state["projection"] = "pca"
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.query_params.update({key: text, "seed": "3", **TAB_OF.get(page, {})})
    at.run()
    assert_clean(at)
    control = getattr(at, widget)(key=key)
    assert control.value == shown and at.sidebar.number_input[0].value == 3  # the link -> the controls
    control.set_value(other).run()
    assert_clean(at)
    expected = ui_text(other)
    assert at.query_params.get(key) in (expected, [expected]) or (other is False and key not in at.query_params)


def ui_text(value) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def plotly_array(value) -> np.ndarray:
    """A Plotly JSON array: a list, or {"dtype", "bdata"} (base64)."""
    import base64

    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def test_latent_map_reads_a_shipped_map_instead_of_computing_it(tiny_checkpoints, monkeypatch, tmp_path):
    from vaegan_core.storage import page_cache, zoo
    from vaegan_core.storage.checkpoint_folder import CheckpointFolder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tiny_checkpoints / "mnist" / "vae"
    shipped = np.stack([np.arange(1000), -np.arange(1000)], axis=1).astype(np.float32)  # no projection gives this
    page_cache.arrays("map-umap-1000-seed0", zoo.fingerprint(folder), lambda: {"points": shipped},
                      write_to=CheckpointFolder(folder))
    try:
        at = new_app(monkeypatch, tiny_checkpoints, 120)
        at.query_params.update({"projection": "umap", "map-n": "1000", "map-model": "vae"})
        at.switch_page("app_pages/latent_map.py")
        at.run()
        assert_clean(at)
        figure = json.loads(at.get("plotly_chart")[0].proto.spec)
        xs = np.concatenate([plotly_array(trace["x"]) for trace in figure["data"] if trace.get("type") == "scattergl"])
        assert sorted(xs.tolist()) == list(range(1000))
    finally:
        shutil.rmtree(folder / page_cache.FOLDER)


def test_reconstruction_reads_shipped_errors_for_its_worst_first_gallery(tiny_checkpoints, monkeypatch, tmp_path):
    """The worst-first gallery orders by the errors shipped in the page cache (here made up: image #7 worst, then
    #3) instead of reconstructing the pool on the first visit."""
    from vaegan_core.storage import page_cache, zoo
    from vaegan_core.storage.checkpoint_folder import CheckpointFolder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tiny_checkpoints / "mnist" / "vae"
    made_up = np.zeros(1000, np.float32)
    made_up[7], made_up[3] = 0.9, 0.8
    page_cache.arrays("recon-errors-1000", zoo.fingerprint(folder), lambda: {"errors": made_up},
                      write_to=CheckpointFolder(folder))
    from vaegan_core.app import clear_caches

    clear_caches()  # errors an earlier test's visit computed for this checkpoint are kept per process
    try:
        at = new_app(monkeypatch, tiny_checkpoints, 120)
        at.session_state["kinds"] = ["vae"]
        at.switch_page("app_pages/reconstruction.py")
        at.run()
        assert_clean(at)
        html = " ".join(m.value for m in at.markdown if "grid-template-columns" in m.value)
        assert "#7 " in html and html.index("#7 ") < html.index("#3 ")
        assert "0.9000" in html and "0.8000" in html
    finally:
        shutil.rmtree(folder / page_cache.FOLDER)


def test_latent_map_marks_the_picked_image_and_spot_and_keeps_them_across_models(app):
    app.session_state["kinds"] = ["vae", "vaegan"]
    at = open_page(app, "latent_map")
    at.selectbox(key="projection").set_value("pca").run()
    at.number_input(key="map-index").set_value(7).run()
    assert_clean(at)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {trace.get("name"): trace for trace in figure["data"]}
    assert "image #7" in traces and "decoded spot" in traces  # the ring and the cross
    classes = [trace for trace in figure["data"] if trace.get("type") == "scattergl"]
    colours = [trace["marker"]["color"] for trace in classes]
    assert len(set(colours)) == len(classes) == 10

    def luminance(hex_colour):  # relative luminance (WCAG); white is 1
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    assert all((1.05 / (luminance(c) + 0.05)) >= 2.5 for c in colours)  # every class stands out on white
    assert figure["layout"]["legend"]["orientation"] == "h"  # below the map, not under the toolbar
    at.selectbox(key="map-model").set_value("vaegan").run()
    assert_clean(at)
    assert at.number_input(key="map-index").value == 7  # the picked image stays when the model changes
    assert "image #7" in {trace.get("name") for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}



def test_reconstruction_shows_one_image_large_with_error_maps(app):
    at = open_page(app, "reconstruction")
    assert_clean(at)
    assert any("of the edges" in caption.value for caption in at.caption) or \
        any("of the edges" in str(image.proto) for image in at.get("image"))
    at.selectbox(key="recon-zoom").set_value(3).run()
    assert_clean(at)


def test_a_page_with_several_figures_offers_them_in_one_zip(app):
    import zipfile

    at = open_page(app, "interpolation")
    assert_clean(at)
    buttons = [b for b in at.get("download_button") if "zip" in str(b.proto.label)]
    assert len(buttons) == 1
    offered = at.session_state["_exports"]
    assert len(offered) >= 3 and any(name.endswith(".gif") for name in offered)  # the rows' PNG and each GIF
    assert f"({len(offered)} files, zip)" in str(buttons[0].proto.label)
    import ui

    archive = zipfile.ZipFile(io.BytesIO(ui.zip_of(offered)))
    assert sorted(archive.namelist()) == sorted(offered)
    # the pictures are made when asked for (a function), the zip holds what each button gives
    made = {name: data() if callable(data) else data for name, data in offered.items()}
    assert all(archive.read(name) == (data if isinstance(data, bytes) else data.encode()) for name, data in made.items())
    assert all(made[name][:4] == b"GIF8" for name in made if name.endswith(".gif"))
    at = open_page(at, "overview")  # a page without downloads offers no zip, and keeps nothing of the last page
    assert not [b for b in at.get("download_button") if "zip" in str(b.proto.label)]


def test_overview_tables_are_text_when_a_score_is_missing(monkeypatch, tmp_path):
    """A score that was not computed (`vaegan eval --fid-only` stores the FID alone) shows as "-" in a column of
    numbers: the cells are text, so Streamlit need not convert a mixed column (it logged a traceback doing so)."""
    from vaegan_core.storage import zoo

    root = tmp_path / "checkpoints"
    shipped = zoo.checkpoints_root(None) / "mnist" / "gan"
    folder = root / "mnist" / "gan"
    folder.mkdir(parents=True)
    for name in ("config.json", "metrics.json", "model.safetensors"):
        shutil.copy(shipped / name, folder / name)
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["inception-test"]["metrics"] = {"fid": 7.5}  # the FID alone
    (folder / "metrics.json").write_text(json.dumps(metrics))
    at = new_app(monkeypatch, root, 120)
    at.session_state["kinds"] = ["gan"]
    at.run()
    assert_clean(at)
    table = next(m.value for m in at.markdown if m.value.startswith("| measure |"))
    header, _, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    inception = header.index("Inception, N(0,\u00a0I)")  # a no-break space: the header never wraps inside N(0, I)
    assert {row[inception] for row in rows} >= {"-", "7.5"}
    assert not at.table  # no pandas table: its import was 0.44 s of a freshly started server's first page


def test_markdown_table_escapes_its_cells(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "demo"))
    import ui

    text = ui.markdown_table([{"measure": "a | b", "value": "1\n2"}, {"measure": "c", "value": 3}])
    assert text.splitlines() == ["| measure | value |", "|---|---|", "| a \\| b | 1 2 |", "| c | 3 |"]
    assert ui.markdown_table([]) == ""


def test_every_run_tells_the_browser_the_linked_controls_values(tiny_checkpoints, monkeypatch):
    """A browser that mounts a control afresh and holds no value for it (it can, on a page change)
    falls back to the widget's own default and sends that on the next click: an emptied Models list, seed 0. So every
    run, not only the first, sends each linked control's value (CI once lost the models this way between two pages)."""
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    at.query_params.update({"seed": "7", "kinds": "vae,gan", "dataset": "mnist"})
    at.run()
    for page in ("compare", "reconstruction"):
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        assert_clean(at)
        models, seed = at.sidebar.multiselect[0], at.sidebar.number_input[0]
        assert models.proto.set_value and list(models.proto.raw_values) == ["GAN", "VAE"], page
        assert seed.proto.set_value and seed.proto.value == 7, page
        assert at.query_params["seed"] in ("7", ["7"])


def test_a_bad_thread_count_in_the_servers_settings_does_not_take_pages_down(tiny_checkpoints, monkeypatch, capfd):
    monkeypatch.setenv("VAEGAN_APP_THREADS", "abc")
    at = new_app(monkeypatch, tiny_checkpoints, 120)
    from vaegan_core.app import app_threads

    app_threads.cache_clear()  # read the variable again in this process
    assert app_threads() == 1  # what a page's first model load calls (models cached by earlier tests
    assert "VAEGAN_APP_THREADS='abc' is not a thread count" in capfd.readouterr().err  # may skip it in the app)
    at.session_state["projection"] = "pca"
    at.run()
    assert_clean(open_page(at, "reconstruction"))
    app_threads.cache_clear()


def test_a_bomb_among_the_sample_grids_is_a_note_not_an_error_page(tiny_checkpoints, monkeypatch, tmp_path):
    """A decompression bomb (a tiny file that claims 20000 x 20000 pixels) as a checkpoint's newest grid: the
    Training page and the Overview card show a note in its place; the rest of the page stays."""
    from PIL import Image

    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoints, root, symlinks=True)
    samples = root / "mnist" / "gan" / "samples"
    last = sorted(samples.glob("epoch_*.png"))[-1]
    Image.new("1", (20000, 20000)).save(last)  # 1 bit a pixel: about 50 KB on disk, 400 M pixels decoded
    (root / "mnist" / "vae" / "samples" / "epoch_099.png").write_bytes(b"\x89PNG\r\n\x1a\n torn")
    at = new_app(monkeypatch, root, 120)
    at.session_state["projection"] = "pca"
    at.run()
    assert_clean(at)
    assert any("no picture" in c.value and "more pixels than" in c.value for c in at.caption), [c.value[-80:] for c in at.caption]
    at.session_state["training-model"] = "gan"
    assert_clean(open_page(at, "training"))
    assert any("no picture" in c.value and "more pixels than" in c.value for c in at.caption)
    assert any("Samples from the same noise" in m.value for m in at.markdown)
    at.session_state["training-model"] = "vae"
    at.run()
    assert_clean(at)
    assert any("could not be read as a picture" in c.value for c in at.caption)
