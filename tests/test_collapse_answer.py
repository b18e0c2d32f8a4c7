"""The collapse answer in docs/collapse.md and README.md is what benchmarks/collapse_answer.py generates from the
shipped studies' files: a re-run study or a retrained checkpoint fails this test until the prose is regenerated."""

from __future__ import annotations

import importlib.util

from conftest import REPO  # noqa: E402


def _script():
    spec = importlib.util.spec_from_file_location("collapse_answer", REPO / "benchmarks" / "collapse_answer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_and_readme_hold_the_generated_answer():
    script = _script()
    root, checkpoints = REPO / "checkpoints" / "collapse", REPO / "checkpoints"
    docs = (REPO / "docs" / "collapse.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    fix = "run `python benchmarks/collapse_answer.py --write`"
    assert script.between(docs, script.DOCS_MARKERS) == script.docs_block(root, checkpoints).strip(), fix
    assert script.between(readme, script.README_MARKERS) == script.readme_block(root, checkpoints).strip(), fix


def test_the_claim_follows_the_bands(tmp_path):
    """The sentence beside the paper ranks only beyond the seed spread, whichever way the studies fall."""
    from vaegan_core.experiments.collapse_report import claim_line

    def runs(*growths):
        return [{"generations": [{"generation": 0, "fid": 10.0, "recall": 0.8},
                                 {"generation": 1, "fid": 10.0 * g, "recall": 0.7}]} for g in growths]

    supports = {("vaegan", "synthetic"): runs(1.1, 1.2), ("gan", "synthetic"): runs(2.0, 2.1),
                ("vae", "synthetic"): runs(3.0, 3.2)}
    assert "this study supports it" in claim_line(supports, "MNIST")
    overlap = {**supports, ("gan", "synthetic"): runs(1.15, 2.0)}
    line = claim_line(overlap, "MNIST")
    assert "more slowly than the VAE only, and no differently from the GAN" in line
    contradicts = {("vaegan", "synthetic"): runs(5.0, 5.5), ("gan", "synthetic"): runs(2.0, 2.1),
                   ("vae", "synthetic"): runs(3.0, 3.2)}
    assert "contradicts it" in claim_line(contradicts, "Fashion-MNIST")
    assert claim_line({("gan", "synthetic"): runs(2.0)}, "MNIST") is None


def test_every_shipped_study_starts_from_the_shipped_checkpoint_and_agrees_with_its_score():
    """Issue 51's done-when, from the files: no stale study ships, the plan's studies are there (MNIST: 3 families x 3
    loops x 3 seeds; Fashion-MNIST: 3 seeds of the synthetic loop, one of each other loop), and each study's
    generation-0 domain FID is within 1.5x of the domain FID its checkpoint's metrics.json holds."""
    import json

    from vaegan_core.experiments.collapse_report import load_studies

    root, checkpoints = REPO / "checkpoints" / "collapse", REPO / "checkpoints"
    for dataset, seeds_by_loop in (("mnist", {"synthetic": 3, "fresh-real": 3, "accumulate": 3}),
                                   ("fashion-mnist", {"synthetic": 3, "fresh-real": 1, "accumulate": 1})):
        studies, problems, stale = load_studies(root, dataset, checkpoints)
        assert problems == [] and stale == [], (dataset, problems, [study["folder"] for study in stale])
        for kind in ("gan", "vae", "vaegan"):
            metrics = json.loads((checkpoints / dataset / kind / "metrics.json").read_text(encoding="utf-8"))
            shipped = metrics["lenet-test"]["metrics"]["fid"]
            for loop, seeds in seeds_by_loop.items():
                runs = studies.get((kind, loop), [])
                assert len(runs) >= seeds, (dataset, kind, loop, len(runs))
                for run in runs:
                    first = run["generations"][0]["fid"]
                    assert 1 / 1.5 <= first / shipped <= 1.5, (dataset, kind, loop, run["seed"], first, shipped)
