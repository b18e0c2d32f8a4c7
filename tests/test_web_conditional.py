"""The explorer's Conditional view (web/js/conditional.js) and the export of the class-conditional decoders it runs
(vaegan_core.web_export): every exported conditional decoder computes what torch does, labels included; in Chromium
a typed number is written by every conditional model, pixel for pixel as vaegan_core.models.conditional.write, and a
bad `write` in the URL falls back with a notice.

The export tests need onnxruntime; the browser tests (marked e2e) also chromium and web/node_modules, as
tests/test_web_explorer.py, whose helpers they use.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_model_config, tiny_train_config
from test_web_explorer import open_page, page_of, pixels, redrawn, require_node_modules, served
from vaegan_core import web_export
from vaegan_core.export import PARITY_TOLERANCE, ExportError, check_parity, export_onnx, onnx_session
from vaegan_core.models import build_model
from vaegan_core.models.conditional import parse_text, write
from vaegan_core.storage.checkpoint import load_model, save_checkpoint

pytest.importorskip("onnxruntime")
from conftest import REPO as ROOT  # noqa: E402
SHIPPED = ROOT / "checkpoints"
CONDITIONAL = [("mnist", "gan"), ("mnist", "vae"), ("mnist", "vaegan"), ("fashion-mnist", "vaegan")]


def _shipped(dataset: str, kind: str, conditional: bool = True) -> Path:
    folder = SHIPPED / dataset / ("conditional" if conditional else "") / kind
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} is not shipped here")
    return folder


# ---- the export ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dataset,kind", CONDITIONAL)
def test_every_shipped_conditional_decoder_exports_within_tolerance(dataset, kind, tmp_path):
    """onnxruntime against torch on fixed codes with every class (check_parity: batch 1 and 32, labels 0, 1, ... 9, 0,
    ...), then one style code written as every class (the view's batch: one z, many labels)."""
    model = load_model(_shipped(dataset, kind))
    path = export_onnx(model, "decoder", tmp_path / "decoder.onnx")
    assert check_parity(model, "decoder", path, n=32)["max_abs_diff"] <= PARITY_TOLERANCE
    session = onnx_session(path)
    assert [entry.name for entry in session.get_inputs()] == ["z", "labels"]
    z = torch.randn(1, model.config.latent_dim, generator=torch.Generator().manual_seed(3)).expand(7, -1).contiguous()
    labels = torch.tensor([2, 0, 2, 6, 9, 9, 1])
    found = session.run(None, {"z": z.numpy(), "labels": labels.numpy()})[0]
    assert np.abs(found - model.decode(z, labels).numpy()).max() <= PARITY_TOLERANCE


def _save_tiny(folder: Path, kind: str, **changes) -> Path:
    torch.manual_seed(0)
    save_checkpoint(folder, build_model(tiny_model_config(kind, **changes)).eval(), tiny_train_config())
    return folder


def test_export_web_writes_the_conditional_decoders_apart(web_dir, tmp_path):
    gan = _save_tiny(tmp_path / "gan", "gan")
    labelled = {kind: _save_tiny(tmp_path / f"c-{kind}", kind, num_classes=10) for kind in ("vae", "gan")}
    out = tmp_path / "site"
    summary = web_export.export_web(out, [str(gan), *map(str, labelled.values())], n_images=4, web_dir=web_dir)
    assert summary["datasets"] == {"digits": ["gan"]} and summary["conditional"] == {"digits": ["gan", "vae"]}
    index = json.loads((out / "explorer.json").read_text())["datasets"][0]
    assert index["models"] == ["gan"] and index["conditional"] == ["gan", "vae"]
    manifest = json.loads((out / "digits" / "manifest.json").read_text())
    assert list(manifest["models"]) == ["gan"]  # the other views see the unconditional models only
    for kind, folder in labelled.items():
        entry = manifest["conditional"][kind]
        assert entry["decoder"] == f"conditional/{kind}/decoder.onnx" and entry["label"].startswith("conditional ")
        assert (entry["latent_dim"], entry["num_classes"]) == (8, 10)
        assert 0 <= entry["parity"]["decoder"] <= PARITY_TOLERANCE
        path = out / "digits" / entry["decoder"]
        assert check_parity(load_model(folder), "decoder", path, n=7)["max_abs_diff"] <= PARITY_TOLERANCE
    assert not (out / "digits" / "conditional" / "vae" / "encoder.onnx").exists()  # the view needs decoders only
    # the folder is a static Hugging Face Space as it is: its README's front matter
    front = (out / "README.md").read_text(encoding="utf-8").split("---\n")[1]
    for line in ("sdk: static", "app_file: index.html", "  cross-origin-embedder-policy: require-corp",
                 "  cross-origin-opener-policy: same-origin"):
        assert line in front.splitlines(), line


def test_export_web_refuses_a_lone_conditional_model_and_twins(web_dir, tmp_path):
    conditional = _save_tiny(tmp_path / "c-vae", "vae", num_classes=10)
    with pytest.raises(ExportError, match="conditional model of digits needs an unconditional GAN, VAE or VAE-GAN"):
        web_export.export_web(tmp_path / "a", [str(conditional)], web_dir=web_dir)
    twin = tmp_path / "twin"
    shutil.copytree(conditional, twin)
    with pytest.raises(ExportError, match="two conditional VAE checkpoints for digits"):
        web_export.export_web(tmp_path / "b", [str(_save_tiny(tmp_path / "gan", "gan")), str(conditional), str(twin)],
                              web_dir=web_dir)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_shipped_zoo_exports_its_conditional_models_too():
    chosen = web_export.models_to_export(root=SHIPPED)
    for dataset, kind in CONDITIONAL:
        folder = _shipped(dataset, kind)
        assert chosen[dataset]["conditional"][kind] == folder
        assert chosen[dataset]["models"][kind] == _shipped(dataset, kind, conditional=False)


# ---- in the browser ------------------------------------------------------------------------------------------------

IMAGES = 8


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """MNIST: the VAE-GAN and the three conditional models (the conditional GAN and VAE have no unconditional twin
    here, so they are always shown); Fashion-MNIST: the VAE-GAN and its conditional twin."""
    from conftest import require_tools

    require_tools()
    require_node_modules()
    folders = [_shipped("mnist", "vaegan", False), *[_shipped(d, k) for d, k in CONDITIONAL],
               _shipped("fashion-mnist", "vaegan", False)]
    out = tmp_path_factory.mktemp("conditional") / "site"
    web_export.export_web(out, [str(folder) for folder in folders], n_images=IMAGES)
    return out


@pytest.fixture(scope="module")
def url(site):
    with served(site) as address:
        yield address


def torch_line(model, text: str, z: np.ndarray) -> np.ndarray:
    """torch's written line of ``text`` from the style code ``z``, rounded to 8 bits (height x width, int)."""
    line = write(model, parse_text(text, model.config.num_classes), torch.from_numpy(z.astype(np.float32))[None])
    return np.rint(np.clip(line[0].numpy(), 0, 1) * 255).astype(int)


def _assert_written_as_torch(page, dataset: str, kinds, text: str) -> dict:
    """Every conditional model's line on the page equals torch's write of ``text`` from the code the page used."""
    styles = {}
    for kind in kinds:
        z = np.array(page.evaluate(f"Array.from(explorer.lastStyles['{kind}'])"), dtype=np.float32)
        found = pixels(page, f"#view-conditional canvas.line[data-kind={kind}]").astype(int)
        expected = torch_line(load_model(_shipped(dataset, kind)), text, z)
        assert found.shape == expected.shape and found.max() > 100, (dataset, kind, found.shape, expected.shape)
        assert np.abs(found - expected).max() <= 1, (dataset, kind)
        styles[kind] = z
    return styles


@pytest.mark.e2e
def test_a_typed_number_is_written_by_every_conditional_model_as_torch_writes_it(url, browser):
    with page_of(browser, url) as page:
        open_page(page, url, "?view=conditional&seed=5&conditional-t=0.8")
        assert page.locator("#view-conditional canvas.line").count() == 3
        redrawn(page, lambda: page.fill("#write", "20 26"))  # a space: a gap half a glyph wide
        styles = _assert_written_as_torch(page, "mnist", ("gan", "vae", "vaegan"), "20 26")
        assert pixels(page, "#view-conditional canvas.line[data-kind=vae]").shape == (28, 4 * 28 + 14)
        np.testing.assert_array_equal(styles["gan"], styles["vae"])  # one style code for every model and glyph
        page.wait_for_function("location.search.includes('write=20+26')", timeout=5_000)
        # the temperature scales the same draw
        redrawn(page, lambda: page.evaluate("explorer.set('conditional-t', 1.2)"))
        z = np.array(page.evaluate("Array.from(explorer.lastStyles['vae'])"), dtype=np.float32)
        np.testing.assert_allclose(z, styles["vae"] / 0.8 * 1.2, rtol=1e-5, atol=1e-6)
        # Fashion-MNIST: digits are class indices, the page reads them out as garments
        redrawn(page, lambda: page.select_option("#dataset", "fashion-mnist"))
        redrawn(page, lambda: page.fill("#write", "0178"))
        _assert_written_as_torch(page, "fashion-mnist", ("vaegan",), "0178")
        assert "Reads: T-shirt/top, Trouser, Sneaker, Bag" in page.locator("#write-reading").inner_text()
        assert page.problems == [] and page.outside == [], (page.problems, page.outside)


@pytest.mark.e2e
def test_a_bad_text_in_the_url_or_the_box_falls_back_with_a_notice(url, browser):
    with page_of(browser, url) as page:
        open_page(page, url, "?view=conditional&write=2x9&conditional-t=9")
        text = " ".join(page.locator("#notices .notice").all_inner_texts())
        assert page.locator("#notices .notice").count() == 2, text
        assert 'The link\'s write="2x9" is not usable (the text may hold only the class digits 0 to 9; "x" is not)' \
            in text and "The link's conditional-t=" in text and "showing the default" in text
        settings = page.evaluate("explorer.settings")
        assert (settings["write"], settings["conditional-t"]) == ("2026", 1.0)
        before = pixels(page, "#view-conditional canvas.line[data-kind=vaegan]")
        assert before.shape == (28, 4 * 28) and before.max() > 100
        # a bad text typed: the box says why, the last good line stays, nothing is written to the URL
        page.fill("#write", "20a6")
        page.wait_for_function("document.querySelector('#write-problem').textContent.includes('\"a\" is not')")
        assert page.get_attribute("#write", "aria-invalid") == "true"
        assert page.evaluate("explorer.settings.write") == "2026"
        page.wait_for_function("!location.search.includes('write=')", timeout=5_000)
        np.testing.assert_array_equal(pixels(page, "#view-conditional canvas.line[data-kind=vaegan]"), before)


@pytest.mark.e2e
def test_the_view_works_from_the_keyboard_the_keypad_and_in_presenter_mode(url, browser):
    with page_of(browser, url) as page:
        open_page(page, url, "?present=1")
        assert page.evaluate("document.body.dataset.present") == "true" and page.is_checked("#present")
        redrawn(page, lambda: page.keyboard.press("6"))  # the key 6 opens the sixth view
        assert page.evaluate("explorer.settings.view") == "conditional"
        page.focus("#write")
        page.keyboard.press("End")
        redrawn(page, lambda: page.keyboard.type("1"))  # typed into the box, not taken as a view key
        assert page.evaluate("explorer.settings.write") == "20261"
        redrawn(page, lambda: page.get_by_role("button", name="add 7").click())
        assert page.input_value("#write") == "202617"
        assert pixels(page, "#view-conditional canvas.line[data-kind=gan]").shape == (28, 6 * 28)
        seed = page.evaluate("explorer.settings.seed")
        page.get_by_role("button", name="New style").focus()
        redrawn(page, lambda: page.keyboard.press("Enter"))
        assert page.evaluate("explorer.settings.seed") != seed
        page.uncheck("#present")
        assert page.evaluate("document.body.dataset.present") == "false"
        assert page.problems == [], page.problems


@pytest.mark.e2e
def test_a_missing_conditional_decoder_is_one_message_and_the_others_write(site, browser, tmp_path):
    folder = tmp_path / "site"
    for path in site.rglob("*"):
        if path.is_file() and path != site / "mnist" / "conditional" / "vae" / "decoder.onnx":
            (folder / path.relative_to(site)).parent.mkdir(parents=True, exist_ok=True)
            (folder / path.relative_to(site)).symlink_to(path)
    with served(folder) as address, page_of(browser, address) as page:
        open_page(page, address, "?view=conditional")
        row = page.locator("#view-conditional figure[data-kind=vae]").inner_text()
        assert "conditional VAE:" in row and "decoder.onnx" in row and "vaegan export-web" in row, row
        assert page.locator("#view-conditional canvas.line[data-kind=vae]").is_hidden()
        for kind in ("gan", "vaegan"):
            assert pixels(page, f"#view-conditional canvas.line[data-kind={kind}]").max() > 100, kind
