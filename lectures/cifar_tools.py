"""Helpers for Lecture 12, "CIFAR-10 and Fashion-MNIST, as the sources teach them". The notebook
imports this module as ``ct``.

It holds:

* the facts of [S4]'s CIFAR-10 lab (its settings, its printed losses and accuracies) as data,
  and its network, ``Net``, under [S4]'s name;
* the **data**: the real CIFAR-10 through ``torchvision.datasets.CIFAR10`` for readers who are
  online, and an offline **stand-in** written in CIFAR-10's own on-disk format (the pickled
  batches ``cifar-10-batches-py/data_batch_1..5``, ``test_batch``, ``batches.meta``) from
  scikit-learn's digits, upsampled to 32x32 and tinted, read back by torchvision's CIFAR-10 code
  (:class:`StandInCIFAR10`); the same for Fashion-MNIST (IDX files read by
  ``torchvision.datasets.FashionMNIST``);
* the course's **improved recipe** (augmentation, a wider network with BatchNorm, SGD with a
  one-cycle schedule) and [S3]'s **Fashion-MNIST CNN** in PyTorch, with what Keras' ``summary()``
  would print for it;
* the **evaluation**: predictions, confusion matrix, per-class accuracy;
* the three runs of the lecture, stored with their configuration in
  ``lectures/results/cifar10_standin.json`` (:func:`experiments`);
* **figure functions**, each returning a :class:`matplotlib.figure.Figure`.

Every function is checked in ``tests/test_lecture_cifar.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import struct
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torchvision
from matplotlib.figure import Figure
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms

from . import figures as fg
from . import lecture_tools as lt
from . import training_tools as tt

# ---------------------------------------------------------------------------
# [S4]'s lab, as printed
# ---------------------------------------------------------------------------

#: [S4]'s class names (short ones; ``batches.meta`` of the real files says "airplane" and
#: "automobile" for the first two).
CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: The settings and the printed output of [S4]'s CIFAR-10 lab.
S4_LAB = {
    "train_images": 50_000, "test_images": 10_000, "batch_size": 4, "num_workers": 2,
    "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "lr": 0.001, "momentum": 0.9,
    "epochs": 10, "print_every": 2000,
    # "[epoch, mini-batch] loss" lines of the last two epochs, as printed
    "losses": {(9, 4000): 0.723, (9, 6000): 0.739, (9, 8000): 0.783, (9, 10000): 0.794,
               (9, 12000): 0.799, (10, 2000): 0.673, (10, 4000): 0.708, (10, 6000): 0.742,
               (10, 8000): 0.748, (10, 10000): 0.765, (10, 12000): 0.772},
    "predicted": ("cat", "ship", "truck", "plane"),
    "accuracy_pct": 62,
    "class_accuracy_pct": {"plane": 69, "car": 80, "bird": 52, "cat": 36, "deer": 53, "dog": 52,
                           "frog": 68, "horse": 67, "ship": 75, "truck": 70},
}

#: The labels of the first four images of CIFAR-10's ``test_batch`` (what [S4]'s GroundTruth
#: line shows; PyTorch's tutorial prints the same).
CIFAR10_FIRST_TEST = ("cat", "ship", "ship", "plane")


#: [S4]'s CIFAR-10 network, counted in lecture 3 (62,006 parameters). [S4] flattens with
#: ``x.view(-1, 16 * 5 * 5)``, which silently makes a wrong batch out of a wrong image size;
#: ``flatten(1)`` keeps the batch and lets ``fc1`` complain.
Net = lt.CifarNet


def s4_transform() -> transforms.Compose:
    """[S4]'s preprocessing: ``ToTensor`` (pixels to [0, 1]) then ``Normalize`` with mean and
    standard deviation 0.5 per channel (pixels to [-1, 1])."""
    return transforms.Compose([transforms.ToTensor(),
                               transforms.Normalize(S4_LAB["mean"], S4_LAB["std"])])


def unnormalize(img: torch.Tensor, mean=S4_LAB["mean"], std=S4_LAB["std"]) -> torch.Tensor:
    """Undo ``Normalize(mean, std)`` on a ``(3, H, W)`` or ``(N, 3, H, W)`` tensor:
    ``img * std + mean`` per channel; for [S4]'s 0.5s, its ``img / 2 + 0.5``."""
    shape = (-1, 1, 1)
    return img * torch.tensor(std).view(shape) + torch.tensor(mean).view(shape)


