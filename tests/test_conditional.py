"""Conditional VAE, GAN and VAE-GAN: shapes, label routing, gradient routing, save / load / resume, bad labels."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from conftest import tiny_model_config, tiny_train_config
from vaegan_core.models import conditional
from vaegan_core.storage.checkpoint import load_model
from vaegan_core.cli import main
from vaegan_core.errors import ConfigError
from vaegan_core.models import build_model
from vaegan_core.training.train import Trainer, backward_per_group

KINDS = ("vae", "gan", "vaegan")
LABELS = torch.arange(16) % 10


def conditional_model(kind):
    torch.manual_seed(0)
    return build_model(tiny_model_config(kind, num_classes=10))


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_finite_losses(kind, images):
    model = conditional_model(kind)
    losses, logs = model.training_losses(images, torch.Generator().manual_seed(1), labels=LABELS)
    assert all(torch.isfinite(loss) for loss in losses.values())
    model.eval()
    assert model.sample(5, torch.Generator().manual_seed(0), labels=[0, 1, 2, 3, 4]).shape == (5, 1, 28, 28)
    if kind != "gan":
        mu, logvar = model.encode(images, LABELS)
        assert mu.shape == logvar.shape == (16, 8)
        assert model.reconstruct(images, LABELS).shape == images.shape


@pytest.mark.parametrize("kind", KINDS)
def test_the_label_changes_the_image_and_decoding_is_deterministic(kind):
    model = conditional_model(kind).eval()
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(0)).expand(10, -1).contiguous()
    images = model.decode(z, list(range(10)))
    assert not torch.allclose(images[0], images[1])  # same z, other y: another image
    again = model.decode(z, list(range(10)))
    assert torch.equal(images, again)


@pytest.mark.parametrize("kind", KINDS)
def test_unconditional_models_keep_their_weights_names(kind):
    """Shipped (unconditional) checkpoints must still load: no label modules unless num_classes > 0."""
    plain = build_model(tiny_model_config(kind))
    assert not any("label" in name for name in plain.state_dict())
    assert any("label" in name for name in conditional_model(kind).state_dict())


def test_vaegan_gradient_routing_holds_with_labels(images):
    model = conditional_model("vaegan")
    groups = model.parameter_groups()
    losses, logs = model.training_losses(images, torch.Generator().manual_seed(1), labels=LABELS)
    want = {name: torch.autograd.grad(losses[name], groups[name], retain_graph=True, allow_unused=True)
            for name in ("encoder", "decoder", "discriminator")}
    backward_per_group(losses, groups)
    for name, grads in want.items():
        for parameter, expected in zip(groups[name], grads):
            expected = torch.zeros_like(parameter) if expected is None else expected
            got = torch.zeros_like(parameter) if parameter.grad is None else parameter.grad
            assert torch.allclose(got, expected, atol=1e-6), name
    embed = model.discriminator.label_embed
    weight = embed.parametrizations.weight.original if hasattr(embed, "parametrizations") else embed.weight
    assert weight.grad is not None and weight.grad.abs().sum() > 0  # D learns from the labels


@pytest.mark.parametrize("labels, message", [
    (None, "conditional on 10 classes: pass labels="),
    ([1, 2], "2 label\\(s\\) for 3 image"),
    ([0, 1, 10], "from 0 to 9"),
    ([0.5, 1, 2], "integers"),
    ("abc", "class indices"),
])
def test_bad_labels_are_one_line(labels, message):
    model = conditional_model("vaegan").eval()
    with pytest.raises(ConfigError, match=message):
        model.sample(3, labels=labels)


def test_labels_for_an_unconditional_model_are_refused():
    model = build_model(tiny_model_config("vae")).eval()
    with pytest.raises(ConfigError, match="unconditional"):
        model.sample(2, labels=[1, 2])


@pytest.mark.parametrize("text, message", [
    ("20a6", "only the class digits"), ("", "empty"), ("   ", "empty"), ("1" * 200, "at most 40"),
    ("2²", "only the class digits"), ("\u0663", "only the class digits"),  # superscript two, Arabic-Indic three
])
def test_bad_text_is_one_line(text, message):
    with pytest.raises(ConfigError, match=message):
        conditional.parse_text(text, 10)


@pytest.mark.parametrize("text", ["²", "1,\u0663", "-", "1,-²"])
def test_labels_that_only_look_like_digits_are_one_line(text):
    with pytest.raises(ConfigError, match="not a class index"):
        conditional.parse_labels(text, 10)


def test_write_and_style_grid_share_one_style():
    model = conditional_model("vae").eval()
    line = conditional.write(model, [2, 0, 2, 6], seed=3)
    assert line.shape == (1, 28, 4 * 28)
    assert torch.equal(line[:, :, :28], line[:, :, 56:84])  # the same class in the same style: the same glyph
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(3))
    grid = conditional.style_grid(model, z)
    assert grid.shape == (10, 1, 28, 28)
    assert torch.equal(grid[6], line[:, :, 84:])
    code, label = conditional.style_code(model, grid[3:4], label=3)
    assert code.shape == (1, 8) and label == 3


def test_train_save_load_resume_and_cli(tmp_path, capsys):
    folder = tmp_path / "cvaegan"
    Trainer(tiny_model_config("vaegan", num_classes=10), tiny_train_config(), folder, progress=False).fit()
    model = load_model(folder)
    assert model.config.num_classes == 10 and model.conditional
    assert main(["train", "--resume", "--out", str(folder), "--epochs", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["info", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == {"conditional": True, "count": 10,
                                                               "names": [str(i) for i in range(10)]}
    out = tmp_path / "line.png"
    assert main(["sample", str(folder), "--text", "2026", "--out", str(out)]) == 0
    assert Image.open(out).size == (4 * 28, 28)
    assert main(["sample", str(folder), "--labels", "3,3,7", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["sample", str(folder), "--text", "7x", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "class digits" in error and error.count("\n") == 1
    # repeating the run's own --conditional is no change; a different code size is refused
    assert main(["train", "--resume", "--out", str(folder), "--epochs", "3", "--conditional", "--no-progress"]) == 0
    assert load_model(folder).conditional
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(folder), "--epochs", "4", "--latent-dim", "4"]) == 2
    assert "--latent-dim cannot change when resuming" in capsys.readouterr().err


def test_label_adherence_intra_fid_and_probe_on_constructed_cases():
    import numpy as np

    from vaegan_core.metrics.conditional_scores import intra_class_fid, label_adherence, label_probe

    requested = np.array([0, 0, 1, 1])
    probabilities = np.eye(2)[[0, 1, 1, 1]]  # one of the two class-0 samples is read as class 1
    found = label_adherence(probabilities, requested, 2)
    assert found["label_adherence"] == 0.75 and found["label_adherence_per_class"] == [0.5, 1.0]
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    real_labels, fake_labels = np.arange(2000) % 2, np.arange(2000) % 2
    same = intra_class_fid(real, real_labels, fake, fake_labels, 2)
    shifted = intra_class_fid(real, real_labels, fake + np.array([3.0, 0, 0, 0]), fake_labels, 2)
    assert same["intra_fid"] < 0.1 and shifted["intra_fid"] == pytest.approx(9.0, abs=0.5)
    assert intra_class_fid(real[:8], real_labels[:8], fake[:8], fake_labels[:8], 2)["intra_fid"] is None
    # forced (Inception's 2,048 features against 1,000 images a class): computed rank-deficient, but a class with
    # fewer than 2 images on a side still has none
    forced = intra_class_fid(real[:8], real_labels[:8], fake[:8], fake_labels[:8], 2, force=True)
    assert all(value is not None and value >= 0 for value in forced["intra_fid_per_class"])
    lonely = intra_class_fid(real[:8], real_labels[:8], fake[:3], np.array([0, 0, 1]), 2, force=True)
    assert lonely["intra_fid_per_class"][1] is None and lonely["intra_fid_per_class"][0] is not None
    labels = np.arange(1000) % 10
    separable = np.eye(10)[labels] * 5 + rng.normal(size=(1000, 10)) * 0.1
    assert label_probe(separable, labels) > 0.99
    assert label_probe(rng.normal(size=(1000, 10)), labels) < 0.25  # codes without the class: about chance


def test_eval_of_a_conditional_checkpoint_stores_its_scores(tmp_path):
    from vaegan_core.storage.zoo import read_diagnostics, read_metrics

    folder = tmp_path / "cvae"
    Trainer(tiny_model_config("vae", num_classes=10), tiny_train_config(), folder, progress=False).fit()
    assert main(["eval", str(folder), "--n", "300", "--no-progress"]) == 0
    scores = read_metrics(folder)["lenet-test"]["metrics"]
    assert 0 <= scores["label_adherence"] <= 1 and len(scores["label_adherence_per_class"]) == 10
    assert "intra_fid" in scores  # None here: digits has too few test images per class for 128 features
    # the samples' classes are drawn with the training data's class shares, which the trainer recorded
    shares = json.loads((folder / "config.json").read_text())["state"]["class_frequencies"]
    assert len(shares) == 10 and sum(shares) == pytest.approx(1, abs=1e-4)
    assert load_model(folder).class_frequencies == pytest.approx(shares)
    assert read_metrics(folder)["lenet-test"]["labels_drawn_from"] == "training data"
    probe = read_diagnostics(folder)["label_probe"]
    assert probe["conditional"] is True and 0 <= probe["accuracy"] <= 1


def test_class_shares_come_from_the_training_record_else_the_real_split(tmp_path):
    from vaegan_core.storage.checkpoint import _class_frequencies
    from vaegan_core.metrics.evaluate import label_shares

    model = conditional_model("vae")
    assert _class_frequencies({"class_frequencies": [0.5, 0.5]}, 10) is None  # the wrong number of classes
    assert _class_frequencies({"class_frequencies": ["a"] * 10}, 10) is None
    assert _class_frequencies({"class_frequencies": [0.1] * 10}, 10) == [0.1] * 10
    shares, source = label_shares(model, torch.tensor([3, 3, 3, 1]))  # a checkpoint without the record
    assert source == "real split" and shares[3] == 0.75 and shares[1] == 0.25 and shares.sum() == 1
    model.class_frequencies = [0.0] * 9 + [1.0]
    shares, source = label_shares(model, torch.tensor([3, 3]))
    assert source == "training data" and shares[9] == 1
    assert label_shares(build_model(tiny_model_config("vae")), torch.tensor([1])) == (None, None)


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_decoder_leans_on_z_or_on_the_label_by_family(kind):
    """The GAN's new generator must draw on z more than on the label (with torch's default N(0, 1) label embedding
    the trained conditional GAN drew one image per class: recall 0); the VAE's and the VAE-GAN's new decoder leans
    on the label, which keeps the class out of z (see nets.label_init_std)."""
    torch.manual_seed(0)
    model = build_model(tiny_model_config(kind, num_classes=10, latent_dim=32, width=32)).train()
    z = torch.randn(10, 32).repeat_interleave(10, 0)  # a 10 x 10 grid: each code with every label
    labels = torch.arange(10).repeat(10)
    with torch.no_grad():
        out = model.decoder(z, labels).reshape(10, 10, -1)  # [code, label, pixel]
    by_code = out.mean(1).var(0).mean()  # how much the pixels move with the code (label averaged out)
    by_label = out.mean(0).var(0).mean()  # ... and with the label (code averaged out)
    if kind == "gan":
        assert by_code > 3 * by_label
    else:
        assert by_label > 3 * by_code


def test_a_space_in_the_text_is_a_gap_not_dropped():
    """'3 14' is written as 3, a gap, 14, not as 314; runs of spaces are one gap, and the ends are trimmed."""
    assert conditional.parse_text("3 14", 10) == [3, conditional.SPACE, 1, 4]
    assert conditional.parse_text("  3    14 ", 10) == [3, conditional.SPACE, 1, 4]
    assert conditional.parse_text("314", 10) == [3, 1, 4]
    model = conditional_model("vae").eval()
    spaced = conditional.write(model, [3, conditional.SPACE, 1, 4], seed=1)
    joined = conditional.write(model, [3, 1, 4], seed=1)
    assert spaced.shape[2] == joined.shape[2] + 14 and float(spaced[:, :, 28:42].abs().max()) == 0.0
    assert torch.equal(spaced[:, :, 42:], joined[:, :, 28:])  # the same glyphs, in the same style
    assert conditional.glyph_names([3, conditional.SPACE, 1], [str(i) for i in range(10)]) == ["3", " ", "1"]
