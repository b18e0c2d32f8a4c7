"""Latent usage, anomaly scores and the memorisation check against closed forms and constructed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import tiny_model_config, tiny_train_config
from vaegan_core.analysis import anomaly, latent_usage, memorisation
from vaegan_core.cli import main
from vaegan_core.errors import ConfigError
from vaegan_core.models import build_model, kl_to_standard_normal


def test_kl_per_dimension_sums_to_the_total_kl():
    generator = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(50, 6, generator=generator), torch.randn(50, 6, generator=generator)
    per_dim = latent_usage.kl_per_dimension(mu, logvar)
    assert per_dim.shape == (6,)
    assert float(per_dim.sum()) == pytest.approx(float(kl_to_standard_normal(mu, logvar)), rel=1e-5)
    # closed form for one dimension: KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - log s^2) / 2
    one = latent_usage.kl_per_dimension(torch.tensor([[2.0]]), torch.tensor([[0.0]]))
    assert float(one) == pytest.approx(2.0)


class _Forced(torch.nn.Module):
    """An encoder whose dimension 0 is the prior for every image (mu 0, logvar 0) and whose other
    dimensions follow the image."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, images, labels=None):
        means = images.flatten(1)[:, : self.dim] * 10
        means[:, 0] = 0.0
        return means, torch.zeros_like(means)


def test_a_dimension_forced_to_the_prior_is_inactive_and_carries_no_kl():
    model = build_model(tiny_model_config("vae", latent_dim=4)).eval()
    model.encoder = _Forced(4)
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    images[:, :, 0, :4] = torch.rand(64, 4, generator=torch.Generator().manual_seed(2)).unsqueeze(1)
    usage = latent_usage.latent_usage(model, images)
    assert usage["active"][0] is False and all(usage["active"][1:])
    assert usage["active_units"] == 3
    assert usage["kl_per_dim"][0] == pytest.approx(0.0, abs=1e-12)
    assert sum(usage["kl_share"]) == pytest.approx(1.0)
    assert usage["order"][-1] == 0
    assert "3 of 4" in latent_usage.explain(usage)


def test_latent_usage_refuses_a_gan():
    with pytest.raises(ConfigError, match="no encoder"):
        latent_usage.latent_usage(build_model(tiny_model_config("gan")).eval(), torch.rand(4, 1, 28, 28))


def test_auc_of_identical_and_separated_scores():
    same = np.linspace(0, 1, 100)
    assert anomaly.detection(same, same)["auc"] == pytest.approx(0.5)
    separated = anomaly.detection(np.zeros(50), np.ones(50))
    assert separated["auc"] == 1.0 and separated["average_precision"] == 1.0
    assert anomaly.detection(np.ones(50), np.zeros(50))["auc"] == 0.0  # the paradox: anomalies look typical
    with pytest.raises(ConfigError, match="not finite"):
        anomaly.detection(np.array([np.nan]), np.ones(3))


@pytest.mark.parametrize("kind, scores", [("vae", ("elbo", "pixel_error")),
                                          ("gan", ("discriminator",)),
                                          ("vaegan", ("pixel_error", "feature_error", "discriminator"))])
def test_each_family_gives_its_scores(kind, scores, images):
    model = build_model(tiny_model_config(kind)).eval()
    assert anomaly.available_scores(model) == scores
    found = anomaly.anomaly_scores(model, images)
    assert tuple(found) == scores
    for values in found.values():
        assert values.shape == (16,) and np.isfinite(values).all()
    with pytest.raises(ConfigError, match="has no"):
        anomaly.anomaly_scores(model, images, scores=("elbo",) if kind != "vae" else ("discriminator",))