def train_s4(net: nn.Module, loader, epochs: int, optimizer: torch.optim.Optimizer,
             criterion: Callable = nn.CrossEntropyLoss(), print_every: int = 2000,
             log: Callable[[str], None] | None = print) -> list[dict]:
    """[S4]'s training loop, with its two reporting lines inside the loop over the batches:
    every ``print_every`` mini-batches it prints ``[epoch, batch] loss`` (the mean of the
    batch losses since the last line) and records it. Returns the recorded lines."""
    lines = []
    net.train()
    for epoch in range(epochs):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(loader):
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % print_every == print_every - 1:
                lines.append({"epoch": epoch + 1, "batch": i + 1,
                              "loss": running_loss / print_every})
                if log is not None:
                    log("[%d, %5d] loss: %.3f" % (epoch + 1, i + 1, running_loss / print_every))
                running_loss = 0.0
    return lines


# ---------------------------------------------------------------------------
# The data: the real CIFAR-10, and a stand-in in its format
# ---------------------------------------------------------------------------

#: How the stand-in is made from ``grader.data``'s digits: upsampled to ``size`` (bilinear),
#: then each image gets a random dark background and a random light foreground colour (drawn
#: with ``seed``), so its three channels differ and its colour says nothing about its class.
STANDIN = {"source": "digits", "size": 32, "tint_seed": 0}
DIGIT_NAMES = tuple(str(d) for d in range(10))
#: The file that lists the MD5 sums of the stand-in's files, in ``md5sum``'s format.
MD5_FILE = "MD5SUMS"


def standin_arrays(split: str, size: int = STANDIN["size"], colour: bool = True,
                   seed: int = STANDIN["tint_seed"]) -> tuple[np.ndarray, np.ndarray]:
    """One digits split as uint8 images, ``(N, 3, size, size)`` tinted (``colour``) or
    ``(N, size, size)`` grey, and its int64 labels."""
    from grader.data import SPLITS, digits

    images, labels = digits(split, size).tensors
    grey = images[:, 0].clamp(0, 1).numpy()
    if colour:
        rng = np.random.default_rng([seed, SPLITS.index(split)])
        n = len(grey)
        background = rng.uniform(0.0, 0.5, (n, 3, 1, 1))
        foreground = rng.uniform(0.5, 1.0, (n, 3, 1, 1))
        grey = background + (foreground - background) * grey[:, None]
    return np.round(grey * 255).astype(np.uint8), labels.numpy()


def _md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _standin_folder(folder: Path) -> Path:
    """``folder``, created if needed; refused if it holds files but no ``MD5SUMS`` of a stand-in
    (the real dataset, say), so that a stand-in never overwrites them."""
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MD5_FILE).exists():
        raise FileExistsError(f"{folder} holds files that are not a stand-in (the real dataset?); "
                              "write the stand-in to another root")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_md5sums(folder: Path, names: Sequence[str]) -> None:
    (folder / MD5_FILE).write_text("".join(f"{_md5(folder / n)}  {n}\n" for n in names))


def write_cifar10_format(root, train: tuple, test: tuple, label_names: Sequence[str]) -> Path:
    """Write ``root/cifar-10-batches-py`` as CIFAR-10 ships it: ``train`` (images
    ``(N, 3, 32, 32)`` uint8, labels) in five pickled batches ``data_batch_1..5``, ``test`` in
    ``test_batch``, each a dict with ``data`` (one channel-major row of 3,072 bytes per image:
    1,024 red, 1,024 green, 1,024 blue, each row by row), ``labels``, ``batch_label`` and
    ``filenames``; ``batches.meta`` with ``label_names``. Also ``MD5SUMS``, the sums that
    :class:`StandInCIFAR10` checks. Returns the folder. A folder with other files in it (the
    real CIFAR-10) is left alone: ``FileExistsError``."""
    folder = _standin_folder(Path(root) / torchvision.datasets.CIFAR10.base_folder)
    parts = [(f"data_batch_{i + 1}", idx) for i, idx in
             enumerate(np.array_split(np.arange(len(train[1])), 5))]
    for name, (images, labels), index in ([(n, train, idx) for n, idx in parts]
                                          + [("test_batch", test, np.arange(len(test[1])))]):
        batch = {"batch_label": f"{name} of a CIFAR-10-format stand-in",
                 "labels": [int(v) for v in labels[index]],
                 "data": np.ascontiguousarray(images[index].reshape(len(index), -1), np.uint8),
                 "filenames": [f"{name}_{i:05d}.png" for i in range(len(index))]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": list(label_names), "num_cases_per_batch": len(parts[0][1]),
                     "num_vis": 3 * 32 * 32}, fh, protocol=2)
    _write_md5sums(folder, [name for name, _ in parts] + ["test_batch", "batches.meta"])
    return folder


