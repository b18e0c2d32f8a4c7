import pytest
import torch

from vaegan_core.models.nets import Decoder, Discriminator, Encoder, stage_sizes

from conftest import tiny_model_config


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 1), (32, 3), (64, 3), (16, 1)])
def test_shapes(size, channels):
    config = tiny_model_config(image_size=size, channels=channels)
    images = torch.rand(3, channels, size, size)
    mu, logvar = Encoder(config)(images)
    assert mu.shape == logvar.shape == (3, config.latent_dim)
    logits = Decoder(config)(mu)
    assert logits.shape == images.shape
    d_logits, features = Discriminator(config)(images)
    assert d_logits.shape == (3,)
    stages = len(stage_sizes(size)) - 1
    assert features.shape == (3, config.width * 2 ** (stages - 1), 4, 4)


def test_stage_sizes():
    assert stage_sizes(28) == [28, 14, 7, 4]
    assert stage_sizes(32) == [32, 16, 8, 4]


def test_same_networks_in_every_model():
    from vaegan_core.models import build_model

    models = {kind: build_model(tiny_model_config(kind)) for kind in ("vae", "gan", "vaegan")}
    decoder_shapes = {kind: [p.shape for p in m.decoder.parameters()] for kind, m in models.items()}
    assert decoder_shapes["vae"] == decoder_shapes["gan"] == decoder_shapes["vaegan"]
    assert [p.shape for p in models["vae"].encoder.parameters()] == [p.shape for p in models["vaegan"].encoder.parameters()]
    assert ([p.shape for p in models["gan"].discriminator.parameters()]
            == [p.shape for p in models["vaegan"].discriminator.parameters()])
