"""The image model-collapse study end to end on scikit-learn's digits (tiny networks, seconds)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vaegan_core.cli import main
from vaegan_core.errors import ConfigError
from vaegan_core.storage.checkpoint import load_model
from vaegan_core.experiments.collapse_images import STRIP, ImageCollapseConfig, _budget, run
from vaegan_core.images import to_uint8

TINY = ["--dataset", "digits", "--per-generation", "256", "--epochs", "1", "--width", "8", "--eval-n", "300",
        "--no-progress", "--device", "cpu"]


def test_cli_runs_generations_and_resumes(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["collapse", "--model", "vae", "--generations", "1", "--out", str(out)] + TINY) == 0
    results = json.loads((out / "results.json").read_text())
    assert [row["generation"] for row in results["generations"]] == [0, 1]
    for row in results["generations"]:
        assert math.isfinite(row["fid"]) and 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        assert sum(row["histogram"]) == 300 and 0 <= row["class_entropy"] <= math.log(10) + 1e-9
    assert results["generations"][0]["real_images"] == 256 and results["generations"][1]["real_images"] == 0
    assert (out / "grids" / "generation_01.png").is_file() and (out / "last" / "model.safetensors").is_file()

    # more generations: the finished ones are kept, only the new one is trained
    first_fid = results["generations"][0]["fid"]
    assert main(["collapse", "--model", "vae", "--generations", "2", "--out", str(out)] + TINY) == 0
    results = json.loads((out / "results.json").read_text())
    assert [row["generation"] for row in results["generations"]] == [0, 1, 2]
    assert results["generations"][0]["fid"] == first_fid

    # other settings in the same folder: refused with one line
    assert main(["collapse", "--model", "gan", "--generations", "2", "--out", str(out)] + TINY) == 1
    assert "other settings" in capsys.readouterr().err


def test_start_from_a_checkpoint_fine_tunes_each_generation(tmp_path):
    from vaegan_core.config import ModelConfig, TrainConfig
    from vaegan_core.training.train import Trainer

    start = tmp_path / "start"
    Trainer(ModelConfig(kind="gan", width=8, latent_dim=8, ema_decay=0.9),
            TrainConfig(dataset="digits", epochs=2, device="cpu", sample_grid=4), start, progress=False).fit()
    config = ImageCollapseConfig(model="gan", dataset="digits", generations=2, per_generation=256, epochs=1,
                                 eval_n=300, device="cpu", start_from=str(start))
    results = run(config, tmp_path / "study")
    # the start checkpoint's width and latent size are the study's; generation 0 is that model, untrained here
    assert results["config"]["width"] == 8 and results["config"]["latent_dim"] == 8
    rows = results["generations"]
    assert rows[0]["start_from"] == str(start) and rows[0]["train_seconds"] == 0.0
    assert all(row["train_seconds"] > 0 for row in rows[1:])
    for row in rows:
        assert 0 <= row["confident_share"] <= 1 and 0 <= row["tail_mass"] <= 1 and 0 < row["tail_mass_real"] < 0.3
    strip = np.load(tmp_path / "study" / "strip.npy")
    assert strip.shape == (3, STRIP, 1, 28, 28) and strip.dtype == np.uint8
    # generation 0 decodes the fixed codes exactly as the start checkpoint does
    model = load_model(start)
    noise = torch.randn(64, 8, generator=torch.Generator().manual_seed(config.seed + 12345))
    with torch.no_grad():
        assert np.array_equal(strip[0], to_uint8(model.decode(noise)[:STRIP]).numpy())
    assert not np.array_equal(strip[1], strip[2])  # later generations were trained
    from vaegan_core.experiments.collapse_images import start_fingerprint

    assert results["start_fingerprint"] == start_fingerprint(start)
    # a corrupt strip is said before the next generation trains (its work would be lost), in one line
    (tmp_path / "study" / "strip.npy").write_bytes(b"\x93NUMPY garbage")
    before = (tmp_path / "study" / "results.json").read_bytes()
    with pytest.raises(ConfigError, match="strip.npy is not a readable strip"):
        run(replace(config, generations=3), tmp_path / "study")
    assert (tmp_path / "study" / "results.json").read_bytes() == before
    np.save(tmp_path / "study" / "strip.npy", strip.astype(np.float32))
    with pytest.raises(ConfigError, match="not the study's strip"):
        run(replace(config, generations=3), tmp_path / "study")
    # the start checkpoint retrained since: the study cannot go on from other weights
    np.save(tmp_path / "study" / "strip.npy", strip)
    weights = start / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")
    with pytest.raises(ConfigError, match="other weights than"):
        run(replace(config, generations=3), tmp_path / "study")


def test_start_from_another_kind_is_refused(tmp_path, tiny_checkpoints):
    with pytest.raises(ConfigError, match="--model gan"):
        run(ImageCollapseConfig(model="vae", dataset="digits", start_from=str(tiny_checkpoints / "mnist" / "gan")),
            tmp_path / "x")


def test_accumulating_keeps_the_images_seen_per_generation_equal():
    config = ImageCollapseConfig(dataset="digits", per_generation=100, epochs=2, accumulate=True)
    pool = torch.arange(500)
    epochs, images = _budget(config, pool[:100], 0)
    assert epochs == 2 and len(images) == 100
    epochs, images = _budget(config, pool[:150], 1)
    assert epochs == 1 and len(images) == 150  # 150 x 1 is close to 200: rounded, one pass
    epochs, images = _budget(config, pool[:400], 3)
    assert epochs == 1 and len(images) == 200 and len(set(images.tolist())) == 200
    assert _budget(ImageCollapseConfig(dataset="digits", per_generation=100, epochs=2), pool[:400], 3)[1].numel() == 400


def test_real_data_loops_and_accumulation(tmp_path):
    config = ImageCollapseConfig(model="gan", dataset="digits", generations=1, per_generation=256, epochs=1,
                                 width=8, eval_n=300, loop="fresh-real", real_fraction=0.25, accumulate=True,
                                 device="cpu")
    results = run(config, tmp_path / "mixed")
    assert results["generations"][1]["real_images"] == 64
    assert results["generations"][1]["training_images"] == 512  # generation 0's 256 kept + 256 new
    assert (tmp_path / "mixed" / "accumulated.npy").is_file()


@pytest.mark.parametrize("changes, match", [
    (dict(loop="fixed-real"), "real-fraction"),
    (dict(loop="sideways"), "unknown loop"),
    (dict(per_generation=10), "per-generation"),
    (dict(model="flow"), "unknown model"),
])
def test_bad_settings(tmp_path, changes, match):
    with pytest.raises(ConfigError, match=match):
        run(ImageCollapseConfig(**{**dict(dataset="digits"), **changes}), tmp_path / "x")


def _study(fids, recall=(0.8, 0.5), start=None):
    rows = [{"generation": g, "fid": fid, "recall": recall[0] if g == 0 else recall[1], "precision": 0.7}
            for g, fid in enumerate(fids)]
    return {"config": {}, "generations": rows, **({"start_fingerprint": start} if start else {})}


def test_verdict_ranks_families_only_beyond_the_seed_spread():
    from vaegan_core.experiments.collapse_report import band, verdict

    studies = {("gan", "synthetic"): [_study([20, 30, 40]), _study([20, 32, 44])],   # x2.0, x2.2
               ("vaegan", "synthetic"): [_study([100, 110, 120]), _study([100, 105, 130, 999])]}  # x1.2, x1.3
    result = verdict(studies)
    assert result["slowest"] == "vaegan" and result["separated"] and result["generations"] == 2
    assert result["rows"]["gan"]["ratios"] == [2.0, 2.2]
    assert "VAE-GAN degrades slowest" in result["text"] and "larger than the seed-to-seed spread" in result["text"]
    # overlapping seed ranges: no ranking
    studies[("vaegan", "synthetic")].append(_study([100, 200, 300]))  # x3.0
    result = verdict(studies)
    assert not result["separated"] and "do not differ beyond the seed-to-seed spread" in result["text"]
    # a third family far above both: it degrades fastest, the other two are not ranked
    studies[("vae", "synthetic")] = [_study([300, 900, 1200]), _study([300, 1000, 1230])]  # x4.0, x4.1
    result = verdict(studies)
    assert result["fastest"] == "vae" and result["fastest_separated"] and not result["separated"]
    assert result["text"].startswith("The VAE degrades fastest, beyond the seed-to-seed spread; the ")
    # one seed per family cannot be separated, and one family is nothing to compare
    assert not verdict({("gan", "synthetic"): [_study([20, 40])], ("vae", "synthetic"): [_study([20, 21])]})["separated"]
    assert verdict({("gan", "synthetic"): [_study([20, 40])]}) is None
    assert band([_study([1, 2, 3]), _study([3, 4])], "fid") == {
        "generation": [0, 1], "mean": [2.0, 3.0], "low": [1.0, 2.0], "high": [3.0, 4.0], "seeds": 2}


def test_signatures_give_trends_per_family():
    from vaegan_core.experiments.collapse_report import signatures, trend

    assert (trend(1.0, 0.5), trend(1.0, 1.1), trend(1.0, 1.5)) == ("falls", "stays about level", "rises")
    runs = [{"generations": [{"tail_mass": 0.2, "recall": 0.8}, {"tail_mass": 0.1, "recall": 0.79}]}]
    result = signatures({("gan", "synthetic"): runs})
    assert result["gan"]["tail_mass"] == {"first": 0.2, "last": 0.1, "trend": "falls"}
    assert result["gan"]["recall"]["trend"] == "stays about level"


def _shipped(root, dataset, kind, weights=b"weights"):
    """A stand-in shipped checkpoint (only its weights' bytes matter to a study's fingerprint)."""
    from vaegan_core.experiments.collapse_images import start_fingerprint

    folder = root / dataset / kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(weights)
    return start_fingerprint(folder)


def _write_study(root, dataset, kind, name, study):
    folder = root / "collapse" / dataset / kind / name
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(study))
    return folder


@pytest.mark.parametrize("content", [
    "{not json", "[]", '{"config": {}, "generations": {}}', '{"config": {}, "generations": [7]}',
    '{"config": {}, "generations": [{"generation": 0, "fid": 0, "precision": 1, "recall": 1}]}',
    '{"config": {}, "generations": [{"generation": 0, "fid": null, "precision": 1, "recall": 1}]}',
    '{"config": {}, "generations": [{"generation": 0, "fid": "9", "precision": 1, "recall": 1}]}',
    '{"config": {}, "generations": [{"generation": 1, "fid": 9, "precision": 1, "recall": 1}]}',
    '{"config": {}, "generations": []}'])
def test_load_studies_skips_bad_files(tmp_path, content):
    from vaegan_core.experiments.collapse_report import load_studies, markdown

    start = _shipped(tmp_path, "mnist", "gan")
    _shipped(tmp_path, "mnist", "vae")
    _write_study(tmp_path, "mnist", "gan", "synthetic-seed2", _study([1, 2], start=start))
    bad = _write_study(tmp_path, "mnist", "vae", "synthetic-seed0", {})
    (bad / "results.json").write_text(content)
    (tmp_path / "collapse" / "mnist" / "vae" / "notes").mkdir()
    studies, problems, stale = load_studies(tmp_path / "collapse", checkpoints=tmp_path)
    assert list(studies) == [("gan", "synthetic")] and studies[("gan", "synthetic")][0]["seed"] == 2
    assert len(problems) == 1 and "skipped" in problems[0] and "\n" not in problems[0] and not stale
    markdown(studies)  # and the report over what is left does not fail


def test_a_stale_study_is_kept_out_of_the_answer_on_both_datasets(tmp_path):
    from vaegan_core.experiments.collapse_report import load_studies, stale_line, study_state, verdict

    for dataset in ("mnist", "fashion-mnist"):
        gan, vaegan = _shipped(tmp_path, dataset, "gan"), _shipped(tmp_path, dataset, "vaegan", b"hybrid")
        for seed in (0, 1):
            _write_study(tmp_path, dataset, "gan", f"synthetic-seed{seed}", _study([20, 40 + seed], start=gan))
            _write_study(tmp_path, dataset, "vaegan", f"synthetic-seed{seed}", _study([30, 33 + seed], start=vaegan))
        # made from the VAE-GAN's earlier weights (and one from before fingerprints were stored): both stale
        _write_study(tmp_path, dataset, "vaegan", "synthetic-seed2", _study([30, 300], start="0" * 16))
        _write_study(tmp_path, dataset, "vaegan", "fresh-real-seed0", _study([30, 31]))
    for dataset in ("mnist", "fashion-mnist"):
        studies, problems, stale = load_studies(tmp_path / "collapse", dataset, checkpoints=tmp_path)
        assert not problems and sorted((s["loop"], s["seed"]) for s in stale) == [("fresh-real", 0), ("synthetic", 2)]
        assert [s["seed"] for s in studies[("vaegan", "synthetic")]] == [0, 1]  # the x10 seed is not mixed in
        result = verdict(studies)
        assert result["slowest"] == "vaegan" and result["separated"]
        assert "2 " + dataset + " studies" in stale_line(stale, dataset) and stale_line([], dataset) is None
    folder = tmp_path / "collapse" / "mnist" / "vaegan"
    assert study_state(folder / "synthetic-seed0", tmp_path / "mnist" / "vaegan", 1) == "current"
    assert study_state(folder / "synthetic-seed0", tmp_path / "mnist" / "vaegan", 2) == "short"
    assert study_state(folder / "synthetic-seed2", tmp_path / "mnist" / "vaegan", 1) == "stale"
    assert study_state(folder / "nothing-seed0", tmp_path / "mnist" / "vaegan", 1) == "missing"
    # the shipped weights change: every study of that family turns stale
    _shipped(tmp_path, "mnist", "vaegan", b"retrained")
    studies, _, stale = load_studies(tmp_path / "collapse", "mnist", checkpoints=tmp_path)
    assert ("vaegan", "synthetic") not in studies and len(stale) == 4 and verdict(studies) is None
