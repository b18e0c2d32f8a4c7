import json
import os
import sys
from pathlib import Path

import pytest
import torch

from vaegan_core.storage.checkpoint import load_model
from vaegan_core.errors import CheckpointError, ConfigError, TrainingDiverged
from vaegan_core.training.train import Trainer

from conftest import tiny_model_config, tiny_train_config


def _weights(folder):
    return load_model(folder).state_dict()


@pytest.mark.parametrize("kind", ["vae", "gan", "vaegan"])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, kind):
    config = tiny_train_config(epochs=2)
    Trainer(tiny_model_config(kind), config, tmp_path / "straight", progress=False).fit()

    Trainer(tiny_model_config(kind), tiny_train_config(epochs=1), tmp_path / "resumed", progress=False).fit()
    resumed = Trainer.resume(tmp_path / "resumed", epochs=2, progress=False)
    assert resumed.epoch == 1
    resumed.fit()

    straight, again = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert all(torch.equal(straight[k], again[k]) for k in straight)
    lines = lambda p: [json.loads(l)["step"] for l in (p / "history.jsonl").read_text().splitlines()]  # noqa: E731
    assert lines(tmp_path / "straight") == lines(tmp_path / "resumed")


def test_seed_makes_runs_reproducible_and_differ_by_seed(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        Trainer(tiny_model_config("vae"), tiny_train_config(seed=seed), tmp_path / name, progress=False).fit()
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_outputs_of_a_run(tmp_path):
    summary = Trainer(tiny_model_config("vaegan"), tiny_train_config(epochs=2), tmp_path, progress=False).fit()
    assert summary["epoch"] == 2 and summary["step"] == 8
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    records = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    for key in ("loss_discriminator", "loss_encoder", "loss_decoder", "kl", "feature_nll", "recon_mse",
                "d_real", "d_fake", "d_accuracy", "images_per_second"):
        assert key in records[0]
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: vaegan") and "VAEGAN on digits" in card
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_refuses_to_overwrite_a_checkpoint(tmp_path):
    Trainer(tiny_model_config("vae"), tiny_train_config(), tmp_path, progress=False).fit()
    with pytest.raises(CheckpointError, match="already holds a checkpoint; continue it"):
        Trainer(tiny_model_config("vae"), tiny_train_config(), tmp_path, progress=False)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    Trainer(tiny_model_config("vaegan"), tiny_train_config(epochs=1), tmp_path, progress=False).fit()
    good = {k: v.clone() for k, v in _weights(tmp_path).items()}

    trainer = Trainer.resume(tmp_path, epochs=3, progress=False)
    original = trainer.model.training_losses
    calls = {"n": 0}

    def poisoned(images, generator=None):
        losses, logs = original(images, generator)
        calls["n"] += 1
        if calls["n"] >= 2:  # the second step of epoch 2 blows up
            losses = {k: v * float("nan") for k, v in losses.items()}
        return losses, logs

    monkeypatch.setattr(trainer.model, "training_losses", poisoned)
    with pytest.raises(TrainingDiverged, match=r"became NaN or infinite; the last good checkpoint \(epoch 1\) is kept"):
        trainer.fit()
    kept = _weights(tmp_path)
    assert all(torch.equal(good[k], kept[k]) for k in good)
    assert json.loads((tmp_path / "config.json").read_text())["state"]["epoch"] == 1


def test_wrong_image_shape_and_tiny_dataset(tmp_path):
    with pytest.raises(ConfigError, match="images are 1x28x28 but the model expects 1x32x32"):
        Trainer(tiny_model_config("vae", image_size=32), tiny_train_config(), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="fewer than one batch"):
        Trainer(tiny_model_config("vae"), tiny_train_config(limit=8), tmp_path, progress=False)


def test_device_errors():
    from vaegan_core.training.train import resolve_device

    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.slow
def test_brief_training_on_real_mnist(tmp_path, data_dir):
    """A short VAE-GAN run on the real MNIST files: losses stay finite and reconstructions improve."""
    trainer = Trainer(tiny_model_config("vaegan", width=16, latent_dim=16),
                      tiny_train_config(dataset="mnist", batch_size=64, limit=3200, log_every=10),
                      tmp_path, data_root=data_dir, progress=False)
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert records[-1]["recon_mse"] < records[0]["recon_mse"]
    assert (tmp_path / "samples" / "epoch_001.png").is_file()
    model = load_model(tmp_path)
    assert model.sample(4).shape == (4, 1, 28, 28)


def test_resume_on_another_device_reseeds_with_a_warning(tmp_path):
    """A run trained on a GPU continues on a CPU: its CUDA noise state cannot be restored there."""
    Trainer(tiny_model_config("vae"), tiny_train_config(), tmp_path, progress=False).fit()
    state = torch.load(tmp_path / "trainer_state.pt", weights_only=True)
    state["noise_device"] = "cuda"
    state["noise_rng"] = torch.zeros(16, dtype=torch.uint8)  # what a CPU generator cannot take
    torch.save(state, tmp_path / "trainer_state.pt")
    with pytest.warns(UserWarning, match="noise stream is reseeded"):
        trainer = Trainer.resume(tmp_path, epochs=2, progress=False)
    assert trainer.fit()["epoch"] == 2


def test_equilibrium_pause_skips_the_discriminator_step(images):
    """When Larsen's equilibrium trick pauses D, the Trainer must not step D's optimizer at all."""
    model_config = tiny_model_config("vaegan", equilibrium=True, equilibrium_target=100.0, equilibrium_margin=0.1)
    data = ((images * 255).to(torch.uint8), torch.zeros(16, dtype=torch.int64))
    trainer = Trainer(model_config, tiny_train_config(), "/nonexistent", data=data, progress=False)
    before = [p.detach().clone() for p in trainer.model.discriminator.parameters()]
    decoder_before = [p.detach().clone() for p in trainer.model.decoder.parameters()]
    logs = trainer.train_step(images)
    assert logs["train_discriminator"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(decoder_before, trainer.model.decoder.parameters()))


def test_a_torn_last_history_line_does_not_block_resume_or_info(tmp_path):
    """A kill during a history write leaves half a line: resume drops it and goes on, info skips it."""
    from vaegan_core.storage.checkpoint import info

    Trainer(tiny_model_config("vae"), tiny_train_config(epochs=1), tmp_path, progress=False).fit()
    history = tmp_path / "history.jsonl"
    complete = history.read_text()
    history.write_bytes(complete.encode() + b'{"step": 9, "loss": 1.2')  # torn mid-write
    assert info(tmp_path)["last_log"] == json.loads(complete.splitlines()[-1])
    history.write_bytes(complete.encode() + b'\xff\xfe not utf-8\n{"step": 9, "loss": 1.2')
    assert info(tmp_path)["last_log"] == json.loads(complete.splitlines()[-1])
    trainer = Trainer.resume(tmp_path, epochs=2, progress=False)
    assert history.read_text() == complete  # the torn line and the bad bytes are gone
    assert trainer.fit()["epoch"] == 2
    assert all(json.loads(line) for line in history.read_text().splitlines())


class _Killed(BaseException):
    """What a kill does to the process: nothing after it runs (not an Exception, so nothing catches it)."""


def _writes_of_a_save(tmp_path) -> int:
    """How many files one per-epoch save renames into place (samples, trainer state, weights, config, card)."""
    import vaegan_core.storage.files as files

    Trainer(tiny_model_config("vae"), tiny_train_config(epochs=1), tmp_path / "count", progress=False).fit()
    calls = []
    real_replace = files.os.replace
    files.os.replace = lambda *args: calls.append(args) or real_replace(*args)
    try:
        Trainer.resume(tmp_path / "count", epochs=2, progress=False).fit()
    finally:
        files.os.replace = real_replace
    return len(calls) - 1  # the resume's one rewrite of history.jsonl is not part of the save


@pytest.mark.parametrize("kind", ["vae", "vaegan"])
def test_a_kill_at_any_write_of_a_save_leaves_a_resumable_run(tmp_path, monkeypatch, kind):
    """Kill the run at each file write of the second epoch's save (before each rename, after the last), then
    resume: every time the result equals the uninterrupted run, weights and history alike."""
    import vaegan_core.storage.files as files

    writes = _writes_of_a_save(tmp_path)
    assert writes >= 4
    Trainer(tiny_model_config(kind), tiny_train_config(epochs=3), tmp_path / "straight", progress=False).fit()
    straight = _weights(tmp_path / "straight")
    history = lambda p: [json.loads(l)["step"] for l in (p / "history.jsonl").read_text().splitlines()]  # noqa: E731
    real_replace = files.os.replace
    for kill_at in range(writes + 1):
        folder = tmp_path / f"killed-{kill_at}"
        Trainer(tiny_model_config(kind), tiny_train_config(epochs=1), folder, progress=False).fit()
        seen = []

        def replace(source, target, seen=seen, kill_at=kill_at):
            if len(seen) == kill_at:
                raise _Killed(f"killed before write {kill_at} of the save")
            seen.append(target)
            return real_replace(source, target)

        monkeypatch.setattr(files.os, "replace", replace)
        with pytest.raises(_Killed):
            Trainer.resume(folder, epochs=3, progress=False).fit()  # dies in the save after epoch 2
        monkeypatch.setattr(files.os, "replace", real_replace)
        resumed = Trainer.resume(folder, epochs=3, progress=False)
        assert resumed.epoch in (1, 2), kill_at
        resumed.fit()
        again = _weights(folder)
        assert all(torch.equal(straight[k], again[k]) for k in straight), f"killed at write {kill_at}"
        assert history(folder) == history(tmp_path / "straight"), f"killed at write {kill_at}"


def test_resume_from_the_weights_alone(tmp_path, capsys):
    """No usable trainer state (a shipped checkpoint, a refused file): --reset-optimizer goes on from the weights."""
    from vaegan_core.cli import main

    Trainer(tiny_model_config("vae"), tiny_train_config(epochs=1), tmp_path, progress=False).fit()
    (tmp_path / "trainer_state.pt").unlink()
    args = ["train", "--resume", "--out", str(tmp_path), "--epochs", "2", "--data-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "--resume --reset-optimizer" in err and err.count("\n") == 1
    with pytest.warns(UserWarning, match="noise stream is reseeded"):
        assert main(args[:2] + ["--reset-optimizer"] + args[2:]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["state"]["epoch"] == 2
    assert main(["train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path / "new"),
                 "--reset-optimizer"]) == 2


def test_a_run_continued_from_its_weights_may_add_a_moving_average(tmp_path, capsys):
    """How the shipped VAE-GANs got theirs: a run without an average, continued from its weights alone with
    --ema-decay (the average starts at the decoder) and --track-fid; without --reset-optimizer it is refused."""
    from vaegan_core.cli import main

    Trainer(tiny_model_config("vaegan"), tiny_train_config(epochs=1), tmp_path, progress=False).fit()
    decoder = _weights(tmp_path)
    assert not any(name.startswith("decoder_ema.") for name in decoder)
    args = ["train", "--resume", "--out", str(tmp_path), "--epochs", "2", "--ema-decay", "0.99", "--track-fid", "200",
            "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--ema-decay cannot change" in err and "--reset-optimizer" in err and err.count("\n") == 1
    with pytest.warns(UserWarning, match="noise stream is reseeded"):
        assert main(args[:2] + ["--reset-optimizer"] + args[2:]) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["ema_decay"] == 0.99 and config["train"]["track_fid"] == 200
    assert config["state"]["epoch"] == 2
    assert [row["epoch"] for row in map(json.loads, (tmp_path / "quality.jsonl").read_text().splitlines())] == [2]
    weights = _weights(tmp_path)
    assert not torch.equal(weights["decoder_ema.project.0.weight"], weights["decoder.project.0.weight"])  # it moved
    assert load_model(tmp_path).decoder_ema is not None


def test_a_resume_may_change_the_decay_of_the_runs_moving_average(tmp_path, capsys):
    """A last stage with a longer average: --ema-decay on a run that has one goes on from the average it has (with
    the run's own optimizer state), the stage is recorded, and turning the average off is refused in one line."""
    from vaegan_core.cli import main

    Trainer(tiny_model_config("gan", ema_decay=0.9), tiny_train_config(epochs=1), tmp_path, progress=False).fit()
    saved = _weights(tmp_path)
    trainer = Trainer.resume(tmp_path, epochs=2, ema_decay=0.99, progress=False)
    assert trainer.model.config.ema_decay == 0.99
    now = trainer.model.decoder_ema.state_dict()
    assert all(torch.equal(now[name], saved[f"decoder_ema.{name}"]) for name in now)  # not restarted at the decoder
    assert not all(torch.equal(now[name], saved[f"decoder.{name}"]) for name in now)
    trainer.fit()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["ema_decay"] == 0.99
    assert config["state"]["stages"] == [{"from_epoch": 1, "optimizer": "kept", "changed": {"ema_decay": 0.99}}]
    assert main(["train", "--resume", "--out", str(tmp_path), "--epochs", "3", "--ema-decay", "0.999",
                 "--no-progress"]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["model"]["ema_decay"] == 0.999
    capsys.readouterr()  # the runs' own epoch lines (--no-progress) are not the errors'
    for flags in ([], ["--reset-optimizer"]):
        assert main(["train", "--resume", "--out", str(tmp_path), "--epochs", "4", "--ema-decay", "0", *flags,
                     "--no-progress"]) == (1 if flags else 2)  # a setting refused; a flag refused
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("cannot be turned off" in err or "--ema-decay cannot change" in err), err
    assert json.loads((tmp_path / "config.json").read_text())["state"]["epoch"] == 3


def test_ema_is_trained_saved_loaded_and_resumed(tmp_path):
    """The average moves with training, both decoders are in model.safetensors, and a resumed run with an
    average equals an uninterrupted one."""
    model_config = tiny_model_config("vaegan", ema_decay=0.99)
    Trainer(model_config, tiny_train_config(epochs=2), tmp_path / "straight", progress=False).fit()
    Trainer(model_config, tiny_train_config(epochs=1), tmp_path / "resumed", progress=False).fit()
    Trainer.resume(tmp_path / "resumed", epochs=2, progress=False).fit()
    straight, again = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert any(name.startswith("decoder_ema.") for name in straight)
    assert all(torch.equal(straight[k], again[k]) for k in straight)
    assert not torch.equal(straight["decoder_ema.project.0.weight"], straight["decoder.project.0.weight"])
    model = load_model(tmp_path / "straight")
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.decode(z), torch.sigmoid(model.decoder_ema(z.contiguous())))


def test_two_time_scales_and_a_cosine_schedule(tmp_path):
    """--lr-discriminator gives D its own rate (Heusel et al.'s TTUR); the cosine schedule scales every rate
    by (1 + cos(pi t / T)) / 2 over the run's steps, reaching 0 at the end; the settings resume with the run."""
    import math

    config = tiny_train_config(epochs=2, lr=1e-3, lr_discriminator=4e-3, lr_schedule="cosine")
    trainer = Trainer(tiny_model_config("vaegan"), config, tmp_path, progress=False)
    assert trainer.base_lr == {"discriminator": 4e-3, "encoder": 1e-3, "decoder": 1e-3}
    total = 2 * trainer.steps_per_epoch
    assert trainer.learning_rate_factor(0) == 1.0 and trainer.learning_rate_factor(total) == 0.0
    assert math.isclose(trainer.learning_rate_factor(total // 2), 0.5)
    trainer.train_step(trainer._batch(torch.arange(trainer.images.shape[0]), 0))
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == 4e-3
    trainer.step = total // 2
    trainer.train_step(trainer._batch(torch.arange(trainer.images.shape[0]), 0))
    assert math.isclose(trainer.optimizers["decoder"].param_groups[0]["lr"], 0.5e-3)
    assert Trainer(tiny_model_config("gan"), tiny_train_config(), tmp_path / "plain",
                   progress=False).learning_rate_factor(3) == 1.0


def test_ema_gain_benchmark_scores_both_decoders(tmp_path):
    """benchmarks/ema_gain.py: one row per checkpoint with both FIDs (which differ: two decoders); a checkpoint
    without a moving average is one line and exit 1."""
    import math
    import subprocess
    import sys
    from pathlib import Path

    Trainer(tiny_model_config("gan", ema_decay=0.9), tiny_train_config(epochs=2, limit=256), tmp_path / "ema",
            progress=False).fit()
    Trainer(tiny_model_config("gan"), tiny_train_config(), tmp_path / "plain", progress=False).fit()
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "ema_gain.py"
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "ema"), "--n", "300"], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    row = [cell.strip() for cell in run.stdout.splitlines()[-1].split("|")[1:-1]]
    trained, averaged = float(row[3]), float(row[4])
    assert row[1] == "2" and row[2] == "0.9" and math.isfinite(trained) and math.isfinite(averaged)
    assert trained != averaged
    plain = subprocess.run([sys.executable, str(script), str(tmp_path / "plain")], capture_output=True, text=True,
                           timeout=300)
    assert plain.returncode == 1 and "no moving average" in plain.stderr and plain.stderr.count("\n") == 1


def test_track_fid_writes_quality_per_epoch_and_resumes_it(tmp_path):
    from vaegan_core.storage.zoo import read_quality

    config = tiny_train_config(epochs=2, track_fid=150)
    Trainer(tiny_model_config("vae"), config, tmp_path / "straight", progress=False).fit()
    rows = read_quality(tmp_path / "straight")
    assert [row["epoch"] for row in rows] == [1, 2] and rows[0]["n"] == 150
    assert 0 < rows[0]["train_seconds"] < rows[1]["train_seconds"]
    assert all(row["fid_domain_train"] > 0 for row in rows)

    # a run killed after epoch 1's save with a later quality line and a torn one written: resume drops both
    Trainer(tiny_model_config("vae"), tiny_train_config(epochs=1, track_fid=150), tmp_path / "resumed",
            progress=False).fit()
    with open(tmp_path / "resumed" / "quality.jsonl", "a") as handle:
        handle.write('{"epoch": 2, "step": 999, "train_seconds": 1, "fid_domain_train": 1}\n{"torn": ')
    Trainer.resume(tmp_path / "resumed", epochs=2, progress=False).fit()
    again = read_quality(tmp_path / "resumed")
    assert [row["fid_domain_train"] for row in again] == [row["fid_domain_train"] for row in rows]


def test_track_fid_that_cannot_run_warns_and_training_goes_on(tmp_path, monkeypatch):
    from vaegan_core.errors import MetricError
    from vaegan_core.metrics import evaluate as evaluate_module

    def no_extractor(*args, **kwargs):
        raise MetricError("no classifier for this dataset")

    monkeypatch.setattr(evaluate_module, "evaluate", no_extractor)
    with pytest.warns(UserWarning, match="--track-fid is off for this run: no classifier"):
        summary = Trainer(tiny_model_config("gan"), tiny_train_config(epochs=2, track_fid=150), tmp_path,
                          progress=False).fit()
    assert summary["epoch"] == 2 and not (tmp_path / "quality.jsonl").exists()
    with pytest.raises(ConfigError, match="track_fid needs at least 2"):
        tiny_train_config(track_fid=1)


def test_keep_best_keeps_the_epoch_with_the_lowest_tracked_fid(tmp_path, monkeypatch, capsys):
    """--keep-best: best/ holds the weights of the epoch that scored lowest (scripted scores 30, 20, 25, then a
    resumed run's 22 and 10), the folder itself the last epoch; without --track-fid the flag is refused."""
    from vaegan_core.cli import main
    from vaegan_core.metrics import evaluate as evaluate_module

    scores = iter([30.0, 20.0, 25.0, 22.0, 10.0])
    monkeypatch.setattr(evaluate_module, "evaluate", lambda *a, **k: {"metrics": {"fid": next(scores)}})
    snapshots = {}
    original = Trainer._track_quality

    def remember(self, state):
        snapshots[self.epoch] = {k: v.clone() for k, v in self.model.state_dict().items()}
        original(self, state)

    monkeypatch.setattr(Trainer, "_track_quality", remember)
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=3, track_fid=150, keep_best=True), tmp_path,
            progress=False).fit()
    best = json.loads((tmp_path / "best" / "config.json").read_text())
    assert best["state"]["epoch"] == 2 and best["state"]["fid_domain_train"] == 20.0
    kept = _weights(tmp_path / "best")
    assert all(torch.equal(kept[name], snapshots[2][name]) for name in kept)
    assert json.loads((tmp_path / "config.json").read_text())["state"]["epoch"] == 3
    assert load_model(tmp_path / "best").config.kind == "gan"

    # scripts/ship_best.py: epoch 2 into a checkpoint folder, its logs cut at epoch 2, no stale scores
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from ship_best import ship

    shipped = tmp_path.parent / f"{tmp_path.name}-shipped"
    (shipped / "samples").mkdir(parents=True)
    (shipped / "metrics.json").write_text("{}")
    (shipped / "samples" / "epoch_009.png").write_bytes(b"old")
    (shipped / "latent_gmm.safetensors").write_bytes(b"the old weights' GMM")
    assert ship(tmp_path, shipped)["epoch"] == 2
    assert not (shipped / "latent_gmm.safetensors").exists()  # best/ has none: the stale one goes
    (tmp_path / "best" / "latent_gmm.safetensors").write_bytes(b"best's GMM")
    (tmp_path / "best" / "samples").mkdir()
    (tmp_path / "best" / "samples" / "gmm.png").write_bytes(b"its samples")
    ship(tmp_path, shipped)
    assert (shipped / "latent_gmm.safetensors").read_bytes() == b"best's GMM"
    assert (shipped / "samples" / "gmm.png").read_bytes() == b"its samples"
    assert all(torch.equal(_weights(shipped)[name], snapshots[2][name]) for name in kept)
    assert [json.loads(line)["epoch"] for line in (shipped / "quality.jsonl").read_text().splitlines()] == [1, 2]
    assert sorted(path.name for path in (shipped / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png", "gmm.png"]
    assert not (shipped / "metrics.json").exists()
    assert max(json.loads(line)["step"] for line in (shipped / "history.jsonl").read_text().splitlines()) <= \
        best["state"]["step"]

    (tmp_path / "best" / "metrics.json").write_text("{}")  # scores of epoch 2's weights
    Trainer.resume(tmp_path, epochs=5, progress=False).fit()  # 22 does not replace 20; 10 does
    assert json.loads((tmp_path / "best" / "config.json").read_text())["state"]["epoch"] == 5

    # ship_best.py of a run that went on from the shipped epoch's trainer state, copied without its grids: the
    # checkpoint keeps its own grids of the epochs the two logs share and takes the rest from the run
    def epoch_grids():
        return sorted(path.name for path in (shipped / "samples").glob("epoch_*.png"))

    for grid in (tmp_path / "samples").glob("epoch_00[12].png"):
        grid.unlink()
    (shipped / "samples" / "epoch_001.png").write_bytes(b"the shipped run's grid")
    ship(tmp_path, shipped)
    assert epoch_grids() == [f"epoch_00{epoch}.png" for epoch in range(1, 6)]
    assert (shipped / "samples" / "epoch_001.png").read_bytes() == b"the shipped run's grid"
    # a run with another log shares no epoch with the checkpoint: none of the old weights' grids stays
    rows = [json.loads(line) for line in (shipped / "history.jsonl").read_text().splitlines()]
    rows[0]["loss_discriminator"] += 1.0
    (shipped / "history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    ship(tmp_path, shipped)
    assert epoch_grids() == [f"epoch_00{epoch}.png" for epoch in range(3, 6)]
    # epoch 2's GMM, its samples and its scores went with its weights (they would pass for epoch 5's)
    for stale in ("latent_gmm.safetensors", "samples/gmm.png", "metrics.json"):
        assert not (tmp_path / "best" / stale).exists(), stale

    assert main(["train", "--model", "gan", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path / "x"),
                 "--keep-best"]) == 2
    assert "--keep-best needs --track-fid" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="keep_best needs track_fid"):
        tiny_train_config(keep_best=True)


def test_cpu_threads_leave_the_busy_cores_to_the_other_work(monkeypatch):
    from vaegan_core.training.train import cpu_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    load = [0.1]
    monkeypatch.setattr(os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    assert cpu_threads() == 4  # an idle machine: every core
    load[0] = 1.1
    assert cpu_threads() == 3  # another job on one core
    load[0] = 7.0
    assert cpu_threads() == 1  # a crowded machine: one thread, never none
    load[0] = 4.0
    assert cpu_threads(ours=4) == 4  # the load is this run's own four threads: keep them
    assert cpu_threads(ours=2) == 2
    assert cpu_threads(3) == 3 and cpu_threads(64) == 4  # a number is taken, up to the cores there are
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert cpu_threads() is None  # the user's setting stands


def test_a_training_run_follows_the_thread_policy(tmp_path, monkeypatch):
    import vaegan_core.training.train as train

    before = torch.get_num_threads()
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=1), tmp_path / "one", progress=False, threads=1).fit()
    assert torch.get_num_threads() == before  # the policy holds for the run only, not for the rest of the process
    chosen = []
    monkeypatch.setattr(train, "cpu_threads", lambda requested, ours: chosen.append((requested, ours)) or None)
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=2), tmp_path / "run", progress=False, threads=3).fit()
    assert chosen == [(3, 0), (3, torch.get_num_threads())]  # before each epoch; the first with no load of its own
    chosen.clear()
    Trainer(tiny_model_config("gan"), tiny_train_config(epochs=1), tmp_path / "lib", progress=False).fit()
    assert chosen == []  # the Python API leaves the caller's threads alone; `vaegan train` passes --threads auto


