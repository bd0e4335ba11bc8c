"""``grader.data``: the bundled digits split, and the torchvision loaders for online users,
tested offline on tiny files written here in the real on-disk formats (MNIST's IDX
files, CIFAR-10's pickled batches)."""
from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest
import torch
import torchvision

from grader import data


def test_digits_split_is_fixed_disjoint_and_stratified():
    parts = {s: data.digits_split(s) for s in data.SPLITS}
    assert {s: len(y) for s, (_, y) in parts.items()} == data.DIGITS_SIZES
    assert sum(data.DIGITS_SIZES.values()) == 1797  # every scan of load_digits, once
    for split in ("val", "test"):
        assert np.bincount(parts[split][1]).tolist() == [30] * 10
    rows = {s: {x.tobytes() for x in xs} for s, (xs, _) in parts.items()}
    # load_digits has a few duplicate scans; the split is by index, so allow those
    assert len(rows["train"] & rows["test"]) <= 3
    x, y = parts["train"]
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape[1:] == (8, 8)
    assert 0.0 == x.min() and x.max() == 1.0
    again = data.digits_split("train")
    assert np.array_equal(again[0], x) and np.array_equal(again[1], y)


def test_digits_dataset_sizes_and_relabelled_classes():
    ds = data.digits("test", size=28)
    assert ds.tensors[0].shape == (300, 1, 28, 28)
    five_to_nine = data.digits("train", classes=[5, 6, 7, 8, 9])
    _, labels = data.digits_split("train")
    assert len(five_to_nine) == int((labels >= 5).sum())
    assert five_to_nine.tensors[1].tolist() == [int(v) - 5 for v in labels[labels >= 5]]
    assert data.digits("val", size=8).tensors[0].shape == (300, 1, 8, 8)


def test_loaders_shuffle_train_with_the_seed_only():
    a, b = data.loaders(batch_size=50, seed=3), data.loaders(batch_size=50, seed=3)
    first = next(iter(a["train"]))[1]
    assert torch.equal(first, next(iter(b["train"]))[1])
    assert not torch.equal(first, next(iter(data.loaders(batch_size=50, seed=4)["train"]))[1])
    assert torch.equal(next(iter(a["test"]))[1], torch.from_numpy(data.digits_split("test")[1][:50]))


# --- the online datasets, on files in their real formats ------------------------------------


def _idx(path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships them: magic (0, 0, dtype 0x08 = uint8, ndim), sizes, bytes."""
    with open(path, "wb") as fh:
        fh.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        fh.write(struct.pack(f">{array.ndim}I", *array.shape))
        fh.write(array.astype(np.uint8).tobytes())


def _write_mnist(root, folder: str, n_train: int = 20, n_test: int = 10):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        _idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out[prefix] = images, labels
    return out


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_formats_load_through_torchvision(tmp_path, name, folder):
    written = _write_mnist(tmp_path, folder)
    train = data.online(name, str(tmp_path), train=True)
    assert isinstance(train, getattr(torchvision.datasets, folder))
    image, label = train[3]
    assert image.shape == (1, 28, 28) and label == written["train"][1][3]
    np.testing.assert_allclose(image[0].numpy(), written["train"][0][3] / 255.0, atol=1e-6)
    test = data.online(name, str(tmp_path), train=False, size=32)
    assert len(test) == 10 and test[0][0].shape == (1, 32, 32)
    # no validation split of their own: the last 10% of train
    split = {s: data.load(name, s, str(tmp_path)) for s in data.SPLITS}
    assert [len(split[s]) for s in data.SPLITS] == [18, 2, 10]
    loader = data.loaders(name, batch_size=4, root=str(tmp_path))["train"]
    images, labels = next(iter(loader))
    assert images.shape == (4, 1, 28, 28) and labels.dtype == torch.int64


def test_cifar10_pickled_batches_load_through_torchvision(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows = rng.integers(0, 256, (4, 3 * 32 * 32), dtype=np.uint8)  # channel-major rows
        labels = rng.integers(0, 10, 4).tolist()
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": rows, "labels": labels, "batch_label": name}, fh)
        batches[name] = rows, labels
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"]}, fh)
    # torchvision checks the real files' MD5 sums; these are stand-ins in the same format,
    # so only their presence is checked
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity",
                        lambda path, md5=None: os.path.isfile(path))
    train = data.online("cifar10", str(tmp_path), train=True)
    assert len(train) == 20 and train.classes[0] == "airplane"
    image, label = train[5]  # the second row of data_batch_2
    rows, labels = batches["data_batch_2"]
    assert label == labels[1] and image.shape == (3, 32, 32)
    np.testing.assert_allclose(image.numpy(), rows[1].reshape(3, 32, 32) / 255.0, atol=1e-6)
    assert data.channels("cifar10") == 3 and len(data.load("cifar10", "test", str(tmp_path))) == 4


@pytest.mark.parametrize("name", sorted(data.ONLINE))
def test_a_missing_dataset_says_what_to_do(tmp_path, name):
    with pytest.raises(data.DatasetNotFound) as info:
        data.loaders(name, root=str(tmp_path / "nothing"))
    text = str(info.value)
    assert "download=True" in text and "dataset='digits'" in text
    assert data.ONLINE[name][0] in text


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="split must be one of"):
        data.digits_split("training")
    with pytest.raises(ValueError, match="dataset must be one of"):
        data.online("imagenet")
