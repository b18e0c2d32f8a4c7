"""The Streamlit app on checkpoints trained on an image folder of colour images (AppTest, CPU)."""

from __future__ import annotations


import pytest

from conftest import tiny_model_config, tiny_train_config
from test_app import PAGES, REPO, assert_clean, new_app, open_page
from test_folders import make_folder

pytest.importorskip("streamlit")


@pytest.fixture(scope="module")
def folder_root(tmp_path_factory):
    """A checkpoints root with shapes/{gan,vae,vaegan} (32 x 32 RGB, two classes) and shapes/conditional/vaegan."""
    import os

    from vaegan_core.training.train import Trainer

    base = tmp_path_factory.mktemp("folder-zoo")
    os.environ["VAEGAN_FOLDER_CACHE"] = str(base / "cache")
    images = make_folder(base / "shapes-images", per_class=40, bad=False)
    root = base / "checkpoints"
    for kind in ("gan", "vae", "vaegan"):
        config = tiny_model_config(kind, image_size=32, channels=3)
        Trainer(config, tiny_train_config(dataset=f"folder:{images}", epochs=1, limit=0),
                root / "shapes" / kind, progress=False).fit()
    Trainer(tiny_model_config("vaegan", image_size=32, channels=3, num_classes=2),
            tiny_train_config(dataset=f"folder:{images}", epochs=1, limit=0),
            root / "shapes" / "conditional" / "vaegan", progress=False).fit()
    for shipped in ("classifiers", "reference_stats"):
        (root / shipped).symlink_to(REPO / "checkpoints" / shipped)
    yield root, images
    os.environ.pop("VAEGAN_FOLDER_CACHE", None)


@pytest.fixture
def folder_app(folder_root, monkeypatch):
    root, _ = folder_root
    at = new_app(monkeypatch, root, 120)
    at.session_state["projection"] = "pca"
    at.session_state["dataset"] = "shapes"
    at.run()
    return at


def test_the_sidebar_lists_the_folder_and_the_overview_shows_it(folder_app):
    assert_clean(folder_app)
    picker = folder_app.sidebar.selectbox[0]
    assert "shapes" in picker.options[-1] and picker.value == "shapes"


@pytest.mark.parametrize("page", PAGES[1:])
def test_every_page_renders_colour_models_without_error(folder_app, page):
    assert_clean(open_page(folder_app, page))


def test_a_missing_folder_is_one_line_not_a_traceback(folder_root, monkeypatch, tmp_path):
    root, images = folder_root
    moved = tmp_path / "moved"
    images.rename(moved)
    try:
        from vaegan_core.app import clear_caches

        clear_caches()  # the split read by the tests before, while the folder was there
        at = new_app(monkeypatch, root)
        at.session_state["dataset"] = "shapes"
        at.run()
        at = open_page(at, "reconstruction")
        assert not at.exception
        assert any("are not here" in error.value and "not found" in error.value for error in at.error)
    finally:
        moved.rename(images)
