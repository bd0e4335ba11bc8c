"""Helpers for Lecture 11, "Training, evaluation and transfer learning". The notebook imports
this module as ``tt``.

It holds four kinds of things:

* the **training loop** of [S1], done right: device selection, seeding, a loop that
  reports the mean loss *per sample* (:func:`train_epoch`), accuracy in a chosen mode
  (:func:`accuracy`), :func:`fit` with a progress bar and a per-epoch callback
  (:class:`LivePlot` redraws a figure in place), and checkpoints that round-trip the model,
  the optimizer and the epoch;
* the small **digits network** of the lecture (:func:`digits_net`: three convolutions with
  BatchNorm, dropout before the classifier; 98% on the digits test split in 10 epochs on
  one CPU thread) and the few-label subsets of the transfer experiment;
* the **architecture comparison**: the small variants of lectures 5-7 trained under one
  budget (:func:`compare`), cached with their configuration in
  ``lectures/results/architectures_digits.json`` because they take minutes, not seconds;
* **figure functions**. Each returns a :class:`matplotlib.figure.Figure` built with the
  object-oriented API, so the notebook shows it as the last expression of a cell and a test
  can draw it without a screen.

Every function is checked in ``tests/test_lecture_training.py``, the cached table by
retraining its cheapest row.

Deliberately absent: dropout written from scratch and the helpers that freeze a feature
extractor and swap a classifier. Problem set 9 asks students to write them; the lecture uses
``nn.Dropout`` and spells the freezing out inline.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch.utils.data import DataLoader, Dataset, Subset

from . import arch_tools as at
from . import figures as fg
from . import lecture_tools as lt

try:  # tqdm ships with Jupyter's dependencies; without it the loops simply run silently.
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - exercised only where tqdm is missing
    def tqdm(iterable=None, **kwargs):
        return iterable

#: [S1]'s MNIST run (PyTorch Zero To All, lecture 10): SGD(lr=0.01, momentum=0.5), batch
#: 64, 9 epochs on a CPU. Two runs (with and without dropout): 9,774 and 9,810 of 10,000 test
#: images right, "98%", 2m24s and 2m27s in all; one epoch (train + test) took 16 s.
SEED_MNIST = {"train_images": 60_000, "test_images": 10_000, "epochs": 9, "batch_size": 64,
              "lr": 0.01, "momentum": 0.5, "correct": (9_774, 9_810), "seconds": (144, 147),
              "epoch_seconds": 16, "reported_test_loss": 0.0011}

#: Mean and standard deviation of the digits' training pixels (8x8, values in [0, 1]).
DIGITS_MEAN, DIGITS_STD = 0.305, 0.376

#: Where the architecture comparison is cached, and what it trains.
RESULTS = Path(__file__).resolve().parent / "results" / "architectures_digits.json"
ARCHITECTURES = ("lenet5", "alexnet_small", "vgg_small", "googlenet_small", "resnet_small",
                 "resnext_small")
#: The budget every architecture gets. One thread: on a shared 2-core machine two threads
#: were up to 7 times slower, and the results of some kernels depend on the thread count.
BUDGET = {"size": 32, "epochs": 3, "batch_size": 16, "optimizer": "Adam", "lr": 2e-3,
          "seed": 0, "threads": 1}
#: Keys of the stored configuration that must match for the cache to be used; the rest
#: (torch version, date, machine load) is provenance.
CONFIG_KEYS = ("models", "dataset", "train_images", "test_images") + tuple(BUDGET)


# ---------------------------------------------------------------------------
# Device, seeds, determinism
# ---------------------------------------------------------------------------


def pick_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else CUDA when PyTorch sees a GPU, else Apple's MPS, else the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's global generators (all devices); return a fresh
    ``torch.Generator`` seeded with ``seed`` for a ``DataLoader``'s shuffling, so that the
    order of the batches does not depend on how much randomness the model used before."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)   # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


@contextmanager
def deterministic(enabled: bool = True):
    """``torch.use_deterministic_algorithms(enabled)`` and ``cudnn.benchmark = not enabled``
    inside the block, the previous settings afterwards. On CUDA, deterministic cuBLAS also
    needs the environment variable ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (set here if absent)."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
              os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.benchmark = not enabled
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]
        if before[2] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = before[2]


# ---------------------------------------------------------------------------
# Data and the digits network
# ---------------------------------------------------------------------------


def labels_of(dataset: Dataset) -> torch.Tensor:
    """The labels of a ``TensorDataset`` (or a ``Subset`` of one) as one tensor."""
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[torch.as_tensor(dataset.indices)]
    return dataset.tensors[1]


