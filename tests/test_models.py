import math

import numpy as np
import pytest
import torch

from vaegan_core.errors import ConfigError
from vaegan_core.models import build_model, kl_to_standard_normal
from vaegan_core.training.train import backward_per_group

from conftest import tiny_model_config

KINDS = ("vae", "gan", "vaegan")


@pytest.mark.parametrize("kind", KINDS)
def test_losses_finite(kind, images):
    torch.manual_seed(0)
    model = build_model(tiny_model_config(kind))
    losses, logs = model.training_losses(images)
    assert set(losses) == set(model.parameter_groups())
    for value in list(losses.values()) + list(logs.values()):
        assert torch.isfinite(value).all()


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "calibrated"])
def test_vae_likelihoods_finite(likelihood, images):
    model = build_model(tiny_model_config("vae", likelihood=likelihood))
    losses, _ = model.training_losses(images)
    assert torch.isfinite(losses["vae"])


def test_the_calibrated_likelihood_is_the_gaussian_at_the_optimal_sigma(images):
    """sigma-VAE: -log p(x|z) at sigma^2 = the batch's MSE, the minimum over sigma of the Gaussian's NLL."""
    model = build_model(tiny_model_config("vae", likelihood="calibrated"))
    logits = torch.randn(images.shape)
    nll = model.reconstruction_nll(logits, images)
    squared = (torch.sigmoid(logits) - images).pow(2)
    pixels = squared[0].numel()

    def gaussian(variance):  # per image, averaged over the batch, with the log-normaliser
        return (squared.flatten(1).sum(1) / (2 * variance) + 0.5 * pixels * math.log(variance)).mean()
    best = float(squared.mean())
    assert float(nll) == pytest.approx(float(gaussian(best)), rel=1e-5)
    assert all(float(gaussian(best * factor)) > float(nll) for factor in (0.5, 0.9, 1.1, 2.0))
    # the pixel sigma for the ELBO of new images follows the batches' optimum in training, stays in eval
    before = float(model.pixel_sigma)
    model.train()
    model.reconstruction_nll(logits, images)
    assert float(model.pixel_sigma) != before
    model.eval()
    after = float(model.pixel_sigma)
    model.reconstruction_nll(logits, images)
    assert float(model.pixel_sigma) == after


def test_a_calibrated_vae_saves_and_loads_its_sigma(tmp_path, images):
    from vaegan_core.analysis.anomaly import anomaly_scores
    from vaegan_core.storage.checkpoint import load_model, save_checkpoint

    model = build_model(tiny_model_config("vae", likelihood="calibrated"))
    model.pixel_sigma.fill_(0.05)
    save_checkpoint(tmp_path, model)
    loaded = load_model(tmp_path)
    assert float(loaded.pixel_sigma) == pytest.approx(0.05)
    assert np.isfinite(anomaly_scores(loaded, images)["elbo"]).all()


def test_kl_closed_form():
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    logvar = torch.zeros(2, 2)
    # per sample: 0.5 * sum(mu^2) -> 0.5 and 2.0; batch mean 1.25
    assert kl_to_standard_normal(mu, logvar).item() == pytest.approx(1.25)
    assert kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0
    logvar = torch.full((1, 1), math.log(4.0))  # sigma^2 = 4: 0.5 * (4 - 1 - ln 4)
    assert kl_to_standard_normal(torch.zeros(1, 1), logvar).item() == pytest.approx(0.5 * (3 - math.log(4)))


def _losses(model, images):
    return model.training_losses(images, torch.Generator().manual_seed(1))


def _grads(params):
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]


def _grads_of(loss, params):
    grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params)]


def _equal(a, b):
    return all(torch.allclose(x, y, rtol=1e-5, atol=1e-7) for x, y in zip(a, b))


