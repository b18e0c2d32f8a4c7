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
LOWER_WORDS = {4: "four", 6: "six", 10: "ten"}


def metrics(path: str) -> dict:
    return json.loads((CHECKPOINTS / path / "metrics.json").read_text())


def anomaly_auc(path: str, against: str, score: str) -> str:
    return f"{metrics(path)['diagnostics']['anomaly']['pairs'][against][score]['auc']:.3f}"


def config(path: str) -> dict:
    return json.loads((CHECKPOINTS / path / "config.json").read_text())


def score(path: str, key: str, name: str, digits: int) -> str:
    """One score of metrics.json (``key`` as `vaegan eval` stores it, e.g. inception-test-gmm) as prose prints it;
    IS and KID by their mean; a share (adherence) in per cent when ``name`` ends with %."""
    percent = name.endswith("%")
    value = metrics(path)[key]["metrics"][name.rstrip("%")]
    value = value["mean"] if isinstance(value, dict) else value
    return f"{value * 100 if percent else value:.{digits}f}"


def probe(path: str) -> str:
    """The label probe's accuracy (metrics.json's diagnostics), in per cent with one decimal."""
    return f"{metrics(path)['diagnostics']['label_probe']['accuracy'] * 100:.1f}"


def shipped_epoch(path: str) -> str:
    return str(config(path)["state"]["epoch"])


def cpu_minutes(path: str) -> str:
    """The run's minutes in all (config.json's train_seconds), rounded as the notes print them."""
    return f"{config(path)['state']['train_seconds'] / 60:.0f}"


def epochs_to_within(path: str, factor: float) -> str:
    """The first epoch whose tracked FID (quality.jsonl) is within ``factor`` x the shipped epoch's."""
    rows = [json.loads(line) for line in (CHECKPOINTS / path / "quality.jsonl").read_text().splitlines() if line]
    epoch = config(path)["state"]["epoch"]
    shipped_fid = [row["fid_domain_train"] for row in rows if row["epoch"] == epoch][-1]
    return str(min(row["epoch"] for row in rows if row["fid_domain_train"] <= factor * shipped_fid))