def test_the_bernoulli_elbo_reads_a_gaussian_vae_s_pixel_means_as_probabilities(images):
    """A VAE trained with another likelihood also gives its negative ELBO under a Bernoulli one (the bound of the
    likelihood paradox): the same z, KL and decoder, -log p(x|z) as the binary cross-entropy of its logits. A
    Bernoulli VAE has no second score (it would equal its ELBO)."""
    import torch.nn.functional as F

    assert "bernoulli_elbo" not in anomaly.available_scores(build_model(tiny_model_config("vae")))
    model = build_model(tiny_model_config("vae", likelihood="calibrated")).eval()
    assert anomaly.available_scores(model) == ("elbo", "bernoulli_elbo", "pixel_error")
    found = anomaly.anomaly_scores(model, images, seed=3)
    with torch.inference_mode():  # by hand, with the z the scores drew (seed 3: the same generator, one draw)
        floats = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        mu, logvar = model.encoder(floats)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
        logits = model.decoder(z)
        expected = (F.binary_cross_entropy_with_logits(logits, floats, reduction="none").flatten(1).sum(1)
                    + 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1))
    np.testing.assert_allclose(found["bernoulli_elbo"], expected.double().numpy(), rtol=1e-4)
    assert not np.allclose(found["bernoulli_elbo"], found["elbo"])  # a different likelihood, a different bound
    iwae = anomaly.anomaly_scores(model, images, scores=("bernoulli_elbo",), k=16)["bernoulli_elbo"]
    assert np.isfinite(iwae).all() and iwae.mean() <= found["bernoulli_elbo"].mean() + 1.0


def test_both_importance_weighted_bounds_share_their_decoder_passes(images):
    """With k > 1 samples, a Gaussian VAE's two bounds (its own likelihood and the Bernoulli reading) come from the
    same k draws of z and k decoder passes, not 2k: and each equals the bound computed alone."""
    model = build_model(tiny_model_config("vae", likelihood="gaussian")).eval()
    calls = []
    model.decoder.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    both = anomaly.anomaly_scores(model, images, scores=("elbo", "bernoulli_elbo", "pixel_error"), k=5, seed=2)
    assert len(calls) == 1 + 5, calls  # decode(mu) for the pixel error, then one pass per sample
    for name in ("elbo", "bernoulli_elbo"):
        alone = anomaly.anomaly_scores(model, images, scores=(name,), k=5, seed=2)[name]
        np.testing.assert_allclose(both[name], alone, rtol=1e-5)
    assert not np.allclose(both["elbo"], both["bernoulli_elbo"])


def test_importance_weighted_bound_is_at_least_the_elbo(images):
    model = build_model(tiny_model_config("vae")).eval()
    elbo = anomaly.anomaly_scores(model, images, scores=("elbo",), k=1)["elbo"]
    iwae = anomaly.anomaly_scores(model, images, scores=("elbo",), k=64)["elbo"]
    # scores are the negative bounds: the tighter IWAE bound is higher, so its negative is lower on average
    assert iwae.mean() <= elbo.mean() + 1.0


def test_corruptions_and_percentile():
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(anomaly.corrupt(images, "inversion"), 1 - images)
    assert torch.equal(anomaly.corrupt(images, "rotation")[0, 0], torch.rot90(images[0, 0]))
    noisy = anomaly.corrupt(images, "noise", seed=1)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, images)
    with pytest.raises(ConfigError, match="unknown corruption"):
        anomaly.corrupt(images, "blur")
    assert anomaly.percentile(5.0, np.arange(10)) == 60.0


def test_a_copied_training_image_has_distance_zero_and_is_flagged():
    generator = torch.Generator().manual_seed(0)
    train = (torch.rand(500, 1, 28, 28, generator=generator) * 255).to(torch.uint8)
    test = (torch.rand(100, 1, 28, 28, generator=generator) * 255).to(torch.uint8)
    samples = torch.rand(20, 1, 28, 28, generator=generator)
    samples[7] = train[123].float() / 255
    result = memorisation.memorisation_check(samples, train, test)["pixels"]
    assert result["distance"][7] == pytest.approx(0.0, abs=1e-5)
    assert result["neighbour"][7] == 123 and result["copy"][7] is True
    assert sum(result["copy"]) == 1 and result["copies"] == 1
    assert result["closer_than_test"] >= 1 / 20  # the copy is closer than any test image


def test_nearest_neighbours_are_exact():
    generator = torch.Generator().manual_seed(3)
    queries, references = torch.randn(40, 7, generator=generator), torch.randn(300, 7, generator=generator)
    distances, indices = memorisation.nearest(queries, references, chunk=16)
    brute = torch.cdist(queries.double(), references.double())
    assert np.array_equal(indices, brute.argmin(1).numpy())
    assert np.allclose(distances, brute.min(1).values.numpy(), atol=1e-5)