def write_standin(root) -> Path:
    """The CIFAR-10 stand-in under ``root``: the digits' train split (1,197 images) in the five
    training batches, its test split (300) in ``test_batch``, class names "0" to "9".
    Returns ``root``."""
    write_cifar10_format(root, standin_arrays("train"), standin_arrays("test"), DIGIT_NAMES)
    return Path(root)


class StandInCIFAR10(torchvision.datasets.CIFAR10):
    """``torchvision.datasets.CIFAR10``, unchanged, for files in its format that are not the
    real ones. The class checks every file against the MD5 sum of the real file; this subclass
    only swaps in the sums that :func:`write_cifar10_format` recorded in ``MD5SUMS``, the way
    torchvision's own ``CIFAR100`` subclass swaps in its file list. So a file changed after it
    was written is still refused. Nothing to download: ``download`` must be false."""

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False):
        if download:
            raise ValueError("the stand-in is written, not downloaded: call write_standin(root)")
        listing = Path(root) / self.base_folder / MD5_FILE
        if not listing.exists():
            raise RuntimeError(f"no stand-in in {root!r} ({listing} is missing): "
                               "call write_standin(root) first")
        sums = dict(reversed(line.split()) for line in listing.read_text().splitlines())
        self.train_list = [[name, sums[name]] for name, _ in self.train_list]
        self.test_list = [[name, sums[name]] for name, _ in self.test_list]
        self.meta = {**self.meta, "md5": sums[self.meta["filename"]]}
        super().__init__(root, train=train, transform=transform,
                         target_transform=target_transform, download=False)


def cifar10(root, train: bool = True, download: bool = False, transform=None,
            standin: bool = False) -> torchvision.datasets.CIFAR10:
    """[S4]'s call, ``torchvision.datasets.CIFAR10(root, train=train, download=download,
    transform=transform)``: the real CIFAR-10 (about 170 MB, fetched once when ``download``);
    with ``standin=True`` the files of :func:`write_standin` in ``root``, read by the same
    class (:class:`StandInCIFAR10`)."""
    cls = StandInCIFAR10 if standin else torchvision.datasets.CIFAR10
    return cls(root, train=train, download=download, transform=transform)


def write_idx(path, array: np.ndarray) -> None:
    """An IDX file as MNIST and Fashion-MNIST ship them (uncompressed): a magic number (two zero
    bytes, 0x08 for unsigned bytes, the number of dimensions), the sizes as big-endian 32-bit
    integers, then the bytes."""
    with open(path, "wb") as fh:
        fh.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        fh.write(struct.pack(f">{array.ndim}I", *array.shape))
        fh.write(np.ascontiguousarray(array, np.uint8).tobytes())