def few_per_class(dataset: Dataset, per_class: int) -> Subset:
    """The first ``per_class`` images of every class, in the dataset's order: a deterministic
    small labelled set (no random draw, so every run and every reader gets the same one)."""
    y = labels_of(dataset)
    keep = [int(i) for c in torch.unique(y) for i in torch.nonzero(y == c).flatten()[:per_class]]
    return Subset(dataset, sorted(keep))


class Standardize(nn.Module):
    """``(x - mean) / std`` as the network's first layer, so loaders can hand over raw pixels
    and a saved model carries its own preprocessing."""

    def __init__(self, mean: float = DIGITS_MEAN, std: float = DIGITS_STD):
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x):
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


def digits_net(num_classes: int = 10, width: int = 32, dropout: float = 0.3,
               batch_norm: bool = True) -> nn.Sequential:
    """The lecture's CNN for the native 8x8 digits, in three named parts.

    ``standardize``; ``features``: conv 3x3 (1 -> w), conv 3x3 (w -> w), max-pool 2
    (8 -> 4), conv 3x3 (w -> 2w), adaptive max-pool to 2x2, each convolution followed by
    BatchNorm (if ``batch_norm``) and ReLU; ``head``: flatten, dropout, linear (8w -> classes).
    """
    def block(c_in, c_out):
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        return layers + [nn.ReLU(inplace=True)]

    features = nn.Sequential(*block(1, width), *block(width, width), nn.MaxPool2d(2),
                             *block(width, 2 * width), nn.AdaptiveMaxPool2d(2))
    head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 4, num_classes))
    return nn.Sequential(OrderedDict(standardize=Standardize(), features=features, head=head))


# ---------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------


def train_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                loss_fn: Callable = F.cross_entropy, device="cpu", scheduler=None,
                eval_modules: Sequence[nn.Module] = (), progress: bool = False) -> dict:
    """One pass over ``loader`` in training mode; ``scheduler`` (if any) steps after every batch.

    ``eval_modules`` are put back in eval mode after ``model.train()``: frozen layers whose
    BatchNorm running statistics must not move. Returns the **mean loss per sample** and the
    running accuracy (of the training-mode predictions, dropout on) as Python floats.
    ``loss_fn`` must average over the batch (PyTorch's default, ``reduction="mean"``), so it is
    multiplied back by the batch size: the mean over batches would over-weight a short last one.
    """
    model.train()
    for m in eval_modules:
        m.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in tqdm(loader, desc="batches", leave=False, disable=not progress):
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.item() * len(y)
        correct += (out.argmax(1) == y).sum().item()
        seen += len(y)
    return {"loss": total_loss / seen, "acc": correct / seen}


def accuracy(model: nn.Module, loader: Iterable, device="cpu", mode: str = "eval") -> float:
    """Fraction of the samples whose arg-max prediction is the label, without gradients.

    ``mode="train"`` reproduces the classic bug of evaluating in training mode (dropout on,
    BatchNorm using and *updating* batch statistics); the model's mode is restored afterwards.
    """
    was_training = model.training
    model.train(mode == "train")
    correct = seen = 0
    try:
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                correct += (model(x).argmax(1) == y).sum().item()
                seen += len(y)
    finally:
        model.train(was_training)
    return correct / seen


def predictions(model: nn.Module, x: torch.Tensor, mode: str = "eval") -> torch.Tensor:
    """Arg-max class of every image of ``x`` in the given mode (the model's mode restored)."""
    was_training = model.training
    model.train(mode == "train")
    try:
        with torch.no_grad():
            return model(x).argmax(1)
    finally:
        model.train(was_training)