def test_nearest_k_is_exact_and_sorted():
    generator = torch.Generator().manual_seed(4)
    references = torch.randn(500, 6, generator=generator)
    query = references[17] + 0.001
    distances, indices = memorisation.nearest_k(query, references, k=5)
    brute = (references - query).norm(dim=1).double()
    assert indices[0] == 17 and list(indices) == brute.argsort()[:5].tolist()
    assert np.all(np.diff(distances) >= 0) and np.allclose(distances, brute.sort().values[:5].numpy(), atol=1e-5)


def test_nearest_k_ranks_near_ties_exactly_far_from_the_origin():
    """The search's shortcut (|r|^2 - 2 r.q + |q|^2) loses digits when every vector is long and the neighbours are
    close together; the returned ranking must still be the direct one."""
    generator = torch.Generator().manual_seed(5)
    references = 50 + torch.randn(4000, 784, generator=generator) * 1e-3
    query = references[123] + 1e-5
    distances, indices = memorisation.nearest_k(query, references, k=8)
    brute = (references.double() - query.double()).norm(dim=1)
    assert list(indices) == brute.argsort()[:8].tolist()
    assert np.allclose(distances, brute.sort().values[:8].numpy(), rtol=1e-3)


def test_memorisation_summary_of_a_generalising_model():
    rng = np.random.default_rng(0)
    same = rng.uniform(1, 2, 4000)
    summary = memorisation.summary(same[:2000], same[2000:], quantile=0.05)
    assert summary["closer_than_test"] == pytest.approx(0.05, abs=0.02)


def test_eval_stores_diagnostics_and_anomaly_cli(tmp_path, capsys):
    from vaegan_core.training.train import Trainer
    from vaegan_core.storage.zoo import read_diagnostics, read_metrics

    folder = tmp_path / "vae"
    Trainer(tiny_model_config("vae"), tiny_train_config(), folder, progress=False).fit()
    assert main(["eval", str(folder), "--n", "200", "--no-progress"]) == 0
    diagnostics = read_diagnostics(folder)
    assert diagnostics["latent_usage"]["latent_dim"] == 8
    assert set(diagnostics["anomaly"]["pairs"]) == {"noise", "rotation", "inversion"}  # digits has no partner
    assert diagnostics["memorisation"]["pixels"]["n_samples"] == 1000
    assert "diagnostics" not in read_metrics(folder)  # the scores' readers see scores only
    capsys.readouterr()
    assert main(["anomaly", str(folder), "--against", "inversion", "--n", "50", "--csv",
                 str(tmp_path / "scores.csv")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["scores"]) == {"elbo", "pixel_error"}
    assert len((tmp_path / "scores.csv").read_text().splitlines()) == 101
    assert main(["anomaly", str(folder), "--against", "digits"]) == 2
    assert "own data" in capsys.readouterr().err


def test_principal_directions_traversal_and_arithmetic():
    from vaegan_core.analysis import directions

    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(2000, 3, generator=generator) * torch.tensor([3.0, 1.0, 0.1])
    vectors, sigmas = directions.principal_directions(codes)
    assert torch.allclose(vectors.abs()[0], torch.tensor([1.0, 0.0, 0.0]), atol=0.05)
    assert sigmas[0] == pytest.approx(3.0, rel=0.1) and sigmas[2] == pytest.approx(0.1, rel=0.1)
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3))
    path, offsets = directions.traversal(torch.zeros(3), directions.axis(1, 3), sigma=2.0, steps=7)
    assert offsets[0] == -3 and offsets[-1] == 3
    assert torch.allclose(path[0], torch.tensor([0.0, -6.0, 0.0])) and torch.allclose(path[3], torch.zeros(3))
    labels = torch.tensor([0, 0, 1, 1])
    means = directions.class_means(torch.tensor([[0.0, 0], [2, 0], [0, 4], [0, 6]]), labels)
    assert torch.allclose(means, torch.tensor([[1.0, 0], [0, 5]]))
    moved = directions.arithmetic(torch.tensor([1.0, 1.0]), means[1], means[0], steps=3)
    assert torch.allclose(moved[0], torch.tensor([1.0, 1.0])) and torch.allclose(moved[-1], torch.tensor([0.0, 6.0]))
    with pytest.raises(ConfigError, match="class 2 has no codes"):
        directions.class_means(torch.zeros(4, 2), labels, num_classes=3)
    with pytest.raises(ConfigError, match="dimension must be"):
        directions.axis(3, 3)