def write_fashion_standin(root) -> Path:
    """A Fashion-MNIST stand-in under ``root/FashionMNIST/raw``: the digits at 28x28, grey,
    train split as ``train-*``, test split as ``t10k-*``, for
    ``torchvision.datasets.FashionMNIST(root, download=False)`` (which checks no sums), and their
    ``MD5SUMS``, which marks the folder as a stand-in. Returns ``root``."""
    raw = _standin_folder(Path(root) / "FashionMNIST" / "raw")
    names = []
    for prefix, split in (("train", "train"), ("t10k", "test")):
        images, labels = standin_arrays(split, size=28, colour=False)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
        names += [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    _write_md5sums(raw, names)
    return Path(root)


def channel_stats(dataset: torchvision.datasets.CIFAR10) -> tuple[tuple, tuple]:
    """Mean and standard deviation of each colour channel over every pixel of a CIFAR-format
    dataset (its uint8 ``data``, ``(N, H, W, 3)``), in [0, 1]: the numbers ``Normalize`` wants."""
    pixels = dataset.data.reshape(-1, 3).astype(np.float64) / 255
    return tuple(pixels.mean(0).round(4).tolist()), tuple(pixels.std(0).round(4).tolist())


def course_transform(mean, std, train: bool = True, flip: bool = True) -> transforms.Compose:
    """The course's preprocessing: for training, a random 32x32 crop of the image padded by 4
    pixels and (``flip``) a random horizontal flip, then ``ToTensor`` and ``Normalize`` with the
    training set's own channel statistics; for testing, only the last two."""
    steps = []
    if train:
        steps.append(transforms.RandomCrop(32, padding=4))
        if flip:
            steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose(steps + [transforms.ToTensor(), transforms.Normalize(mean, std)])


def percent_slice(dataset: Dataset, start: float = 0, stop: float = 100) -> Subset:
    """``train[start%:stop%]`` of TensorFlow Datasets ([S3]) as a ``Subset``: the items from
    ``round(n * start / 100)`` up to ``round(n * stop / 100)``, in file order, not shuffled."""
    n = len(dataset)
    return Subset(dataset, range(round(n * start / 100), round(n * stop / 100)))


# ---------------------------------------------------------------------------
# Models: the course's recipe, and [S3]'s Fashion-MNIST CNN
# ---------------------------------------------------------------------------


def course_net(width: int = 16, num_classes: int = 10, dropout: float = 0.2) -> nn.Sequential:
    """The course's CIFAR network: two 3x3 convolutions of ``width`` channels, max-pool, two of
    ``2 * width``, max-pool, one of ``4 * width`` (padding 1 throughout, each followed by
    BatchNorm and ReLU, no bias before BatchNorm), global average pooling, dropout, linear."""
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True)]

    w = width
    features = nn.Sequential(*block(3, w), *block(w, w), nn.MaxPool2d(2),
                             *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
                             *block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1))
    head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * w, num_classes))
    return nn.Sequential(OrderedDict(features=features, head=head))