def test_parameter_groups_partition_the_model():
    for kind in KINDS:
        model = build_model(tiny_model_config(kind))
        ids = [id(p) for params in model.parameter_groups().values() for p in params]
        assert len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_vaegan_gradients_reach_exactly_the_intended_networks(images):
    """Larsen et al. 2016: encoder <- KL + L_llike only; decoder <- gamma L_llike + L_GAN; D <- L_GAN only."""
    torch.manual_seed(0)
    model = build_model(tiny_model_config("vaegan"))
    groups = model.parameter_groups()

    # What each network should receive, each loss differentiated on its own
    losses, logs = _losses(model, images)
    want_encoder = _grads_of(losses["encoder"], groups["encoder"])
    want_decoder = _grads_of(losses["decoder"], groups["decoder"])
    want_discriminator = _grads_of(losses["discriminator"], groups["discriminator"])
    # The test can fail: the decoder loss (it holds L_GAN) does depend on the encoder, and the
    # discriminator loss on the decoder, so a plain backward of the sum would leak into both.
    gan_part = losses["decoder"] - model.config.gamma * logs["feature_nll"]  # logs are detached
    assert any(g.abs().sum() > 0 for g in _grads_of(gan_part, groups["encoder"]))
    assert any(g.abs().sum() > 0 for g in _grads_of(losses["discriminator"], groups["decoder"]))

    # What the Trainer's routed backward gives, from the same forward pass (autograd.grad above
    # left every .grad empty; spectral norm's power iteration makes a second forward differ)
    assert all(p.grad is None for p in model.parameters())
    backward_per_group(losses, groups)
    assert _equal(_grads(groups["encoder"]), want_encoder)
    assert _equal(_grads(groups["decoder"]), want_decoder)
    assert _equal(_grads(groups["discriminator"]), want_discriminator)
    assert any(g.abs().sum() > 0 for g in want_encoder)


@pytest.mark.parametrize("conditional", [False, True])
def test_vaegan_one_or_two_discriminator_passes_give_the_same_step(images, conditional):
    """Two discriminator passes (real; reconstructed | sampled) only save backward work: the losses and every
    network's gradients equal those of the one pass over all three (no spectral norm here: its power iteration
    makes each forward differ)."""
    from vaegan_core.models import VAEGAN

    results = []
    labels = torch.arange(images.shape[0]) % 10 if conditional else None
    for fused in (True, False):
        torch.manual_seed(0)
        model = build_model(tiny_model_config("vaegan", discriminator_norm="none", num_classes=10 if conditional else 0))
        model.fused_discriminator = fused
        losses, logs = model.training_losses(images, torch.Generator().manual_seed(1), labels=labels)
        groups = model.parameter_groups()
        backward_per_group(losses, groups)
        results.append((losses, logs, {name: _grads(params) for name, params in groups.items()}))
    (losses, logs, grads), (split_losses, split_logs, split_grads) = results
    assert VAEGAN.fused_discriminator is False  # the default: two passes
    for name in losses:
        assert torch.allclose(losses[name], split_losses[name], rtol=1e-5), name
        assert _equal(grads[name], split_grads[name]), name
    assert torch.allclose(logs["d_accuracy"], split_logs["d_accuracy"])


def test_a_vaegan_with_batchnorm_in_its_discriminator_keeps_one_pass(images, monkeypatch):
    """BatchNorm's statistics over real | generated together differ from two passes': such a discriminator always
    sees one batch of all three."""
    model = build_model(tiny_model_config("vaegan", discriminator_norm="batch"))
    calls = []
    monkeypatch.setattr(model.discriminator, "forward",
                        lambda x, labels=None, f=model.discriminator.forward: calls.append(x.shape[0]) or f(x, labels))
    model.training_losses(images, torch.Generator().manual_seed(1))
    assert calls == [3 * images.shape[0]]
    spectral = build_model(tiny_model_config("vaegan"))
    calls.clear()
    monkeypatch.setattr(spectral.discriminator, "forward",
                        lambda x, labels=None, f=spectral.discriminator.forward: calls.append(x.shape[0]) or f(x, labels))
    spectral.training_losses(images, torch.Generator().manual_seed(1))
    assert calls == [images.shape[0], 2 * images.shape[0]]


def test_gan_discriminator_step_leaves_the_decoder_untouched(images):
    torch.manual_seed(0)
    model = build_model(tiny_model_config("gan"))
    groups = model.parameter_groups()
    before = [p.detach().clone() for p in model.decoder.parameters()]
    losses, _ = _losses(model, images)
    losses["discriminator"].backward(inputs=groups["discriminator"])
    torch.optim.Adam(groups["discriminator"], lr=0.1).step()
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.decoder.parameters()))