def fit(model: nn.Module, loaders: dict, epochs: int, optimizer: torch.optim.Optimizer,
        device="cpu", scheduler=None, loss_fn: Callable = F.cross_entropy,
        eval_splits: Sequence[str] = ("val", "test"), eval_modules: Sequence[nn.Module] = (),
        callback: Callable[[dict], None] | None = None, progress: bool = True,
        history: dict | None = None) -> dict:
    """Train for ``epochs`` epochs on ``loaders["train"]``; after each, measure the accuracy on
    ``eval_splits`` in eval mode and call ``callback(history)`` (a live plot, a checkpoint).

    ``history`` has lists ``epoch``, ``train_loss``, ``train_acc``, ``<split>_acc`` and
    ``seconds`` (training time of the epoch); pass one back in to continue a run.
    """
    history = history if history is not None else {"epoch": [], "train_loss": [], "train_acc": [],
                                                   "seconds": []}
    for split in eval_splits:
        history.setdefault(f"{split}_acc", [])
    start = len(history["epoch"])
    bar = tqdm(range(start + 1, start + epochs + 1), desc="epochs", disable=not progress)
    for epoch in bar:
        t0 = time.perf_counter()
        stats = train_epoch(model, loaders["train"], optimizer, loss_fn, device, scheduler,
                            eval_modules, progress)
        history["seconds"].append(time.perf_counter() - t0)
        history["epoch"].append(epoch)
        history["train_loss"].append(stats["loss"])
        history["train_acc"].append(stats["acc"])
        for split in eval_splits:
            history[f"{split}_acc"].append(accuracy(model, loaders[split], device))
        if progress and hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{stats['loss']:.3f}",
                            **{s: f"{history[f'{s}_acc'][-1]:.3f}" for s in eval_splits})
        if callback is not None:
            callback(history)
    return history


class LivePlot:
    """A callback for :func:`fit` that redraws :func:`plot_history` in place after every epoch.

    The first call displays the figure with a ``display_id``; later calls update that output
    (``DisplayHandle.update``), so the progress bar of the same cell stays visible, which
    ``clear_output`` would wipe. Outside Jupyter ``display`` returns no handle, and the plot
    is then shown once only (``display_fn`` can be replaced, e.g. in tests).
    """

    def __init__(self, title: str | None = None, display_fn: Callable | None = None):
        if display_fn is None:
            from IPython.display import display as display_fn
        self.title, self.display, self.handle, self.updates = title, display_fn, None, 0

    def __call__(self, history: dict) -> None:
        fig = plot_history(history, self.title)
        if self.handle is None and self.updates == 0:
            self.handle = self.display(fig, display_id=True)
        elif self.handle is not None:
            self.handle.update(fig)
        self.updates += 1