def ending_with_a_decay_stage() -> int:
    """The unconditional shipped checkpoints whose last stage is a cosine decay of the rates."""
    return sum(config(f"{dataset}/{kind}")["train"].get("lr_schedule") == "cosine"
               for dataset in ("mnist", "fashion-mnist") for kind in ("gan", "vae", "vaegan"))


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
    # docs/collapse.md: how far from scratch the shipped MNIST GAN is (its quality.jsonl)
    ("docs/collapse.md", r"took (\d+) epochs of the full training set \(its `quality\.jsonl`",
     lambda: epochs_to_within("mnist/gan", 1.5)),
    ("docs/collapse.md", r"records the tracked FID after each: epoch (\d+) is the first within 1\.5x",
     lambda: epochs_to_within("mnist/gan", 1.5)),
    # docs/training.md: the shipped unconditional checkpoints, and how many end with a decay stage
    ("docs/training.md", r"\{gan,vae,vaegan\}/` hold (\w+) checkpoints",
     lambda: LOWER_WORDS.get(shipped(False), str(shipped(False)))),
    ("docs/training.md", r"each of the (\w+) ends with one",
     lambda: LOWER_WORDS.get(ending_with_a_decay_stage(), str(ending_with_a_decay_stage()))),
    ("docs/results.md", r"Each of the (\w+) shipped checkpoints now ends with a decay stage",
     lambda: LOWER_WORDS.get(ending_with_a_decay_stage(), str(ending_with_a_decay_stage()))),
    # docs/results.md: the last step of each shipped checkpoint, "old -> now" (the now is the shipped file's)
    ("docs/results.md", r"the best tracked epoch, (\d+), took the train split from 37\.3 to 30\.2",
     lambda: shipped_epoch("mnist/vaegan")),
    ("docs/results.md", r"Inception FID 10\.9 -> (\d+\.\d) with N\(0, I\) \(target 10:",
     lambda: score("mnist/vaegan", "inception-test", "fid", 1)),
    ("docs/results.md", r"now met\) and 7\.9 -> (\d+\.\d) with the GMM \(target 6: missed\), domain FID 41\.0",
     lambda: score("mnist/vaegan", "inception-test-gmm", "fid", 1)),
    ("docs/results.md", r"domain FID 41\.0 -> (\d+\.\d) and 6\.5",
     lambda: score("mnist/vaegan", "lenet-test", "fid", 1)),
    ("docs/results.md", r"domain FID 41\.0 -> \d+\.\d and 6\.5 -> (\d+\.\d)",
     lambda: score("mnist/vaegan", "lenet-test-gmm", "fid", 1)),
    ("docs/results.md", r"IS \(clf\) with the GMM 9\.60 -> (\d\.\d\d)",
     lambda: score("mnist/vaegan", "lenet-test-gmm", "is", 2)),
    ("docs/results.md", r"the best tracked epoch, (\d+), took the train split from 6\.27 to 5\.82",
     lambda: shipped_epoch("mnist/gan")),
    ("docs/results.md", r"Inception FID 3\.7 -> (\d+\.\d) \(target 8: met\), domain FID 8\.9",
     lambda: score("mnist/gan", "inception-test", "fid", 1)),
    ("docs/results.md", r"domain FID 8\.9 -> (\d+\.\d), IS \(clf\) 8\.97",
     lambda: score("mnist/gan", "lenet-test", "fid", 1)),
    ("docs/results.md", r"IS \(clf\) 8\.97 -> (\d\.\d\d) \(target 9\.5: still missed\)\. The hybrid",
     lambda: score("mnist/gan", "lenet-test", "is", 2)),
    ("docs/results.md", r"GAN Inception FID 16\.1 -> (\d+\.\d)",
     lambda: score("fashion-mnist/gan", "inception-test", "fid", 1)),
    ("docs/results.md", r"\(target 25: met\), domain FID 15\.0 -> (\d+\.\d); VAE-GAN",
     lambda: score("fashion-mnist/gan", "lenet-test", "fid", 1)),
    ("docs/results.md", r"VAE-GAN Inception FID 22\.8 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vaegan", "inception-test", "fid", 1)),
    ("docs/results.md", r"VAE-GAN Inception FID 22\.8 -> \d+\.\d and 16\.5 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vaegan", "inception-test-gmm", "fid", 1)),
    ("docs/results.md", r"18: met\), domain FID 42\.8 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vaegan", "lenet-test", "fid", 1)),
    ("docs/results.md", r"18: met\), domain FID 42\.8 -> \d+\.\d and 9\.3 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vaegan", "lenet-test-gmm", "fid", 1)),
    ("docs/results.md", r"train split GAN 14\.5 -> (\d+\.\d\d)",
     lambda: score("fashion-mnist/gan", "lenet-train", "fid", 2)),
    ("docs/results.md", r"VAE-GAN 42\.0 -> (\d+\.\d) with N\(0, I\) and 8\.7",
     lambda: score("fashion-mnist/vaegan", "lenet-train", "fid", 1)),
    ("docs/results.md", r"with N\(0, I\) and 8\.7 -> (\d+\.\d) with the GMM \(both epoch",
     lambda: score("fashion-mnist/vaegan", "lenet-train-gmm", "fid", 1)),
    ("docs/results.md", r"with the GMM \(both epoch (\d+)\)", lambda: shipped_epoch("fashion-mnist/vaegan")),
    ("docs/results.md", r"with the GMM \(both epoch (\d+)\)", lambda: shipped_epoch("fashion-mnist/gan")),
    ("docs/results.md", r"17\.7 -> 14\.9 \(epoch (\d+)\)", lambda: shipped_epoch("mnist/vae")),
    ("docs/results.md", r"38\.4 -> 37\.3 \(epoch (\d+)\)", lambda: shipped_epoch("fashion-mnist/vae")),
    ("docs/results.md", r"MNIST Inception FID 21\.1 -> (\d+\.\d) with N\(0, I\)",
     lambda: score("mnist/vae", "inception-test", "fid", 1)),
    ("docs/results.md", r"with N\(0, I\) and 20\.6 -> (\d+\.\d) with the GMM",
     lambda: score("mnist/vae", "inception-test-gmm", "fid", 1)),
    ("docs/results.md", r"domain FID 207\.6 -> (\d+\.\d) and 19\.1",
     lambda: score("mnist/vae", "lenet-test", "fid", 1)),
    ("docs/results.md", r"domain FID 207\.6 -> \d+\.\d and 19\.1 -> (\d+\.\d)",
     lambda: score("mnist/vae", "lenet-test-gmm", "fid", 1)),
    ("docs/results.md", r"Inception FID 61\.3 -> (\d+\.\d) and 34\.6",
     lambda: score("fashion-mnist/vae", "inception-test", "fid", 1)),
    ("docs/results.md", r"Inception FID 61\.3 -> \d+\.\d and 34\.6 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vae", "inception-test-gmm", "fid", 1)),
    ("docs/results.md", r"domain FID 138\.1 -> (\d+\.\d) and 39\.1",
     lambda: score("fashion-mnist/vae", "lenet-test", "fid", 1)),
    ("docs/results.md", r"domain FID 138\.1 -> \d+\.\d and 39\.1 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vae", "lenet-test-gmm", "fid", 1)),
    # the notes of the model cards (copied into each README.md by vaegan_core.storage.card): what the files hold now
    ("checkpoints/mnist/vaegan/notes.md", r"The epoch shipped is the best tracked one, (\d+)\.",
     lambda: shipped_epoch("mnist/vaegan")),
    ("checkpoints/mnist/vaegan/notes.md", r"on the test split these weights give (\d+\.\d) with N\(0, I\)",
     lambda: score("mnist/vaegan", "inception-test", "fid", 1)),
    ("checkpoints/mnist/vaegan/notes.md", r"epoch 20: 25\.1\), (\d+\.\d) with the GMM",
     lambda: score("mnist/vaegan", "inception-test-gmm", "fid", 1)),
    ("checkpoints/mnist/vaegan/notes.md", r"and IS \(clf\) (\d\.\d\d) with the GMM \(9\.60",
     lambda: score("mnist/vaegan", "lenet-test-gmm", "is", 2)),
    ("checkpoints/mnist/vaegan/notes.md", r"domain FID 41\.0 -> (\d+\.\d) with N\(0, I\)",
     lambda: score("mnist/vaegan", "lenet-test", "fid", 1)),
    ("checkpoints/mnist/vaegan/notes.md", r"and 6\.5 -> (\d+\.\d) with the GMM \(within its",
     lambda: score("mnist/vaegan", "lenet-test-gmm", "fid", 1)),
    ("checkpoints/mnist/vaegan/notes.md", r"Inception FID 10\.9 -> (\d+\.\d) and 7\.9",
     lambda: score("mnist/vaegan", "inception-test", "fid", 1)),
    ("checkpoints/mnist/vaegan/notes.md", r"Inception FID 10\.9 -> \d+\.\d and 7\.9 -> (\d+\.\d)\.",
     lambda: score("mnist/vaegan", "inception-test-gmm", "fid", 1)),
    ("checkpoints/mnist/gan/notes.md", r"the best tracked epoch, (\d+) \(6\.01;", lambda: shipped_epoch("mnist/gan")),
    ("checkpoints/mnist/gan/notes.md", r"\(6\.01; (\d+) CPU-minutes in all\)", lambda: cpu_minutes("mnist/gan")),
    ("checkpoints/mnist/gan/notes.md", r"domain FID 8\.92 -> (\d+\.\d\d)",
     lambda: score("mnist/gan", "lenet-test", "fid", 2)),
    ("checkpoints/mnist/gan/notes.md", r"IS \(clf\) 8\.97 -> (\d\.\d\d), precision",
     lambda: score("mnist/gan", "lenet-test", "is", 2)),
    ("checkpoints/mnist/gan/notes.md", r"precision\s+0\.72 -> (\d\.\d\d)",
     lambda: score("mnist/gan", "lenet-test", "precision", 2)),
    ("checkpoints/mnist/gan/notes.md", r"recall 0\.87 -> (\d\.\d\d), Inception FID 3\.7",
     lambda: score("mnist/gan", "lenet-test", "recall", 2)),
    ("checkpoints/mnist/gan/notes.md", r"Inception FID 3\.7 -> (\d\.\d)\.",
     lambda: score("mnist/gan", "inception-test", "fid", 1)),
    ("checkpoints/mnist/gan/notes.md", r"is not \((\d\.\d\d); 8\.59",
     lambda: score("mnist/gan", "lenet-test", "is", 2)),
    ("checkpoints/mnist/gan/notes.md", r"domain recall (\d\.\d\d)\)",
     lambda: score("mnist/gan", "lenet-test", "recall", 2)),
    ("checkpoints/fashion-mnist/gan/notes.md", r"so epoch (\d+) is\s+shipped \(\d+ CPU-minutes in all\)\. Replacement",
     lambda: shipped_epoch("fashion-mnist/gan")),
    ("checkpoints/fashion-mnist/gan/notes.md", r"shipped \((\d+) CPU-minutes in all\)\. Replacement rule: train",
     lambda: cpu_minutes("fashion-mnist/gan")),
    ("checkpoints/fashion-mnist/gan/notes.md", r"train split 14\.5 -> (\d\.\d\d)",
     lambda: score("fashion-mnist/gan", "lenet-train", "fid", 2)),
    ("checkpoints/fashion-mnist/gan/notes.md", r"Inception FID 16\.1 ->\s+(\d+\.\d)",
     lambda: score("fashion-mnist/gan", "inception-test", "fid", 1)),
    ("checkpoints/fashion-mnist/gan/notes.md", r"domain FID 15\.0 -> (\d+\.\d)",
     lambda: score("fashion-mnist/gan", "lenet-test", "fid", 1)),
    ("checkpoints/fashion-mnist/gan/notes.md", r"recall 0\.61 -> (\d\.\d\d)",
     lambda: score("fashion-mnist/gan", "lenet-test", "recall", 2)),
    ("checkpoints/fashion-mnist/gan/notes.md", r"\(precision (\d\.\d\d) both\)",
     lambda: score("fashion-mnist/gan", "lenet-test", "precision", 2)),
    ("checkpoints/fashion-mnist/gan/notes.md", r"classifier IS 6\.98 -> (\d\.\d\d)",
     lambda: score("fashion-mnist/gan", "lenet-test", "is", 2)),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"so epoch (\d+) is shipped \(\d+ CPU-minutes",
     lambda: shipped_epoch("fashion-mnist/vaegan")),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"shipped \((\d+) CPU-minutes in all\)",
     lambda: cpu_minutes("fashion-mnist/vaegan")),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"N\(0, I\) 42\.0 -> (\d+\.\d), GMM",
     lambda: score("fashion-mnist/vaegan", "lenet-train", "fid", 1)),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"GMM 8\.7 -> (\d+\.\d)\.",
     lambda: score("fashion-mnist/vaegan", "lenet-train-gmm", "fid", 1)),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"Inception FID 22\.8 -> (\d+\.\d) with N\(0, I\)",
     lambda: score("fashion-mnist/vaegan", "inception-test", "fid", 1)),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"16\.5 -> (\d+\.\d) with the GMM",
     lambda: score("fashion-mnist/vaegan", "inception-test-gmm", "fid", 1)),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"domain FID 42\.8 -> (\d+\.\d) and",
     lambda: score("fashion-mnist/vaegan", "lenet-test", "fid", 1)),
    ("checkpoints/fashion-mnist/vaegan/notes.md", r"domain FID 42\.8 -> \d+\.\d and\s+9\.3 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vaegan", "lenet-test-gmm", "fid", 1)),
    ("checkpoints/mnist/vae/notes.md", r"the lowest at epoch (\d+), the epoch kept\.\s+Its domain",
     lambda: shipped_epoch("mnist/vae")),
    ("checkpoints/mnist/vae/notes.md", r"beside two other runs, (\d+) in all\)", lambda: cpu_minutes("mnist/vae")),
    ("checkpoints/mnist/vae/notes.md", r"after the fifth \(the decay stage\):\s+(\d+\.\d) and",
     lambda: score("mnist/vae", "inception-test", "fid", 1)),
    ("checkpoints/mnist/vae/notes.md", r"after the fifth \(the decay stage\):\s+\d+\.\d and (\d+\.\d)",
     lambda: score("mnist/vae", "inception-test-gmm", "fid", 1)),
    ("checkpoints/mnist/vae/notes.md", r"domain FID 207\.6 -> (\d+\.\d) and 19\.1",
     lambda: score("mnist/vae", "lenet-test", "fid", 1)),
    ("checkpoints/mnist/vae/notes.md", r"and 19\.1 -> (\d+\.\d) \(the Results",
     lambda: score("mnist/vae", "lenet-test-gmm", "fid", 1)),
    ("checkpoints/fashion-mnist/vae/notes.md", r"beside two other runs, (\d+) in all\)",
     lambda: cpu_minutes("fashion-mnist/vae")),
    ("checkpoints/fashion-mnist/vae/notes.md", r"rates over \d+ more \(61\.3 -> (\d+\.\d)",
     lambda: score("fashion-mnist/vae", "inception-test", "fid", 1)),
    ("checkpoints/fashion-mnist/vae/notes.md", r"\(61\.3 -> \d+\.\d and 34\.6 -> (\d+\.\d)\)",
     lambda: score("fashion-mnist/vae", "inception-test-gmm", "fid", 1)),
    # the conditional checkpoints' notes
    ("checkpoints/mnist/conditional/gan/notes.md", r"decay\s+0\.999, (\d+) epochs, seed 0\)",
     lambda: shipped_epoch("mnist/conditional/gan")),
    ("checkpoints/mnist/conditional/vae/notes.md", r"KL weight 1, (\d+) epochs, seed 0\)",
     lambda: shipped_epoch("mnist/conditional/vae")),
    ("checkpoints/mnist/conditional/vae/notes.md", r"recall fell from (\d\.\d\d) to 0\.17",
     lambda: score("mnist/conditional/vae", "lenet-test", "recall", 2)),
    ("checkpoints/mnist/conditional/vae/notes.md", r"domain FID rose from (\d+) to 107",
     lambda: score("mnist/conditional/vae", "lenet-test", "fid", 0)),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"decay 0\.999, (\d+) epochs, seed 0\)",
     lambda: shipped_epoch("mnist/conditional/vaegan")),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"moving average: adherence (\d+\.\d) %",
     lambda: score("mnist/conditional/vaegan", "lenet-test", "label_adherence%", 1)),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"%, domain FID (\d+\.\d), per-class FID \d+\.\d, recall \d",
     lambda: score("mnist/conditional/vaegan", "lenet-test", "fid", 1)),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"per-class FID (\d+\.\d), recall",
     lambda: score("mnist/conditional/vaegan", "lenet-test", "intra_fid", 1)),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"recall (\d\.\d\d)\s+\(from 0\.66\)",
     lambda: score("mnist/conditional/vaegan", "lenet-test", "recall", 2)),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"\(from 0\.66\), probe (\d+\.\d) %",
     lambda: probe("mnist/conditional/vaegan")),
    ("checkpoints/mnist/conditional/vaegan/notes.md", r"leaks less \((\d+) %\)",
     lambda: f"{metrics('mnist/conditional/vae')['diagnostics']['label_probe']['accuracy'] * 100:.0f}"),
    ("checkpoints/fashion-mnist/conditional/vaegan/notes.md", r"decay 0\.999, (\d+) epochs, seed 0\)",
     lambda: shipped_epoch("fashion-mnist/conditional/vaegan")),
    ("checkpoints/fashion-mnist/conditional/vaegan/notes.md", r"keeps the adherence \((\d+\.\d) %\)",
     lambda: score("fashion-mnist/conditional/vaegan", "lenet-test", "label_adherence%", 1)),
    ("checkpoints/fashion-mnist/conditional/vaegan/notes.md", r"\(domain (\d+\.\d),\s+per-class",
     lambda: score("fashion-mnist/conditional/vaegan", "lenet-test", "fid", 1)),
    ("checkpoints/fashion-mnist/conditional/vaegan/notes.md", r"per-class (\d+\.\d)\), doubles",
     lambda: score("fashion-mnist/conditional/vaegan", "lenet-test", "intra_fid", 1)),
    ("checkpoints/fashion-mnist/conditional/vaegan/notes.md", r"doubles the recall \((\d\.\d\d)\)",
     lambda: score("fashion-mnist/conditional/vaegan", "lenet-test", "recall", 2)),
    ("checkpoints/fashion-mnist/conditional/vaegan/notes.md", r"lowers the probe \((\d+\.\d) %\)",
     lambda: probe("fashion-mnist/conditional/vaegan")),
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


@pytest.mark.parametrize("notes", sorted(CHECKPOINTS.glob("*/*/notes.md")) + sorted(CHECKPOINTS.glob("*/*/*/notes.md")),
                         ids=lambda path: str(path.parent.relative_to(CHECKPOINTS)))
def test_a_model_card_carries_its_checked_notes(notes):
    """The card (README.md, vaegan_core.storage.card) quotes notes.md whole, so the figures checked above in the notes
    are the card's: a card whose notes differ is one to regenerate (refresh_model_card)."""
    card = re.sub(r"\s+", " ", (notes.parent / "README.md").read_text(encoding="utf-8"))
    assert re.sub(r"\s+", " ", notes.read_text(encoding="utf-8")).strip() in card, \
        f"{notes.parent / 'README.md'} does not hold its notes.md: regenerate it (refresh_model_card)"