@pytest.mark.parametrize("kind", KINDS)
def test_a_few_steps_on_one_batch_lower_the_loss(kind):
    """Overfit one batch of real digits: the loss each model descends must go down."""
    from vaegan_core.training.data import load_dataset
    from vaegan_core.training.train import Trainer
    from conftest import tiny_train_config

    images, labels = load_dataset("digits")
    images, labels = images[:16], labels[:16]
    trainer = Trainer(tiny_model_config(kind), tiny_train_config(batch_size=16, lr=1e-3), "/nonexistent",
                      data=(images, labels), progress=False)
    batch = images.float() / 255
    key = {"vae": "loss", "gan": "loss_discriminator", "vaegan": "recon_mse"}[kind]
    values = [float(trainer.train_step(batch)[key]) for _ in range(30)]
    assert sum(values[-3:]) / 3 < values[0]


def test_sample_is_reproducible_and_in_range():
    model = build_model(tiny_model_config("vaegan")).eval()
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (5, 1, 28, 28)
    assert a.min() >= 0 and a.max() <= 1 and a.device.type == "cpu"


def test_reconstruct_and_encode_shapes():
    model = build_model(tiny_model_config("vae")).eval()
    images = torch.rand(3, 1, 28, 28)
    mu, logvar = model.encode(images)
    assert mu.shape == logvar.shape == (3, 8)
    assert model.reconstruct(images).shape == images.shape


def test_gan_has_no_encoder():
    model = build_model(tiny_model_config("gan"))
    with pytest.raises(ConfigError, match="has no encoder"):
        model.reconstruct(torch.rand(2, 1, 28, 28))


@pytest.mark.parametrize("bad, message", [
    (torch.rand(2, 28, 28), "shape"),
    (torch.rand(2, 3, 28, 28), "shape"),
    (torch.randint(0, 255, (2, 1, 28, 28), dtype=torch.uint8), "float"),
    (torch.rand(2, 1, 28, 28) * 255, r"\[0, 1\]"),
])
def test_bad_images_are_refused(bad, message):
    model = build_model(tiny_model_config("vaegan"))
    with pytest.raises(ConfigError, match=message):
        model.encode(bad)


def test_equilibrium_pauses_a_player(images):
    """Larsen et al.'s trick: a band far above every BCE pauses D; far below, the decoder's GAN term."""
    model = build_model(tiny_model_config("vaegan", equilibrium=True, equilibrium_target=100.0, equilibrium_margin=0.1))
    losses, logs = _losses(model, images)
    assert "discriminator" not in losses and logs["train_decoder_gan"] == 1.0
    model = build_model(tiny_model_config("vaegan", equilibrium=True, equilibrium_target=-100.0, equilibrium_margin=0.1))
    losses, logs = _losses(model, images)
    assert "discriminator" in losses and logs["train_decoder_gan"] == 0.0
    assert torch.equal(losses["decoder"], model.config.gamma * logs["feature_nll"])


def test_ema_of_the_decoder_is_the_average_inference_uses():
    """Yazici et al.'s moving average: starts equal to the decoder, follows it with decay
    min(d, (1 + t) / (10 + t)), copies the buffers, and is what decode() uses (unless use_ema is off)."""
    from vaegan_core.models import count_parameters

    model = build_model(tiny_model_config("gan", ema_decay=0.9))
    plain = build_model(tiny_model_config("gan"))
    assert count_parameters(model) == count_parameters(plain)  # the average is not trained
    for averaged, current in zip(model.decoder_ema.state_dict().values(), model.decoder.state_dict().values()):
        assert torch.equal(averaged, current)
    before = [p.detach().clone() for p in model.decoder_ema.parameters()]
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.add_(1.0)
        model.decoder.project[1].running_mean.add_(2.0)
    model.update_ema(step=100)  # decay min(0.9, 101 / 110) = 0.9
    for old, new, current in zip(before, model.decoder_ema.parameters(), model.decoder.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * current)
    assert torch.equal(model.decoder_ema.project[1].running_mean, model.decoder.project[1].running_mean)
    model.update_ema(step=1)  # early on the average follows the weights closely: decay 2 / 11
    model.eval()
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.decode(z), torch.sigmoid(model.decoder_ema(z)))
    model.use_ema = False
    torch.testing.assert_close(model.decode(z), torch.sigmoid(model.decoder(z)))
    with pytest.raises(ConfigError, match="ema_decay must be in"):
        tiny_model_config("gan", ema_decay=1.0)