@pytest.mark.slow  # torch.compile of three small networks: about 20 s on a 2-core CPU
def test_a_compiled_run_trains_like_the_plain_one_and_saves_plain_weights(tmp_path):
    """--compile: the step runs through torch.compile'd networks; its first step's losses match the plain step's
    on the same batch and noise (the same computation, fused differently), and the checkpoint holds the plain
    networks' weights (no "_orig_mod." keys), loads, samples, and records that it was compiled."""
    trainers = {compiled: Trainer(tiny_model_config("vaegan", ema_decay=0.9), tiny_train_config(epochs=1),
                                  tmp_path / str(compiled), progress=False, compile=compiled)
                for compiled in (False, True)}
    batch = trainers[False]._batch(torch.arange(64), 0)
    plain = trainers[False].train_step(batch)
    compiled = trainers[True]._first_compiled_step(batch, None)
    assert trainers[True].compile_seconds > 0
    for key in ("loss_discriminator", "loss_encoder", "loss_decoder", "kl"):
        assert float(plain[key]) == pytest.approx(float(compiled[key]), rel=1e-4), key
    trainers[True].fit()
    state = json.loads((tmp_path / "True" / "config.json").read_text())["state"]
    assert state["compiled"] is True
    weights = _weights(tmp_path / "True")
    assert not any("_orig_mod" in name for name in weights) and any(name.startswith("decoder_ema.") for name in weights)
    assert torch.isfinite(load_model(tmp_path / "True").sample(4)).all()


