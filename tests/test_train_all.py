"""scripts/train_all.sh: the commands it runs (DRY_RUN=1), with the epoch counts from vaegan_core.storage.zoo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vaegan_core.storage.zoo import DECAY_EPOCHS, DEFAULT_EPOCHS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_all.sh"


def plan(tmp_path, *datasets, **env) -> list[str]:
    environment = {**os.environ, "DRY_RUN": "1", "OUT": str(tmp_path), **env}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"  # this python
    done = subprocess.run(["bash", str(SCRIPT), *datasets], env=environment, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.splitlines()


def test_plan_uses_the_default_epochs_and_seeds(tmp_path):
    lines = plan(tmp_path, "mnist")
    trains = [line for line in lines if line.startswith("vaegan train")]
    assert len(trains) == 6
    for kind in ("vae", "gan", "vaegan"):
        (line,) = [line for line in trains if f"--model {kind} " in line]
        assert f"--epochs {DEFAULT_EPOCHS[kind]} --seed 0" in line and f"--out {tmp_path}/mnist/{kind}" in line
        # then the decay stage: the same folder resumed, the rates falling to 0 over the recipe's last epochs
        decay = trains[trains.index(line) + 1]
        assert decay == (f"vaegan train --resume --out {tmp_path}/mnist/{kind} --epochs "
                         f"{DEFAULT_EPOCHS[kind] + DECAY_EPOCHS[kind]} --lr-schedule cosine --device auto --no-progress")
        assert DECAY_EPOCHS[kind] >= 1
    evals = [line for line in lines if line.startswith("vaegan eval")]
    assert len(evals) == 5 and all("--n 10000 --extractor lenet --split test --seed 0 --prior" in line for line in evals)
    fits = [line for line in lines if line.startswith("vaegan fit-gmm")]
    assert fits == [f"vaegan fit-gmm {tmp_path}/mnist/{kind} --seed 0 --device auto --no-progress"
                    for kind in ("vae", "vaegan")]
    assert [line.split()[2].rsplit("/", 1)[1] for line in evals if "--prior gmm" in line] == ["vae", "vaegan"]


def test_plan_overrides_resumes_and_keeps_shipped_folders(tmp_path):
    shipped, resumable = tmp_path / "fashion-mnist" / "vae", tmp_path / "fashion-mnist" / "gan"
    for folder in (shipped, resumable):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"")
    (resumable / "trainer_state.pt").write_bytes(b"")
    lines = plan(tmp_path, "fashion-mnist", EPOCHS_GAN="30", EXTRACTORS="lenet inception")
    assert (f"== {shipped} is a shipped checkpoint (no trainer state): not training it with the recipe (delete it to "
            f"start the recipe over); to retrain it from scratch with its own stages: python scripts/retrain.py "
            f"{shipped} --out NEW_DIR") in lines
    assert f"vaegan train --resume --out {resumable} --epochs 30 --device auto --no-progress" in lines
    decay = f"vaegan train --resume --out {resumable} --epochs {30 + DECAY_EPOCHS['gan']} --lr-schedule cosine"
    assert any(line.startswith(decay) for line in lines)
    assert not any(line.startswith(f"vaegan train --resume --out {shipped} ") for line in lines)  # shipped: as it is
    no_decay = plan(tmp_path, "fashion-mnist", EPOCHS_GAN="30", DECAY_GAN="0")
    assert not any("--lr-schedule cosine" in line and str(resumable) in line for line in no_decay)
    assert sum("--extractor inception" in line for line in lines) == 5  # GAN: N(0, I); VAE, VAE-GAN: both priors
    # the shipped VAE has no GMM yet: fitted; one whose GMM is newer than its weights: kept
    assert f"vaegan fit-gmm {shipped} --seed 0 --device auto --no-progress" in lines
    (shipped / "latent_gmm.safetensors").write_bytes(b"")
    assert f"vaegan fit-gmm {shipped} --seed 0 --device auto --no-progress" not in plan(tmp_path, "fashion-mnist")


def test_conditional_plan_matches_the_shipped_conditional_checkpoints(tmp_path):
    """scripts/train_conditional.sh: --conditional, width 32, beta 4 for the VAE-GAN, the moving average for the GAN
    and the VAE-GAN, and the epochs the shipped conditional checkpoints were trained for (their config.json)."""
    import json

    script = SCRIPT.with_name("train_conditional.sh")
    environment = {**os.environ, "DRY_RUN": "1", "OUT": str(tmp_path)}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    lines = subprocess.run(["bash", str(script), "mnist"], env=environment, capture_output=True, text=True,
                           timeout=60, check=True).stdout.splitlines()
    trains = [line for line in lines if line.startswith("vaegan train")]
    assert len(trains) == 3 and all("--conditional" in line and "--width 32" in line for line in trains)
    shipped = SCRIPT.parents[1] / "checkpoints" / "mnist" / "conditional"
    for kind in ("vae", "gan", "vaegan"):
        (line,) = [line for line in trains if f"--model {kind} " in line]
        config = json.loads((shipped / kind / "config.json").read_text())
        assert f"--epochs {config['state']['epoch']} " in line
        assert ("--beta 4" in line) == (kind == "vaegan") and config["model"]["beta"] == (4.0 if kind == "vaegan" else 1.0)
        averaged = kind in ("gan", "vaegan")  # sampled from a moving average of the decoder, as unconditionally
        assert ("--ema-decay 0.999" in line) == averaged and config["model"]["ema_decay"] == (0.999 if averaged else 0)
    assert len([line for line in lines if line.startswith("vaegan eval")]) == 3


def test_plan_trains_with_the_recipe_and_gpu_epochs(tmp_path):
    from vaegan_core.storage.zoo import GPU_DECAY_EPOCHS, GPU_EPOCHS, RECIPE, recipe

    for device, epochs, decays in (("auto", DEFAULT_EPOCHS, DECAY_EPOCHS), ("cuda", GPU_EPOCHS, GPU_DECAY_EPOCHS)):
        for dataset in ("mnist", "fashion-mnist"):
            trains = [line for line in plan(tmp_path, dataset, DEVICE=device) if line.startswith("vaegan train")]
            for kind in ("vae", "gan", "vaegan"):
                (line,) = [line for line in trains if f"--model {kind} " in line]
                flags = " ".join(recipe(kind, dataset))
                assert f"--epochs {epochs[kind]} --seed 0 {flags} --track-fid 5000 --device {device}" in line
                assert (f"--epochs {epochs[kind] + decays[kind]} --lr-schedule cosine --device {device}"
                        in trains[trains.index(line) + 1])
                assert " ".join(RECIPE[kind]) in flags  # the model's flags, and the dataset's after them
    # the VAE's likelihood and KL weight follow the dataset (the ablation's choice on the train split)
    assert "--likelihood calibrated --beta 12" in " ".join(recipe("vae", "mnist"))
    assert "--likelihood calibrated --beta 4" in " ".join(recipe("vae", "fashion-mnist"))
    assert recipe("vae", "folder:x") == RECIPE["vae"]
