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