def test_a_compiler_that_fails_is_one_clear_error(tmp_path, monkeypatch):
    """Where torch.compile cannot work (no C++ compiler, an unsupported platform), the first step says so in one
    line and names the way out; nothing is written."""

    class Broken(torch.nn.Module):
        def forward(self, *args, **kwargs):
            raise RuntimeError("InductorError: no working C++ compiler found\nlong details")

    monkeypatch.setattr(torch, "compile", lambda network, **kwargs: Broken())
    trainer = Trainer(tiny_model_config("gan"), tiny_train_config(), tmp_path / "run", progress=False, compile=True)
    with pytest.raises(ConfigError, match="torch.compile failed on this machine") as error:
        trainer.fit()
    assert "\n" not in str(error.value) and "without --compile" in str(error.value)
    assert not (tmp_path / "run" / "model.safetensors").exists()


def _time_to_quality():
    """benchmarks/time_to_quality.py as a module (benchmarks/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_quality.py"
    spec = importlib.util.spec_from_file_location("time_to_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_to_quality_plots_one_panel_per_model(tmp_path):
    """benchmarks/time_to_quality.py's figure: a panel per model (their FIDs lie far apart), old and new recipe in
    each, written where asked."""
    from PIL import Image

    module = _time_to_quality()
    rows = [{"model": kind, "recipe": recipe, "epoch": epoch, "cpu_minutes": epoch * (3 if recipe == "old" else 1),
             "fid": 400 / epoch} for kind in ("gan", "vae") for recipe in ("old", "new") for epoch in (1, 2, 3)]
    module.plot(rows, tmp_path / "figure.png", "mnist")
    one = tmp_path / "one.png"
    module.plot([row for row in rows if row["model"] == "gan"], one, "mnist")
    two_panels, one_panel = Image.open(tmp_path / "figure.png").size, Image.open(one).size
    assert two_panels[1] == one_panel[1] and two_panels[0] > 1.8 * one_panel[0]


def test_time_to_quality_trains_the_new_vae_with_the_shipped_recipe_for_its_dataset(tmp_path, monkeypatch):
    """The benchmark's "new" VAE is the shipped one (zoo.recipe: the likelihood and KL weight follow the dataset);
    the "old" one keeps the first checkpoints' flags."""
    import argparse

    from vaegan_core.storage import zoo

    module = _time_to_quality()
    commands = []
    monkeypatch.setattr(module.subprocess, "run", lambda command, **kwargs: commands.append(command))
    for dataset in ("mnist", "fashion-mnist"):
        args = argparse.Namespace(dataset=dataset, seed=0)
        for recipe in ("old", "new"):
            module.train_one_epoch(args, "vae", recipe, tmp_path / f"{dataset}-{recipe}")
    text = [" ".join(command) for command in commands]
    assert " ".join(zoo.RECIPE_BY_DATASET[("vae", "mnist")]) in text[1]
    assert " ".join(zoo.RECIPE_BY_DATASET[("vae", "fashion-mnist")]) in text[3]
    assert "--likelihood" not in text[0] and "--likelihood" not in text[2]


