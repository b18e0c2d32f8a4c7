"""The second prior: a Gaussian mixture of the training codes (vaegan_core.models.prior, vaegan fit-gmm)."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vaegan_core.storage.checkpoint import info, load_model
from vaegan_core.cli import main
from vaegan_core.errors import CheckpointError, ConfigError
from vaegan_core.storage.paths import LATENT_GMM_FILE, MODEL_CARD_FILE
from vaegan_core.models.prior import LatentGMM, fit_latent_gmm, gmm_of_codes
from vaegan_core.training.train import Trainer

from conftest import tiny_model_config, tiny_train_config


def two_blobs() -> LatentGMM:
    """Weights 0.25 / 0.75 at (-5, 0) and (5, 0); the second one stretched along y (sd 2)."""
    cholesky = np.stack([np.eye(2), np.diag([1.0, 2.0])])
    return LatentGMM([1.0, 3.0], [[-5.0, 0.0], [5.0, 0.0]], cholesky, {"note": "hand-made"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny VAE and GAN trained for a moment on the digits (no files needed)."""
    root = tmp_path_factory.mktemp("prior")
    for kind in ("vae", "gan"):
        Trainer(tiny_model_config(kind), tiny_train_config(limit=256), root / kind, progress=False).fit()
    return root


def test_sampling_follows_the_mixture():
    gmm = two_blobs()
    codes = gmm.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    assert codes.shape == (20_000, 2) and codes.dtype == np.float32
    right = codes[:, 0] > 0
    assert abs(right.mean() - 0.75) < 0.015  # the weights are normalised (1 : 3)
    assert np.allclose(codes[right].mean(0), [5, 0], atol=0.06) and np.allclose(codes[~right].mean(0), [-5, 0], atol=0.06)
    assert abs(codes[right, 1].std() - 2.0) < 0.05 and abs(codes[~right, 1].std() - 1.0) < 0.05
    again = gmm.sample(20_000, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(codes, again)  # same seed, same codes
    cold = gmm.sample(50, torch.Generator().manual_seed(1), temperature=0.0).numpy()
    assert {tuple(row) for row in cold} <= {(-5.0, 0.0), (5.0, 0.0)}  # T = 0: the component means


def test_fitting_recovers_a_known_mixture():
    """Codes drawn from a known mixture: the fit finds its weights and means (and refuses too few codes)."""
    codes = two_blobs().sample(4_000, torch.Generator().manual_seed(0)).double().numpy()
    gmm = gmm_of_codes(codes, components=2, seed=0)
    order = gmm.means[:, 0].argsort()
    assert np.allclose(gmm.weights[order].numpy(), [0.25, 0.75], atol=0.02)
    assert np.allclose(gmm.means[order].numpy(), [[-5, 0], [5, 0]], atol=0.1)
    assert gmm.metadata["converged"] and gmm.metadata["n"] == 4_000
    with pytest.raises(ConfigError, match="too few"):
        gmm_of_codes(codes[:15], components=2)


def test_bad_mixtures_are_refused():
    with pytest.raises(ConfigError, match="K x d x d"):
        LatentGMM([1.0], [[0.0, 0.0]], np.eye(3)[None])
    with pytest.raises(ConfigError, match="non-negative"):
        LatentGMM([1.0, -1.0], [[0.0], [1.0]], np.ones((2, 1, 1)))
    with pytest.raises(ConfigError, match="finite"):
        LatentGMM([1.0], [[float("nan")]], np.ones((1, 1, 1)))
    with pytest.raises(ConfigError, match="positive"):
        two_blobs().sample(0)


def test_the_model_owns_its_priors_behind_one_interface():
    from vaegan_core.models import build_model
    from vaegan_core.models.prior import NormalPrior, Prior

    vae, gan = (build_model(tiny_model_config(kind)).eval() for kind in ("vae", "gan"))
    normal = vae.prior()
    assert isinstance(normal, NormalPrior) and normal.name == "normal" and normal.label == "N(0, I)"
    codes = normal.sample(5, torch.Generator().manual_seed(3), temperature=0.5)
    torch.testing.assert_close(codes, 0.5 * torch.randn(5, 8, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(vae.sample(5, torch.Generator().manual_seed(3), 0.5), vae.decode(codes))
    with pytest.raises(ConfigError, match="no GMM of its training codes; fit one with `vaegan fit-gmm DIR`"):
        vae.prior("gmm")
    with pytest.raises(ConfigError, match="a GAN has no encoder"):
        gan.prior("gmm")
    assert "vaegan fit-gmm" in vae.prior("gmm", fallback=True).note and gan.prior("gmm", fallback=True).note is None
    vae.latent_gmm = LatentGMM([1.0], [[0.0] * 8], np.eye(8)[None])
    assert isinstance(vae.prior("gmm"), Prior) and vae.prior("gmm", fallback=True) is vae.latent_gmm
    assert vae.prior("gmm").label == "GMM of the training codes"
    vae.latent_gmm = two_blobs()  # 2 dimensions, the model 8
    with pytest.raises(ConfigError, match="the latent GMM has 2 dimensions, the model 8"):
        vae.prior("gmm")
    with pytest.raises(ConfigError, match="n must be a positive integer"):
        vae.prior().sample(0)


def test_save_and_load_round_trip(tmp_path):
    gmm = two_blobs()
    path = gmm.save(tmp_path)
    assert path.name == LATENT_GMM_FILE
    back = LatentGMM.load(tmp_path)
    assert back.metadata == {"note": "hand-made"} and back.components == 2 and back.dim == 2
    for name in ("weights", "means", "cholesky"):
        assert torch.equal(getattr(back, name), getattr(gmm, name))
    assert LatentGMM.load(tmp_path / "elsewhere") is None
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="truncated or corrupt.*vaegan fit-gmm"):
        LatentGMM.load(tmp_path)


def test_fit_sample_and_load_with_the_model(trained, tmp_path):
    folder = tmp_path / "vae"
    shutil.copytree(trained / "vae", folder)
    model = load_model(folder)
    assert model.latent_gmm is None
    with pytest.raises(ConfigError, match="vaegan fit-gmm"):
        model.sample(4, prior="gmm")
    images = (torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    steps = []
    gmm = fit_latent_gmm(model, images, components=3, seed=0, progress=lambda f, m: steps.append(f))
    assert gmm.components == 3 and gmm.dim == model.config.latent_dim and steps[-1] == 1.0
    assert gmm.metadata["n"] == 300 and gmm.metadata["components"] == 3 and np.isfinite(gmm.metadata["mean_log_likelihood"])
    mu = model.encode(images.float() / 255)[0].double()
    weights = gmm.weights.unsqueeze(1)
    assert torch.allclose((weights * gmm.means).sum(0), mu.mean(0), atol=1e-4)  # EM keeps the mixture mean at the data mean
    gmm.save(folder)

    model = load_model(folder)
    first = model.sample(6, torch.Generator().manual_seed(3), prior="gmm")
    assert first.shape == (6, 1, 28, 28) and 0 <= first.min() and first.max() <= 1
    assert torch.equal(first, model.sample(6, torch.Generator().manual_seed(3), prior="gmm"))
    assert not torch.equal(first, model.sample(6, torch.Generator().manual_seed(3)))  # N(0, I): other codes
    with pytest.raises(ConfigError, match="unknown prior"):
        model.sample(2, prior="uniform")
    assert info(folder)["latent_gmm"]["components"] == 3

    (folder / LATENT_GMM_FILE).write_bytes(b"garbage")  # a damaged optional file: the model still loads
    model = load_model(folder)
    assert model.sample(2).shape == (2, 1, 28, 28)
    with pytest.raises(ConfigError, match="corrupt"):
        model.sample(2, prior="gmm")


def test_a_gan_has_no_codes_to_fit(trained):
    model = load_model(trained / "gan")
    with pytest.raises(ConfigError, match="no encoder"):
        fit_latent_gmm(model, torch.zeros(100, 1, 28, 28))
    with pytest.raises(ConfigError, match="no encoder"):
        model.sample(2, prior="gmm")


def test_too_few_images_for_the_components(trained):
    with pytest.raises(ConfigError, match="too few"):
        fit_latent_gmm(load_model(trained / "vae"), torch.rand(20, 1, 28, 28), components=10)


def test_benchmark_scores_each_mixture_size_without_writing(trained):
    """benchmarks/gmm_components.py: one row per size plus N(0, I), finite FIDs, the folder untouched."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gmm_components.py"
    before = sorted(path.name for path in (trained / "vae").iterdir())
    run = subprocess.run([sys.executable, str(script), str(trained / "vae"), "--components", "2,4", "--n", "300"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line.split("|")[1:-1] for line in run.stdout.splitlines() if line.startswith(("| N(0", "| GMM"))]
    assert [(row[0].strip(), row[1].strip()) for row in rows] == [("N(0, I)", "-"), ("GMM", "2"), ("GMM", "4")]
    assert all(math.isfinite(float(row[-1])) and float(row[-1]) >= 0 for row in rows)
    assert sorted(path.name for path in (trained / "vae").iterdir()) == before
    bad = subprocess.run([sys.executable, str(script), str(trained / "vae"), "--components", "2,x"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "whole numbers" in bad.stderr
    gan = subprocess.run([sys.executable, str(script), str(trained / "gan"), "--components", "2", "--n", "300"],
                         capture_output=True, text=True, timeout=120)
    assert gan.returncode == 1 and gan.stderr.strip().count("\n") == 0 and "no encoder" in gan.stderr


def test_cli_fit_gmm_then_sample_from_it(trained, tmp_path, capsys):
    folder = tmp_path / "vae"
    shutil.copytree(trained / "vae", folder)
    assert main(["fit-gmm", str(folder), "--components", "4", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["components"] == 4 and result["dataset"] == "digits" and result["split"] == "train"
    assert result["n"] == 1437 and (folder / LATENT_GMM_FILE).is_file()
    assert 'prior="gmm"' in (folder / MODEL_CARD_FILE).read_text()
    from PIL import Image

    with Image.open(folder / "samples" / "gmm.png") as grid:  # the Overview's picture: 8 x 8 samples of the mixture
        assert grid.size == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)  # 2-pixel gaps
    out = tmp_path / "grid.png"
    assert main(["sample", str(folder), "--n", "9", "--out", str(out), "--prior", "gmm"]) == 0
    assert json.loads(capsys.readouterr().out)["prior"] == "gmm" and out.stat().st_size > 0


def test_cli_fit_gmm_errors(trained, tmp_path, capsys):
    assert main(["fit-gmm", str(trained / "gan"), "--no-progress"]) == 1
    assert "no encoder" in capsys.readouterr().err
    assert main(["fit-gmm", str(tmp_path / "missing")]) == 2
    assert "not a checkpoint folder" in capsys.readouterr().err
    assert main(["sample", str(trained / "vae"), "--out", str(tmp_path / "x.png"), "--prior", "gmm"]) == 1
    assert "vaegan fit-gmm" in capsys.readouterr().err
