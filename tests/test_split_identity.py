"""One identity per split (issue 52): the test splits the shipped figures were measured on are named by their content,
and a test split with other content (e.g. the official Fashion-MNIST from a torchvision download, where the shipped one
is the class-balanced split) is said in one warning, never used silently."""

from __future__ import annotations

import gzip
import shutil
import warnings

import numpy as np
import pytest

from conftest import REPO
from vaegan_core.training import data
from vaegan_core.training.data import CANONICAL_TEST_SPLITS, load_dataset, split_fingerprint


@pytest.mark.parametrize("name", sorted(CANONICAL_TEST_SPLITS))
def test_the_shipped_test_splits_are_the_canonical_ones(name):
    images, labels = load_dataset(name, "test", root=REPO / "checkpoints" / "data")
    assert split_fingerprint(images, labels) == CANONICAL_TEST_SPLITS[name]


def _copy_with_one_label_changed(source, target):
    shutil.copytree(source, target)
    path = target / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[8] = (raw[8] + 1) % 10  # the first image's label
    path.write_bytes(gzip.compress(bytes(raw)))


def test_another_test_split_is_said_once_and_the_shipped_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_checked_splits", set())
    _copy_with_one_label_changed(REPO / "checkpoints" / "data" / "fashion-mnist", tmp_path / "fashion-mnist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels = load_dataset("fashion-mnist", "test", root=tmp_path)
        load_dataset("fashion-mnist", "test", root=tmp_path)  # once per folder
        load_dataset("fashion-mnist", "test", root=REPO / "checkpoints" / "data")
    said = [str(w.message) for w in caught if "not the one the shipped figures" in str(w.message)]
    assert len(said) == 1 and "fashion-mnist" in said[0] and "\n" not in said[0]
    assert CANONICAL_TEST_SPLITS["fashion-mnist"] in said[0] and split_fingerprint(images, labels) in said[0]
    assert np.asarray(labels).shape == (10_000,)  # the split is still given: the warning says, it does not refuse
