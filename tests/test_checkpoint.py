import json

import pytest
import torch

from vaegan_core.storage.checkpoint import info, load_model, load_trainer_state, save_checkpoint
from vaegan_core.errors import CheckpointError
from vaegan_core.models import build_model

from conftest import tiny_model_config, tiny_train_config


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_model_config("vaegan")).eval()
    save_checkpoint(tmp_path, model, tiny_train_config(), {"epoch": 1, "step": 4})
    return model, tmp_path


@pytest.mark.parametrize("kind", ["vae", "gan", "vaegan"])
def test_save_load_gives_identical_outputs(tmp_path, kind):
    torch.manual_seed(0)
    model = build_model(tiny_model_config(kind))
    # give BatchNorm running statistics something other than their initial values
    model.train()
    model.training_losses(torch.rand(8, 1, 28, 28))
    model.eval().to(memory_format=torch.channels_last)  # the layout the Trainer and load_model use
    save_checkpoint(tmp_path, model, tiny_train_config())
    loaded = load_model(tmp_path)
    assert not loaded.training and type(loaded) is type(model) and loaded.config == model.config
    z = model.prior().sample(6, torch.Generator().manual_seed(0))
    assert torch.equal(model.decode(z), loaded.decode(z))
    if kind != "gan":
        images = torch.rand(4, 1, 28, 28)
        assert torch.equal(model.reconstruct(images), loaded.reconstruct(images))


def test_folder_layout(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    assert config["class"] == "VAEGAN" and config["model"]["kind"] == "vaegan"
    assert config["train"]["dataset"] == "digits" and config["package_version"]
    assert (folder / "model.safetensors").is_file()


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope")


def test_missing_weights(saved):
    _, folder = saved
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_model(folder)


def test_truncated_weights(saved):
    _, folder = saved
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="model.safetensors is truncated or corrupt"):
        load_model(folder)


def test_garbage_weights(saved):
    _, folder = saved
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(folder)


def test_corrupt_config(saved):
    _, folder = saved
    (folder / "config.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        load_model(folder)


def test_config_with_unknown_field(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["model"]["widht"] = 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unknown ModelConfig field"):
        load_model(folder)


def test_mismatched_weights(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["model"]["width"] = 16  # the weights were saved at width 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not match its config.json .*wrong shape"):
        load_model(folder)


def test_wrong_class(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["class"] = "GAN"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="names class 'GAN'"):
        load_model(folder)


def test_trainer_state_is_never_unpickled_unsafely(tmp_path):
    """A trainer_state.pt holding an arbitrary Python object is refused, not executed."""

    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"payload": Evil()}, tmp_path / "trainer_state.pt")
    with pytest.raises(CheckpointError, match="trainer_state.pt is truncated or not a vaegan trainer state") as refused:
        load_trainer_state(tmp_path)
    # never the advice to unpickle it (torch's own message suggests weights_only=False); a way on instead
    assert "weights_only" not in str(refused.value) and "--resume --reset-optimizer" in str(refused.value)


def test_not_a_repo_id_nor_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(str(tmp_path / "a" / "b" / "c"))


def test_unreachable_hub_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="neither a local folder nor a reachable Hugging Face Hub repo"):
        load_model("someone/no-such-model")


def test_info_summary(saved):
    _, folder = saved
    summary = info(folder)
    assert summary["class"] == "VAEGAN" and summary["parameters"] > 0
    assert set(summary["parameters_by_network"]) == {"encoder", "decoder", "discriminator"}
    assert "model.safetensors" in summary["files"]


def test_model_card_carries_notes_and_metrics(tmp_path):
    from vaegan_core.storage.card import refresh_model_card

    folder = tmp_path / "run"
    save_checkpoint(folder, build_model(tiny_model_config("vae")), tiny_train_config(), {"epoch": 1})
    (folder / "notes.md").write_text("Tried a larger beta; it blurred the samples.\n")
    (folder / "metrics.json").write_text(json.dumps({"lenet-test": {"extractor": "lenet-digits", "split": "test",
                                                                    "n": 500, "metrics": {"fid": 12.5}}}))
    refresh_model_card(folder)
    card = (folder / "README.md").read_text()
    assert "## Notes" in card and "larger beta" in card
    assert "| lenet-digits | test | N(0, I) | 500 | 12.50 |" in card


def test_zoo_open_model_loads_or_says_why(tmp_path):
    """What both apps show: the model, the command that trains a missing one, or one line on a broken one."""
    from vaegan_core.storage import zoo

    calls = []

    def loader(folder, fingerprint):
        calls.append(fingerprint)
        return load_model(folder)

    model, message = zoo.open_model("mnist", "vaegan", loader, tmp_path)
    assert model is None and "vaegan train --model vaegan --dataset mnist" in message and not calls
    folder = zoo.checkpoint_dir("mnist", "vaegan", tmp_path)
    save_checkpoint(folder, build_model(tiny_model_config("vaegan")), tiny_train_config(dataset="mnist"))
    model, message = zoo.open_model("mnist", "vaegan", loader, tmp_path)
    assert message is None and model.config.kind == "vaegan" and len(calls) == 1
    (folder / "model.safetensors").write_bytes(b"garbage")
    model, message = zoo.open_model("mnist", "vaegan", loader, tmp_path)
    assert model is None and message.startswith("VAE-GAN: ") and "\n" not in message
    assert calls[1] != calls[0]  # new files, new fingerprint: no stale cache hit
    # the apps show paths under the checkpoints folder, never the server's absolute path
    assert "checkpoints/mnist/vaegan/model.safetensors" in message and str(tmp_path) not in message
    missing = zoo.missing_message("fashion-mnist", "gan", tmp_path)
    assert "--out checkpoints/fashion-mnist/gan" in missing and str(tmp_path) not in missing
    assert zoo.root_description(tmp_path) == f"the folder {tmp_path.name!r}"
    assert zoo.root_description(zoo.SHIPPED_CHECKPOINTS) == "the ones shipped with the app"


def test_every_file_of_a_folder_gets_the_same_mode(tmp_path):
    """safetensors writes its files 0600; a checkpoint folder's files all get the mode of a new file."""
    import os
    import stat

    from vaegan_core.storage.files import FILE_MODE
    from vaegan_core.training.train import Trainer

    Trainer(tiny_model_config("vae"), tiny_train_config(), tmp_path, progress=False).fit()
    modes = {path.name: stat.S_IMODE(os.stat(path).st_mode) for path in tmp_path.iterdir() if path.is_file()}
    assert "model.safetensors" in modes and set(modes.values()) == {FILE_MODE}, modes