def test_a_drawing_goes_through_the_upload_preprocessing():
    from vaegan_core.uploads import read_drawing

    empty = np.zeros((280, 280, 4), np.uint8)
    image, notes = read_drawing(empty)
    assert image is None and "empty" in notes[0]
    drawn = empty.copy()
    drawn[40:240, 130:150] = 255  # a white vertical stroke, opaque: a "1"
    image, notes = read_drawing(drawn)
    assert image.shape == (1, 1, 28, 28) and "centred" in notes[0]
    rows = torch.nonzero(image[0, 0].amax(1) > 0.1).flatten()
    assert rows.max() - rows.min() + 1 == 20  # fitted into the 20 x 20 box, as MNIST digits are
    assert abs(float((image[0, 0].sum(0) * torch.arange(28)).sum() / image.sum()) - 14) < 1  # centred by mass


@pytest.mark.parametrize("kind", ["vae", "gan", "vaegan"])
def test_a_conditional_model_scores_an_unlabelled_image_by_its_best_class(kind, images):
    """Without a label: the ELBO of the mixture over the classes (between the best class's score and that plus
    log K), and for the other scores the class that explains the image best."""
    model = build_model(tiny_model_config(kind, num_classes=3)).eval()
    found = anomaly.anomaly_scores(model, images)
    assert tuple(found) == anomaly.available_scores(model)
    per_class, generator = [], torch.Generator().manual_seed(0)  # the same noise draws, class after class
    for label in range(3):
        with torch.inference_mode():
            per_class.append(anomaly._batch_scores(model, images, tuple(found), 1, generator, torch.full((16,), label)))
    for name, values in found.items():
        stacked = np.stack([scores[name].double().numpy() for scores in per_class])
        assert values.shape == (16,) and np.isfinite(values).all()
        if name == "elbo":  # -log (1/K) sum_y exp ELBO(x, y): between the best class and that plus log K
            expected = -(np.logaddexp.reduce(-stacked, axis=0) - np.log(3))
            np.testing.assert_allclose(values, expected, rtol=1e-5)
            assert (values >= stacked.min(0) - 1e-6).all() and (values <= stacked.min(0) + np.log(3) + 1e-6).all()
        else:
            np.testing.assert_allclose(values, stacked.min(0), rtol=1e-5)


def test_memorisation_of_a_conditional_model_draws_every_class(monkeypatch):
    model = build_model(tiny_model_config("vae", num_classes=10)).eval()
    seen = {}
    sample = model.sample

    def spy(n, generator=None, prior="normal", labels=None, **kwargs):
        seen["labels"] = labels
        return sample(n, generator=generator, prior=prior, labels=labels, **kwargs)

    monkeypatch.setattr(model, "sample", spy)
    result = memorisation.check_model(model, "digits", n=40, with_features=False)
    assert sorted(set(seen["labels"].tolist())) == list(range(10)) and result["n"] == 40


def test_the_memorisation_check_keeps_one_copy_of_the_training_split_whatever_the_seed(monkeypatch):
    """A new seed (the sidebar's) or n gives new reference distances, not a new float copy of the training split (all
    of MNIST is 188 MB): the split is read once per process and dataset."""
    from vaegan_core.training import data

    reads = []
    real = data.load_dataset
    monkeypatch.setattr(data, "load_dataset", lambda name, split, *rest, **kw: reads.append(split) or
                        real(name, split, *rest, **kw))
    memorisation._train_data.cache_clear()
    memorisation._split_data.cache_clear()
    try:
        model = build_model(tiny_model_config("gan")).eval()
        first = memorisation.check_model(model, "digits", n=20, seed=1, with_features=False)
        second = memorisation.check_model(model, "digits", n=30, seed=2, with_features=False)
        assert reads.count("train") == 1 and reads.count("test") == 2, reads
        assert (first["n"], second["n"]) == (20, 30)
    finally:
        memorisation._train_data.cache_clear()
        memorisation._split_data.cache_clear()
