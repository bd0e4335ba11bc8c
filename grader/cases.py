"""Cases: what a check runs the student's code on, in one vocabulary.

Strategies (``grader.strategies``) draw them, checks run them, and the judges
and references read them.  A case describes itself in plain data for the probe
that runs it in the sandbox (``ctor()`` or ``spec()``, in ``grader.probes``'
terms) and in words for messages (``str``).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .data import digits_split


# --- problem sets 3-8: a student's nn.Module against a reference ------------------------------


@dataclasses.dataclass(frozen=True)
class ModuleCase:
    """One student constructor call, the input it gets, and the reference it must equal.

    ``args``/``kwargs`` are plain data (see ``grader.probes.student`` and
    ``grader.probes.downsample``); ``reference`` builds the reference module.
    """
    cls: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs, so that a case is hashable
    input_shape: tuple = ()
    reference: Callable = None  # builds the reference nn.Module
    #: what the reference is, for messages ("torchvision.models.resnet18")
    reference_name: str = ""

    def ctor(self) -> dict:
        return {"cls": self.cls, "args": list(self.args), "kwargs": dict(self.kwargs)}

    def __str__(self) -> str:
        parts = [_show_arg(a) for a in self.args] + [f"{k}={_show_arg(v)}" for k, v in self.kwargs]
        text = f"{self.cls}({', '.join(parts)})"
        return text + (f" on an input of shape {tuple(self.input_shape)}" if self.input_shape
                       else "")


def _show_arg(value) -> str:
    from .probes import DOWNSAMPLE, STUDENT
    if isinstance(value, dict) and STUDENT in value:
        return value[STUDENT] + (f"[{value['item']!r}]" if "item" in value else "")
    if isinstance(value, dict) and DOWNSAMPLE in value:
        cin, cout, stride = value[DOWNSAMPLE]
        return (f"nn.Sequential(nn.Conv2d({cin}, {cout}, 1, stride={stride}, bias=False), "
                f"nn.BatchNorm2d({cout}))")
    return repr(value)


# --- problem set 9: training loops and transfer learning ---------------------------------------
#
# A case says what a probe (grader.probes) builds in the sandbox: ``spec()`` is its
# arguments as plain data, and the judge in the problem set rebuilds the same here.


def _generator(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


@dataclasses.dataclass(frozen=True)
class DropoutCase:
    """``dropout(x, p, training)`` on ``x`` of ``shape`` with values in [0.5, 1.5].

    Positive values, so that the mean of the output shows any missing rescaling.
    """
    shape: tuple
    p: float
    training: bool = True
    dtype: str = "float64"
    seed: int = 0
    raises: str | None = None

    def x(self) -> np.ndarray:
        g = _generator(self.seed, *self.shape)
        return g.uniform(0.5, 1.5, size=self.shape).astype(self.dtype)

    def spec(self) -> dict:
        return {"fn": "dropout", "x": self.x(), "p": self.p, "training": self.training,
                "seed": self.seed}

    def __str__(self) -> str:
        return (f"dropout(x, p={self.p!r}, training={self.training}) with x of shape "
                f"{self.shape} ({self.dtype}, values in [0.5, 1.5])")


@dataclasses.dataclass(frozen=True)
class LoaderCase:
    """A batch-size-``batch_size`` DataLoader over ``n`` random samples, and a spy network
    (``grader.probes.spy_net``) with ``d`` inputs, ``h`` hidden units and ``k`` classes."""
    kind: str  # "train" or "evaluate"
    n: int
    batch_size: int
    d: int = 6
    h: int = 8
    k: int = 4
    seed: int = 0
    lr: float = 0.1
    raises = None

    def net(self) -> dict:
        return {"d": self.d, "h": self.h, "k": self.k, "seed": self.seed}

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        g = _generator(self.seed, self.n, self.d)
        return g.standard_normal((self.n, self.d)), g.integers(0, self.k, self.n)

    def spec(self) -> dict:
        x, y = self.data()
        spec = {"net": self.net(), "x": x, "y": y, "batch_size": self.batch_size}
        if self.kind == "train":
            return {"fn": "train_one_epoch", **spec, "lr": self.lr}
        return {"fn": "evaluate", **spec}

    def batches(self) -> list[int]:
        return [min(self.batch_size, self.n - i) for i in range(0, self.n, self.batch_size)]

    def __str__(self) -> str:
        model = f"a network with BatchNorm ({self.d} inputs, {self.k} classes)"
        sizes = self.batches()
        shown = ", ".join(map(str, sizes[:6])) + (", ..." if len(sizes) > 6 else "")
        call = ("train_one_epoch(model, loader, optimizer, loss_fn, 'cpu') with SGD "
                f"(lr={self.lr}, momentum=0.9) and cross-entropy" if self.kind == "train"
                else "evaluate(model, loader, 'cpu')")
        return f"{call}, on {model} and a loader of {self.n} samples in batches of {shown}"


@dataclasses.dataclass(frozen=True)
class HeadCase:
    """A classifier laid out like one model family (``grader.probes.head_net``), and what
    is done to it: ``freeze_features(model)``, ``replace_head(model, num_classes)``, or both."""
    layout: str
    width: int = 8
    classes: int = 10
    seed: int = 0
    freeze: bool = True
    replace: bool = False
    num_classes: int = 3
    raises = None

    LAYOUTS = {"fc": "model.fc (ResNet)", "classifier": "model.classifier (DenseNet)",
               "classifier_seq": "model.classifier[-1] (AlexNet, VGG)",
               "head_fc": "model.head.fc (timm)", "resnet18": "torchvision resnet18",
               "mobilenet_v2": "torchvision mobilenet_v2"}

    def net(self) -> dict:
        return {"layout": self.layout, "width": self.width, "classes": self.classes,
                "seed": self.seed}

    def spec(self) -> dict:
        return {"net": self.net(), "freeze": "freeze_features" if self.freeze else None,
                "replace": "replace_head" if self.replace else None,
                "num_classes": self.num_classes}

    def __str__(self) -> str:
        calls = (["freeze_features(model)"] if self.freeze else []) + \
            ([f"replace_head(model, {self.num_classes})"] if self.replace else [])
        what = self.LAYOUTS[self.layout]
        if self.layout in ("resnet18", "mobilenet_v2"):
            return f"{' then '.join(calls)} on {what}(num_classes={self.classes})"
        return (f"{' then '.join(calls)} on a small CNN with {self.classes} classes whose head "
                f"is {what}, width {self.width}")


#: Gaussian noise (standard deviation, on pixels in [0, 1] with grey levels 1/16 apart) on
#: the graded test digits, so that no table of the bundled clean digits matches them exactly:
#: rounding to the nearest grey level restores 79% of the pixels, and none of 15,000 images
#: whole.  The model solution gets 292 to 296 of the 300 right over 1,000 draws (294 on the
#: clean digits; 291 pass): the noise costs a trained CNN nothing.
TEST_NOISE = 0.03


@dataclasses.dataclass(frozen=True)
class OutcomeCase:
    """``train_digits(train_loader, epochs, 'cpu')`` on the digits' train split, then the
    model's predictions for the test digits, shuffled and noised by ``data_seed``.

    The grading process builds both sets (``spec()``) and keeps the test labels
    (``test_set()``); ``data_seed`` comes from the profile (``with_seed``), so the hidden
    profile's test images rest on the instructor's secret.
    """
    epochs: int
    seed: int = 0
    batch_size: int = 32
    data_seed: int = 0
    raises = None

    def with_seed(self, data_seed: int) -> "OutcomeCase":
        return dataclasses.replace(self, data_seed=data_seed)

    def test_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The test images, in an order drawn from ``data_seed`` (a table of labels in the
        split's order is worthless) and with noise clipped to [0, 1]; their labels."""
        images, labels = digits_split("test")
        g = _generator(self.data_seed)
        order = g.permutation(labels.size)
        noisy = images[order] + g.normal(0.0, TEST_NOISE, images.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), labels[order]

    def spec(self) -> dict:
        train_images, train_labels = digits_split("train")
        return {"fn": "train_digits", "epochs": self.epochs, "seed": self.seed,
                "batch_size": self.batch_size, "train_images": train_images,
                "train_labels": train_labels, "test_images": self.test_set()[0]}

    def __str__(self) -> str:
        return (f"train_digits(train_loader, epochs={self.epochs}, device='cpu') with seed "
                f"{self.seed}, batches of {self.batch_size}, on the 1,197 training digits, "
                "then the model's predictions for the 300 test digits (shuffled, a little noisy)")
