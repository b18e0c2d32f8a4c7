"""Figures in hand-written prose agree with the files they come from (issue 52: "a test fails when a prose figure,
a card note or a page sentence disagrees with its file").

Each check names a sentence by a pattern with the figure as its group, and a function that reads the figure from
the shipped files (metrics.json, quality.jsonl, the checkpoints folder), formatted as the prose prints it. A
retrain that changes a figure fails here until the sentence is rewritten. Generated blocks (README's results table,
docs/collapse.md's answer) are checked by their generators' own tests, not here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO

CHECKPOINTS = REPO / "checkpoints"
NUMBER_WORDS = {4: "four", 6: "six", 10: "Ten"}


def metrics(path: str) -> dict:
    return json.loads((CHECKPOINTS / path / "metrics.json").read_text())


def anomaly_auc(path: str, against: str, score: str) -> str:
    return f"{metrics(path)['diagnostics']['anomaly']['pairs'][against][score]['auc']:.3f}"


def shipped(conditional: bool) -> int:
    """Checkpoint folders that ship: datasets x families (a conditional one under <dataset>/conditional/)."""
    count = 0
    for dataset in ("mnist", "fashion-mnist"):
        base = CHECKPOINTS / dataset / ("conditional" if conditional else "")
        count += sum((base / kind / "config.json").is_file() for kind in ("gan", "vae", "vaegan"))
    return count


# (file, pattern whose group 1 is the figure, the figure as the files give it)
FIGURES = [
    ("docs/metrics.md", r"tells the digits apart \(AUC (\d\.\d{3}) against MNIST\)",
     lambda: anomaly_auc("fashion-mnist/vae", "mnist", "elbo")),
    ("docs/metrics.md", r"more typical than its own garments: AUC (\d\.\d{3})",
     lambda: anomaly_auc("fashion-mnist/vae", "mnist", "bernoulli_elbo")),
    ("README.md", r"(\w+) pretrained checkpoints ship with it",
     lambda: NUMBER_WORDS.get(shipped(False) + shipped(True), str(shipped(False) + shipped(True)))),
    ("README.md", r"pretrained checkpoints ship with it \((\w+) unconditional",
     lambda: NUMBER_WORDS.get(shipped(False), str(shipped(False)))),
    ("README.md", r"unconditional, (\w+) class-conditional\)",
     lambda: NUMBER_WORDS.get(shipped(True), str(shipped(True)))),
]


@pytest.mark.parametrize("path, pattern, truth", FIGURES, ids=[f"{p}:{i}" for i, (p, *_) in enumerate(FIGURES)])
def test_a_prose_figure_agrees_with_its_file(path, pattern, truth):
    text = re.sub(r"\s+", " ", (REPO / path).read_text(encoding="utf-8"))  # a sentence may wrap anywhere
    found = re.findall(pattern, text)
    assert found, f"{path}: no sentence matches {pattern!r} (rewritten? then update this check)"
    expected = truth()
    assert all(value == expected for value in found), f"{path}: says {found}, the files give {expected!r}"


def test_the_check_fails_on_a_figure_that_disagrees(tmp_path, monkeypatch):
    """The check can fail: the same sentence with another figure is caught."""
    import test_prose_figures as module

    fake = tmp_path / "doc.md"
    fake.write_text("the same model ranks the digits as\nmore typical than its own garments: AUC 0.999.")
    monkeypatch.setattr(module, "REPO", Path(tmp_path))
    with pytest.raises(AssertionError, match="the files give"):
        test_a_prose_figure_agrees_with_its_file("doc.md", FIGURES[1][1], lambda: "0.342")