def course_optimizer(model: nn.Module, lr: float, epochs: int, steps_per_epoch: int,
                     momentum: float = 0.9, weight_decay: float = 5e-4):
    """The course's optimizer and schedule: SGD with Nesterov momentum and weight decay, and a
    one-cycle learning rate (``OneCycleLR``, stepped after every batch) that rises from
    ``lr / 25`` to ``lr`` over the first 30% of the steps and falls to ``lr / 250,000`` by the
    last. The momentum stays fixed (``cycle_momentum=False``)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=True,
                          weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps_per_epoch,
                                                cycle_momentum=False)
    return opt, sched


def default_conv2d(in_channels: int, filters: int, kernel_size: int = 3) -> nn.Sequential:
    """[S3]'s ``DefaultConv2D``, which the book defines as ``partial(keras.layers.Conv2D,
    kernel_size=3, activation='relu', padding="SAME")``: a convolution with "same" padding and
    its ReLU. PyTorch also wants ``in_channels``, which Keras infers from the input."""
    return nn.Sequential(nn.Conv2d(in_channels, filters, kernel_size, padding="same"), nn.ReLU())


def fashion_cnn(num_classes: int = 10) -> nn.Sequential:
    """[S3]'s Fashion-MNIST CNN in PyTorch, one module per Keras layer (a ``Dense`` with ReLU is
    ``Linear`` + ``ReLU`` in a ``Sequential``). The last ``Dense`` of Keras has a
    softmax; here the network returns logits, because ``nn.CrossEntropyLoss`` applies
    ``log_softmax`` itself (Keras' ``sparse_categorical_crossentropy`` takes probabilities)."""
    return nn.Sequential(
        default_conv2d(1, 64, kernel_size=7),
        nn.MaxPool2d(2),
        default_conv2d(64, 128),
        default_conv2d(128, 128),
        nn.MaxPool2d(2),
        default_conv2d(128, 256),
        default_conv2d(256, 256),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Sequential(nn.Linear(256 * 3 * 3, 128), nn.ReLU()),
        nn.Dropout(0.5),
        nn.Sequential(nn.Linear(128, 64), nn.ReLU()),
        nn.Dropout(0.5),
        nn.Linear(64, num_classes),
    )


#: [S3]'s Keras model as data: (layer, filters or units or pool size, kernel size).
FASHION_CNN_KERAS = [("Conv2D", 64, 7), ("MaxPooling2D", 2), ("Conv2D", 128, 3),
                     ("Conv2D", 128, 3), ("MaxPooling2D", 2), ("Conv2D", 256, 3),
                     ("Conv2D", 256, 3), ("MaxPooling2D", 2), ("Flatten",), ("Dense", 128),
                     ("Dropout", 0.5), ("Dense", 64), ("Dropout", 0.5), ("Dense", 10)]


def keras_summary(layers: Sequence[tuple] = tuple(FASHION_CNN_KERAS),
                  input_shape: tuple = (28, 28, 1)) -> list[dict]:
    """What Keras' ``model.summary()`` prints for ``layers``: output shape (channels last,
    batch left out) and parameters of each layer, by Keras' rules: "same" convolutions keep
    height and width, pooling floors, ``Conv2D`` has ``k * k * c_in * filters + filters``
    parameters, ``Dense`` ``n_in * units + units``."""
    shape, rows = tuple(input_shape), []
    for layer in layers:
        kind, params = layer[0], 0
        if kind == "Conv2D":
            filters, k = layer[1], layer[2]
            params = k * k * shape[-1] * filters + filters
            shape = shape[:2] + (filters,)
        elif kind == "MaxPooling2D":
            shape = (shape[0] // layer[1], shape[1] // layer[1], shape[2])
        elif kind == "Flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "Dense":
            params = shape[0] * layer[1] + layer[1]
            shape = (layer[1],)
        rows.append({"layer": kind, "output shape": shape, "params": params})
    return rows


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def predict(model: nn.Module, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and arg-max predictions over ``loader``, in eval mode and without gradients (the
    model's mode is restored)."""
    was_training = model.training
    model.eval()
    labels, predicted = [], []
    try:
        with torch.no_grad():
            for x, y in loader:
                labels.append(y)
                predicted.append(model(x).argmax(1))
    finally:
        model.train(was_training)
    return torch.cat(labels), torch.cat(predicted)


def confusion_matrix(labels, predicted, num_classes: int = 10) -> np.ndarray:
    """``m[i, j]``: how many images of class ``i`` were predicted as ``j`` (rows: the truth)."""
    index = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """The fraction of each class's images predicted right: the diagonal over the row sums
    (what [S4]'s ``class_correct / class_total`` loop computes)."""
    matrix = np.asarray(matrix)
    return np.diag(matrix) / matrix.sum(1)


def class_table(matrix: np.ndarray, classes: Sequence[str]) -> list[dict]:
    """Rows for ``lecture_tools.format_table``: images, right, accuracy and the class most
    often predicted instead."""
    matrix = np.asarray(matrix)
    rows = []
    for i, name in enumerate(classes):
        wrong = matrix[i].copy()
        wrong[i] = 0
        rows.append({"class": name, "images": int(matrix[i].sum()), "right": int(matrix[i, i]),
                     "accuracy %": f"{100 * matrix[i, i] / matrix[i].sum():.1f}",
                     "most confused with": classes[int(wrong.argmax())] if wrong.any() else "-"})
    return rows


# ---------------------------------------------------------------------------
# The stored runs
# ---------------------------------------------------------------------------

RESULTS = Path(__file__).resolve().parent / "results" / "cifar10_standin.json"
#: The three runs of the lecture. [S4]'s settings, printing every 100 of the stand-in's 300
#: mini-batches per epoch (where [S4] prints every 2,000 of 12,500); the course's recipe; [S3]'s
#: Fashion-MNIST CNN (its optimizer, Nadam, from the book) on ``train[25%:]`` of the stand-in.
RUNS = {
    "s4_net": {"model": "Net", "data": "cifar10_standin", "transform": "s4", "epochs": 10,
               "batch_size": 4, "optimizer": "SGD", "lr": 0.001, "momentum": 0.9,
               "print_every": 100, "seed": 0},
    "course_recipe": {"model": "course_net", "width": 16, "data": "cifar10_standin",
                      "transform": "crop", "epochs": 10, "batch_size": 32, "optimizer": "SGD",
                      "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
                      "schedule": "OneCycleLR", "seed": 0},
    "fashion_cnn": {"model": "fashion_cnn", "data": "fashion_mnist_standin",
                    "split": "train[25%:]", "epochs": 5, "batch_size": 32, "optimizer": "NAdam",
                    "lr": 0.001, "seed": 0},
}
#: One thread: on a small CPU that is the fastest, and the rounding does not depend on the cores.
THREADS = 1


def experiment_config() -> dict:
    """What the stored results depend on (compared by :func:`experiments`), plus provenance
    (torch version, processor) under ``"provenance"``."""
    return {"runs": copy.deepcopy(RUNS), "standin": dict(STANDIN), "threads": THREADS,
            "provenance": {"torch": torch.__version__, "cpu": tt.cpu_name()}}


def _loaders(cfg: dict, root: Path) -> dict:
    """Training and test loaders of a run, the training one shuffled by a generator seeded
    with the run's seed (after seeding everything else)."""
    gen = tt.seed_everything(cfg["seed"])
    if cfg["data"] == "fashion_mnist_standin":
        write_fashion_standin(root)
        data = {train: torchvision.datasets.FashionMNIST(root, train=train, download=False,
                                                         transform=transforms.ToTensor())
                for train in (True, False)}
        train_set = percent_slice(data[True], 25, 100)
        test_set = data[False]
    else:
        write_standin(root)
        if cfg["transform"] == "s4":
            train_tf = test_tf = s4_transform()
        else:
            mean, std = channel_stats(cifar10(root, train=True, standin=True))
            train_tf = course_transform(mean, std, train=True, flip=False)
            test_tf = course_transform(mean, std, train=False)
        train_set = cifar10(root, train=True, transform=train_tf, standin=True)
        test_set = cifar10(root, train=False, transform=test_tf, standin=True)
    return {"train": DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True,
                                generator=gen),
            "test": DataLoader(test_set, batch_size=100)}


def run(name: str, root, epochs: int | None = None) -> dict:
    """Train run ``name`` of :data:`RUNS` (data written under ``root``) for ``epochs`` (default:
    all of the run's; a schedule still spans them all) and measure it after every epoch: test
    accuracy, training loss per sample, for [S4]'s run its printed lines; at the end the
    confusion matrix on the test set and the training time."""
    cfg = RUNS[name]
    root = Path(root)
    with lt.threads(THREADS), tt.deterministic():
        loaders = _loaders(cfg, root)
        model = {"Net": Net, "fashion_cnn": fashion_cnn,
                 "course_net": lambda: course_net(cfg.get("width", 16))}[cfg["model"]]()
        started = time.perf_counter()
        result = {"test_acc_per_epoch": [], "train_loss_per_epoch": []}
        if cfg["model"] == "Net":
            opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
            result["printed"] = []
            for _ in range(epochs or cfg["epochs"]):
                lines = train_s4(model, loaders["train"], 1, opt, print_every=cfg["print_every"],
                                 log=None)
                epoch = len(result["test_acc_per_epoch"]) + 1
                result["printed"] += [{**line, "epoch": epoch} for line in lines]
                result["train_loss_per_epoch"].append(float(np.mean([l["loss"] for l in lines])))
                result["test_acc_per_epoch"].append(tt.accuracy(model, loaders["test"]))
        else:
            if cfg["optimizer"] == "SGD":
                opt, sched = course_optimizer(model, cfg["lr"], cfg["epochs"],
                                              len(loaders["train"]), cfg["momentum"],
                                              cfg["weight_decay"])
            else:
                opt = getattr(torch.optim, cfg["optimizer"])(model.parameters(), lr=cfg["lr"])
                sched = None
            history = tt.fit(model, loaders, epochs or cfg["epochs"], opt, scheduler=sched,
                             eval_splits=("test",), progress=False)
            result["test_acc_per_epoch"] = history["test_acc"]
            result["train_loss_per_epoch"] = history["train_loss"]
        result["seconds"] = round(time.perf_counter() - started, 1)
        labels, predicted = predict(model, loaders["test"])
    result["confusion"] = confusion_matrix(labels, predicted).tolist()
    result["params"] = lt.count_params(model)
    return result


def same_config(a: dict, b: dict) -> bool:
    """Do two configurations describe the same experiments (provenance aside)?"""
    return all(a.get(k) == b.get(k) for k in ("runs", "standin", "threads"))


def experiments(root, path=RESULTS, retrain: bool = False,
                log: Callable[[str], None] = print) -> dict:
    """The three runs of :data:`RUNS`: loaded from ``path`` when its stored configuration
    matches (and ``retrain`` is false), else trained (data written under ``root``, about half
    a minute on one CPU thread) and stored there (``path=None``: not stored). ``"source"`` says
    which happened."""
    config = experiment_config()
    stored = None if retrain or path is None else tt.load_table(path)
    if stored is not None and same_config(stored["config"], config):
        return {**stored, "source": "cache"}
    runs = {}
    for name in RUNS:
        runs[name] = run(name, root)
        log(f"{name:14s} test accuracy {runs[name]['test_acc_per_epoch'][-1]:.3f} "
            f"in {runs[name]['seconds']:.0f} s")
    config["provenance"]["created"] = time.strftime("%Y-%m-%d")
    config["provenance"]["load_average"] = (round(os.getloadavg()[0], 2)
                                            if hasattr(os, "getloadavg") else None)
    table = {"config": config, "runs": runs}
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return {**table, "source": "trained"}


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_samples(images: torch.Tensor, labels, classes: Sequence[str], predicted=None,
                 mean=S4_LAB["mean"], std=S4_LAB["std"], ncols: int = 8) -> Figure:
    """Normalised images shown un-normalised (:func:`unnormalize`), titled with their class
    (GroundTruth) and, if given, the prediction (red when wrong)."""
    n = len(images)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(1.35 * ncols, 1.6 * nrows + 0.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    shown = unnormalize(images, mean, std).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(shown[i], interpolation="nearest")
        title = f"true: {classes[int(labels[i])]}"
        color = "black"
        if predicted is not None:
            title += f"\npred: {classes[int(predicted[i])]}"
            color = "black" if int(predicted[i]) == int(labels[i]) else fg.DEEP_RED
        ax.set_title(title, fontsize=8, color=color)
    return fig


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], title: str | None = None) -> Figure:
    """The confusion matrix (rows: true class, columns: predicted; counts in the cells, shade by
    the fraction of the row) with each class's accuracy to the right."""
    matrix = np.asarray(matrix)
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.subplots()
    fractions = matrix / matrix.sum(1, keepdims=True)
    ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(matrix):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=7,
                    color="white" if fractions[r, c] > 0.5 else "black")
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, fontsize=8)
    ax.set_yticks(ticks, classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    right = ax.secondary_yaxis("right")
    right.set_ticks(ticks, [f"{100 * a:.0f}%" for a in per_class_accuracy(matrix)], fontsize=8,
                    color=fg.DARK)
    right.set_ylabel("accuracy of the class", color=fg.DARK)
    total = np.trace(matrix) / matrix.sum()
    ax.set_title(title or f"{matrix.sum()} test images, {100 * total:.1f}% right", fontsize=10)
    return fig


def plot_augmentations(image, steps: dict, n: int = 6, seed: int = 0) -> Figure:
    """``image`` (a PIL image) and ``n`` random draws of each transform in ``steps``
    (``{name: transform}``), one row per transform; draws seeded with ``seed``."""
    fig = Figure(figsize=(1.4 * (n + 1), 1.6 * len(steps)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(steps), n + 1))
    torch.manual_seed(seed)
    for row, (name, step) in zip(axes, steps.items()):
        row[0].imshow(image)
        row[0].set_title("original", fontsize=8)
        for ax in row[1:]:
            ax.imshow(step(image))
        row[1].set_title(name, fontsize=8, loc="left")
        for ax in row:
            ax.axis("off")
    return fig


def plot_runs(curves: dict, title: str | None = None) -> Figure:
    """Test accuracy after every epoch, one line per run (``{label: accuracies}``)."""
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    palette = (fg.DARK, fg.ORANGE, fg.DARK_GREEN, "0.45")
    for (label, accs), color in zip(curves.items(), palette * len(curves)):
        ax.plot(range(1, len(accs) + 1), [100 * a for a in accs], "o-", ms=3, color=color,
                label=f"{label}: {100 * accs[-1]:.1f}%")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