def save_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    epoch: int = 0, **extra) -> Path:
    """``torch.save`` of the model's and the optimizer's ``state_dict``, the epoch and ``extra``
    (tensors, numbers, strings, lists: things ``torch.load(weights_only=True)`` accepts)."""
    state = {"model": model.state_dict(), "epoch": epoch, **extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    path = Path(path)
    torch.save(state, path)
    return path


def load_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    map_location="cpu") -> dict:
    """Load what :func:`save_checkpoint` wrote into ``model`` (and ``optimizer``); return the
    whole dictionary (``epoch`` and the extras). ``weights_only=True``: no pickled code runs."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state


def running_stat_update(running: torch.Tensor, batch: torch.Tensor, momentum: float = 0.1) -> torch.Tensor:
    """BatchNorm's update of a running statistic in training mode:
    ``(1 - momentum) * running + momentum * batch`` (PyTorch's momentum is the weight of the
    *new* value; Keras' ``momentum=0.99`` is the weight of the old one)."""
    return (1 - momentum) * running + momentum * batch


# ---------------------------------------------------------------------------
# The architecture comparison
# ---------------------------------------------------------------------------


def build_small(name: str, num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """A small variant of ``grader.models.SMALL`` by name, for 32x32 inputs (LeNet-5 takes
    one channel only)."""
    from grader.models import SMALL

    if name == "lenet5":
        return SMALL[name](num_classes)
    return SMALL[name](num_classes, in_channels)


def compare_config(models: Sequence[str] = ARCHITECTURES, **budget) -> dict:
    """The configuration of a comparison: models, data and :data:`BUDGET` (overridable),
    plus provenance (torch version, processor)."""
    from grader.data import DIGITS_SIZES

    unknown = set(budget) - set(BUDGET)
    if unknown:
        raise ValueError(f"unknown budget keys {sorted(unknown)}; known: {sorted(BUDGET)}")
    return {"models": list(models), "dataset": "digits", "train_images": DIGITS_SIZES["train"],
            "test_images": DIGITS_SIZES["test"], **BUDGET, **budget, "torch": torch.__version__,
            "cpu": cpu_name()}


def cpu_name() -> str:
    """The processor's model name (floating-point results can differ between CPU models,
    whose kernels use different vector instructions), or the machine type."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def same_config(a: dict, b: dict) -> bool:
    """Do two configurations describe the same experiment (:data:`CONFIG_KEYS`)?"""
    return all(a.get(k) == b.get(k) for k in CONFIG_KEYS)


def train_row(name: str, config: dict) -> dict:
    """Train one architecture under ``config`` on the digits (upsampled) and measure it:
    parameters, MACs for one image, test accuracy after every epoch, wall time of training."""
    from grader.data import digits

    size = config["size"]
    with lt.threads(config["threads"]):
        gen = seed_everything(config["seed"])
        model = build_small(name)
        counts = at.count(at.on_meta(lambda: build_small(name)), (1, size, size))
        train = DataLoader(digits("train", size), batch_size=config["batch_size"], shuffle=True,
                           generator=gen)
        test = DataLoader(digits("test", size), batch_size=256)
        opt = getattr(torch.optim, config["optimizer"])(model.parameters(), lr=config["lr"])
        history = fit(model, {"train": train, "test": test}, config["epochs"], opt,
                      eval_splits=("test",), progress=False)
    return {"model": name, "params": counts["params"], "macs": counts["macs"],
            "test_acc": history["test_acc"][-1], "test_acc_per_epoch": history["test_acc"],
            "train_loss_per_epoch": history["train_loss"], "seconds": sum(history["seconds"])}


def load_table(path=RESULTS) -> dict | None:
    """The stored comparison (``{"config", "rows"}``), or None if there is none."""
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def compare(models: Sequence[str] = ARCHITECTURES, path=RESULTS, retrain: bool = False,
            log: Callable[[str], None] = print, **budget) -> dict:
    """The comparison table for ``models`` under ``budget``: loaded from ``path`` when its
    stored configuration matches (and ``retrain`` is false), else trained row by row and
    stored there (``path=None``: not stored). ``"source"`` says which happened."""
    config = compare_config(models, **budget)
    stored = None if retrain or path is None else load_table(path)
    if stored is not None and same_config(stored["config"], config):
        if stored["config"].get("torch") != config["torch"]:
            log(f"note: the table was made with torch {stored['config'].get('torch')}, this is "
                f"{config['torch']}; retrained numbers may differ by an image or two")
        return {**stored, "source": "cache"}
    rows = []
    started = time.perf_counter()
    for name in models:
        rows.append(train_row(name, config))
        log(f"{name:16s} test accuracy {rows[-1]['test_acc']:.3f} in {rows[-1]['seconds']:.0f} s")
    config["total_seconds"] = round(time.perf_counter() - started, 1)
    config["load_average"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    config["created"] = time.strftime("%Y-%m-%d")
    table = {"config": config, "rows": rows}
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return {**table, "source": "trained"}


def table_rows(table: dict) -> list[dict]:
    """The comparison as rows for ``lecture_tools.format_table``: accuracy in percent (one
    decimal), wall time in seconds, MACs in millions."""
    return [{"model": r["model"], "params": r["params"], "MACs (M)": f"{r['macs'] / 1e6:.2f}",
             "test acc %": f"{100 * r['test_acc']:.1f}",
             "per epoch %": " ".join(f"{100 * a:.0f}" for a in r["test_acc_per_epoch"]),
             "train s": f"{r['seconds']:.0f}"} for r in table["rows"]]


# ---------------------------------------------------------------------------
# Online or not
# ---------------------------------------------------------------------------


def reachable(host: str = "download.pytorch.org", port: int = 443, timeout: float = 3.0) -> bool:
    """Can a TCP connection to ``host:port`` be opened within ``timeout`` seconds (name lookup
    included)? The attempt runs in a daemon thread, so a hanging DNS lookup cannot hold the
    caller longer than ``timeout``."""
    result = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def weights_cached(weights) -> Path | None:
    """Where torchvision keeps the file of ``weights`` (a ``WeightsEnum`` member) once
    downloaded (``$TORCH_HOME/hub/checkpoints``), if it is there; else None."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    return path if path.exists() else None


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def plot_history(history: dict, title: str | None = None) -> Figure:
    """Loss per sample (left) and accuracy (right) against the epoch, for :func:`fit`'s history.
    Kept light (no constrained layout, major grid lines only): :class:`LivePlot` redraws it
    after every epoch."""
    fig = Figure(figsize=(10, 3.4))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.85, wspace=0.25)
    a, b = fig.subplots(1, 2)
    ep = history["epoch"]
    a.plot(ep, history["train_loss"], "o-", color=fg.DARK, ms=3, label="train (mean per sample)")
    a.set_xlabel("epoch")
    a.set_ylabel("cross-entropy loss")
    a.set_yscale("log")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    colors = {"train": fg.DARK, "val": fg.ORANGE, "test": fg.DARK_GREEN}
    last = {}
    for key, values in history.items():
        if key.endswith("_acc") and values:
            split = key[:-4]
            last[split] = values[-1]
            label = "train (running, train mode)" if split == "train" else f"{split} (eval mode)"
            b.plot(ep[:len(values)], [100 * v for v in values], "o-", ms=3,
                   color=colors.get(split, "0.4"), label=label)
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy (%)")
    b.grid(alpha=0.3)
    b.legend(fontsize=8, loc="lower right")
    summary = ", ".join(f"{k} {100 * v:.1f}%" for k, v in last.items())
    if ep:
        summary = f"epoch {ep[-1]}: {summary}"
    fig.suptitle(f"{title}\n{summary}" if title else summary, fontsize=10)
    return fig


def plot_modes(rows: Sequence[dict]) -> Figure:
    """Test accuracy of one trained model evaluated in eval mode and in train mode with
    several batch sizes; ``rows`` have ``label`` and ``acc`` (and optionally ``mode``)."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    colors = [fg.DARK if r.get("mode", "eval") == "eval" else fg.ORANGE for r in rows]
    bars = ax.barh([r["label"] for r in rows][::-1], [100 * r["acc"] for r in rows][::-1],
                   color=colors[::-1])
    ax.bar_label(bars, labels=[f"{100 * r['acc']:.1f}%" for r in rows][::-1], fontsize=8)
    ax.set_xlabel("test accuracy (%)")
    ax.set_xlim(0, 110)
    ax.set_title("the same weights, evaluated in eval mode (blue) and in train mode (orange)",
                 fontsize=9)
    return fig


def plot_comparison(table: dict) -> Figure:
    """Left: test accuracy against MACs per image (log scale), marker size growing with the
    parameters, the training time in the legend.
    Right: test accuracy after every epoch of the budget."""
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    a, b = fig.subplots(1, 2)
    palette = [fg.DARK, fg.ORANGE, fg.DARK_GREEN, "#756bb1", "#de2d26", "0.45"]
    for i, r in enumerate(table["rows"]):
        color = palette[i % len(palette)]
        # Marker area ~ parameters (square root scale, so that LeNet-5 stays visible).
        a.scatter(r["macs"] / 1e6, 100 * r["test_acc"], s=15 + 0.4 * r["params"] ** 0.5, alpha=0.7,
                  color=color, edgecolor="k",
                  label=f"{r['model']}: {r['params'] / 1e3:,.0f} k params, {r['seconds']:.0f} s")
        ep = range(1, len(r["test_acc_per_epoch"]) + 1)
        b.plot(ep, [100 * v for v in r["test_acc_per_epoch"]], "o-", ms=3, color=color,
               label=r["model"])
    cfg = table["config"]
    macs = [r["macs"] / 1e6 for r in table["rows"]]
    a.set_xlim(min(macs) / 2, max(macs) * 2)
    legend = a.legend(fontsize=7, loc="lower right")
    for handle in legend.legend_handles:      # equal markers in the legend
        handle.set_sizes([30])
    a.set_xscale("log")
    a.set_xlabel("multiply-accumulates per 32x32 image (millions, log scale)")
    a.set_ylabel("digits test accuracy (%)")
    a.set_ylim(0, 105)
    a.grid(alpha=0.3, which="both")
    a.set_title(f"same budget: {cfg['epochs']} epochs, {cfg['optimizer']} lr {cfg['lr']}, "
                f"batch {cfg['batch_size']} (marker size grows with parameters)", fontsize=9)
    b.set_xlabel("epoch")
    b.set_ylabel("test accuracy (%)")
    b.set_ylim(0, 105)
    b.set_xticks(list(range(1, cfg["epochs"] + 1)))
    b.grid(alpha=0.3)
    b.legend(fontsize=8, loc="lower right")
    return fig


def plot_transfer(curves: dict, switch: int | None = None, labelled: int | None = None) -> Figure:
    """Test accuracy against the epoch for each transfer strategy (``curves``: label -> list of
    accuracies), with the epoch where fine-tuning unfroze the network marked."""
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    palette = (fg.DARK, fg.ORANGE, fg.DARK_GREEN, "0.45")
    for i, (label, accs) in enumerate(curves.items()):
        color = palette[i % len(palette)]
        ax.plot(range(1, len(accs) + 1), [100 * a for a in accs], "o-", ms=3, color=color,
                label=f"{label}: {100 * accs[-1]:.1f}%")
    if switch is not None:
        ax.axvline(switch + 0.5, color="0.5", ls="--", lw=1)
        ax.text(switch + 0.7, 8, "unfreeze,\nlower lr", fontsize=8, color="0.3")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy on digits 5-9 (%)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if labelled is not None:
        ax.set_title(f"{labelled} labelled training images", fontsize=10)
    return fig