def test_time_to_quality_variants_change_one_setting_of_the_new_recipe():
    """The width and batch levers: one flag of the new recipe changed; a batch size scales the learning rate by the
    square root of the batch ratio, from the model's default rate."""
    module = _time_to_quality()
    new = module.recipe_flags("new", "vaegan", "mnist")
    wide = module.recipe_flags("width64", "vaegan", "mnist")
    assert wide[wide.index("--width") + 1] == "64" and len(wide) == len(new)
    assert [flag for flag in wide if flag.startswith("--")] == [flag for flag in new if flag.startswith("--")]
    big = module.recipe_flags("batch128", "vaegan", "mnist")
    assert big[big.index("--batch-size") + 1] == "128" and float(big[big.index("--lr") + 1]) == pytest.approx(2.83e-4)
    small = module.recipe_flags("batch32", "vae", "mnist")
    assert float(small[small.index("--lr") + 1]) == pytest.approx(7.07e-4) and "--likelihood" in small


def test_the_kl_weight_warms_up_over_the_first_epochs(tmp_path):
    """--kl-warmup E: the KL term's weight rises linearly from 0 to beta over the first E epochs (Bowman et al.),
    is logged, reaches beta and stays there; the model's own losses take the full beta after training."""
    import math

    config = tiny_train_config(epochs=3, kl_warmup=2)
    trainer = Trainer(tiny_model_config("vae", beta=4.0), config, tmp_path, progress=False)
    steps = trainer.steps_per_epoch
    assert trainer.kl_weight_factor(0) == 0.0 and math.isclose(trainer.kl_weight_factor(steps), 0.5)
    assert trainer.kl_weight_factor(2 * steps) == 1.0 == trainer.kl_weight_factor(3 * steps)
    trainer.fit()
    weights = [json.loads(line)["kl_weight"] for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert weights[0] < 1.0 and weights == sorted(weights) and weights[-1] == 4.0
    assert trainer.model.kl_scale == 1.0
    assert json.loads((tmp_path / "config.json").read_text())["train"]["kl_warmup"] == 2
    plain = Trainer(tiny_model_config("vae"), tiny_train_config(), tmp_path / "plain", progress=False)
    assert plain.kl_weight_factor(0) == 1.0
    with pytest.raises(ConfigError, match="kl_warmup"):
        tiny_train_config(kl_warmup=-1)