def test_error_heatmap_and_sharpness_kept():
    from vaegan_core.images import error_heatmap, sharpness_kept

    image = torch.zeros(1, 28, 28)
    image[:, 8:20, 12:16] = 1.0  # a crisp bar
    assert error_heatmap(image, image).max() == 0  # no error: all black
    off = image.clone()
    off[:, 8:20, 12:14] = 0.0  # half the bar missing: full error there
    heat = error_heatmap(image, off)
    assert heat.shape == (28, 28, 3) and heat.dtype == np.uint8
    assert (heat[10, 12] == 255).all() and (heat[10, 15] == 0).all()  # white where it errs, black where it does not
    assert (error_heatmap(image, off, top=2.0)[10, 12] < 255).any()  # a larger top: the same error shows darker
    blurred = torch.nn.functional.avg_pool2d(image[None], 5, 1, 2)[0]
    assert sharpness_kept(image, image) == pytest.approx(1.0)
    assert sharpness_kept(image, blurred) < 0.5  # blur loses most of the edge energy


def _losses_with(model, images, **changes):
    """The VAE-GAN's training losses with some model settings changed, from the same noise and weights."""
    import dataclasses

    model.config = dataclasses.replace(model.config, **changes)
    losses, logs = model.training_losses(images, torch.Generator().manual_seed(0))
    return {name: float(loss.detach()) for name, loss in losses.items()}


def test_the_prior_samples_gan_weight_scales_their_terms_alone(images):
    """--prior-gan-weight w: D's loss and the decoder's GAN loss take w x their N(0, I) samples' terms; the
    reconstructions' terms and the encoder's loss do not move (eval mode: spectral norm and BatchNorm fixed)."""
    torch.manual_seed(0)
    model = build_model(tiny_model_config("vaegan")).eval()
    zero, one, two = (_losses_with(model, images, prior_gan_weight=w) for w in (0.0, 1.0, 2.0))
    for name in ("discriminator", "decoder"):
        assert abs(one[name] - zero[name]) > 1e-3  # the prior samples' term is there ...
        assert math.isclose(two[name] - one[name], one[name] - zero[name], rel_tol=1e-4)  # ... and linear in w
    assert zero["encoder"] == one["encoder"] == two["encoder"]


def test_the_feature_stage_picks_the_layer_of_the_reconstruction(images):
    """--feature-stage: D's features (Dis_l) come from the stage asked for (28 -> 14 -> 7 -> 4), the logit from the
    last stage whatever the choice; a stage the image does not have is refused."""
    torch.manual_seed(0)
    last = build_model(tiny_model_config("vaegan")).eval()
    shapes = {}
    for stage in (1, 2, 3):
        model = build_model(tiny_model_config("vaegan", feature_stage=stage)).eval()
        model.load_state_dict(last.state_dict())
        logits, features = model.discriminator(images)
        shapes[stage] = tuple(features.shape[1:])
        assert torch.allclose(logits, last.discriminator(images)[0])
    assert shapes == {1: (8, 14, 14), 2: (16, 7, 7), 3: (32, 4, 4)}
    assert torch.equal(model.discriminator(images)[1], last.discriminator(images)[1])  # 3 is the default, the last
    stage2 = build_model(tiny_model_config("vaegan", feature_stage=2)).eval()
    stage2.load_state_dict(last.state_dict())
    assert _losses_with(stage2, images)["encoder"] != _losses_with(last, images)["encoder"]
    with pytest.raises(ConfigError, match="feature_stage must be between 0 and 3"):
        tiny_model_config("vaegan", feature_stage=4)
    assert tiny_model_config("vaegan", image_size=32, feature_stage=3).feature_stage == 3
