"""The image model-collapse study end to end on scikit-learn's digits (tiny networks, seconds)."""

from __future__ import annotations

import json
import math

import pytest

from vaegan_core.cli import main
from vaegan_core.errors import ConfigError
from vaegan_core.experiments.collapse_images import ImageCollapseConfig, run

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
