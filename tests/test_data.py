import gzip
import struct

import numpy as np
import pytest
import torch

from vaegan_core.training.data import load_dataset, read_idx
from vaegan_core.errors import DatasetError


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if compress else payload)


def make_split(folder, n=5, compress=True, split="train"):
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if compress else ""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_reads_our_layout_plain_and_gzipped(tmp_path, compress):
    images, labels = make_split(tmp_path / "mnist", compress=compress)
    x, y = load_dataset("mnist", "train", root=tmp_path)
    assert x.dtype == torch.uint8 and x.shape == (5, 1, 28, 28)
    assert y.dtype == torch.int64 and y.shape == (5,)
    assert np.array_equal(x[:, 0].numpy(), images) and np.array_equal(y.numpy(), labels)


def test_reads_torchvision_layout(tmp_path):
    images, _ = make_split(tmp_path / "FashionMNIST" / "raw", split="test")
    x, _ = load_dataset("fashion-mnist", "test", root=tmp_path)
    assert np.array_equal(x[:, 0].numpy(), images)


def test_truncated_file_is_an_error_naming_it(tmp_path):
    make_split(tmp_path / "mnist", compress=False)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte is truncated"):
        load_dataset("mnist", "train", root=tmp_path)


def test_truncated_gzip_is_an_error_naming_it(tmp_path):
    make_split(tmp_path / "mnist", compress=True)
    path = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz"):
        load_dataset("mnist", "train", root=tmp_path)


def test_bad_magic_number_is_an_error(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 20)
    with pytest.raises(DatasetError, match="bad magic number"):
        read_idx(path)


def test_mismatched_counts_are_an_error(tmp_path):
    make_split(tmp_path / "mnist", n=5, compress=False)
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="5 images but .* 4 labels"):
        load_dataset("mnist", "train", root=tmp_path)


def test_missing_dataset_names_files_and_env_var(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_dataset("mnist", "test", root=tmp_path)
    message = str(error.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "VAEGAN_DATA_DIR" in message and "\n" not in message


def test_env_var_is_used(tmp_path, monkeypatch):
    images, _ = make_split(tmp_path / "mnist", n=3)
    monkeypatch.setenv("VAEGAN_DATA_DIR", str(tmp_path))
    x, _ = load_dataset("mnist")
    assert np.array_equal(x[:, 0].numpy(), images)


def test_unknown_name_and_split():
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("digits", "validation")


def test_digits_always_available_and_disjoint():
    train_x, train_y = load_dataset("digits", "train")
    test_x, test_y = load_dataset("digits", "test")
    assert train_x.shape == (1437, 1, 28, 28) and test_x.shape == (360, 1, 28, 28)
    assert train_x.dtype == torch.uint8 and train_y.dtype == torch.int64
    assert set(train_y.tolist()) == set(range(10)) and set(test_y.tolist()) == set(range(10))
    assert train_x.max() > 200  # scaled to the full byte range like MNIST
    # digits sit in the middle like MNIST: the 4-pixel border is empty
    assert train_x[:, :, :4].sum() == 0 and train_x[:, :, -4:].sum() == 0


@pytest.mark.slow
def test_real_mnist_and_fashion_mnist(data_dir):
    x, y = load_dataset("mnist", "train", root=data_dir)
    assert x.shape == (60000, 1, 28, 28)
    assert torch.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    x, y = load_dataset("fashion-mnist", "test", root=data_dir)
    assert x.shape == (10000, 1, 28, 28) and torch.bincount(y).tolist() == [1000] * 10
